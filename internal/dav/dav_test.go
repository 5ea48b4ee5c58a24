package dav

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

type env struct {
	t     *testing.T
	dir   string
	srv   *httptest.Server
	locks *locking.System
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := storage.Open(dir, storage.Options{Fsync: false})
	if err != nil {
		t.Fatal(err)
	}
	locks := locking.New()
	srv := newTestServer(New("/dav/", store, locks, Options{}, nil))
	t.Cleanup(func() { srv.Close(); store.Close() })
	return &env{t: t, dir: dir, srv: srv, locks: locks}
}

func (e *env) do(method, path string, body string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (e *env) want(status int, method, path, body string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	resp, got := e.do(method, path, body, hdr...)
	if resp.StatusCode != status {
		e.t.Fatalf("%s %s = %d %q, want %d", method, path, resp.StatusCode, got, status)
	}
	return resp, got
}

func (e *env) file(name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(e.dir, name))
	return string(b), err == nil
}

func TestOptions(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/dav/", "/dav", "/dav/missing"} {
		resp, _ := e.want(200, "OPTIONS", p, "")
		if resp.Header.Get("DAV") != "1, 2" || resp.Header.Get("MS-Author-Via") != "DAV" || resp.Header.Get("Allow") == "" {
			t.Errorf("OPTIONS %s headers: %v", p, resp.Header)
		}
	}
}

func TestPut(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.want(201, "PUT", "/dav/a.txt", "one")
	tag := resp.Header.Get("ETag")
	if got, _ := e.file("a.txt"); got != "one" || tag == "" {
		t.Fatalf("after PUT: %q, ETag %q", got, tag)
	}
	resp, _ = e.want(204, "PUT", "/dav/a.txt", "two") // RFC 9110: 204 for a replaced resource
	if resp.Header.Get("ETag") == tag {
		t.Error("ETag unchanged after overwrite")
	}
	resp, body := e.want(200, "GET", "/dav/a.txt", "")
	if body != "two" || resp.Header.Get("ETag") == tag {
		t.Errorf("GET = %q, ETag %q", body, resp.Header.Get("ETag"))
	}
	e.want(409, "PUT", "/dav/no/such/dir/f", "x")                                  // §9.7.1
	e.want(400, "PUT", "/dav/a.txt", "xx", "Content-Range", "bytes 0-1/10")        // RFC 9110 §14.5
	e.want(412, "PUT", "/dav/a.txt", "x", "If-Match", `"nope"`)                    // golang/go#44493
	e.want(412, "PUT", "/dav/a.txt", "x", "If-None-Match", "*")                    // create-only
	e.want(201, "PUT", "/dav/new.txt", "x", "If-None-Match", "*")                  //
	e.want(412, "PUT", "/dav/missing.txt", "x", "If-Match", "*")                   //
	cur, _ := e.do("HEAD", "/dav/a.txt", "")                                       //
	e.want(204, "PUT", "/dav/a.txt", "three", "If-Match", cur.Header.Get("ETag"))  //
	e.want(412, "PUT", "/dav/a.txt", "x", "If-Match", "W/"+cur.Header.Get("ETag")) // strong comparison
	e.want(400, "PUT", "/dav/b.txt", "abc", "X-Expected-Entity-Length", "10")      // Finder's announced size
	e.want(201, "PUT", "/dav/b.txt", "abc", "X-Expected-Entity-Length", "3")       //
	e.want(400, "PUT", "/dav/c.txt", "abc", "X-Expected-Entity-Length", "lots")    //
	if _, ok := e.file("c.txt"); ok {
		t.Error("a rejected PUT created the file")
	}
	e.want(201, "MKCOL", "/dav/col", "")
	e.want(405, "PUT", "/dav/col", "x") // a collection is not replaced by a file
	e.want(405, "PUT", "/dav/col/", "x")
	e.want(405, "PUT", "/dav/", "x")
	// A URL ending in / names a collection, which PUT cannot make (nginx
	// answers 409 too): no file is written under the name without it.
	e.want(409, "PUT", "/dav/newdir/", "x")
	e.want(409, "PUT", "/dav/a.txt/", "x")
	if got, _ := e.file("a.txt"); got != "three" {
		t.Errorf("PUT a.txt/ changed a.txt: %q", got)
	}
	if _, ok := e.file("newdir"); ok {
		t.Error("PUT newdir/ wrote a file newdir")
	}
}

