package replay

// The Windows mini-redirector (WebClient service, MRXDAV.SYS) behind
// Explorer's "Map network drive" and `net use`. Sources of the replayed
// requests:
//
//   - User-Agent "Microsoft-WebDAV-MiniRedir/10.0.22000" and the order
//     PROPFIND, GET, LOCK, PROPFIND of a Windows 11 session:
//     dgraziotin/docker-nginx-webdav-nononsense issue #8 ("Windows WebDAV
//     Client Support").
//   - OPTIONS of the server root answered with "MS-Author-Via: DAV": [MS-WDVSE]
//     §4 example (learn.microsoft.com openspecs ms-wdvse), and the wsgidav
//     note "The WebDAV server must respond to PROPFIND and OPTIONS requests at
//     the root share" (mar10/wsgidav docs/source/user_guide_access.rst).
//   - PROPFIND with an empty body (allprop): chrisroberts/dav4rack pull
//     request #63 ("Microsoft's Mini-Redirector used to request PROPFIND with
//     empty request body").
//   - The Windows XP property list and the urn:schemas-microsoft-com: Win32*
//     properties, "translate: f" on every request, and the file creation
//     sequence "PUT empty, LOCK, PUT with the body, PROPPATCH":
//     sabre-io/sabre.io source/dav/clients/windows.md.
//   - LOCK headers (no Depth, "Timeout: Second-3600", "translate: f",
//     Cache-Control/Pragma no-cache, a 207-byte lockinfo): Wireshark capture
//     of Microsoft-WebDAV-MiniRedir/6.1.7601 in swisspol/GCDWebServer issue
//     #319 (the owner text here is made up to the same length).
//   - The Win32 PROPPATCH body, verbatim: 9001/copyparty issue #910 ("Add
//     Support for Win32LastModifiedTime WebDAV Property"); that the server
//     must answer 200 for each (Office aborts a save otherwise) and should set
//     the file time from Win32LastModifiedTime: mar10/wsgidav issue #112 and
//     pull request #114, messense/dav-server-rs pull request #70.

