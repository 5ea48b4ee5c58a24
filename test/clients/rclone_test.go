package clients

// What rclone's webdav backend asks of the server, read from rclone's
// backend/webdav/webdav.go and api/types.go and checked against the
// installed rclone (v1.60) with --dump headers,bodies:
//
//   - vendor "owncloud" sets: can stream, mod time precision 1 s, X-OC-Mtime,
//     MD5 and SHA-1 hashes (Fs.Hashes() = {md5, sha1}). rclone picks the
//     first common hash, MD5, for `rclone check` and for --track-renames, so
//     a server that gives only SHA-1 leaves every file "could not be checked".
//   - Every PROPFIND (listing, Depth 1; and the metadata read of a single
//     file, also sent with Depth 1 by v1.60) has this exact body:
//
//     <?xml version="1.0"?>
//     <d:propfind  xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
//      <d:prop>
//       <d:displayname />
//       <d:getlastmodified />
//       <d:getcontentlength />
//       <d:resourcetype />
//       <d:getcontenttype />
//       <oc:checksums />
//      </d:prop>
//     </d:propfind>
//
//     (newer rclone asks <oc:permissions /> instead of <d:getcontenttype />.)
//   - The answer is decoded lazily: all <propstat> of a <response> are merged
//     and only the FIRST <status> is looked at — if it is not 2xx the whole
//     entry is ignored, so the 200 propstat must come before a 404 one.
//     Checksums are read from prop>checksums>checksum in any namespace; each
//     <checksum> text is split on spaces, lower-cased, and "sha1:"/"md5:"
//     prefixes taken: <oc:checksums><oc:checksum>SHA1:<hex> MD5:<hex>
//     ADLER32:<hex></oc:checksum></oc:checksums>. getlastmodified is RFC 1123
//     ("Mon, 02 Jan 2006 15:04:05 GMT").
//   - PUT carries "X-OC-Mtime: <unix seconds>" (the source's mtime,
//     truncated) and "OC-Checksum: SHA1:<lower-case hex>" (MD5:<hex> when
//     SHA-1 is unknown), with Content-Length. After the PUT rclone reads the
//     file back (PROPFIND) and compares size and, if the server gave one,
//     the hash ("corrupted on transfer" otherwise). v1.60 does not look at
//     the reply's headers; newer rclone treats "X-OC-Mtime: accepted" in the
//     reply to COPY/MOVE as "mtime set" and otherwise sends a PROPPATCH of
//     <lastmodified xmlns="DAV:">unix</lastmodified> (plus oc:checksums).
//   - Server-side COPY/MOVE (--track-renames, rclone move): Destination,
//     "Overwrite: F" (v1.60; "T" in newer rclone) and X-OC-Mtime.
//   - SetModTime is unsupported in v1.60: an mtime-only difference makes
//     sync upload the file again (with X-OC-Mtime).
//   - `rclone about` sends PROPFIND Depth 0 on the URL with
//     <D:quota-available-bytes/><D:quota-used-bytes/> and reads them as
//     integers.
//   - vendor "other" (v1.60) sends PROPFIND with an empty body (allprop),
//     no X-OC-Mtime and no OC-Checksum; mod times are "not supported" and
//     there is no hash.

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// rclone runs rclone with a private, empty config file and the remote
// "davnas" defined by environment variables (never the user's config).
type rclone struct {
	t   *testing.T
	env []string
	dir string
}

func newRclone(t *testing.T, p *testutil.Proc, vendor string) *rclone {
	testutil.Need(t, "rclone")
	home := t.TempDir()
	conf := filepath.Join(home, "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return &rclone{t: t, dir: home, env: []string{
		"HOME=" + home,
		"RCLONE_CONFIG=" + conf,
		"RCLONE_CACHE_DIR=" + filepath.Join(home, "cache"),
		"RCLONE_CONFIG_DAVNAS_TYPE=webdav",
		"RCLONE_CONFIG_DAVNAS_URL=" + p.URL + "/dav/",
		"RCLONE_CONFIG_DAVNAS_VENDOR=" + vendor,
	}}
}