// TestInterruptedPut cuts a chunked PUT off: the old file survives.
func TestInterruptedPut(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/f.bin", "old")
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /dav/f.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := strings.Repeat("z", 1<<20)
	for range 4 {
		fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, _ := os.ReadDir(e.dir)
		if len(entries) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, _ := e.file("f.bin"); got != "old" {
		t.Errorf("after an interrupted PUT the file has %d bytes", len(got))
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only f.bin", len(entries))
	}
}

type msDoc struct {
	Responses []struct {
		Href  string `xml:"href"`
		Props []struct {
			ContentType string    `xml:"prop>getcontenttype"`
			ETag        string    `xml:"prop>getetag"`
			Length      string    `xml:"prop>getcontentlength"`
			Modified    string    `xml:"prop>getlastmodified"`
			Collection  *struct{} `xml:"prop>resourcetype>collection"`
		} `xml:"propstat"`
	} `xml:"response"`
}

func (e *env) propfind(path, depth string) msDoc {
	e.t.Helper()
	_, body := e.want(207, "PROPFIND", path, "", "Depth", depth)
	var ms msDoc
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		e.t.Fatalf("PROPFIND %s: %v\n%s", path, err, body)
	}
	return ms
}

func TestPropfind(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/report.csv", "a,b\n")
	e.want(201, "MKCOL", "/dav/sub", "")
	os.WriteFile(filepath.Join(e.dir, ".davnas-tmp-inflight"), []byte("partial"), 0o644)
	ms := e.propfind("/dav/", "1")
	hrefs := map[string]bool{}
	for _, r := range ms.Responses {
		hrefs[r.Href] = true
		if r.Href == "/dav/report.csv" {
			p := r.Props[0]
			head, _ := e.do("HEAD", "/dav/report.csv", "")
			if !strings.HasPrefix(p.ContentType, "text/csv") || p.Length != "4" || p.ETag != head.Header.Get("ETag") {
				t.Errorf("report.csv props %+v, GET ETag %q", p, head.Header.Get("ETag"))
			}
			if _, err := http.ParseTime(p.Modified); err != nil {
				t.Errorf("getlastmodified %q is not RFC 1123: %v", p.Modified, err)
			}
		}
	}
	if !hrefs["/dav/"] || !hrefs["/dav/report.csv"] || !hrefs["/dav/sub/"] || len(hrefs) != 3 {
		t.Errorf("PROPFIND Depth 1 hrefs = %v (temp files must not show)", hrefs)
	}
	// /dav without its slash is the collection too.
	if ms := e.propfind("/dav", "0"); len(ms.Responses) != 1 {
		t.Errorf("PROPFIND /dav = %d responses", len(ms.Responses))
	}
	e.want(404, "PROPFIND", "/dav/missing", "", "Depth", "0")
	e.want(400, "PROPFIND", "/dav/a/../b", "", "Depth", "0")
}

func TestCopyMoveDelete(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/a.txt", "A")
	e.want(201, "PUT", "/dav/b.txt", "B")
	// No Overwrite header means T (RFC 4918 §10.6).
	e.want(204, "COPY", "/dav/a.txt", "", "Destination", e.srv.URL+"/dav/b.txt")
	if got, _ := e.file("b.txt"); got != "A" {
		t.Errorf("COPY onto b.txt: %q", got)
	}
	e.want(412, "COPY", "/dav/a.txt", "", "Destination", e.srv.URL+"/dav/b.txt", "Overwrite", "F")
	e.want(201, "COPY", "/dav/a.txt", "", "Destination", "/dav/c.txt") // a path-only Destination
	// Behind a proxy the Destination's host is not ours: compare paths.
	e.want(201, "MOVE", "/dav/c.txt", "", "Destination", "https://proxy.example/dav/d.txt")
	if _, ok := e.file("c.txt"); ok {
		t.Error("MOVE left the source")
	}
	e.want(502, "MOVE", "/dav/d.txt", "", "Destination", "/elsewhere/d.txt")
	e.want(400, "MOVE", "/dav/d.txt", "", "Destination", "/dav/../../etc/d.txt")
	e.want(400, "MOVE", "/dav/d.txt", "", "Destination", "/dav/x", "Overwrite", "maybe")
	e.want(400, "MOVE", "/dav/d.txt", "")
	e.want(201, "MKCOL", "/dav/dir", "")
	e.want(201, "MOVE", "/dav/d.txt", "", "Destination", "/dav/dir/d.txt")
	e.want(201, "COPY", "/dav/dir", "", "Destination", "/dav/dir2")
	if got, _ := e.file("dir2/d.txt"); got != "A" {
		t.Errorf("COPY of a collection: %q", got)
	}
	e.want(405, "MKCOL", "/dav/dir", "")
	e.want(409, "MKCOL", "/dav/x/y", "")
	e.want(204, "DELETE", "/dav/dir", "")
	e.want(404, "DELETE", "/dav/dir", "")
	if _, ok := e.file("dir/d.txt"); ok {
		t.Error("DELETE of a collection left its content")
	}
}

