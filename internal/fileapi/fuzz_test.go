package fileapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

// FuzzRoute sends arbitrary paths, methods and bodies through the /file/
// router over a root that sits next to a "secret" directory: nothing
// outside the root may change, nothing may be listed from it, and no
// request may fail with a 5xx.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{
		"/file", "/file/a", "/file/a%2Fb/wc", "/file/..%2Fsecret%2Fx", "/file/a/../../secret/x",
		"/file/%2e%2e/secret", "/file/%252e%252e", "/file/a?op=mv", "/file/a/mv", "/file/%00",
		"/file/x/wc?op=wc", "/file/.davnas-tmp-1", "/file/" + strings.Repeat("a", 300),
	} {
		f.Add("GET", s, []byte(""))
		f.Add("PUT", s, []byte(`{"path":"../secret/y"}`))
		f.Add("POST", s, []byte("data"))
	}
	base := f.TempDir()
	root := filepath.Join(base, "root")
	secret := filepath.Join(base, "secret")
	os.MkdirAll(root, 0o755)
	os.MkdirAll(secret, 0o755)
	// Markers no fuzzed name will contain: the secret file's content and a
	// second file's name, which a listing of the outside would show.
	const marker = "TOPSECRET-7f3a9c1e"
	os.WriteFile(filepath.Join(secret, "x"), []byte(marker), 0o644)
	os.WriteFile(filepath.Join(secret, marker+"-name"), nil, 0o644)
	os.Symlink(secret, filepath.Join(root, "link"))
	store, err := storage.Open(root, storage.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h := New(store, locking.New(), nil)
	methods := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "OPTIONS": true}

	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !methods[method] || !strings.HasPrefix(path, "/file") {
			return
		}
		req, err := http.NewRequest(method, "http://x"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		if bytes.HasPrefix(body, []byte("{")) {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s = %d %q", method, path, rec.Code, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), marker) {
			t.Fatalf("%s %s leaked the secret: %q", method, path, rec.Body.String())
		}
		entries, _ := os.ReadDir(secret)
		if len(entries) != 2 {
			t.Fatalf("%s %s changed the directory outside the root", method, path)
		}
		if b, _ := os.ReadFile(filepath.Join(secret, "x")); string(b) != marker {
			t.Fatalf("%s %s changed a file outside the root", method, path)
		}
		if strings.Contains(rec.Body.String(), base) {
			t.Fatalf("%s %s: response contains a server path", method, path)
		}
	})
}
