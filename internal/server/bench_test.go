package server

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/net/webdav"

	"github.com/davnas/davnas/internal/config"
	"github.com/davnas/davnas/internal/testutil"
)

// benchServers builds davnas over dir (its configuration adjusted by mod),
// its handlers for the principal without a root of its own, and a bare
// x/net/webdav handler over the same directory.
func benchServers(b *testing.B, dir string, mod func(*config.Config)) (*Server, *apiSet, http.Handler) {
	b.Helper()
	cfg := config.Default()
	cfg.Root = dir
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, NewLogger(cfg, io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.store.Close() })
	api, err := s.apiFor("")
	if err != nil {
		b.Fatal(err)
	}
	return s, api, &webdav.Handler{FileSystem: webdav.Dir(dir), LockSystem: webdav.NewMemLS()}
}

// BenchmarkSmallGET serves a 4 KiB file through the whole handler chain
// (request log, metrics, recovery, limits, access, routing), through the
// /file/ handler alone (the difference is what the middleware costs a
// request, in time and allocations), and through a bare x/net/webdav
// handler, the reference the end-to-end benchmark compares with.
func BenchmarkSmallGET(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "small.bin"), make([]byte, 4096), 0o644); err != nil {
		b.Fatal(err)
	}
	s, api, xnet := benchServers(b, dir, nil)
	for _, c := range []struct {
		name, path string
		h          http.Handler
	}{
		{"chain", "/file/small.bin", s.Handler()},
		{"handler", "/file/small.bin", api.files},
		{"xnet", "/small.bin", xnet}, // the bare x/net/webdav server, for reference
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, _ := http.NewRequest("GET", c.path, nil)
				r.RemoteAddr = "127.0.0.1:5555"
				w := testutil.NewNullResponseWriter()
				c.h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkSmallPUT stores new 4 KiB files two directories deep through
// the whole handler chain with WebDAV PUT (--fsync=false), through the
// WebDAV handler alone, and through a bare x/net/webdav handler, in
// memory (testutil.MemDir): the disk's cost is the end-to-end benchmark's.
func BenchmarkSmallPUT(b *testing.B) {
	dir := testutil.MemDir(b)
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		b.Fatal(err)
	}
	s, api, xnet := benchServers(b, dir, func(c *config.Config) { c.Fsync = false })
	body := bytes.Repeat([]byte("y"), 4096)
	n := 0
	for _, c := range []struct {
		name, prefix string
		h            http.Handler
	}{
		{"chain", "/dav/a/b/", s.Handler()},
		{"handler", "/dav/a/b/", api.dav},
		{"xnet", "/a/b/", xnet},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n++
				r, _ := http.NewRequest("PUT", c.prefix+"f"+strconv.Itoa(n)+".bin", bytes.NewReader(body))
				r.RemoteAddr = "127.0.0.1:5555"
				w := testutil.NewNullResponseWriter()
				c.h.ServeHTTP(w, r)
			}
			if _, err := os.Stat(filepath.Join(dir, "a", "b", "f"+strconv.Itoa(n)+".bin")); err != nil {
				b.Fatalf("%s: the last PUT stored nothing: %v", c.name, err)
			}
		})
	}
}
