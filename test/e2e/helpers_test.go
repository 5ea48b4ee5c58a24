// Package e2e drives the real davnas binary over loopback with real
// clients: Go's net/http, curl, strace. Each test starts its own server on
// 127.0.0.1 with a free port and a temporary root, and stops it by PID.
package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/testutil"
)

type client struct {
	t    *testing.T
	base string
}

func newClient(t *testing.T, p *testutil.Proc) *client {
	return &client{t: t, base: p.URL}
}

// do sends rawPath verbatim (so %2F stays encoded, as curl sends it).
func (c *client) do(method, rawPath string, body io.Reader, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base, body)
	if err != nil {
		c.t.Fatal(err)
	}
	p, q, _ := strings.Cut(rawPath, "?")
	req.URL.Opaque = p
	req.URL.RawQuery = q
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (c *client) expect(status int, method, rawPath string, body io.Reader, hdr ...string) string {
	c.t.Helper()
	resp, got := c.do(method, rawPath, body, hdr...)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s = %d %q, want %d", method, rawPath, resp.StatusCode, got, status)
	}
	return got
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func tempFiles(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && storage.IsTemp(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// zeroReader yields n zero bytes without allocating them.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}
