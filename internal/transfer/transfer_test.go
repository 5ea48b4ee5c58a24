package transfer

import (
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ServeFile answers exactly what http.ServeContent answers for the plain
// *os.File: whole files, HEAD, single and multiple ranges, a range past the
// end, conditional requests. (The recorder has no ReadFrom, so the body is
// read through SizedFile.Read; the sendfile path is test/e2e's.)
func TestServeFileMatchesServeContent(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 13 / 7)
	}
	path := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, rng, ifRange string }{
		{"GET", "", ""},
		{"HEAD", "", ""},
		{"GET", "bytes=0-0", ""},
		{"GET", "bytes=5000-", ""},
		{"GET", "bytes=-300", ""},
		{"GET", "bytes=10-19,50000-50099,99990-", ""},
		{"GET", "bytes=200000-", ""},
		{"GET", "bytes=5-4", ""},
		{"GET", "bytes=10-19", `"other"`},
	} {
		serve := func(plain bool) *httptest.ResponseRecorder {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, _ := f.Stat()
			r := httptest.NewRequest(c.method, "/f.bin", nil)
			if c.rng != "" {
				r.Header.Set("Range", c.rng)
			}
			if c.ifRange != "" {
				r.Header.Set("If-Range", c.ifRange)
			}
			w := httptest.NewRecorder()
			if plain {
				w.Header().Set("Content-Type", "application/octet-stream")
				http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
			} else {
				ServeFile(w, r, f, fi)
			}
			return w
		}
		want, got := serve(true), serve(false)
		// A multipart answer's boundary is random: compare the bodies without it.
		body := func(w *httptest.ResponseRecorder) string {
			_, params, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
			if b := params["boundary"]; b != "" {
				return strings.ReplaceAll(w.Body.String(), b, "BOUNDARY")
			}
			return w.Body.String()
		}
		if got.Code != want.Code || body(got) != body(want) ||
			got.Header().Get("Content-Length") != want.Header().Get("Content-Length") ||
			got.Header().Get("Content-Range") != want.Header().Get("Content-Range") {
			t.Errorf("%s %q: %d, %d bytes, Content-Range %q; ServeContent on the file: %d, %d bytes, %q",
				c.method, c.rng, got.Code, got.Body.Len(), got.Header().Get("Content-Range"),
				want.Code, want.Body.Len(), want.Header().Get("Content-Range"))
		}
	}
}

// SizedFile's position follows Seek without moving the file until it is
// read or handed out; File leaves the file's offset where Seek put it.
func TestSizedFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("0123456789")
	f.Seek(0, io.SeekStart)
	s := &SizedFile{f: f, size: 10}
	for _, c := range []struct {
		off    int64
		whence int
		want   int64
	}{{0, io.SeekEnd, 10}, {-3, io.SeekEnd, 7}, {-2, io.SeekCurrent, 5}, {4, io.SeekStart, 4}} {
		if got, err := s.Seek(c.off, c.whence); err != nil || got != c.want {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", c.off, c.whence, got, err, c.want)
		}
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != 0 {
		t.Fatalf("Seek moved the file to %d", off)
	}
	buf := make([]byte, 3)
	if n, err := s.Read(buf); err != nil || string(buf[:n]) != "456" {
		t.Fatalf("Read after Seek(4) = %q, %v", buf[:n], err)
	}
	if n, _ := s.Read(buf); string(buf[:n]) != "789" {
		t.Fatalf("second Read = %q", buf[:n])
	}
	if _, err := s.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to a negative offset succeeded")
	}
	if _, err := s.Seek(0, 7); err == nil {
		t.Error("Seek with an invalid whence succeeded")
	}
	s.Seek(2, io.SeekStart)
	got, err := s.File()
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(got)
	if string(rest) != "23456789" {
		t.Fatalf("File() read from the wrong offset: %q", rest)
	}
}

// TestRangeEdges: where http.ServeContent answers a Range wrongly. A
// suffix of zero bytes, or any suffix of an empty file, came back as 206
// with "Content-Range: bytes 10-9/10" (or "0--1/0"); RFC 9110 §14.1.1 calls
// a zero suffix unsatisfiable (416, "bytes */10"), and an empty file is
// served whole (200), as ServeContent does for "bytes=0-". A last position past
// int64 was refused (416) where RFC 9110 §14.1.2 clamps it to the end.
func TestRangeEdges(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		content, rng string
		status       int
		contentRange string
		body         string
	}{
		{"0123456789", "bytes=-0", 416, "bytes */10", ""},
		{"0123456789", "bytes=-0,-2", 206, "bytes 8-9/10", "89"},
		{"0123456789", "bytes=0-99999999999999999999", 206, "bytes 0-9/10", "0123456789"},
		{"0123456789", "bytes=-99999999999999999999", 206, "bytes 0-9/10", "0123456789"},
		{"0123456789", "bytes=3-4", 206, "bytes 3-4/10", "34"},
		{"", "bytes=-5", 200, "", ""}, // no range of nothing: the whole (empty) file
		{"", "bytes=-0", 200, "", ""},
		{"", "bytes=0-", 200, "", ""},
	} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		req := httptest.NewRequest("GET", "/f", nil)
		req.Header.Set("Range", c.rng)
		w := httptest.NewRecorder()
		ServeFile(w, req, f, fi)
		f.Close()
		if w.Code != c.status || w.Header().Get("Content-Range") != c.contentRange || (c.status == 206 && w.Body.String() != c.body) {
			t.Errorf("%q of %q = %d %q %q, want %d %q %q", c.rng, c.content, w.Code, w.Header().Get("Content-Range"), w.Body.String(),
				c.status, c.contentRange, c.body)
		}
	}
}

// TestScriptableContentSandboxed: a page or an SVG uploaded by anyone who
// can write would run scripts on the server's origin when opened in a
// browser; it is served with "Content-Security-Policy: sandbox". Other
// types (a PDF, which a sandbox would keep Chrome from showing) are not.
func TestScriptableContentSandboxed(t *testing.T) {
	dir := t.TempDir()
	for name, want := range map[string]string{
		"page.html": "sandbox", "x.svg": "sandbox", "a.xhtml": "sandbox", "d.xml": "sandbox",
		"doc.pdf": "", "a.txt": "", "img.png": "", "data.csv": "",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("<script>alert(1)</script>"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		w := httptest.NewRecorder()
		ServeFile(w, httptest.NewRequest("GET", "/"+name, nil), f, fi)
		f.Close()
		if got := w.Header().Get("Content-Security-Policy"); got != want {
			t.Errorf("%s (%s): Content-Security-Policy %q, want %q", name, w.Header().Get("Content-Type"), got, want)
		}
	}
}
