package clients

import (
	"bufio"
	"encoding/xml"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// curlResp is one curl exchange: status, the final response's headers
// and the body.
type curlResp struct {
	code   int
	header http.Header
	body   string
}

// curl runs one curl request (args are curl's) and returns the answer.
func curl(t *testing.T, dir string, args ...string) curlResp {
	t.Helper()
	tmp := t.TempDir()
	bodyFile, hdrFile := filepath.Join(tmp, "body"), filepath.Join(tmp, "headers")
	all := append([]string{"-sS", "--max-time", "30", "-o", bodyFile, "-D", hdrFile, "-w", "%{http_code}"}, args...)
	r := command(t, 40*time.Second, dir, nil, "", "curl", all...)
	if r.code != 0 {
		t.Fatalf("curl %s: %s", strings.Join(args, " "), r)
	}
	code, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatalf("curl %s: status %q", strings.Join(args, " "), r.stdout)
	}
	// -D holds every header block (100 Continue, then the answer): keep
	// the last one.
	raw := readFile(t, hdrFile)
	blocks := strings.Split(strings.TrimRight(strings.ReplaceAll(raw, "\r\n", "\n"), "\n"), "\n\n")
	last := blocks[len(blocks)-1]
	hdr := http.Header{}
	if _, rest, ok := strings.Cut(last, "\n"); ok {
		mh, err := textproto.NewReader(bufio.NewReader(strings.NewReader(rest + "\n\n"))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("curl headers: %v\n%s", err, raw)
		}
		hdr = http.Header(mh)
	}
	return curlResp{code: code, header: hdr, body: readFile(t, bodyFile)}
}

// expectCurl runs curl and fails the test unless the status is want.
func expectCurl(t *testing.T, dir string, want int, args ...string) curlResp {
	t.Helper()
	r := curl(t, dir, args...)
	if r.code != want {
		t.Fatalf("curl %s = %d, want %d\n%s", strings.Join(args, " "), r.code, want, r.body)
	}
	return r
}