// common flags: fail fast (one attempt of the whole operation) and bound
// every network wait.
var rcloneFlags = []string{"--retries", "1", "--low-level-retries", "2", "--contimeout", "10s", "--timeout", "60s"}

func (r *rclone) run(args ...string) result {
	r.t.Helper()
	return command(r.t, 3*time.Minute, r.dir, r.env, "", "rclone", append(args, rcloneFlags...)...)
}

func (r *rclone) mustRun(args ...string) result {
	r.t.Helper()
	res := r.run(args...)
	if res.code != 0 {
		r.t.Fatalf("rclone %s: %s", strings.Join(args, " "), res)
	}
	return res
}

// syncStats are rclone's final accounting, from --use-json-log.
type syncStats struct {
	Transfers int `json:"transfers"`
	Checks    int `json:"checks"`
	Deletes   int `json:"deletes"`
	Renames   int `json:"renames"`
	Errors    int `json:"errors"`
}

// sync runs `rclone sync src dst` and returns the final stats.
func (r *rclone) sync(src, dst string, extra ...string) syncStats {
	r.t.Helper()
	res := r.mustRun(append([]string{"sync", src, dst, "--use-json-log", "-v"}, extra...)...)
	var last *syncStats
	for _, line := range strings.Split(res.stderr, "\n") {
		var l struct {
			Stats *syncStats `json:"stats"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Stats != nil {
			last = l.Stats
		}
	}
	if last == nil {
		r.t.Fatalf("rclone sync printed no stats:\n%s", res.stderr)
	}
	r.t.Logf("rclone sync %s: %+v", strings.Join(extra, " "), *last)
	return *last
}

// check runs `rclone check` and asserts it found no difference and
// matched every one of want files.
func (r *rclone) check(src, dst string, want int, extra ...string) string {
	r.t.Helper()
	res := r.run(append([]string{"check", src, dst, "-v"}, extra...)...)
	out := res.stderr + res.stdout
	if res.code != 0 || !strings.Contains(out, "0 differences found") || !strings.Contains(out, fmt.Sprintf(": %d matching files", want)) {
		r.t.Errorf("rclone check %s: want 0 differences and %d matching files, got %s", strings.Join(extra, " "), want, res)
	}
	return out
}

// lsl lists a tree with `rclone lsl`: name -> size and mod time as rclone
// sees it.
func (r *rclone) lsl(target string) map[string]fileInfo {
	r.t.Helper()
	res := r.mustRun("lsl", target)
	re := regexp.MustCompile(`^\s*(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}) (.+)$`)
	out := map[string]fileInfo{}
	for _, line := range strings.Split(strings.TrimRight(res.stdout, "\n"), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			r.t.Fatalf("rclone lsl %s: cannot parse %q", target, line)
		}
		size, _ := strconv.ParseInt(m[1], 10, 64)
		mt, err := time.Parse("2006-01-02 15:04:05.000000000", m[2])
		if err != nil {
			r.t.Fatal(err)
		}
		out[m[3]] = fileInfo{size: size, mtime: mt}
	}
	return out
}

// hashsum runs `rclone hashsum kind target`: name -> hash ("" when rclone
// printed none).
func (r *rclone) hashsum(kind, target string) map[string]string {
	r.t.Helper()
	res := r.mustRun("hashsum", kind, target)
	width := map[string]int{"md5": 32, "sha1": 40}[kind]
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(res.stdout, "\n"), "\n") {
		if len(line) < width+3 || line[width:width+2] != "  " {
			r.t.Fatalf("rclone hashsum %s: cannot parse %q", kind, line)
		}
		out[line[width+2:]] = strings.TrimSpace(line[:width])
	}
	return out
}

// rcloneTree is the generated tree: 300 files in nested directories,
// awkward names (spaces, NFC unicode, %, #, ?, +, &), sizes 0 B, 1 B,
// 1 MiB and one of 50 MiB, and mod times with sub-second parts on distinct
// seconds in the past.
func rcloneTree() []genFile {
	files := []genFile{
		{rel: "sizes/empty", size: 0},
		{rel: "sizes/one byte", size: 1},
		{rel: "sizes/one mib.bin", size: mib},
		{rel: "sizes/one mib plus one.bin", size: mib + 1},
		{rel: "big/fifty mib.bin", size: 50 * mib},
		{rel: "names/with space.txt", size: 100},
		{rel: "names/caf\u00e9.txt", size: 101},
		{rel: "names/\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt", size: 102},
		{rel: "names/\u00dcn\u00efc\u00f6d\u00e9 dir/na\u00efve r\u00e9sum\u00e9.txt", size: 103},
		{rel: "names/emoji \U0001F389.bin", size: 104},
		{rel: "names/100% done.txt", size: 105},
		{rel: "names/50%25 off.txt", size: 106},
		{rel: "names/hash#tag.txt", size: 107},
		{rel: "names/what?.txt", size: 108},
		{rel: "names/a+b=c.txt", size: 109},
		{rel: "names/rock&roll.txt", size: 110},
		{rel: "names/all of %#?+& them.txt", size: 111},
		{rel: "dir with spaces/top.txt", size: 200},
		{rel: "dir with spaces/sub dir/plain.txt", size: 201},
		{rel: "dir with spaces/sub dir/deep #3/x & y?.txt", size: 202},
	}
	for i := 0; len(files) < 300; i++ {
		files = append(files, genFile{
			rel:  fmt.Sprintf("bulk/d%02d/s%d/f-%03d.dat", i%12, i%3, i),
			size: int64(i*7919%20000 + 1),
		})
	}
	base := time.Date(2021, 6, 15, 12, 0, 0, 123456789, time.UTC)
	for i := range files {
		files[i].mtime = base.Add(time.Duration(i) * 97 * time.Second)
	}
	return files
}

// mutation is what mutate changed in the local tree.
type mutation struct {
	renames int // files renamed or moved (with unique content)
}

// mutate changes, deletes, adds and renames files of the tree under dir.
// sameSize adds changes that keep the size (only a client that compares
// mod times or hashes can see them).
func mutate(t *testing.T, dir string, sameSize bool) mutation {
	t.Helper()
	p := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	later := time.Date(2023, 2, 3, 4, 5, 6, 700000000, time.UTC)
	// Changed, with a new size.
	for i, rel := range []string{"sizes/one byte", "names/caf\u00e9.txt", "names/what?.txt", "bulk/d00/s0/f-000.dat"} {
		f, err := os.OpenFile(p(rel), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "appended %d\n", i)
		f.Close()
		os.Chtimes(p(rel), later, later.Add(time.Duration(i)*time.Second))
	}
	// Changed, same size, newer mod time.
	if sameSize {
		for i, rel := range []string{"names/rock&roll.txt", "bulk/d01/s1/f-001.dat"} {
			fi, err := os.Stat(p(rel))
			if err != nil {
				t.Fatal(err)
			}
			writeGen(t, dir, genFile{rel: rel, size: fi.Size(), mtime: later.Add(time.Duration(10+i) * time.Second)}, 99)
		}
	}
	// Deleted: single files and a whole directory.
	for _, rel := range []string{"sizes/empty", "names/hash#tag.txt", "names/a+b=c.txt", "bulk/d11"} {
		if err := os.RemoveAll(p(rel)); err != nil {
			t.Fatal(err)
		}
	}
	// Added.
	writeGen(t, dir, genFile{rel: "new/added file #1.txt", size: 300, mtime: later.Add(time.Hour)}, 1)
	// Dated at the epoch (reproducible builds) and before it: rclone
	// sends X-OC-Mtime 0 and a negative number.
	writeGen(t, dir, genFile{rel: "new/epoch.txt", size: 10, mtime: time.Unix(0, 0)}, 2)
	writeGen(t, dir, genFile{rel: "new/1960.txt", size: 11, mtime: time.Date(1960, 5, 5, 5, 5, 5, 0, time.UTC)}, 3)
	// Renamed: files (within a directory, across directories, into a new
	// one) and a directory with three files.
	renames := [][2]string{
		{"names/with space.txt", "names/renamed with space.txt"},
		{"names/50%25 off.txt", "moved/50%25 off & more.txt"},
		{"bulk/d02/s2/f-002.dat", "bulk/d03/s2/f-002 renamed.dat"},
		{"dir with spaces", "renamed dir #2"},
	}
	for _, r := range renames {
		if err := os.MkdirAll(filepath.Dir(p(r[1])), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p(r[0]), p(r[1])); err != nil {
			t.Fatal(err)
		}
	}
	return mutation{renames: 3 + 3}
}

// TestRcloneOwncloud syncs a tree with rclone's webdav backend in vendor
// "owncloud" mode: modification times must survive to the second (X-OC-Mtime)
// and `rclone check` must compare hashes (oc:checksums).
func TestRcloneOwncloud(t *testing.T) {
	p := testutil.Start(t, "")
	rc := newRclone(t, p, "owncloud")
	src := t.TempDir()
	files := rcloneTree()
	for _, f := range files {
		writeGen(t, src, f, 0)
	}
	remote := "davnas:tree"
	serverTree := filepath.Join(p.Root, "tree")

	verify := func(step string) {
		t.Helper()
		want, wantDirs := snapshot(t, src)
		got, gotDirs := snapshot(t, serverTree)
		compareContents(t, step+": server root vs source", want, got, wantDirs, gotDirs)
		// Mod times on disk: the source's, truncated to the second.
		var bad []string
		for name, w := range want {
			if g, ok := got[name]; ok && !g.mtime.Equal(w.mtime.Truncate(time.Second)) {
				bad = append(bad, fmt.Sprintf("%q: %v, want %v", name, g.mtime.UTC(), w.mtime.Truncate(time.Second)))
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s: %d mod times on disk not preserved (X-OC-Mtime), e.g. %s", step, len(bad), bad[0])
		}
		// Mod times as rclone sees them: lsl of the remote vs the source.
		local, rem := rc.lsl(src), rc.lsl(remote)
		bad = bad[:0]
		for name, l := range local {
			r, ok := rem[name]
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("%q missing from remote listing", name))
			case r.size != l.size || !r.mtime.Equal(l.mtime.Truncate(time.Second)):
				bad = append(bad, fmt.Sprintf("%q: remote %d %v, local %d %v", name, r.size, r.mtime, l.size, l.mtime))
			}
		}
		if len(bad) > 0 || len(rem) != len(local) {
			t.Errorf("%s: rclone lsl remote (%d files) vs local (%d files): %d differ, e.g. %v", step, len(rem), len(local), len(bad), bad[:min(len(bad), 3)])
		}
		// check compares hashes (MD5, rclone's first common hash) and every
		// file had one.
		out := rc.check(src, remote, len(want))
		if !strings.Contains(out, "for hash comparisons") || strings.Contains(out, "could not be checked") {
			t.Errorf("%s: rclone check did not compare hashes of every file:\n%s", step, out)
		}
		// The hashes the server gives are those of the content.
		for _, kind := range []string{"sha1", "md5"} {
			sums := rc.hashsum(kind, remote)
			bad = bad[:0]
			for name := range want {
				var w string
				if kind == "sha1" {
					w = sha1Hex(t, filepath.Join(src, name))
				} else {
					w = md5Hex(t, filepath.Join(src, name))
				}
				if sums[name] != w {
					bad = append(bad, fmt.Sprintf("%q: %q, want %s", name, sums[name], w))
				}
			}
			if len(bad) > 0 {
				t.Errorf("%s: rclone hashsum %s: %d of %d wrong (oc:checksums), e.g. %s", step, kind, len(bad), len(want), bad[0])
			}
		}
	}

	// 1. Initial sync of 300 files.
	st := rc.sync(src, remote)
	if st.Transfers != len(files) || st.Errors != 0 {
		t.Errorf("first sync: %+v, want %d transfers, 0 errors", st, len(files))
	}
	verify("first sync")

	// 2. Change (also same-size changes, seen by mod time), delete, add and
	// rename; the renames go as server-side MOVEs (--track-renames matches
	// them by MD5).
	m := mutate(t, src, true)
	before := logMark(t, p)
	st = rc.sync(src, remote, "--track-renames")
	moves := countMethods(requests(p)[before:logMark(t, p)])["MOVE"]
	if st.Errors != 0 || st.Renames != m.renames || moves != m.renames {
		t.Errorf("second sync: %+v and %d MOVE requests, want %d renames done by MOVE (--track-renames needs MD5 from oc:checksums)", st, moves, m.renames)
	}
	verify("second sync")

	// 3. Nothing changed: nothing is transferred, deleted or renamed, and the
	// server sees no write at all.
	before = logMark(t, p)
	st = rc.sync(src, remote, "--track-renames")
	logMark(t, p)
	if st.Transfers != 0 || st.Deletes != 0 || st.Renames != 0 || st.Errors != 0 {
		t.Errorf("third sync (no changes): %+v, want 0 transfers, deletes, renames", st)
	}
	for _, r := range requests(p)[before:] {
		if r.method != "PROPFIND" && r.method != "GET" && r.method != "HEAD" && r.method != "OPTIONS" {
			t.Errorf("third sync (no changes) sent %s %s", r.method, r.path)
		}
	}
	noServerErrors(t, p)
}

// TestRcloneOther syncs the same tree with vendor "other", rclone's plain
// WebDAV mode. What is lost compared with "owncloud" (rclone v1.60): mod
// times are "not supported" (no X-OC-Mtime is sent and the remote's
// getlastmodified is ignored for comparison), and there is no hash, so
// sync and check compare sizes only — a change that keeps the size is
// invisible to both. That is why this test changes sizes only, checks the
// content on the server's disk itself and runs `check --download` (which
// compares bytes) once.
func TestRcloneOther(t *testing.T) {
	p := testutil.Start(t, "")
	rc := newRclone(t, p, "other")
	src := t.TempDir()
	files := rcloneTree()
	for _, f := range files {
		writeGen(t, src, f, 0)
	}
	remote := "davnas:tree"
	serverTree := filepath.Join(p.Root, "tree")
	verify := func(step string) {
		t.Helper()
		want, wantDirs := snapshot(t, src)
		got, gotDirs := snapshot(t, serverTree)
		compareContents(t, step+": server root vs source", want, got, wantDirs, gotDirs)
		out := rc.check(src, remote, len(want))
		if !strings.Contains(out, "No common hash found") {
			t.Errorf("%s: vendor other: rclone check unexpectedly found a hash:\n%s", step, out)
		}
	}

	st := rc.sync(src, remote)
	if st.Transfers != len(files) || st.Errors != 0 {
		t.Errorf("first sync: %+v, want %d transfers, 0 errors", st, len(files))
	}
	verify("first sync")

	mutate(t, src, false)
	st = rc.sync(src, remote)
	if st.Errors != 0 || st.Transfers == 0 || st.Deletes == 0 {
		t.Errorf("second sync: %+v, want transfers and deletes, 0 errors", st)
	}
	verify("second sync")
	want, _ := snapshot(t, src)
	rc.check(src, remote, len(want), "--download")

	before := logMark(t, p)
	st = rc.sync(src, remote)
	logMark(t, p)
	if st.Transfers != 0 || st.Deletes != 0 || st.Errors != 0 {
		t.Errorf("third sync (no changes): %+v, want 0 transfers and deletes", st)
	}
	for _, r := range requests(p)[before:] {
		if r.method != "PROPFIND" && r.method != "GET" && r.method != "HEAD" && r.method != "OPTIONS" {
			t.Errorf("third sync (no changes) sent %s %s", r.method, r.path)
		}
	}
	noServerErrors(t, p)
}

// TestRcloneAbout: `rclone about` reads the RFC 4331 quota properties of
// the WebDAV root.
func TestRcloneAbout(t *testing.T) {
	p := testutil.Start(t, "")
	os.WriteFile(filepath.Join(p.Root, "some.bin"), make([]byte, 64<<10), 0o644)
	rc := newRclone(t, p, "other")
	res := rc.mustRun("about", "davnas:", "--json")
	var about struct {
		Total *int64 `json:"total"`
		Used  *int64 `json:"used"`
		Free  *int64 `json:"free"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &about); err != nil {
		t.Fatalf("rclone about --json: %v\n%s", err, res)
	}
	if about.Used == nil || about.Free == nil || *about.Used <= 0 || *about.Free <= 0 {
		t.Errorf("rclone about: %s, want used and free > 0 (DAV: quota-used-bytes, quota-available-bytes)", strings.TrimSpace(res.stdout))
	}
}

