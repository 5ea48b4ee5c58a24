package replay

// macOS Finder talks WebDAV through WebDAVFS (webdavfs_agent). The requests
// below are copied from its source, apple-open-source/macos,
// webdavfs/mount.tproj/webdav_network.c (commit 948af6f5f63996a7814373b216036387486b0d56):
// the XML bodies byte for byte and the headers each function sets.
//
//   - network_getDAVLevel: OPTIONS <base>, "Accept: */*"; DAV level 1 mounts
//     read-only (MNT_RDONLY), level 2 read-write (ParseDAVLevel).
//   - network_stat (lookup/getattr/mount): PROPFIND Depth 0, getlastmodified,
//     getcontentlength, creationdate, resourcetype.
//   - network_statfs: PROPFIND Depth 0 on the mount root, quota-available-bytes,
//     quota-used-bytes, quota, quotaused.
//   - network_readdir (cache): PROPFIND Depth 1 with <D:prop
//     xmlns:A="http://www.apple.com/webdav_fs/props/"> and A:appledoubleheader.
//   - network_dir_is_empty: PROPFIND Depth 1, resourcetype only.
//   - network_create: PUT with no body (creates the file).
//   - network_lock: LOCK, "Depth: 0", "Timeout: Second-<n>", "Content-Type:
//     text/xml; charset="utf-8"", exclusive write lockinfo with
//     <D:owner><D:href>http://www.apple.com/webdav_fs/</D:href></D:owner>.
//   - setup_seq_write / create_http_request_message: PUT streamed with
//     CFReadStreamCreateForStreamedHTTPRequest (Transfer-Encoding: chunked),
//     "X-Expected-Entity-Length: <size>", "If: (<token>)".
//   - network_fsync: then PROPFIND Depth 0 getlastmodified + getetag when the
//     PUT answer had no validators.
//   - network_rename: MOVE with "Destination: <absolute URL>" and one "If"
//     per lock token the source holds, no Overwrite header.
//   - network_delete: DELETE, with "If: (<token>)" when locked.
//   - network_unlock: UNLOCK, "Lock-Token: <token>".
//
// The User-Agent is one logged in couling/WebDAV-Daemon issue #18 ("Locking
// problem with propfind and get"), which also shows the LOCK, PUT, PROPFIND
// order of a Finder file creation; pydio/pydio-core issue #581 logs the same
// for ._ AppleDouble files (PROPFIND 404, PUT, LOCK, PUT, UNLOCK, GET).
// sabre-io/sabre.io source/dav/clients/finder.md lists the connect-time
// requests (PROPFIND of "._.", ".DS_Store", quota properties) and notes that
// Finder stays read-only without class 2 and treats getlastmodified as UTC.

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

const finderUA = "WebDAVFS/3.0.0 (03008000) Darwin/19.6.0 (x86_64)"

// network_stat's body.
const finderStatBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:">
<D:prop>
<D:getlastmodified/>
<D:getcontentlength/>
<D:creationdate/>
<D:resourcetype/>
</D:prop>
</D:propfind>
`

// network_readdir's body when caching (xmlStringCache).
const finderReaddirBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:">
<D:prop xmlns:A="http://www.apple.com/webdav_fs/props/">
<D:getlastmodified/>
<D:getcontentlength/>
<D:creationdate/>
<D:resourcetype/>
<A:appledoubleheader/>
</D:prop>
</D:propfind>
`

// network_statfs's body (also captured from WebDAVFS/1.9.0 in a public Java
// toy server's session log; the same four properties are logged as
// "Unknown DAV property requested" in robbiehanson/CocoaHTTPServer issue #8).
const finderStatfsBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:">
<D:prop>
<D:quota-available-bytes/>
<D:quota-used-bytes/>
<D:quota/>
<D:quotaused/>
</D:prop>
</D:propfind>
`

// network_dir_is_empty's body.
const finderDirIsEmptyBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:">
<D:prop>
<D:resourcetype/>
</D:prop>
</D:propfind>
`