// davMultistatus is a PROPFIND/PROPPATCH answer.
type davMultistatus struct {
	Responses []struct {
		Href      string `xml:"DAV: href"`
		Propstats []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				Inner []struct {
					XMLName xml.Name
					Value   string `xml:",innerxml"`
				} `xml:",any"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

// props decodes a multistatus and returns, for the response whose href
// ends with hrefSuffix, each property's "{space}local" -> [status code,
// inner XML].
func props(t *testing.T, body, hrefSuffix string) map[string][2]string {
	t.Helper()
	var ms davMultistatus
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatalf("multistatus: %v\n%s", err, body)
	}
	for _, r := range ms.Responses {
		if !strings.HasSuffix(r.Href, hrefSuffix) {
			continue
		}
		out := map[string][2]string{}
		for _, ps := range r.Propstats {
			code := strings.Fields(ps.Status)
			for _, p := range ps.Prop.Inner {
				c := ""
				if len(code) > 1 {
					c = code[1]
				}
				out["{"+p.XMLName.Space+"}"+p.XMLName.Local] = [2]string{c, p.Value}
			}
		}
		return out
	}
	t.Fatalf("no response for %q in\n%s", hrefSuffix, body)
	return nil
}

const lockBody = `<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:%s/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:curl@example.test</D:href></D:owner></D:lockinfo>`

// TestCurlWebDAV is a scripted curl session of every WebDAV method,
// asserting status codes, headers, bodies and the files on disk.
func TestCurlWebDAV(t *testing.T) {
	testutil.Need(t, "curl")
	p := testutil.Start(t, "")
	root := p.Root
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("alpha\n"), 0o644)
	u := p.URL + "/dav/"
	disk := func(rel string) string { return readFile(t, filepath.Join(root, filepath.FromSlash(rel))) }

	// MKCOL
	expectCurl(t, work, 201, "-X", "MKCOL", u+"c/")
	if fi, err := os.Stat(filepath.Join(root, "c")); err != nil || !fi.IsDir() {
		t.Fatalf("MKCOL: %v", err)
	}
	expectCurl(t, work, 405, "-X", "MKCOL", u+"c/")
	expectCurl(t, work, 409, "-X", "MKCOL", u+"missing/sub/")

	// PUT: 201 new, 204 replaced.
	expectCurl(t, work, 201, "-T", "a.txt", u+"c/a.txt")
	if got := disk("c/a.txt"); got != "alpha\n" {
		t.Errorf("PUT: on disk %q", got)
	}
	expectCurl(t, work, 204, "-X", "PUT", "--data-binary", "alpha two\n", u+"c/a.txt")
	if got := disk("c/a.txt"); got != "alpha two\n" {
		t.Errorf("PUT replace: on disk %q", got)
	}
	expectCurl(t, work, 409, "-X", "PUT", "--data-binary", "x", u+"missing/a.txt")

	// GET, conditional GET.
	r := expectCurl(t, work, 200, u+"c/a.txt")
	etag := r.header.Get("ETag")
	if r.body != "alpha two\n" || etag == "" {
		t.Errorf("GET: body %q, ETag %q", r.body, etag)
	}
	expectCurl(t, work, 304, "-H", "If-None-Match: "+etag, u+"c/a.txt")

	// PROPFIND Depth 1 lists the collection and the file with its size.
	r = expectCurl(t, work, 207, "-X", "PROPFIND", "-H", "Depth: 1", u+"c/")
	pr := props(t, r.body, "/dav/c/a.txt")
	if pr["{DAV:}getcontentlength"][1] != "10" || pr["{DAV:}getetag"][1] != etag {
		t.Errorf("PROPFIND: getcontentlength %q, getetag %q (GET said %q)", pr["{DAV:}getcontentlength"], pr["{DAV:}getetag"], etag)
	}

	// MOVE
	expectCurl(t, work, 201, "-X", "MOVE", "-H", "Destination: "+u+"c/b.txt", u+"c/a.txt")
	if disk("c/a.txt") != "<missing>" || disk("c/b.txt") != "alpha two\n" {
		t.Errorf("MOVE: a.txt %q, b.txt %q", disk("c/a.txt"), disk("c/b.txt"))
	}
	expectCurl(t, work, 404, "-X", "MOVE", "-H", "Destination: "+u+"c/z.txt", u+"c/a.txt")

	// COPY: 201 new, 412 with Overwrite F onto an existing file, 204 over it.
	expectCurl(t, work, 201, "-X", "COPY", "-H", "Destination: "+u+"c/c.txt", u+"c/b.txt")
	if disk("c/b.txt") != "alpha two\n" || disk("c/c.txt") != "alpha two\n" {
		t.Errorf("COPY: b.txt %q, c.txt %q", disk("c/b.txt"), disk("c/c.txt"))
	}
	expectCurl(t, work, 412, "-X", "COPY", "-H", "Destination: "+u+"c/c.txt", "-H", "Overwrite: F", u+"c/b.txt")
	expectCurl(t, work, 204, "-X", "COPY", "-H", "Destination: "+u+"c/c.txt", u+"c/b.txt")

	// LOCK (exclusive): token in Lock-Token and in the body.
	r = expectCurl(t, work, 200, "-X", "LOCK", "-H", "Timeout: Second-600", "-H", "Content-Type: application/xml",
		"--data-binary", strings.ReplaceAll(lockBody, "%s", "exclusive"), u+"c/b.txt")
	token := strings.Trim(r.header.Get("Lock-Token"), "<>")
	if !strings.HasPrefix(token, "urn:uuid:") && !strings.HasPrefix(token, "opaquelocktoken:") {
		t.Fatalf("LOCK: Lock-Token %q", r.header.Get("Lock-Token"))
	}
	if !strings.Contains(r.body, "activelock") || !strings.Contains(r.body, token) || !strings.Contains(r.body, "mailto:curl@example.test") {
		t.Errorf("LOCK body lacks the active lock, token or owner:\n%s", r.body)
	}
	expectCurl(t, work, 423, "-X", "PUT", "--data-binary", "intruder", u+"c/b.txt")
	expectCurl(t, work, 423, "-X", "DELETE", u+"c/b.txt")
	expectCurl(t, work, 423, "-X", "LOCK", "-H", "Content-Type: application/xml", "--data-binary", strings.ReplaceAll(lockBody, "%s", "exclusive"), u+"c/b.txt")
	if got := disk("c/b.txt"); got != "alpha two\n" {
		t.Errorf("locked file changed: %q", got)
	}
	expectCurl(t, work, 204, "-X", "PUT", "-H", "If: (<"+token+">)", "--data-binary", "by the lock holder\n", u+"c/b.txt")
	if got := disk("c/b.txt"); got != "by the lock holder\n" {
		t.Errorf("PUT with the lock token: on disk %q", got)
	}
	r = expectCurl(t, work, 207, "-X", "PROPFIND", "-H", "Depth: 0", "--data-binary",
		`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`, u+"c/b.txt")
	if ld := props(t, r.body, "/dav/c/b.txt")["{DAV:}lockdiscovery"]; ld[0] != "200" || !strings.Contains(ld[1], token) {
		t.Errorf("PROPFIND lockdiscovery of the locked file: %q, want 200 with %s", ld, token)
	}
	// Refresh.
	expectCurl(t, work, 200, "-X", "LOCK", "-H", "If: (<"+token+">)", "-H", "Timeout: Second-900", u+"c/b.txt")

	// UNLOCK: others can write again.
	expectCurl(t, work, 204, "-X", "UNLOCK", "-H", "Lock-Token: <"+token+">", u+"c/b.txt")
	expectCurl(t, work, 204, "-X", "PUT", "--data-binary", "after unlock\n", u+"c/b.txt")
	if got := disk("c/b.txt"); got != "after unlock\n" {
		t.Errorf("PUT after UNLOCK: on disk %q", got)
	}

	// Shared locks: two holders at once, an exclusive lock refused meanwhile.
	var shared []string
	for range 2 {
		r = expectCurl(t, work, 200, "-X", "LOCK", "-H", "Content-Type: application/xml", "--data-binary", strings.ReplaceAll(lockBody, "%s", "shared"), u+"c/c.txt")
		shared = append(shared, strings.Trim(r.header.Get("Lock-Token"), "<>"))
	}
	if shared[0] == "" || shared[0] == shared[1] {
		t.Errorf("shared locks: tokens %q", shared)
	}
	expectCurl(t, work, 423, "-X", "LOCK", "-H", "Content-Type: application/xml", "--data-binary", strings.ReplaceAll(lockBody, "%s", "exclusive"), u+"c/c.txt")
	for _, tok := range shared {
		expectCurl(t, work, 204, "-X", "UNLOCK", "-H", "Lock-Token: <"+tok+">", u+"c/c.txt")
	}

	// PROPPATCH: set and remove a dead property; PROPFIND sees it.
	const ns = "urn:davnas:test"
	r = expectCurl(t, work, 207, "-X", "PROPPATCH", "-H", "Content-Type: application/xml", "--data-binary",
		`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="`+ns+`"><D:set><D:prop><x:color>red</x:color><x:size-class>small &amp; light</x:size-class></D:prop></D:set></D:propertyupdate>`,
		u+"c/b.txt")
	if st := props(t, r.body, "/dav/c/b.txt")["{"+ns+"}color"]; st[0] != "200" {
		t.Errorf("PROPPATCH set: status of x:color %q\n%s", st, r.body)
	}
	propfindX := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:x="` + ns + `"><D:prop><x:color/><x:size-class/></D:prop></D:propfind>`
	r = expectCurl(t, work, 207, "-X", "PROPFIND", "-H", "Depth: 0", "--data-binary", propfindX, u+"c/b.txt")
	pr = props(t, r.body, "/dav/c/b.txt")
	if pr["{"+ns+"}color"] != [2]string{"200", "red"} || pr["{"+ns+"}size-class"] != [2]string{"200", "small &amp; light"} {
		t.Errorf("PROPFIND after PROPPATCH: %q", pr)
	}
	expectCurl(t, work, 207, "-X", "PROPPATCH", "-H", "Content-Type: application/xml", "--data-binary",
		`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="`+ns+`"><D:remove><D:prop><x:color/></D:prop></D:remove></D:propertyupdate>`,
		u+"c/b.txt")
	r = expectCurl(t, work, 207, "-X", "PROPFIND", "-H", "Depth: 0", "--data-binary", propfindX, u+"c/b.txt")
	pr = props(t, r.body, "/dav/c/b.txt")
	if pr["{"+ns+"}color"][0] != "404" || pr["{"+ns+"}size-class"] != [2]string{"200", "small &amp; light"} {
		t.Errorf("PROPFIND after removing x:color: %q", pr)
	}

	// Quota (RFC 4331) on the root.
	r = expectCurl(t, work, 207, "-X", "PROPFIND", "-H", "Depth: 0", "--data-binary",
		`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>`, u)
	pr = props(t, r.body, "/dav/")
	for _, name := range []string{"{DAV:}quota-available-bytes", "{DAV:}quota-used-bytes"} {
		if n, err := strconv.ParseInt(pr[name][1], 10, 64); pr[name][0] != "200" || err != nil || n < 0 {
			t.Errorf("PROPFIND %s = %q, want 200 and a byte count", name, pr[name])
		}
	}

	// DELETE a file, then the collection.
	expectCurl(t, work, 204, "-X", "DELETE", u+"c/c.txt")
	expectCurl(t, work, 404, u+"c/c.txt")
	if exists(filepath.Join(root, "c", "c.txt")) {
		t.Error("DELETE: c.txt still on disk")
	}
	expectCurl(t, work, 204, "-X", "DELETE", u+"c/")
	if exists(filepath.Join(root, "c")) {
		t.Error("DELETE: collection c still on disk")
	}
	expectCurl(t, work, 404, "-X", "DELETE", u+"c/")
	noServerErrors(t, p)
}
