package dav

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/webdav"

	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

// TestDifferencesFromXNet runs the same requests against
// golang.org/x/net/webdav (its Handler over webdav.Dir, as a bare server
// would use it) and against davnas, on identical trees. Each row is a known
// shortcoming of the library that davnas fixes (docs/ARCHITECTURE.md); the
// library's answer is asserted too, so that if it ever changes, this test
// says a workaround may be retired.
func TestDifferencesFromXNet(t *testing.T) {
	type side struct {
		status int
		check  func(t *testing.T, dir, body string) // optional
	}
	rows := []struct {
		why          string
		method, path string
		body         string
		hdr          []string
		xnet, davnas side
	}{
		{why: "PUT over an existing file is 204 (RFC 9110 §9.3.4), not 201",
			method: "PUT", path: "/dav/f.txt", body: "new",
			xnet: side{status: 201}, davnas: side{status: 204}},
		{why: "PUT with Content-Range must be refused (RFC 9110 §14.5); the library replaces the file with the fragment",
			method: "PUT", path: "/dav/f.txt", body: "XY", hdr: []string{"Content-Range", "bytes 0-1/100"},
			xnet:   side{status: 201, check: content("f.txt", "XY")},
			davnas: side{status: 400, check: content("f.txt", "old content")}},
		{why: "PUT If-Match must be evaluated (golang/go#44493)",
			method: "PUT", path: "/dav/f.txt", body: "x", hdr: []string{"If-Match", `"stale"`},
			xnet: side{status: 201}, davnas: side{status: 412}},
		{why: "MOVE without Overwrite means Overwrite: T (RFC 4918 §10.6, golang/go#66059); the library gets COPY right and MOVE wrong",
			method: "MOVE", path: "/dav/f.txt", hdr: []string{"Destination", "/dav/g.txt"},
			xnet: side{status: 412}, davnas: side{status: 204, check: content("g.txt", "old content")}},
		{why: "MOVE of a missing source must not delete the destination",
			method: "MOVE", path: "/dav/missing", hdr: []string{"Destination", "/dav/g.txt", "Overwrite", "T"},
			xnet:   side{status: 403, check: gone("g.txt")},
			davnas: side{status: 404, check: content("g.txt", "g")}},
		{why: "GET on a collection: an HTML listing, not 405",
			method: "GET", path: "/dav/d/",
			xnet: side{status: 405}, davnas: side{status: 200}},
		{why: "PROPPATCH of a dead property is stored (webdav.Dir has none: 403 inside the 207)",
			method: "PROPPATCH", path: "/dav/f.txt", body: proppatch,
			xnet:   side{status: 207, check: bodyHas("403 Forbidden")},
			davnas: side{status: 207, check: bodyHas("200 OK")}},
		{why: "shared locks (the library answers 501)",
			method: "LOCK", path: "/dav/f.txt", body: strings.Replace(lockBody, "exclusive", "shared", 1),
			xnet: side{status: 501}, davnas: side{status: 200}},
		{why: "PROPFIND Depth: infinity is refused (RFC 4918 §9.1) rather than walking the tree into memory",
			method: "PROPFIND", path: "/dav/", hdr: []string{"Depth", "infinity"},
			xnet: side{status: 207}, davnas: side{status: 403, check: bodyHas("propfind-finite-depth")}},
		{why: "a symbolic link out of the root is not followed (webdav.Dir's documented limitation)",
			method: "GET", path: "/dav/escape",
			xnet:   side{status: 200, check: bodyHas("outside secret")},
			davnas: side{status: 403}},
		{why: "MKCOL under a file is 409 (§9.3.1), not 405",
			method: "MKCOL", path: "/dav/f.txt/sub",
			xnet: side{status: 405}, davnas: side{status: 409}},
	}
	for _, row := range rows {
		t.Run(row.why, func(t *testing.T) {
			for _, impl := range []string{"x/net/webdav", "davnas"} {
				dir, url := compareServer(t, impl)
				req, _ := http.NewRequest(row.method, url+row.path, strings.NewReader(row.body))
				for i := 0; i+1 < len(row.hdr); i += 2 {
					req.Header.Set(row.hdr[i], row.hdr[i+1])
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := row.davnas
				if impl == "x/net/webdav" {
					want = row.xnet
				}
				if resp.StatusCode != want.status {
					t.Errorf("%s answered %d, expected %d", impl, resp.StatusCode, want.status)
				}
				if want.check != nil {
					want.check(t, dir, string(b))
				}
			}
		})
	}
}

// compareServer builds the same tree for either implementation.
func compareServer(t *testing.T, impl string) (dir, url string) {
	base := t.TempDir()
	dir = filepath.Join(base, "root")
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "f.txt"), []byte("old content"), 0o644)
	os.WriteFile(filepath.Join(dir, "g.txt"), []byte("g"), 0o644)
	os.WriteFile(filepath.Join(base, "secret"), []byte("outside secret"), 0o644)
	os.Symlink(filepath.Join(base, "secret"), filepath.Join(dir, "escape"))
	var h http.Handler
	if impl == "x/net/webdav" {
		h = &webdav.Handler{Prefix: "/dav", FileSystem: webdav.Dir(dir), LockSystem: webdav.NewMemLS()}
	} else {
		store, err := storage.Open(dir, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		h = New("/dav/", store, locking.New(), Options{}, nil)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return dir, srv.URL
}

func content(name, want string) func(*testing.T, string, string) {
	return func(t *testing.T, dir, _ string) {
		t.Helper()
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
	}
}

func gone(name string) func(*testing.T, string, string) {
	return func(t *testing.T, dir, _ string) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s still exists", name)
		}
	}
}

func bodyHas(s string) func(*testing.T, string, string) {
	return func(t *testing.T, _, body string) {
		t.Helper()
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q:\n%s", s, body)
		}
	}
}