// network_fsync's body for the cache validators.
const finderValidatorsBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:">
<D:prop>
<D:getlastmodified/>
<D:getetag/>
</D:prop>
</D:propfind>
`

// network_lock's body.
const finderLockBody = `<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:">
<D:lockscope><D:exclusive/></D:lockscope>
<D:locktype><D:write/></D:locktype>
<D:owner>
<D:href>http://www.apple.com/webdav_fs/</D:href>
</D:owner>
</D:lockinfo>
`

const appleNS = "http://www.apple.com/webdav_fs/props/"

// appleDouble is an 82-byte AppleDouble header (magic 0x00051607, version 2,
// a resource fork and Finder info entry), the "empty" ._ file content from
// DanRohde/webdavcgi lib/perl/WebDAV/Properties.pm, cited by
// messense/dav-server-rs doc/APPLE-doubleinfo.md.
var appleDouble = func() []byte {
	b, err := base64.StdEncoding.DecodeString("AAUWBwACAAAAAAAAAAAAAAAAAAAAAAAAAAIAAAACAAAAJgAAACwAAAAJAAAAMgAAACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==")
	if err != nil || len(b) != 82 {
		panic("bad AppleDouble fixture")
	}
	return b
}()

func newFinder(t *testing.T, p *testutil.Proc) *client {
	return newClient(t, p, "User-Agent", finderUA, "Accept", "*/*")
}

func (c *client) finderPropfind(path, depth, body string) multistatus {
	c.t.Helper()
	r := c.do("PROPFIND", path, []byte(body), "Content-Type", "text/xml", "Depth", depth)
	return parseMultistatus(c.t, "PROPFIND "+path, r)
}

func (c *client) finderLock(want []int, path string) (string, activeLock) {
	c.t.Helper()
	return c.lock(want, path, finderLockBody, "Depth", "0", "Timeout", "Second-600", "Content-Type", `text/xml; charset="utf-8"`)
}

func (c *client) finderUnlock(path, tok string) {
	c.t.Helper()
	c.expect(codes(204), "UNLOCK", path, nil, "Lock-Token", "<"+tok+">")
}

// finderPut streams body as WebDAVFS does, with the lock token when tok != "".
func (c *client) finderPut(path string, body []byte, tok string) reply {
	c.t.Helper()
	hdr := []string{"X-Expected-Entity-Length", strconv.Itoa(len(body))}
	if tok != "" {
		hdr = append(hdr, "If", "(<"+tok+">)")
	}
	return c.chunked("PUT", path, body, hdr...)
}

// finderStatProps are the properties network_stat asks for.
var finderStatProps = []xml.Name{davName("getlastmodified"), davName("getcontentlength"), davName("creationdate"), davName("resourcetype")}

// checkFinderStat checks what parse_stat reads from a response: a type, a
// size for files, and dates it can parse (getlastmodified RFC 1123,
// creationdate ISO 8601 as ISO8601ToTime reads it).
func checkFinderStat(t *testing.T, r response, props []xml.Name, isDir bool, size int) {
	t.Helper()
	got := reportsAll(t, r, props)
	if rt := got[davName("resourcetype")]; rt.status != 200 || rt.has(collectionName) != isDir {
		t.Errorf("%s: resourcetype %+v, want collection=%v", r.Href, rt, isDir)
	}
	if checkLastModified(t, r.Href, got).IsZero() {
		t.Errorf("%s: no getlastmodified", r.Href)
	}
	if cd := got[davName("creationdate")]; cd.status == 200 {
		if _, err := time.Parse(time.RFC3339, strings.TrimSpace(cd.Text)); err != nil {
			t.Errorf("%s: creationdate %q is not ISO 8601: %v", r.Href, cd.Text, err)
		}
	}
	if !isDir {
		if v := need200(t, r.Href, got, davName("getcontentlength")); v != strconv.Itoa(size) {
			t.Errorf("%s: getcontentlength %q, want %d", r.Href, v, size)
		}
	}
	if ad, ok := got[xml.Name{Space: appleNS, Local: "appledoubleheader"}]; ok && ad.status == 200 {
		// When a server answers it, it is the base64 of the 82-byte header
		// (webdav_parse.c copies APPLEDOUBLEHEADER_LENGTH bytes).
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ad.Text)); err != nil || len(b) != 82 {
			t.Errorf("%s: appledoubleheader %q is not a base64 82-byte header", r.Href, ad.Text)
		}
	}
}

// TestFinderMount replays Finder's connect and first listing: OPTIONS (the
// DAV level decides read-only or read-write), the stat of the mount root,
// the quota query statfs makes, the readdir with appledoubleheader, the
// lookups of ._. and .DS_Store, and the empty-directory check before rmdir.
func TestFinderMount(t *testing.T) {
	p := testutil.Start(t, "")
	c := newFinder(t, p)
	write(t, filepath.Join(p.Root, "a.txt"), "hello")
	write(t, filepath.Join(p.Root, "._a.txt"), string(appleDouble))
	write(t, filepath.Join(p.Root, ".DS_Store"), "Bud1 finder state")
	write(t, filepath.Join(p.Root, "Ünïcode name.txt"), "é")
	if err := os.Mkdir(filepath.Join(p.Root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("OPTIONS", func(t *testing.T) {
		r := c.expect(codes(200), "OPTIONS", "/dav/", nil)
		level := 0
		for tok := range strings.SplitSeq(r.header.Get("DAV"), ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(tok)); err == nil && n > level && n <= 2 {
				level = n
			}
		}
		if level != 2 {
			t.Errorf("DAV: %q: WebDAVFS would mount at level %d (read-only below 2)", r.header.Get("DAV"), level)
		}
	})

	t.Run("stat root", func(t *testing.T) {
		ms := c.finderPropfind("/dav/", "0", finderStatBody)
		if len(ms.Responses) != 1 || hrefPath(t, ms.Responses[0].Href) != "/dav/" {
			t.Fatalf("Depth 0 on /dav/: %d responses, first %q", len(ms.Responses), ms.Responses[0].Href)
		}
		checkFinderStat(t, ms.Responses[0], finderStatProps, true, 0)
	})

	t.Run("quota", func(t *testing.T) {
		before := statfs(t, p.Root)
		ms := c.finderPropfind("/dav/", "0", finderStatfsBody)
		after := statfs(t, p.Root)
		if len(ms.Responses) != 1 {
			t.Fatalf("%d responses", len(ms.Responses))
		}
		props := reportsAll(t, ms.Responses[0], []xml.Name{davName("quota-available-bytes"), davName("quota-used-bytes"), davName("quota"), davName("quotaused")})
		avail, err1 := strconv.ParseInt(need200(t, "/dav/", props, davName("quota-available-bytes")), 10, 64)
		used, err2 := strconv.ParseInt(need200(t, "/dav/", props, davName("quota-used-bytes")), 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("quota values are not integers: %v %v", err1, err2)
		}
		if avail <= 0 || used < 0 {
			t.Errorf("quota-available-bytes %d, quota-used-bytes %d", avail, used)
		}
		checkQuotaAgainstStatfs(t, before, after, avail, used)
	})

	t.Run("readdir", func(t *testing.T) {
		ms := c.finderPropfind("/dav/", "1", finderReaddirBody)
		want := append(slices.Clone(finderStatProps), xml.Name{Space: appleNS, Local: "appledoubleheader"})
		got := ms.byPath(t)
		for name, size := range map[string]int{"a.txt": 5, "._a.txt": 82, ".DS_Store": 17, "Ünïcode name.txt": 2} {
			r, ok := got["/dav/"+name]
			if !ok {
				t.Errorf("readdir does not list %q: %v", name, keys(got))
				continue
			}
			checkFinderStat(t, r, want, false, size)
		}
		if r, ok := got["/dav/sub"]; !ok {
			t.Errorf("readdir does not list sub/")
		} else {
			checkFinderStat(t, r, want, true, 0)
		}
		if r, ok := got["/dav"]; !ok {
			t.Errorf("readdir does not report the directory itself")
		} else {
			checkFinderStat(t, r, want, true, 0)
		}
		if len(got) != 6 {
			t.Errorf("readdir reports %d resources, want 6: %v", len(got), keys(got))
		}
	})

	// Finder probes names that are not there; each must be a plain 404.
	t.Run("lookups of missing names", func(t *testing.T) {
		for _, name := range []string{"._.", "._sub", ".metadata_never_index", ".Spotlight-V100", "Backups.backupdb", "mach_kernel", "sub/.DS_Store"} {
			r := c.do("PROPFIND", "/dav/"+name, []byte(finderStatBody), "Content-Type", "text/xml", "Depth", "0")
			if r.status != 404 {
				t.Errorf("PROPFIND /dav/%s = %s, want 404", name, r)
			}
		}
	})

	t.Run("dir is empty", func(t *testing.T) {
		ms := c.finderPropfind("/dav/sub/", "1", finderDirIsEmptyBody)
		if len(ms.Responses) != 1 {
			t.Errorf("empty sub/ lists %d entries, want itself only", len(ms.Responses))
		}
		ms = c.finderPropfind("/dav/", "1", finderDirIsEmptyBody)
		if len(ms.Responses) < 2 {
			t.Errorf("root lists %d entries", len(ms.Responses))
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func statfs(t *testing.T, root string) syscall.Statfs_t {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// checkQuotaAgainstStatfs compares RFC 4331 quota values with statfs(2) of
// the root taken just before and just after the request: available is the
// space left (f_bavail, or f_bfree for a server running as root), used the
// space in use (f_blocks-f_bfree, or the total less the available), and
// their sum the volume's size (f_blocks, or the usable part
// f_blocks-f_bfree+f_bavail). Values may be anywhere between the two
// snapshots (other tests write meanwhile), give or take 1% of the volume or
// 64 MiB.
func checkQuotaAgainstStatfs(t *testing.T, before, after syscall.Statfs_t, avail, used int64) {
	t.Helper()
	bs := int64(before.Bsize)
	total := int64(before.Blocks) * bs
	tol := max(total/100, 64<<20)
	// near reports whether v is within tol of the range a value f of the
	// volume took between the two snapshots.
	near := func(v int64, fs ...func(syscall.Statfs_t) int64) bool {
		for _, f := range fs {
			lo, hi := min(f(before), f(after)), max(f(before), f(after))
			if v >= lo-tol && v <= hi+tol {
				return true
			}
		}
		return false
	}
	bavail := func(st syscall.Statfs_t) int64 { return int64(st.Bavail) * bs }
	bfree := func(st syscall.Statfs_t) int64 { return int64(st.Bfree) * bs }
	blocks := func(st syscall.Statfs_t) int64 { return int64(st.Blocks) * bs }
	if !near(avail, bavail, bfree) {
		t.Errorf("quota-available-bytes %d, statfs available %d (free %d)", avail, bavail(after), bfree(after))
	}
	if !near(used,
		func(st syscall.Statfs_t) int64 { return blocks(st) - bfree(st) },
		func(st syscall.Statfs_t) int64 { return blocks(st) - avail }) {
		t.Errorf("quota-used-bytes %d, statfs used %d of %d", used, total-bfree(after), total)
	}
	if !near(avail+used, blocks, func(st syscall.Statfs_t) int64 { return blocks(st) - bfree(st) + bavail(st) }) {
		t.Errorf("available+used = %d, statfs total %d, usable %d", avail+used, total, total-bfree(after)+bavail(after))
	}
}

// TestFinderCreateLocked replays a file created in Finder the way the brief
// for WebDAVFS's write path has it: LOCK of the unmapped name (RFC 4918
// §7.3), a streamed PUT carrying the token, UNLOCK; with the token in both
// If forms, a wrong token, no token, and a body shorter than announced.
func TestFinderCreateLocked(t *testing.T) {
	p := testutil.Start(t, "")
	c := newFinder(t, p)
	disk := filepath.Join(p.Root, "Report.pages")
	path := "/dav/Report.pages"

	// lookup first: 404
	c.expect(codes(404), "PROPFIND", path, []byte(finderStatBody), "Content-Type", "text/xml", "Depth", "0")

	tok, al := c.finderLock(codes(201), path)
	t.Run("lock", func(t *testing.T) {
		if !exists(disk) || readFile(t, disk) != "" {
			t.Errorf("LOCK of an unmapped URL did not create an empty resource")
		}
		secs, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(al.Timeout), "Second-"))
		if strings.TrimSpace(al.Depth) != "0" || err != nil || secs <= 0 || secs > 600 {
			t.Errorf("activelock depth %q timeout %q", al.Depth, al.Timeout)
		}
		if len(al.Scope.Any) != 1 || al.Scope.Any[0].XMLName != davName("exclusive") {
			t.Errorf("lockscope %+v", al.Scope)
		}
	})
	// RFC 4918 §14.12: lockroot is the URL the lock was taken on.
	t.Run("lockroot", func(t *testing.T) {
		if got := hrefPath(t, al.Root); got != path {
			t.Errorf("lockroot %q, want %q", al.Root, path)
		}
	})

	v1 := bytes.Repeat([]byte("pages v1 "), 20000) // 180 kB: several chunks
	if r := c.finderPut(path, v1, tok); r.status != 201 && r.status != 204 {
		t.Fatalf("streamed PUT with If: (<token>) = %s", r)
	}
	if !bytes.Equal([]byte(readFile(t, disk)), v1) {
		t.Fatalf("disk content differs after the streamed PUT")
	}

	t.Run("no token", func(t *testing.T) {
		r := c.finderPut(path, []byte("intruder"), "")
		if r.status != 423 {
			t.Errorf("PUT without the token = %s, want 423", r)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		r := c.finderPut(path, []byte("intruder"), "urn:uuid:00000000-0000-0000-0000-000000000000")
		if r.status != 412 && r.status != 423 {
			t.Errorf("PUT with an unknown token = %s, want 412 (or 423)", r)
		}
	})
	t.Run("tagged If", func(t *testing.T) {
		v2 := []byte("pages v2")
		r := c.chunked("PUT", path, v2, "X-Expected-Entity-Length", strconv.Itoa(len(v2)),
			"If", "<"+p.URL+path+"> (<"+tok+">)")
		if r.status != 204 {
			t.Fatalf("PUT with If: <url> (<token>) = %s, want 204", r)
		}
		if got := readFile(t, disk); got != string(v2) {
			t.Errorf("disk = %q", got)
		}
		v1 = v2
	})
	t.Run("short body", func(t *testing.T) {
		// The body ends (a clean last chunk) before X-Expected-Entity-Length.
		r := c.chunked("PUT", path, []byte("trunc"), "X-Expected-Entity-Length", "4096", "If", "(<"+tok+">)")
		if r.status < 400 || r.status > 499 {
			t.Errorf("short streamed PUT = %s, want 4xx", r)
		}
		if got := readFile(t, disk); got != string(v1) {
			t.Errorf("short PUT changed the file to %q", got)
		}
		noTempFiles(t, p.Root)
	})
	if got := readFile(t, disk); got != string(v1) {
		t.Errorf("disk = %q after refused writes", got)
	}

	// network_fsync's follow-up PROPFIND; the ETag must be the one GET gives.
	ms := c.finderPropfind(path, "0", finderValidatorsBody)
	props := reportsAll(t, ms.Responses[0], []xml.Name{davName("getlastmodified"), davName("getetag")})
	checkLastModified(t, path, props)
	if etag := need200(t, path, props, davName("getetag")); etag != c.expect(codes(200), "GET", path, nil).header.Get("ETag") {
		t.Errorf("getetag %q differs from GET's ETag", etag)
	}

	c.finderUnlock(path, tok)
	if r := c.finderPut(path, []byte("after unlock"), ""); r.status != 204 {
		t.Errorf("PUT after UNLOCK = %s, want 204", r)
	}
}

// TestFinderCreateThenLock replays the order Finder's VFS actually uses for
// a new file: network_create (PUT with no body), network_lock, the streamed
// write with the token, the fsync PROPFIND, network_unlock.
func TestFinderCreateThenLock(t *testing.T) {
	p := testutil.Start(t, "")
	c := newFinder(t, p)
	path := "/dav/notes.txt"
	c.expect(codes(404), "PROPFIND", path, []byte(finderStatBody), "Content-Type", "text/xml", "Depth", "0")
	c.expect(codes(201), "PUT", path, []byte{})
	tok, _ := c.finderLock(codes(200), path)
	body := []byte("written from Finder\n")
	r := c.finderPut(path, body, tok)
	if r.status != 204 {
		t.Fatalf("streamed PUT = %s, want 204", r)
	}
	ms := c.finderPropfind(path, "0", finderStatBody)
	checkFinderStat(t, ms.Responses[0], finderStatProps, false, len(body))
	c.finderUnlock(path, tok)
	if got := readFile(t, filepath.Join(p.Root, "notes.txt")); got != string(body) {
		t.Errorf("disk = %q", got)
	}
	noTempFiles(t, p.Root)
}

// TestFinderAppleDouble replays the ._ AppleDouble and .DS_Store traffic
// of pydio/pydio-core issue #581 (PROPFIND 404, PUT, LOCK, PUT, UNLOCK, GET)
// with WebDAVFS's own requests, then the listing and the DELETE Finder sends
// when the file goes away.
func TestFinderAppleDouble(t *testing.T) {
	p := testutil.Start(t, "")
	c := newFinder(t, p)
	write(t, filepath.Join(p.Root, "Docs", "doc.txt"), "data fork")

	for _, tc := range []struct{ name string }{{"Docs/._doc.txt"}, {"Docs/.DS_Store"}, {"._Docs"}} {
		t.Run(tc.name, func(t *testing.T) {
			path, disk := "/dav/"+tc.name, filepath.Join(p.Root, tc.name)
			c.expect(codes(404), "PROPFIND", path, []byte(finderStatBody), "Content-Type", "text/xml", "Depth", "0")
			c.expect(codes(201), "PUT", path, []byte{})
			tok, _ := c.finderLock(codes(200), path)
			if r := c.finderPut(path, appleDouble, tok); r.status != 204 {
				t.Fatalf("PUT = %s", r)
			}
			c.finderUnlock(path, tok)
			if got := c.expect(codes(200), "GET", path, nil); !bytes.Equal(got.body, appleDouble) {
				t.Errorf("GET returns %d bytes, want the 82-byte header", len(got.body))
			}
			if got := readFile(t, disk); got != string(appleDouble) {
				t.Errorf("disk content differs")
			}
			dir := "/dav/" + filepath.Dir(tc.name) + "/"
			if dir == "/dav/./" {
				dir = "/dav/"
			}
			listed := c.finderPropfind(dir, "1", finderReaddirBody).byPath(t)
			if r, ok := listed[path]; !ok {
				t.Errorf("%s not listed in %s: %v", tc.name, dir, keys(listed))
			} else {
				checkFinderStat(t, r, finderStatProps, false, 82)
			}
			c.expect(codes(204), "DELETE", path, nil)
			if exists(disk) {
				t.Errorf("DELETE left %s on disk", disk)
			}
			c.expect(codes(404), "PROPFIND", path, []byte(finderStatBody), "Content-Type", "text/xml", "Depth", "0")
		})
	}

	// network_delete of a locked file sends its token.
	t.Run("delete locked", func(t *testing.T) {
		path := "/dav/Docs/._locked"
		c.expect(codes(201), "PUT", path, []byte{})
		tok, _ := c.finderLock(codes(200), path)
		c.expect(codes(423), "DELETE", path, nil)
		c.expect(codes(204), "DELETE", path, nil, "If", "(<"+tok+">)")
		if exists(filepath.Join(p.Root, "Docs", "._locked")) {
			t.Error("locked ._ file not deleted")
		}
	})
	if got := readFile(t, filepath.Join(p.Root, "Docs", "doc.txt")); got != "data fork" {
		t.Errorf("doc.txt = %q", got)
	}
	noTempFiles(t, p.Root)
}

// proppatchAuthors is RFC 4918 §9.2.2's PROPPATCH example, with the remove of
// a property that does not exist (§9.2: not an error).
const proppatchAuthors = `<?xml version="1.0" encoding="utf-8" ?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/standards/z39.50/">
  <D:set>
    <D:prop>
      <Z:Authors>
        <Z:Author>Jim Whitehead</Z:Author>
        <Z:Author>Roy Fielding</Z:Author>
      </Z:Authors>
    </D:prop>
  </D:set>
  <D:remove>
    <D:prop><Z:Copyright-Owner/></D:prop>
  </D:remove>