import (
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

const windowsUA = "Microsoft-WebDAV-MiniRedir/10.0.22000"

// windowsXPProps is the property list Windows XP requests (sabre.io windows.md).
const windowsXPBody = `<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop>` +
	`<D:name/><D:parentname/><D:href/><D:ishidden/><D:iscollection/><D:isreadonly/>` +
	`<D:getcontenttype/><D:contentclass/><D:getcontentlanguage/><D:creationdate/>` +
	`<D:lastaccessed/><D:getlastmodified/><D:getcontentlength/><D:resourcetype/>` +
	`<D:isstructureddocument/><D:defaultdocument/><D:displayname/><D:isroot/>` +
	`</D:prop></D:propfind>`

var windowsXPProps = func() []xml.Name {
	var out []xml.Name
	for _, n := range strings.Fields("name parentname href ishidden iscollection isreadonly getcontenttype contentclass getcontentlanguage creationdate lastaccessed getlastmodified getcontentlength resourcetype isstructureddocument defaultdocument displayname isroot") {
		out = append(out, davName(n))
	}
	return out
}()

const msNS = "urn:schemas-microsoft-com:"

func msName(local string) xml.Name { return xml.Name{Space: msNS, Local: local} }

// The PROPPATCH Explorer sends after writing a file (copyparty issue #910).
const windowsProppatchBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:">
    <D:set>
        <D:prop>
            <Z:Win32CreationTime>Thu, 09 Oct 2025 17:54:43 GMT</Z:Win32CreationTime>
            <Z:Win32LastAccessTime>Thu, 09 Oct 2025 17:55:31 GMT</Z:Win32LastAccessTime>
            <Z:Win32LastModifiedTime>Thu, 09 Oct 2025 17:54:43 GMT</Z:Win32LastModifiedTime>
            <Z:Win32FileAttributes>00000000</Z:Win32FileAttributes>
        </D:prop>
    </D:set>
</D:propertyupdate>`

var windowsProppatchValues = map[string]string{
	"Win32CreationTime":     "Thu, 09 Oct 2025 17:54:43 GMT",
	"Win32LastAccessTime":   "Thu, 09 Oct 2025 17:55:31 GMT",
	"Win32LastModifiedTime": "Thu, 09 Oct 2025 17:54:43 GMT",
	"Win32FileAttributes":   "00000000",
}

const windowsWin32Propfind = `<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:prop>` +
	`<D:getlastmodified/><Z:Win32CreationTime/><Z:Win32LastAccessTime/><Z:Win32LastModifiedTime/><Z:Win32FileAttributes/>` +
	`</D:prop></D:propfind>`

// The 207-byte lockinfo of the GCDWebServer #319 capture.
const windowsLockBody = `<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>WINCLIENT\tester</D:href></D:owner></D:lockinfo>`

func newWindows(t *testing.T, p *testutil.Proc) *client {
	return newClient(t, p, "User-Agent", windowsUA, "translate", "f")
}

func (c *client) windowsLock(want []int, path string) string {
	c.t.Helper()
	tok, _ := c.lock(want, path, windowsLockBody, "Content-Type", `text/xml; charset="utf-8"`,
		"Timeout", "Second-3600", "Cache-Control", "no-cache", "Pragma", "no-cache")
	return tok
}

// checkWindowsOptions checks what the redirector needs from OPTIONS.
func checkWindowsOptions(t *testing.T, path string, r reply) {
	t.Helper()
	if r.status != 200 {
		t.Errorf("OPTIONS %s = %s, want 200", path, r)
		return
	}
	if !strings.Contains(r.header.Get("MS-Author-Via"), "DAV") {
		t.Errorf("OPTIONS %s: MS-Author-Via %q, want DAV", path, r.header.Get("MS-Author-Via"))
	}
	classes := map[string]bool{}
	for tok := range strings.SplitSeq(r.header.Get("DAV"), ",") {
		classes[strings.TrimSpace(tok)] = true
	}
	if !classes["1"] || !classes["2"] {
		t.Errorf("OPTIONS %s: DAV %q, want classes 1 and 2", path, r.header.Get("DAV"))
	}
}

// TestWindowsOptions: Windows probes the server root before the share.
func TestWindowsOptions(t *testing.T) {
	p := testutil.Start(t, "")
	c := newWindows(t, p)
	for _, path := range []string{"/", "/dav/", "/dav"} {
		checkWindowsOptions(t, path, c.do("OPTIONS", path, nil))
	}
}

// TestWindowsPropfind lists the share as Explorer does, with and without the
// trailing slash, Depth 0 and 1, with an empty body and with XP's list.
func TestWindowsPropfind(t *testing.T) {
	p := testutil.Start(t, "")
	c := newWindows(t, p)
	write(t, filepath.Join(p.Root, "Report.docx"), "PK word")
	write(t, filepath.Join(p.Root, "Folder", "inner.txt"), "x")

	for _, path := range []string{"/dav", "/dav/"} {
		for _, depth := range []string{"0", "1"} {
			for _, body := range []struct {
				name  string
				body  string
				props []xml.Name
			}{{"empty body", "", nil}, {"XP list", windowsXPBody, windowsXPProps}} {
				t.Run(path+" Depth "+depth+" "+body.name, func(t *testing.T) {
					r := c.do("PROPFIND", path, []byte(body.body), "Depth", depth)
					got := parseMultistatus(t, "PROPFIND "+path, r).byPath(t)
					want := map[string]int{"/dav": -1}
					if depth == "1" {
						want["/dav/Report.docx"] = 7
						want["/dav/Folder"] = -1
					}
					if len(got) != len(want) {
						t.Errorf("%d responses %v, want %v", len(got), keys(got), keys(want))
					}
					for name, size := range want {
						resp, ok := got[name]
						if !ok {
							t.Errorf("%s missing: %v", name, keys(got))
							continue
						}
						props := resp.props(t)
						if body.props != nil {
							props = reportsAll(t, resp, body.props)
						}
						if rt := props[davName("resourcetype")]; rt.status != 200 || rt.has(collectionName) != (size < 0) {
							t.Errorf("%s: resourcetype %+v", name, rt)
						}
						if checkLastModified(t, name, props).IsZero() {
							t.Errorf("%s: no getlastmodified", name)
						}
						if size >= 0 {
							if v := need200(t, name, props, davName("getcontentlength")); v != strconv.Itoa(size) {
								t.Errorf("%s: getcontentlength %q, want %d", name, v, size)
							}
						}
					}
				})
			}
		}
	}
	t.Run("file Depth 0", func(t *testing.T) {
		got := parseMultistatus(t, "PROPFIND file", c.do("PROPFIND", "/dav/Report.docx", []byte{}, "Depth", "0")).byPath(t)
		if _, ok := got["/dav/Report.docx"]; !ok || len(got) != 1 {
			t.Errorf("PROPFIND of the file: %v", keys(got))
		}
	})
	t.Run("missing", func(t *testing.T) {
		c.expect(codes(404), "PROPFIND", "/dav/desktop.ini", []byte{}, "Depth", "0")
	})
}

// checkWin32Proppatch checks a PROPPATCH answer: 207, one response for path,
// each of the four properties with 200 and nothing else.
func checkWin32Proppatch(t *testing.T, path string, r reply) {
	t.Helper()
	ms := parseMultistatus(t, "PROPPATCH "+path, r)
	if len(ms.Responses) != 1 || strings.TrimSuffix(hrefPath(t, ms.Responses[0].Href), "/") != strings.TrimSuffix(path, "/") {
		t.Fatalf("PROPPATCH %s: responses %+v", path, ms.Responses)
	}
	props := ms.Responses[0].props(t)
	for name := range windowsProppatchValues {
		if pr, ok := props[msName(name)]; !ok || pr.status != 200 {
			t.Errorf("PROPPATCH %s: %s status %d (reported %v), want 200", path, name, pr.status, ok)
		}
	}
	if len(props) != len(windowsProppatchValues) {
		t.Errorf("PROPPATCH %s: %d properties in the answer", path, len(props))
	}
}

// checkWin32Values reads the Win32 properties back and the mtime on disk.
func checkWin32Values(t *testing.T, c *client, path, disk string) {
	t.Helper()
	ms := parseMultistatus(t, "PROPFIND Win32", c.do("PROPFIND", path, []byte(windowsWin32Propfind), "Depth", "0"))
	props := ms.Responses[0].props(t)
	for name, want := range windowsProppatchValues {
		if got := need200(t, path, props, msName(name)); got != want {
			t.Errorf("%s: %s = %q, want %q", path, name, got, want)
		}
	}
	want, _ := time.Parse(http.TimeFormat, windowsProppatchValues["Win32LastModifiedTime"])
	if got := checkLastModified(t, path, props); !got.Equal(want) {
		t.Errorf("%s: getlastmodified %v, want Win32LastModifiedTime %v", path, got, want)
	}
	fi, err := os.Stat(disk)
	if err != nil {
		t.Fatal(err)
	}
	if fi.ModTime().Unix() != want.Unix() {
		t.Errorf("%s: mtime on disk %v, want %v", disk, fi.ModTime().UTC(), want)
	}
}

// TestWindowsProppatchWin32 replays Explorer's Win32* PROPPATCH on a file
// and a folder; the values are kept (dead properties) and
// Win32LastModifiedTime becomes the file's modification time.
func TestWindowsProppatchWin32(t *testing.T) {
	p := testutil.Start(t, "")
	c := newWindows(t, p)
	write(t, filepath.Join(p.Root, "photo.jpg"), "\xff\xd8 jpeg")
	if err := os.Mkdir(filepath.Join(p.Root, "Folder"), 0o755); err != nil {
		t.Fatal(err)
	}

	checkWin32Proppatch(t, "/dav/photo.jpg", c.do("PROPPATCH", "/dav/photo.jpg", []byte(windowsProppatchBody), "Content-Type", `text/xml; charset="utf-8"`))
	checkWin32Values(t, c, "/dav/photo.jpg", filepath.Join(p.Root, "photo.jpg"))

	t.Run("allprop returns them", func(t *testing.T) {
		got := parseMultistatus(t, "PROPFIND allprop", c.do("PROPFIND", "/dav/", []byte{}, "Depth", "1")).byPath(t)
		props := got["/dav/photo.jpg"].props(t)
		if v := need200(t, "photo.jpg", props, msName("Win32FileAttributes")); v != "00000000" {
			t.Errorf("allprop Win32FileAttributes %q", v)
		}
	})
	t.Run("folder", func(t *testing.T) {
		checkWin32Proppatch(t, "/dav/Folder/", c.do("PROPPATCH", "/dav/Folder", []byte(windowsProppatchBody), "Content-Type", `text/xml; charset="utf-8"`))
	})
}

// TestWindowsLockPutUnlock replays the lock around an in-place write.
func TestWindowsLockPutUnlock(t *testing.T) {
	p := testutil.Start(t, "")
	c := newWindows(t, p)
	disk := filepath.Join(p.Root, "data.csv")
	write(t, disk, "a,b\n")
	tok := c.windowsLock(codes(200), "/dav/data.csv")
	c.expect(codes(423), "PUT", "/dav/data.csv", []byte("x,y\n"))
	c.expect(codes(204), "PUT", "/dav/data.csv", []byte("a,b\n1,2\n"), "If", "(<"+tok+">)")
	if got := readFile(t, disk); got != "a,b\n1,2\n" {
		t.Errorf("disk = %q", got)
	}
	c.expect(codes(204), "UNLOCK", "/dav/data.csv", nil, "Lock-Token", "<"+tok+">")
	c.expect(codes(204), "PUT", "/dav/data.csv", []byte("after\n"))
	if got := readFile(t, disk); got != "after\n" {
		t.Errorf("disk = %q", got)
	}
}

// TestWindowsSaveSequence replays how Explorer (and Notepad or Word saving
// through the drive) creates a file: PUT of 0 bytes, LOCK, PUT of the
// content, PROPPATCH of the Win32 times, UNLOCK (sabre.io windows.md).
func TestWindowsSaveSequence(t *testing.T) {
	p := testutil.Start(t, "")
	c := newWindows(t, p)
	path, disk := "/dav/Letter.txt", filepath.Join(p.Root, "Letter.txt")
	content := []byte(strings.Repeat("Dear reader,\r\n", 1000))

	c.expect(codes(404), "PROPFIND", path, []byte{}, "Depth", "0")
	c.expect(codes(201), "PUT", path, []byte{})
	if !exists(disk) || readFile(t, disk) != "" {
		t.Fatal("the empty PUT did not create an empty file")
	}
	tok := c.windowsLock(codes(200), path)
	c.expect(codes(204), "PUT", path, content, "If", "(<"+tok+">)")
	checkWin32Proppatch(t, path, c.do("PROPPATCH", path, []byte(windowsProppatchBody), "Content-Type", `text/xml; charset="utf-8"`, "If", "(<"+tok+">)"))
	c.expect(codes(204), "UNLOCK", path, nil, "Lock-Token", "<"+tok+">")

	if got := readFile(t, disk); got != string(content) {
		t.Errorf("disk has %d bytes, want %d", len(got), len(content))
	}
	checkWin32Values(t, c, path, disk)
	if got := c.expect(codes(200), "GET", path, nil); string(got.body) != string(content) {
		t.Errorf("GET returns %d bytes", len(got.body))
	}
	got := parseMultistatus(t, "PROPFIND /dav", c.do("PROPFIND", "/dav", []byte{}, "Depth", "1")).byPath(t)
	if lm := need200(t, path, got[path].props(t), davName("getlastmodified")); lm != windowsProppatchValues["Win32LastModifiedTime"] {
		t.Errorf("listing: getlastmodified %q, want %q", lm, windowsProppatchValues["Win32LastModifiedTime"])
	}
	noTempFiles(t, p.Root)
}
