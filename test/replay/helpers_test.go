// Package replay replays, request by request, what real WebDAV clients that
// cannot run here send — macOS Finder (WebDAVFS) and the Windows
// mini-redirector (WebClient) — against the real davnas binary, and runs the
// litmus test suite against it. Every replayed sequence names its public
// source (client source code, a captured trace, or a server project's notes
// on the client) in a comment above it.
//
// Each test starts its own server on 127.0.0.1 with a free port and a
// temporary root (testutil.Start) and stops it by PID.
package replay

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/testutil"
)

// client sends replayed requests to one server. Every request carries the
// headers in common (User-Agent and the like) plus its own.
type client struct {
	t      *testing.T
	base   string // http://127.0.0.1:port
	common []string
	hc     *http.Client
}

func newClient(t *testing.T, p *testutil.Proc, common ...string) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableCompression = true // no "Accept-Encoding: gzip": the clients replayed do not send it
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, base: p.URL, common: common, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// reply is a response read to its end.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string {
	return strconv.Itoa(r.status) + " " + strings.TrimSpace(string(r.body))
}

// do sends method to path (an absolute path, sent as written) with body (nil
// for none, sent with a Content-Length) and extra headers as name, value pairs.
func (c *client) do(method, path string, body []byte, hdr ...string) reply {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil && len(body) == 0 {
		// An explicit "Content-Length: 0", as Finder's and Windows' empty PUTs send it.
		req.Body, req.ContentLength = http.NoBody, 0
		req.TransferEncoding = []string{"identity"}
	}
	return c.send(req, hdr)
}

// chunked sends body with "Transfer-Encoding: chunked" and no Content-Length,
// as WebDAVFS streams a PUT (CFReadStreamCreateForStreamedHTTPRequest).
func (c *client) chunked(method, path string, body []byte, hdr ...string) reply {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, io.NopCloser(bytes.NewReader(body)))
	if err != nil {
		c.t.Fatal(err)
	}
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	return c.send(req, hdr)
}

