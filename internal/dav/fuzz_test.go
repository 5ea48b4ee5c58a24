package dav

import (
	"bytes"
	"encoding/xml"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

// fuzzMethods are the methods FuzzDAV chooses from with its first byte.
var fuzzMethods = []string{
	"OPTIONS", "GET", "HEAD", "PUT", "DELETE", "MKCOL", "COPY", "MOVE",
	"LOCK", "UNLOCK", "PROPFIND", "PROPPATCH", "POST",
}

const (
	fuzzMarker = "TOPSECRET-5d1e0a77"                            // the secret file's content
	fuzzListed = "OUTSIDE-NAME-3c9f"                             // a name only a listing of the outside shows
	fuzzToken  = "urn:uuid:6f1c1e4a-0000-4000-8000-000000000001" // a token no lock has
)

// A few request bodies a real client sends (litmus, Finder, Windows,
// rclone), and broken ones.
const (
	fuzzAllprop  = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`
	fuzzPropname = `<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><propname/></propfind>`
	fuzzProp     = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:Z="urn:schemas-microsoft-com:"><D:prop><D:getetag/><D:getcontentlength/><D:resourcetype/><D:lockdiscovery/><D:supportedlock/><D:quota-available-bytes/><D:quota-used-bytes/><oc:checksums/><Z:Win32LastModifiedTime/><D:creationdate/><x:foo xmlns:x="http://example.com/neon/litmus/"/></D:prop></D:propfind>`
	fuzzPatch    = `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:prop0 xmlns:x="http://example.com/neon/litmus/">value0</x:prop0><y:v xmlns:y="urn:y"><y:nested a="1">&amp;&lt;</y:nested></y:v></D:prop></D:set><D:remove><D:prop><x:prop1 xmlns:x="http://example.com/neon/litmus/"/></D:prop></D:remove></D:propertyupdate>`
	fuzzPatchMT  = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><D:getlastmodified>Mon, 02 Jan 2006 15:04:05 GMT</D:getlastmodified><Z:Win32LastModifiedTime>Tue, 03 Jan 2006 15:04:05 GMT</Z:Win32LastModifiedTime><D:getetag>"x"</D:getetag></D:prop></D:set></D:propertyupdate>`
	fuzzLockEx   = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>http://example.com/~me</D:href></D:owner></D:lockinfo>`
	fuzzLockSh   = `<?xml version="1.0"?><lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><write/></locktype><owner>litmus test suite</owner></lockinfo>`
)

// FuzzDAV sends arbitrary WebDAV requests (a method chosen by a byte, a
// path, the Destination, Depth, Overwrite, If, Timeout and Lock-Token
// headers and a body) through the handler, over a root that holds a link
// to a secret directory beside it. No request may panic or answer a 5xx
// (but 507, and the 502 RFC 4918 gives a Destination outside the WebDAV
// tree); every XML body must be well formed; nothing outside the root may
// be read, listed or changed.
func FuzzDAV(f *testing.F) {
	type seed struct {
		method                                            string
		path, dest, depth, overwrite, ifh, timeout, token string
		body                                              string
	}
	seeds := []seed{
		{method: "PROPFIND", path: "/dav/", depth: "1", body: fuzzAllprop},
		{method: "PROPFIND", path: "dir/", depth: "1", body: fuzzProp},
		{method: "PROPFIND", path: "a.txt", depth: "0", body: fuzzPropname},
		{method: "PROPFIND", path: "link/", depth: "1"},
		{method: "PROPFIND", path: "/dav/dir", depth: "infinity"},
		{method: "PROPFIND", path: "a.txt", depth: "0", body: `<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`},
		{method: "PROPPATCH", path: "a.txt", body: fuzzPatch},
		{method: "PROPPATCH", path: "dir", body: fuzzPatchMT},
		{method: "PROPPATCH", path: "linkf", body: fuzzPatch},
		{method: "LOCK", path: "a.txt", depth: "0", timeout: "Second-600", body: fuzzLockEx},
		{method: "LOCK", path: "dir", depth: "infinity", timeout: "Infinite, Second-4100000000", body: fuzzLockSh},
		{method: "LOCK", path: "new.txt", depth: "0", body: fuzzLockEx},
		{method: "LOCK", path: "a.txt", timeout: "Second-60", ifh: "(<" + fuzzToken + ">)"},
		{method: "LOCK", path: "link/x", body: fuzzLockEx},
		{method: "UNLOCK", path: "a.txt", token: "<" + fuzzToken + ">"},
		{method: "UNLOCK", path: "a.txt", token: fuzzToken},
		{method: "PUT", path: "a.txt", ifh: `<http://x/dav/a.txt> (<` + fuzzToken + `> ["etag"]) (Not <DAV:no-lock>)`, body: "new content"},
		{method: "PUT", path: "dir/c.txt", ifh: `([W/"weak"])`, body: "c"},
		{method: "PUT", path: "link/x", body: "overwrite the secret"},
		{method: "PUT", path: "linkf", body: "overwrite the secret"},
		{method: "DELETE", path: "dir", depth: "infinity", ifh: "(<DAV:no-lock>)"},
		{method: "DELETE", path: "link/x"},
		{method: "MKCOL", path: "newcol"},
		{method: "MKCOL", path: "link/newcol"},
		{method: "COPY", path: "a.txt", dest: "http://x/dav/b.txt", overwrite: "F"},
		{method: "COPY", path: "dir", dest: "/dav/dir2/", depth: "0"},
		{method: "COPY", path: "a.txt", dest: "http://x/dav/link/x", overwrite: "T"},
		{method: "COPY", path: "link", dest: "/dav/stolen"},
		{method: "MOVE", path: "a.txt", dest: "http://x/dav/../secret/x"},
		{method: "MOVE", path: "dir", dest: "http://x/dav/dir/sub"},
		{method: "MOVE", path: "a.txt", dest: "http://other.example/elsewhere"},
		{method: "MOVE", path: "linkf", dest: "/dav/%2e%2e/secret/y"},
		{method: "GET", path: "%2e%2e/secret/x"},
		{method: "GET", path: "../secret/x"},
		{method: "GET", path: ".davnas-journal/"},
		{method: "GET", path: "a%00b"},
		{method: "GET", path: "link/x"},
		{method: "OPTIONS", path: "/dav"},
		{method: "POST", path: "a.txt", body: "x"},
	}
	for _, s := range seeds {
		m := uint8(0)
		for i, name := range fuzzMethods {
			if name == s.method {
				m = uint8(i)
			}
		}
		f.Add(m, s.path, s.dest, s.depth, s.overwrite, s.ifh, s.timeout, s.token, []byte(s.body))
	}

	base, err := filepath.EvalSymlinks(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	root := filepath.Join(base, "root")
	secret := filepath.Join(base, "secret")
	os.MkdirAll(filepath.Join(root, "dir"), 0o755)
	os.MkdirAll(secret, 0o755)
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(root, "dir", "b.txt"), []byte("b\n"), 0o644)
	os.WriteFile(filepath.Join(secret, "x"), []byte(fuzzMarker), 0o644)
	os.WriteFile(filepath.Join(secret, fuzzListed), nil, 0o644)
	links := map[string]string{"link": secret, "linkf": filepath.Join(secret, "x")}
	store, err := storage.Open(root, storage.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	secretState := func() string {
		var b strings.Builder
		filepath.WalkDir(secret, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				b.WriteString(err.Error())
				return nil
			}
			fi, _ := os.Lstat(p)
			data, _ := os.ReadFile(p)
			xa := make([]byte, 1024)
			n, _ := unix.Llistxattr(p, xa)
			b.WriteString(p + " " + fi.Mode().String() + " " + fi.ModTime().String() + " " + string(data) + " " + string(xa[:max(n, 0)]) + "\n")
			return nil
		})
		return b.String()
	}
	want := secretState()

	f.Fuzz(func(t *testing.T, m uint8, path, dest, depth, overwrite, ifh, timeout, token string, body []byte) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		// Put the links back: a DELETE or MOVE may have taken them.
		for name, target := range links {
			p := filepath.Join(root, name)
			if l, err := os.Readlink(p); err != nil || l != target {
				os.RemoveAll(p)
				os.Symlink(target, p)
			}
		}
		target := "http://x" + path
		if !strings.HasPrefix(path, "/") {
			target = "http://x/dav/" + path
		}
		req, err := http.NewRequest(method, target, bytes.NewReader(body))
		if err != nil {
			return
		}
		for _, h := range [][2]string{
			{"Destination", dest}, {"Depth", depth}, {"Overwrite", overwrite},
			{"If", ifh}, {"Timeout", timeout}, {"Lock-Token", token},
		} {
			if h[1] == "" {
				continue
			}
			if !validHeaderValue(h[1]) {
				return // net/http's server refuses such a request before any handler
			}
			req.Header.Set(h[0], h[1])
		}
		h := New("/dav/", store, locking.New(), Options{}, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Body.String()
		label := method + " " + target

		if rec.Code >= 500 && rec.Code != http.StatusInsufficientStorage && !(rec.Code == http.StatusBadGateway && outsideTree(method, dest)) {
			t.Fatalf("%s (Destination %q Depth %q Overwrite %q If %q Timeout %q Lock-Token %q) = %d %q",
				label, dest, depth, overwrite, ifh, timeout, token, rec.Code, res)
		}
		if ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); (rec.Code == http.StatusMultiStatus || strings.HasSuffix(ct, "xml")) && method != "GET" && method != "HEAD" {
			if err := wellFormed(res); err != nil {
				t.Fatalf("%s = %d: malformed XML (%v):\n%s", label, rec.Code, err, res)
			}
		}
		if strings.Contains(res, fuzzMarker) || strings.Contains(res, fuzzListed) {
			t.Fatalf("%s = %d leaked the outside: %q", label, rec.Code, res)
		}
		if !strings.Contains(path+dest, base) && strings.Contains(res, base) {
			t.Fatalf("%s = %d shows a server path: %q", label, rec.Code, res)
		}
		if got := secretState(); got != want {
			t.Fatalf("%s (Destination %q) changed the outside:\n%s\nwas:\n%s", label, dest, got, want)
		}
	})
}

// outsideTree reports a COPY or MOVE whose Destination path is not under
// /dav: RFC 4918 §9.8.5 answers 502 for a destination on another server.
func outsideTree(method, dest string) bool {
	if method != "COPY" && method != "MOVE" {
		return false
	}
	u, err := url.Parse(dest)
	return err == nil && u.Path != "/dav" && !strings.HasPrefix(u.Path, "/dav/")
}

// wellFormed reads a whole XML document.
func wellFormed(doc string) error {
	d := xml.NewDecoder(strings.NewReader(doc))
	roots := 0
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if roots != 1 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// validHeaderValue is what net/http's server accepts in a header field
// value (RFC 9110 §5.5): no control characters but horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