// owncloudPropfind is the exact PROPFIND body rclone v1.60 sends with vendor
// owncloud.
const owncloudPropfind = `<?xml version="1.0"?>
<d:propfind  xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
 <d:prop>
  <d:displayname />
  <d:getlastmodified />
  <d:getcontentlength />
  <d:resourcetype />
  <d:getcontenttype />
  <oc:checksums />
 </d:prop>
</d:propfind>
`

// rcloneMultistatus decodes a PROPFIND answer the way rclone's
// api.Multistatus does: every propstat of a response merged into one
// struct, only the first status looked at, checksums in any namespace.
type rcloneMultistatus struct {
	Responses []struct {
		Href  string `xml:"href"`
		Props struct {
			Status    []string `xml:"DAV: status"`
			Size      int64    `xml:"DAV: prop>getcontentlength"`
			Modified  string   `xml:"DAV: prop>getlastmodified"`
			Checksums []string `xml:"prop>checksums>checksum"`
		} `xml:"propstat"`
	} `xml:"response"`
}

// TestRcloneOwncloudRequests replays the requests rclone sends in owncloud
// mode (captured with --dump headers,bodies) and checks the answers in the
// detail rclone decodes them, so a failure names the exact header or
// property at fault.
func TestRcloneOwncloudRequests(t *testing.T) {
	p := testutil.Start(t, "")
	dav := p.URL + "/dav/"
	httpDo(t, "MKCOL", dav+"p/", nil)
	body := "hello owncloud\n"
	src := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(src, []byte(body), 0o644)
	sha, md := sha1Hex(t, src), md5Hex(t, src)
	const mtime = 1600000000 // Sun, 13 Sep 2020 12:26:40 GMT

	resp, got := httpDo(t, "PUT", dav+"p/a%20b%23c.txt", strings.NewReader(body),
		"Content-Type", "text/plain; charset=utf-8", "X-OC-Mtime", strconv.Itoa(mtime), "OC-Checksum", "SHA1:"+sha)
	if resp.StatusCode != 201 {
		t.Fatalf("PUT with X-OC-Mtime and OC-Checksum = %d %q, want 201", resp.StatusCode, got)
	}
	if h := resp.Header.Get("X-OC-Mtime"); h != "accepted" {
		t.Errorf("PUT reply X-OC-Mtime = %q, want \"accepted\"", h)
	}
	if fi, err := os.Stat(filepath.Join(p.Root, "p", "a b#c.txt")); err != nil {
		t.Errorf("after PUT: %v", err)
	} else if fi.ModTime().Unix() != mtime {
		t.Errorf("mtime on disk after PUT with X-OC-Mtime: %d, want %d", fi.ModTime().Unix(), mtime)
	}

	for _, depth := range []string{"1", "0"} {
		target := dav + "p/"
		if depth == "0" {
			target = dav + "p/a%20b%23c.txt"
		}
		resp, got = httpDo(t, "PROPFIND", target, strings.NewReader(owncloudPropfind), "Depth", depth, "Content-Type", "text/xml")
		if resp.StatusCode != 207 {
			t.Fatalf("PROPFIND Depth %s = %d %q", depth, resp.StatusCode, got)
		}
		var ms rcloneMultistatus
		if err := xml.Unmarshal([]byte(got), &ms); err != nil {
			t.Fatalf("PROPFIND answer: %v\n%s", err, got)
		}
		found := false
		for _, r := range ms.Responses {
			if !strings.HasSuffix(r.Href, "/p/a%20b%23c.txt") {
				continue
			}
			found = true
			pr := r.Props
			if len(pr.Status) == 0 || !strings.Contains(pr.Status[0], " 200") {
				t.Errorf("Depth %s: first propstat status %q: rclone ignores the entry unless it is 2xx\n%s", depth, pr.Status, got)
			}
			if pr.Size != int64(len(body)) || pr.Modified != "Sun, 13 Sep 2020 12:26:40 GMT" {
				t.Errorf("Depth %s: size %d, getlastmodified %q", depth, pr.Size, pr.Modified)
			}
			sums := map[string]string{}
			for _, c := range pr.Checksums {
				for _, f := range strings.Fields(strings.ToLower(c)) {
					if k, v, ok := strings.Cut(f, ":"); ok {
						sums[k] = v
					}
				}
			}
			if sums["sha1"] != sha || sums["md5"] != md {
				t.Errorf("Depth %s: oc:checksums %q, want SHA1:%s MD5:%s\n%s", depth, pr.Checksums, sha, md, got)
			}
		}
		if !found {
			t.Errorf("Depth %s: no response for the file in\n%s", depth, got)
		}
		// The checksum element is in ownCloud's namespace.
		if !hasElement(got, "http://owncloud.org/ns", "checksum") {
			t.Errorf("Depth %s: no {http://owncloud.org/ns}checksum element in\n%s", depth, got)
		}
	}

	// Server-side COPY as rclone sends it (rclone copy/sync within the
	// remote): the copy gets the source's mtime from X-OC-Mtime.
	resp, got = httpDo(t, "COPY", dav+"p/a%20b%23c.txt", nil,
		"Destination", dav+"p/copy%3F.txt", "Overwrite", "F", "X-OC-Mtime", strconv.Itoa(mtime))
	if resp.StatusCode != 201 {
		t.Fatalf("COPY = %d %q, want 201", resp.StatusCode, got)
	}
	if fi, err := os.Stat(filepath.Join(p.Root, "p", "copy?.txt")); err != nil {
		t.Errorf("after COPY: %v", err)
	} else if fi.ModTime().Unix() != mtime {
		t.Errorf("mtime on disk after COPY with X-OC-Mtime: %d, want %d", fi.ModTime().Unix(), mtime)
	}
	if h := resp.Header.Get("X-OC-Mtime"); h != "accepted" {
		t.Errorf("COPY reply X-OC-Mtime = %q, want \"accepted\" (newer rclone sends a PROPPATCH otherwise)", h)
	}

	// Server-side MOVE as rclone v1.60 sends it (--track-renames, rclone
	// move): Overwrite F and X-OC-Mtime.
	resp, got = httpDo(t, "MOVE", dav+"p/a%20b%23c.txt", nil,
		"Destination", dav+"p/moved%20%26%20done.txt", "Overwrite", "F", "X-OC-Mtime", strconv.Itoa(mtime+60))
	if resp.StatusCode != 201 {
		t.Fatalf("MOVE = %d %q, want 201", resp.StatusCode, got)
	}
	if fi, err := os.Stat(filepath.Join(p.Root, "p", "moved & done.txt")); err != nil {
		t.Errorf("after MOVE: %v", err)
	} else if fi.ModTime().Unix() != mtime+60 {
		t.Errorf("mtime on disk after MOVE with X-OC-Mtime: %d, want %d", fi.ModTime().Unix(), mtime+60)
	}
	if h := resp.Header.Get("X-OC-Mtime"); h != "accepted" {
		t.Errorf("MOVE reply X-OC-Mtime = %q, want \"accepted\"", h)
	}
	// Overwrite F onto an existing file is refused and changes nothing.
	os.WriteFile(filepath.Join(p.Root, "p", "other.txt"), []byte("other"), 0o644)
	resp, _ = httpDo(t, "MOVE", dav+"p/other.txt", nil, "Destination", dav+"p/moved%20%26%20done.txt", "Overwrite", "F")
	if resp.StatusCode != 412 || readFile(t, filepath.Join(p.Root, "p", "moved & done.txt")) != body {
		t.Errorf("MOVE Overwrite F onto an existing file = %d, want 412 and the target untouched", resp.StatusCode)
	}
}