func (c *client) send(req *http.Request, hdr []string) reply {
	c.t.Helper()
	all := append(slices.Clone(c.common), hdr...)
	for i := 0; i+1 < len(all); i += 2 {
		req.Header.Set(all[i], all[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect is do that fails the test unless the status is one of want.
func (c *client) expect(want []int, method, path string, body []byte, hdr ...string) reply {
	c.t.Helper()
	r := c.do(method, path, body, hdr...)
	if !slices.Contains(want, r.status) {
		c.t.Fatalf("%s %s = %s, want %v", method, path, r, want)
	}
	return r
}

func codes(c ...int) []int { return c }

// ---- locks ----

// lockDiscovery is the body of a successful LOCK (RFC 4918 §9.10.1).
type lockDiscovery struct {
	XMLName xml.Name     `xml:"DAV: prop"`
	Active  []activeLock `xml:"lockdiscovery>activelock"`
}

type activeLock struct {
	Scope   innerNames `xml:"lockscope"`
	Type    innerNames `xml:"locktype"`
	Depth   string     `xml:"depth"`
	Timeout string     `xml:"timeout"`
	Token   string     `xml:"locktoken>href"`
	Root    string     `xml:"lockroot>href"`
}

type innerNames struct {
	Any []struct{ XMLName xml.Name } `xml:",any"`
}

// lock sends LOCK with body and headers and returns the token (without the
// angle brackets) and the parsed lock, failing unless the status is in want.
func (c *client) lock(want []int, path string, body string, hdr ...string) (string, activeLock) {
	c.t.Helper()
	r := c.expect(want, "LOCK", path, []byte(body), hdr...)
	tok := strings.TrimSpace(r.header.Get("Lock-Token"))
	if !strings.HasPrefix(tok, "<") || !strings.HasSuffix(tok, ">") {
		c.t.Fatalf("LOCK %s: Lock-Token %q is not a Coded-URL", path, tok)
	}
	tok = tok[1 : len(tok)-1]
	var ld lockDiscovery
	if err := xml.Unmarshal(r.body, &ld); err != nil || len(ld.Active) != 1 {
		c.t.Fatalf("LOCK %s: body is not one activelock (%v):\n%s", path, err, r.body)
	}
	al := ld.Active[0]
	if strings.TrimSpace(al.Token) != tok {
		c.t.Fatalf("LOCK %s: locktoken %q in the body, %q in the header", path, al.Token, tok)
	}
	return tok, al
}

// ---- multistatus ----

type multistatus struct {
	XMLName   xml.Name   `xml:"DAV: multistatus"`
	Responses []response `xml:"DAV: response"`
}

type response struct {
	Href      string     `xml:"DAV: href"`
	Status    string     `xml:"DAV: status"`
	Propstats []propstat `xml:"DAV: propstat"`
}

type propstat struct {
	Prop struct {
		Any []element `xml:",any"`
	} `xml:"DAV: prop"`
	Status string `xml:"DAV: status"`
}

// element is any XML element, with its text and child elements.
type element struct {
	XMLName  xml.Name
	Text     string    `xml:",chardata"`
	Children []element `xml:",any"`
}

// prop is one property as a response reports it.
type prop struct {
	status int
	element
}

func statusCode(line string) int {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// parseMultistatus fails the test unless r is a 207 whose body parses.
func parseMultistatus(t *testing.T, what string, r reply) multistatus {
	t.Helper()
	if r.status != http.StatusMultiStatus {
		t.Fatalf("%s = %s, want 207", what, r)
	}
	var ms multistatus
	if err := xml.Unmarshal(r.body, &ms); err != nil {
		t.Fatalf("%s: multistatus does not parse: %v\n%s", what, err, r.body)
	}
	return ms
}

// hrefPath returns the decoded path of an href (a path or an absolute URL).
func hrefPath(t *testing.T, href string) string {
	t.Helper()
	u, err := url.Parse(strings.TrimSpace(href))
	if err != nil {
		t.Fatalf("href %q: %v", href, err)
	}
	return u.Path
}

// byPath indexes the responses by decoded href path, without a trailing
// slash (so "/dav/sub/" and "/dav/sub" are one key), failing on duplicates.
func (ms multistatus) byPath(t *testing.T) map[string]response {
	t.Helper()
	out := map[string]response{}
	for _, r := range ms.Responses {
		p := strings.TrimSuffix(hrefPath(t, r.Href), "/")
		if _, dup := out[p]; dup {
			t.Errorf("href %q reported twice", r.Href)
		}
		out[p] = r
	}
	return out
}

// props returns every property of the response with its propstat status,
// failing when one is reported twice.
func (r response) props(t *testing.T) map[xml.Name]prop {
	t.Helper()
	out := map[xml.Name]prop{}
	for _, ps := range r.Propstats {
		code := statusCode(ps.Status)
		for _, e := range ps.Prop.Any {
			if _, dup := out[e.XMLName]; dup {
				t.Errorf("%s: property %s reported twice", r.Href, e.XMLName)
			}
			out[e.XMLName] = prop{status: code, element: e}
		}
	}
	return out
}

// reportsAll checks that each requested property is reported exactly once,
// with 200 or 404 (RFC 4918 §9.1: the response to a prop request has a
// propstat for every property requested), and returns the properties.
func reportsAll(t *testing.T, r response, want []xml.Name) map[xml.Name]prop {
	t.Helper()
	got := r.props(t)
	for _, n := range want {
		p, ok := got[n]
		switch {
		case !ok:
			t.Errorf("%s: requested property %s not reported", r.Href, n)
		case p.status != 200 && p.status != 404:
			t.Errorf("%s: property %s has status %d", r.Href, n, p.status)
		}
	}
	return got
}

func (e element) has(child xml.Name) bool {
	for _, c := range e.Children {
		if c.XMLName == child {
			return true
		}
	}
	return false
}

func davName(local string) xml.Name { return xml.Name{Space: "DAV:", Local: local} }

var collectionName = davName("collection")

// need200 returns the text of a property reported with 200, failing otherwise.
func need200(t *testing.T, where string, props map[xml.Name]prop, n xml.Name) string {
	t.Helper()
	p, ok := props[n]
	if !ok || p.status != 200 {
		t.Errorf("%s: %s not reported with 200 (got %+v)", where, n.Local, p)
		return ""
	}
	return strings.TrimSpace(p.Text)
}

// checkLastModified checks that getlastmodified, when reported with 200,
// is an RFC 1123 date in GMT (http.TimeFormat, RFC 4918 §15.7), and returns it.
func checkLastModified(t *testing.T, where string, props map[xml.Name]prop) time.Time {
	t.Helper()
	p, ok := props[davName("getlastmodified")]
	if !ok || p.status != 200 {
		return time.Time{}
	}
	v := strings.TrimSpace(p.Text)
	tm, err := time.Parse(http.TimeFormat, v)
	if err != nil {
		t.Errorf("%s: getlastmodified %q is not RFC 1123 (http.TimeFormat): %v", where, v, err)
	}
	return tm
}

// ---- disk ----

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("on disk: %v", err)
	}
	return string(b)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// noTempFiles fails when an upload left a temporary file under root.
func noTempFiles(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && storage.IsTemp(d.Name()) {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
