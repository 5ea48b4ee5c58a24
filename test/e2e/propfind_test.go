package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// TestPropfindStreams lists a collection of 100,000 files with PROPFIND
// Depth 1 (the property list davfs2 and rclone ask for). The response is
// streamed as the directory is read: the server's peak memory after the
// 100,000-entry listing is no higher than after a 10,000-entry one (plus a
// small allowance), and the first bytes arrive long before the last.
func TestPropfindStreams(t *testing.T) {
	root := t.TempDir()
	for _, d := range []struct {
		name string
		n    int
	}{{"small", 10000}, {"big", 100000}} {
		dir := filepath.Join(root, d.name)
		os.Mkdir(dir, 0o755)
		for i := range d.n {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("file-%06d.csv", i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	p := testutil.Start(t, root, "--log-level", "info")
	body := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:getcontenttype/></D:prop></D:propfind>`
	list := func(dir string) (responses int, ttfb, total time.Duration) {
		req, _ := http.NewRequest("PROPFIND", p.URL+"/dav/"+dir+"/", strings.NewReader(body))
		req.Header.Set("Depth", "1")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 207 {
			t.Fatalf("PROPFIND %s = %d", dir, resp.StatusCode)
		}
		br := bufio.NewReader(resp.Body)
		if _, err := br.Peek(1); err != nil {
			t.Fatal(err)
		}
		ttfb = time.Since(start)
		data, err := io.ReadAll(br)
		if err != nil {
			t.Fatal(err)
		}
		total = time.Since(start)
		if !bytes.HasSuffix(bytes.TrimSpace(data), []byte("</D:multistatus>")) {
			t.Fatalf("truncated multistatus")
		}
		return bytes.Count(data, []byte("<D:response>")), ttfb, total
	}
	n, _, _ := list("small")
	afterSmall := p.Status("VmHWM")
	if n != 10001 {
		t.Fatalf("small listing: %d responses", n)
	}
	n, ttfb, total := list("big")
	afterBig := p.Status("VmHWM")
	if n != 100001 {
		t.Fatalf("big listing: %d responses", n)
	}
	t.Logf("PROPFIND Depth 1 of 100,000 files: first byte after %v, all after %v (ratio %.3f); peak RSS %.1f MiB after 10,000, %.1f MiB after 100,000",
		ttfb, total, ttfb.Seconds()/total.Seconds(), float64(afterSmall)/(1<<20), float64(afterBig)/(1<<20))
	if afterBig > afterSmall+8<<20 {
		t.Errorf("peak RSS grew from %.1f to %.1f MiB between a 10,000 and a 100,000-entry listing: not streamed",
			float64(afterSmall)/(1<<20), float64(afterBig)/(1<<20))
	}
	if ttfb*4 > total {
		t.Errorf("first byte after %v of %v: the listing was not streamed", ttfb, total)
	}
}

// TestPropfindMemberMetadata attaches strace to the running server and
// counts the file-system system calls of Depth 1 listings that need more
// than one stat per member: allprop (an empty body, what curl and litmus
// send), Finder's listing (creationdate, the birth time) and a dead
// property. Each member's birth time (with its stat, in one statx) and
// dead properties are read relative to the listing's directory
// descriptor, not by opening the
// member through a walk of its path (an openat per path element, fgetxattr
// or statx, a close each, and a walk more for the sidecar): a listing of
// a few thousand files was ten times slower with allprop than with named
// properties. The values still come out right: the dead property of the
// one member that has it, in an extended attribute or in a sidecar, and
// everyone's creationdate.
func TestPropfindMemberMetadata(t *testing.T) {
	strace := testutil.Need(t, "strace")
	p := testutil.Start(t, "")
	const members = 100
	dir := filepath.Join(p.Root, "a", "b")
	os.MkdirAll(dir, 0o755)
	for i := range members {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.txt", i)), []byte("x"), 0o644)
	}
	c := newClient(t, p)
	patch := func(name, value string) {
		c.expect(207, "PROPPATCH", "/dav/a/b/"+name, strings.NewReader(
			`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:colour>`+value+`</Z:colour></D:prop></D:set></D:propertyupdate>`))
	}
	patch("f007.txt", "teal")
	// Larger than an ext4 or tmpfs inode holds in extended attributes:
	// stored in the sidecar file instead.
	big := strings.Repeat("b", 70000)
	patch("f011.txt", big)
	bodies := []struct {
		name      string
		perMember int // file-system calls a member may cost
		body      string
	}{
		{"allprop", 2, ""},
		{"finder", 1, `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getlastmodified/><D:getcontentlength/><D:creationdate/><D:resourcetype/></D:prop></D:propfind>`},
		{"dead", 2, `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><D:getetag/><Z:colour/></D:prop></D:propfind>`},
	}
	for _, b := range bodies {
		c.expect(207, "PROPFIND", "/dav/a/b/", strings.NewReader(b.body), "Depth", "1") // warm
		detach := attachStrace(t, strace, p, "all")
		got := c.expect(207, "PROPFIND", "/dav/a/b/", strings.NewReader(b.body), "Depth", "1")
		trace, serr := detach()
		counts, total := countCalls(trace, fileSystemCall)
		t.Logf("%s: %d members, %d file-system calls %v", b.name, members, total, counts)
		if n := strings.Count(got, "<D:response>"); n != members+1 {
			t.Fatalf("%s: %d responses, want %d", b.name, n, members+1)
		}
		switch b.name {
		case "allprop", "dead":
			if !strings.Contains(got, ">teal</") {
				t.Errorf("%s: the extended attribute's dead property is missing", b.name)
			}
			if !strings.Contains(got, big) {
				t.Errorf("%s: the sidecar's dead property is missing", b.name)
			}
		}
		if b.name != "dead" {
			if n := strings.Count(got, "<D:creationdate>"); n < members {
				t.Errorf("%s: %d creationdates for %d members", b.name, n, members)
			}
		}
		// Per member: one stat (statx when the birth time is wanted,
		// fstatat otherwise) and getxattrat for the dead properties; no
		// stat of a sidecar's name, since one pass over the directory's
		// names (getdents64, then lseek back) found the sidecars. The two
		// members with properties and the directory itself may take the
		// old path; a little slack for the runtime.
		if budget := b.perMember*members + 60; total > budget {
			t.Errorf("%s: %d file-system calls for %d members, budget %d: %v\n%s\n%s", b.name, total, members, budget, counts, trace, serr)
		}
	}
}

// fileSystemCall reports whether strace's name for a system call is one a
// listing makes on files (getxattrat, new in Linux 6.13, is unknown to
// older straces, which print its number).
func fileSystemCall(name string) bool {
	switch name {
	case "openat", "openat2", "open", "close", "newfstatat", "statx", "fstat", "fcntl",
		"getxattr", "lgetxattr", "fgetxattr", "getxattrat", "syscall_0x1d0",
		"listxattr", "llistxattr", "flistxattr", "readlinkat", "epoll_ctl", "read", "pread64",
		"getdents64", "lseek":
		return true
	}
	return false
}

// TestContentTypesBuiltIn: media types come from davnas's own table, the
// same on every host, and the host's MIME database is never read: Go's
// mime.TypeByExtension loaded it on the first download or listing, 0.8 MiB
// of RSS and 5 ms for a table that differs between a laptop and an image.
func TestContentTypesBuiltIn(t *testing.T) {
	strace := testutil.Need(t, "strace")
	p := testutil.Start(t, "")
	for _, n := range []string{"data.csv", "notes.TXT", "photo.jpeg", "blob.xyz", "noext"} {
		os.WriteFile(filepath.Join(p.Root, n), []byte("x"), 0o644)
	}
	c := newClient(t, p)
	detach := attachStrace(t, strace, p, "openat,open")
	want := map[string]string{
		"data.csv":   "text/csv; charset=utf-8",
		"notes.TXT":  "text/plain; charset=utf-8",
		"photo.jpeg": "image/jpeg",
		"blob.xyz":   "application/octet-stream",
		"noext":      "application/octet-stream",
	}
	for name, ct := range want {
		for _, prefix := range []string{"/file/", "/dav/"} {
			resp, _ := c.do("GET", prefix+name, nil)
			if got := resp.Header.Get("Content-Type"); got != ct {
				t.Errorf("GET %s%s: Content-Type %q, want %q", prefix, name, got, ct)
			}
		}
	}
	listing := c.expect(207, "PROPFIND", "/dav/", nil, "Depth", "1")
	for _, ct := range []string{"text/csv; charset=utf-8", "image/jpeg"} {
		if !strings.Contains(listing, "<D:getcontenttype>"+ct+"</D:getcontenttype>") {
			t.Errorf("the listing lacks getcontenttype %s", ct)
		}
	}
	trace, serr := detach()
	// Go's mime package reads shared-mime-info's globs2 files, or else the
	// mime.types files of Debian, Apache and httpd.
	for _, file := range []string{"globs2", "mime.types"} {
		if strings.Contains(trace, file) {
			t.Errorf("the server read the host's MIME table (%s):\n%s\n%s", file, trace, serr)
		}
	}
}