// owncloudPropset is the PROPPATCH newer rclone (propset_mtime, on by
// default for vendor owncloud) sends to set a mod time, with the checksum
// it knows so the server can keep it; v1.60 never sends it.
const owncloudPropset = `<?xml version="1.0" encoding="utf-8" ?>
<D:propertyupdate xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns">
 <D:set>
  <D:prop>
   <lastmodified xmlns="DAV:">%d</lastmodified>
   <oc:checksums>
	<oc:checksum>%s</oc:checksum>
   </oc:checksums>
  </D:prop>
 </D:set>
</D:propertyupdate>
`

// TestRcloneOwncloudSetModTime: newer rclone sets a remote mod time with a
// PROPPATCH of DAV:lastmodified (ownCloud touches the file). A server that
// merely stored it as a dead property would answer 200 while the file's
// mtime stays, and rclone would believe it and re-check on every sync.
func TestRcloneOwncloudSetModTime(t *testing.T) {
	p := testutil.Start(t, "")
	os.WriteFile(filepath.Join(p.Root, "f.txt"), []byte("content\n"), 0o644)
	sha := sha1Hex(t, filepath.Join(p.Root, "f.txt"))
	const mtime = 1500000000
	resp, got := httpDo(t, "PROPPATCH", p.URL+"/dav/f.txt", strings.NewReader(fmt.Sprintf(owncloudPropset, mtime, "SHA1:"+sha)), "Content-Type", "text/xml")
	var ms rcloneMultistatus
	if err := xml.Unmarshal([]byte(got), &ms); resp.StatusCode != 207 || err != nil || len(ms.Responses) != 1 ||
		len(ms.Responses[0].Props.Status) == 0 || !strings.Contains(ms.Responses[0].Props.Status[0], " 200") {
		t.Errorf("PROPPATCH DAV:lastmodified + oc:checksums = %d %v, want 207 whose first propstat is 200 (rclone checks only that):\n%s", resp.StatusCode, err, got)
	}
	if fi, err := os.Stat(filepath.Join(p.Root, "f.txt")); err != nil {
		t.Fatal(err)
	} else if fi.ModTime().Unix() != mtime {
		t.Errorf("after PROPPATCH DAV:lastmodified=%d: mtime on disk %d", mtime, fi.ModTime().Unix())
	}
	resp, got = httpDo(t, "PROPFIND", p.URL+"/dav/f.txt", strings.NewReader(owncloudPropfind), "Depth", "0")
	ms = rcloneMultistatus{}
	if err := xml.Unmarshal([]byte(got), &ms); resp.StatusCode != 207 || err != nil || len(ms.Responses) != 1 {
		t.Fatalf("PROPFIND = %d %v:\n%s", resp.StatusCode, err, got)
	}
	if m := ms.Responses[0].Props.Modified; m != "Fri, 14 Jul 2017 02:40:00 GMT" {
		t.Errorf("getlastmodified after PROPPATCH = %q", m)
	}
	if c := strings.ToLower(strings.Join(ms.Responses[0].Props.Checksums, " ")); !strings.Contains(c, "sha1:"+sha) {
		t.Errorf("oc:checksums after PROPPATCH = %q, want SHA1:%s kept", c, sha)
	}
}

// hasElement reports whether the XML document has an element {space}local.
func hasElement(doc, space, local string) bool {
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := d.Token()
		if err == io.EOF || err != nil {
			return false
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Space == space && se.Name.Local == local {
			return true
		}
	}
}