func TestLocks(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/doc.txt", "v1")
	lockBody := `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>`
	resp, _ := e.want(200, "LOCK", "/dav/doc.txt", lockBody, "Timeout", "Second-600", "Depth", "0")
	token := resp.Header.Get("Lock-Token")
	if !regexp.MustCompile(`^<.+>$`).MatchString(token) {
		t.Fatalf("Lock-Token %q", token)
	}
	e.want(423, "PUT", "/dav/doc.txt", "other")
	e.want(412, "PUT", "/dav/doc.txt", "other", "If", "(<opaquelocktoken:wrong>)")
	e.want(423, "PUT", "/dav/doc.txt", "other", "If", "(Not <DAV:no-lock>)")
	e.want(400, "PUT", "/dav/doc.txt", "other", "If", "(<unterminated")
	e.want(204, "PUT", "/dav/doc.txt", "v2", "If", "("+token+")")
	e.want(204, "PUT", "/dav/doc.txt", "v3", "If", "<"+e.srv.URL+"/dav/doc.txt> ("+token+")")
	// A lock token and the current ETag together; a stale ETag fails the list.
	head, _ := e.do("HEAD", "/dav/doc.txt", "")
	e.want(204, "PUT", "/dav/doc.txt", "v4", "If", "("+token+" ["+head.Header.Get("ETag")+"])")
	e.want(412, "PUT", "/dav/doc.txt", "v5", "If", "("+token+` ["stale"])`)
	if got, _ := e.file("doc.txt"); got != "v4" {
		t.Errorf("content %q", got)
	}
	e.want(423, "DELETE", "/dav/doc.txt", "")
	e.want(204, "UNLOCK", "/dav/doc.txt", "", "Lock-Token", token)
	e.want(204, "PUT", "/dav/doc.txt", "v5")

	// LOCK of an unmapped URL creates an empty file (RFC 4918 §7.3).
	resp, _ = e.want(201, "LOCK", "/dav/new.txt", lockBody, "Depth", "0")
	if got, ok := e.file("new.txt"); !ok || got != "" {
		t.Errorf("LOCK-created file: %q %v", got, ok)
	}
	e.want(201, "PUT", "/dav/other.txt", "x") // other names are not affected
	e.want(204, "UNLOCK", "/dav/new.txt", "", "Lock-Token", resp.Header.Get("Lock-Token"))

	// A depth-infinity lock on a collection covers what is below it.
	e.want(201, "MKCOL", "/dav/col", "")
	resp, _ = e.want(200, "LOCK", "/dav/col", lockBody)
	e.want(423, "PUT", "/dav/col/f.txt", "x")
	e.want(201, "PUT", "/dav/col/f.txt", "x", "If", "("+resp.Header.Get("Lock-Token")+")")
}

func TestGetCollectionListing(t *testing.T) {
	e := newEnv(t)
	e.want(201, "MKCOL", "/dav/sub", "")
	e.want(201, "PUT", "/dav/sub/x%3Cb%3E.txt", "hi") // "x<b>.txt"
	e.want(201, "PUT", "/dav/sub/a:b", "colon")
	resp, body := e.want(200, "GET", "/dav/sub/", "")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(body, `href="./x%3Cb%3E.txt"`) || strings.Contains(body, "<b>") || !strings.Contains(body, `href="./a:b"`) {
		t.Errorf("listing does not escape names:\n%s", body)
	}
	resp, _ = e.want(301, "GET", "/dav/sub", "")
	if resp.Header.Get("Location") != "/dav/sub/" {
		t.Errorf("redirect to %q", resp.Header.Get("Location"))
	}
	e.want(200, "HEAD", "/dav/sub/", "")
	e.want(404, "GET", "/dav/nothing", "")
	e.want(405, "POST", "/dav/sub/", "x")
}

func newTestServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }

// TestPreconditionsOnEveryWrite: RFC 9110 §13.2.2, a server MUST NOT
// perform a method whose precondition is false. x/net/webdav and davnas's
// own COPY, MOVE, DELETE, MKCOL, LOCK and PROPPATCH ignored If-Match,
// If-None-Match and If-Unmodified-Since: a client guarding against lost
// updates with an ETag deleted or moved a file another client had changed.
func TestPreconditionsOnEveryWrite(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/f.txt", "one")
	e.want(201, "MKCOL", "/dav/col", "")
	head, _ := e.do("HEAD", "/dav/f.txt", "")
	tag := head.Header.Get("ETag")
	stale := []string{"If-Match", `"stale"`}
	old := []string{"If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"}
	lockBody := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
	patch := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:p>v</Z:p></D:prop></D:set></D:propertyupdate>`
	for _, c := range []struct {
		method, path, body string
		hdr                []string
	}{
		{"DELETE", "/dav/f.txt", "", stale},
		{"DELETE", "/dav/f.txt", "", old},
		{"DELETE", "/dav/col", "", []string{"If-None-Match", "*"}},
		{"MOVE", "/dav/f.txt", "", append([]string{"Destination", "/dav/g.txt"}, stale...)},
		{"COPY", "/dav/f.txt", "", append([]string{"Destination", "/dav/h.txt"}, stale...)},
		{"PROPPATCH", "/dav/f.txt", patch, stale},
		{"LOCK", "/dav/f.txt", lockBody, stale},
		{"LOCK", "/dav/new.txt", lockBody, []string{"If-Match", "*"}},
		{"MKCOL", "/dav/col2", "", []string{"If-Match", "*"}},
	} {
		if resp, body := e.do(c.method, c.path, c.body, c.hdr...); resp.StatusCode != 412 {
			t.Errorf("%s %s %v = %d %q, want 412", c.method, c.path, c.hdr, resp.StatusCode, body)
		}
	}
	if got, ok := e.file("f.txt"); !ok || got != "one" {
		t.Errorf("f.txt after refused writes: %q, %v", got, ok)
	}
	for _, name := range []string{"g.txt", "h.txt", "new.txt", "col2"} {
		if _, err := os.Stat(filepath.Join(e.dir, name)); err == nil {
			t.Errorf("%s was made by a request whose precondition failed", name)
		}
	}
	if r := e.props("/dav/f.txt", "0", propfindBody("Z:p")); len(r) != 1 || r[0].value["urn:z p"] != "" {
		t.Errorf("a refused PROPPATCH set the property: %+v", r)
	}
	// True preconditions pass.
	e.want(201, "COPY", "/dav/f.txt", "", "Destination", "/dav/h.txt", "If-Match", tag)
	e.want(201, "MOVE", "/dav/h.txt", "", "Destination", "/dav/g.txt", "If-Match", "*")
	e.want(201, "MKCOL", "/dav/col2", "", "If-None-Match", "*")
	e.want(204, "DELETE", "/dav/f.txt", "", "If-Match", tag, "If-Unmodified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
}

// TestLockOwnerCap: a lock's owner is kept in memory for the lock's life
// (up to a day) and repeated in every lockdiscovery; one of megabytes, a
// hundred times over, grew the server by hundreds of MiB. Past 4 KiB it is
// refused, and nothing is locked.
func TestLockOwnerCap(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/f.txt", "x")
	lockBody := func(owner string) string {
		return `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>` +
			owner + `</D:owner></D:lockinfo>`
	}
	_, body := e.want(413, "LOCK", "/dav/f.txt", lockBody(strings.Repeat("<a>", 2000)+strings.Repeat("</a>", 2000)))
	if !strings.Contains(body, "owner") {
		t.Errorf("413 body %q", body)
	}
	e.want(204, "PUT", "/dav/f.txt", "y") // not locked
	resp, _ := e.want(200, "LOCK", "/dav/f.txt", lockBody(`<D:href>http://example.com/~me</D:href>`))
	e.want(204, "UNLOCK", "/dav/f.txt", "", "Lock-Token", resp.Header.Get("Lock-Token"))
}