</D:propertyupdate>`

const propfindAuthors = `<?xml version="1.0" encoding="utf-8" ?>
<D:propfind xmlns:D="DAV:" xmlns:Z="http://ns.example.com/standards/z39.50/">
<D:prop><Z:Authors/><Z:Copyright-Owner/></D:prop>
</D:propfind>`

var authorsName = xml.Name{Space: "http://ns.example.com/standards/z39.50/", Local: "Authors"}

// checkAuthors reads Z:Authors back and checks it is the value set.
func checkAuthors(t *testing.T, c *client, path string) {
	t.Helper()
	ms := c.finderPropfind(path, "0", propfindAuthors)
	if len(ms.Responses) != 1 {
		t.Fatalf("%d responses", len(ms.Responses))
	}
	props := ms.Responses[0].props(t)
	a := props[authorsName]
	var names []string
	for _, ch := range a.Children {
		names = append(names, strings.TrimSpace(ch.Text))
	}
	if a.status != 200 || !slices.Equal(names, []string{"Jim Whitehead", "Roy Fielding"}) {
		t.Errorf("%s: Z:Authors = %d %q, want 200 [Jim Whitehead Roy Fielding]", path, a.status, names)
	}
	if co := props[xml.Name{Space: authorsName.Space, Local: "Copyright-Owner"}]; co.status != 404 {
		t.Errorf("%s: removed Z:Copyright-Owner reported with %d, want 404", path, co.status)
	}
}

// TestFinderProppatch sets a dead property and reads it back, on a locked
// file (the token is needed), through allprop, after a MOVE (RFC 4918 §9.9.1:
// dead properties move with the resource) and after a DELETE.
func TestFinderProppatch(t *testing.T) {
	p := testutil.Start(t, "")
	c := newFinder(t, p)
	write(t, filepath.Join(p.Root, "doc.txt"), "text")
	path := "/dav/doc.txt"
	tok, _ := c.finderLock(codes(200), path)

	c.expect(codes(423), "PROPPATCH", path, []byte(proppatchAuthors), "Content-Type", "text/xml")
	ms := parseMultistatus(t, "PROPPATCH", c.do("PROPPATCH", path, []byte(proppatchAuthors), "Content-Type", "text/xml", "If", "(<"+tok+">)"))
	answered := ms.Responses[0].props(t)
	for _, n := range []xml.Name{authorsName, {Space: authorsName.Space, Local: "Copyright-Owner"}} {
		if pr, ok := answered[n]; !ok || pr.status != 200 {
			t.Errorf("PROPPATCH %s: %d (reported %v), want 200", n.Local, pr.status, ok)
		}
	}
	if len(answered) != 2 {
		t.Errorf("PROPPATCH answers %d properties, want 2", len(answered))
	}
	checkAuthors(t, c, path)

	t.Run("allprop", func(t *testing.T) {
		ms := parseMultistatus(t, "PROPFIND allprop", c.do("PROPFIND", path, []byte(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`), "Depth", "0"))
		if pr := ms.Responses[0].props(t)[authorsName]; pr.status != 200 {
			t.Errorf("allprop does not return the dead property (RFC 4918 §9.1)")
		}
	})

	t.Run("after MOVE", func(t *testing.T) {
		c.expect(codes(201), "MOVE", path, nil, "Destination", p.URL+"/dav/moved.txt", "If", "(<"+tok+">)")
		checkAuthors(t, c, "/dav/moved.txt")
	})

	t.Run("after DELETE", func(t *testing.T) {
		c.expect(codes(204), "DELETE", "/dav/moved.txt", nil)
		c.expect(codes(201), "PUT", "/dav/moved.txt", []byte("new"))
		ms := c.finderPropfind("/dav/moved.txt", "0", propfindAuthors)
		if pr := ms.Responses[0].props(t)[authorsName]; pr.status != 404 {
			t.Errorf("a new file at a deleted name has the old dead property (%d)", pr.status)
		}
	})
}