// TestControlCharactersRefused: no file or collection is made under a name
// with a control character, through any WebDAV method.
func TestControlCharactersRefused(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/f.txt", "x")
	e.want(400, "PUT", "/dav/a%0Ab", "x")
	e.want(400, "MKCOL", "/dav/c%0D", "")
	e.want(400, "MOVE", "/dav/f.txt", "", "Destination", "/dav/m%09v")
	e.want(400, "COPY", "/dav/f.txt", "", "Destination", "/dav/c%7F")
	lockBody := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
	if resp, _ := e.do("LOCK", "/dav/l%0A", lockBody); resp.StatusCode != 400 {
		t.Errorf("LOCK of an unmapped name with a newline = %d, want 400", resp.StatusCode)
	}
	if ents, _ := os.ReadDir(e.dir); len(ents) != 1 {
		t.Errorf("%d entries in the root, want f.txt only", len(ents))
	}
}

// TestXMLBodyTooLarge: an XML body past the 1 MiB bound is refused as too
// large (413), not as malformed (it was 400, the decoder having seen it cut
// off at the bound).
func TestXMLBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/f.txt", "x")
	pad := strings.Repeat(" ", 1<<20)
	patch := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:p>v</Z:p></D:prop></D:set>` + pad + `</D:propertyupdate>`
	find := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/>` + pad + `</D:propfind>`
	lock := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>` + pad + `</D:lockinfo>`
	e.want(413, "PROPPATCH", "/dav/f.txt", patch)
	e.want(413, "PROPFIND", "/dav/f.txt", find, "Depth", "0")
	e.want(413, "LOCK", "/dav/f.txt", lock)
	// Just under the bound is fine.
	e.want(207, "PROPFIND", "/dav/f.txt", find[:1<<20-20]+`</D:propfind>`, "Depth", "0")
}

// TestSpecialFiles: a FIFO or socket put in the volume by another program
// is never read, waited on, replaced or given properties: every WebDAV
// method that would touch it answers 403 at once, as GET does, and
// listings leave it out. PROPFIND of one answered 207, PROPPATCH stored a
// sidecar for it, LOCK locked it, and a PUT replaced a socket with a file
// that kept the socket's mode (0755).
func TestSpecialFiles(t *testing.T) {
	e := newEnv(t)
	if err := syscall.Mkfifo(filepath.Join(e.dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(e.dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lockBody := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
	patch := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:p>v</Z:p></D:prop></D:set></D:propertyupdate>`
	for _, name := range []string{"fifo", "sock"} {
		for _, c := range []struct{ method, body string }{
			{"GET", ""}, {"PROPFIND", ""}, {"PROPPATCH", patch}, {"LOCK", lockBody}, {"PUT", "x"},
			{"COPY", ""},
		} {
			hdr := []string{"Depth", "0", "Destination", "/dav/copy-" + name}
			if resp, body := e.do(c.method, "/dav/"+name, c.body, hdr...); resp.StatusCode != 403 {
				t.Errorf("%s /dav/%s = %d %q, want 403", c.method, name, resp.StatusCode, body)
			}
		}
		fi, err := os.Lstat(filepath.Join(e.dir, name))
		if err != nil || fi.Mode().IsRegular() {
			t.Errorf("%s was replaced: %v %v", name, fi.Mode(), err)
		}
	}
	if ents, _ := os.ReadDir(e.dir); len(ents) != 2 {
		t.Errorf("%d entries in the root (a sidecar or a copy was made?), want 2", len(ents))
	}
}

// TestMkcolEmptyChunkedBody: a chunked body with no bytes is no body, and
// MKCOL with it makes the collection (it answered 415 as for a body).
func TestMkcolEmptyChunkedBody(t *testing.T) {
	e := newEnv(t)
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "MKCOL /dav/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang, not a speed limit
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Errorf("MKCOL with an empty chunked body = %d, want 201", resp.StatusCode)
	}
	e.want(415, "MKCOL", "/dav/d", "<x/>")
}