// TestFinderMoveLocked replays network_rename of a locked file and the
// RFC 4918 §10.4.2 rule it relies on: an untagged If list applies to the
// Request-URI (the source) only, so a lock on the destination needs its
// token in a tagged list.
func TestFinderMoveLocked(t *testing.T) {
	p := testutil.Start(t, "")
	c := newFinder(t, p)
	root := p.Root
	dest := func(name string) string { return p.URL + "/dav/" + name }

	t.Run("rename", func(t *testing.T) {
		write(t, filepath.Join(root, "a.txt"), "A")
		tok, _ := c.finderLock(codes(200), "/dav/a.txt")
		c.expect(codes(423), "MOVE", "/dav/a.txt", nil, "Destination", dest("b.txt"))
		c.expect(codes(201), "MOVE", "/dav/a.txt", nil, "Destination", dest("b.txt"), "If", "(<"+tok+">)")
		if exists(filepath.Join(root, "a.txt")) || readFile(t, filepath.Join(root, "b.txt")) != "A" {
			t.Error("MOVE did not rename a.txt to b.txt")
		}
		// The lock stayed with the source (§9.9.4: locks are not moved).
		c.expect(codes(204), "PUT", "/dav/b.txt", []byte("B"))
	})

	t.Run("Overwrite", func(t *testing.T) {
		write(t, filepath.Join(root, "c.txt"), "C")
		write(t, filepath.Join(root, "d.txt"), "D")
		tok, _ := c.finderLock(codes(200), "/dav/c.txt")
		c.expect(codes(412), "MOVE", "/dav/c.txt", nil, "Destination", dest("d.txt"), "Overwrite", "F", "If", "(<"+tok+">)")
		if readFile(t, filepath.Join(root, "d.txt")) != "D" || !exists(filepath.Join(root, "c.txt")) {
			t.Fatal("Overwrite: F touched something")
		}
		c.expect(codes(204), "MOVE", "/dav/c.txt", nil, "Destination", dest("d.txt"), "Overwrite", "T", "If", "(<"+tok+">)")
		if exists(filepath.Join(root, "c.txt")) || readFile(t, filepath.Join(root, "d.txt")) != "C" {
			t.Error("MOVE with Overwrite: T did not replace d.txt")
		}
	})

	t.Run("untagged is the source only", func(t *testing.T) {
		write(t, filepath.Join(root, "src.txt"), "S")
		write(t, filepath.Join(root, "dst.txt"), "T")
		srcTok, _ := c.finderLock(codes(200), "/dav/src.txt")
		dstTok, _ := c.finderLock(codes(200), "/dav/dst.txt")
		unchanged := func(step string) {
			t.Helper()
			if readFile(t, filepath.Join(root, "src.txt")) != "S" || readFile(t, filepath.Join(root, "dst.txt")) != "T" {
				t.Fatalf("%s changed the files", step)
			}
		}
		// The source's token only: the destination's lock is in the way.
		c.expect(codes(423), "MOVE", "/dav/src.txt", nil, "Destination", dest("dst.txt"), "Overwrite", "T", "If", "(<"+srcTok+">)")
		unchanged("MOVE with the source token")
		// The destination's token untagged is evaluated against the source,
		// which it does not lock: the precondition fails.
		c.expect(codes(412), "MOVE", "/dav/src.txt", nil, "Destination", dest("dst.txt"), "Overwrite", "T", "If", "(<"+dstTok+">)")
		unchanged("MOVE with the destination token untagged")
		// Tagged lists for both resources.
		c.expect(codes(204), "MOVE", "/dav/src.txt", nil, "Destination", dest("dst.txt"), "Overwrite", "T",
			"If", "<"+dest("src.txt")+"> (<"+srcTok+">) <"+dest("dst.txt")+"> (<"+dstTok+">)")
		if exists(filepath.Join(root, "src.txt")) || readFile(t, filepath.Join(root, "dst.txt")) != "S" {
			t.Error("MOVE with tagged tokens did not replace dst.txt")
		}
	})

	t.Run("unlocked source, untagged token of another file", func(t *testing.T) {
		write(t, filepath.Join(root, "e.txt"), "E")
		write(t, filepath.Join(root, "f.txt"), "F")
		tok, _ := c.finderLock(codes(200), "/dav/f.txt")
		c.expect(codes(412), "MOVE", "/dav/e.txt", nil, "Destination", dest("g.txt"), "If", "(<"+tok+">)")
		if !exists(filepath.Join(root, "e.txt")) || exists(filepath.Join(root, "g.txt")) {
			t.Error("MOVE with a failing If moved the file")
		}
	})
	noTempFiles(t, root)
}
