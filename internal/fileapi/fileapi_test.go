package fileapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	store, err := storage.Open(dir, storage.Options{Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	locks := locking.New()
	srv := httptest.NewServer(New(store, locks, nil))
	t.Cleanup(func() { srv.Close(); store.Close() })
	return &env{t: t, dir: dir, srv: srv, locks: locks}
}

// do sends a request whose path is used verbatim (escapes kept).
func (e *env) do(method, rawPath string, body io.Reader, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL, body)
	if err != nil {
		e.t.Fatal(err)
	}
	path, query, _ := strings.Cut(rawPath, "?")
	req.URL.Opaque = path // keep %2F as sent, like curl does
	req.URL.RawQuery = query
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (e *env) write(name, content string) {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) read(name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(e.dir, name))
	return string(b), err == nil
}

// TestAPITable runs the README's API table, row by row: request, then
// status, body and what is on disk.
func TestAPITable(t *testing.T) {
	type row struct {
		name     string
		method   string
		path     string
		body     string
		hdr      []string
		status   int
		respBody string // exact, unless prefixed with "~" (contains)
		disk     map[string]string
		gone     []string
	}
	rows := []row{
		{name: "health", method: "GET", path: "/file", status: 200, respBody: "OK"},
		{name: "health slash", method: "GET", path: "/file/", status: 200, respBody: "OK"},
		{name: "health HEAD", method: "HEAD", path: "/file", status: 200},
		{name: "missing", method: "GET", path: "/file/blah", status: 404, respBody: "Not Found\n"},
		{name: "create", method: "POST", path: "/file/testfile", body: "file contents", status: 200, respBody: "OK",
			disk: map[string]string{"testfile": "file contents"}},
		{name: "read", method: "GET", path: "/file/testfile", status: 200, respBody: "file contents"},
		{name: "create %2F parents", method: "POST", path: "/file/testdir%2Ftestfile2", body: "in dir", status: 200,
			disk: map[string]string{"testdir/testfile2": "in dir"}},
		{name: "create plain parents", method: "POST", path: "/file/a/b/c.txt", body: "deep", status: 200,
			disk: map[string]string{"a/b/c.txt": "deep"}},
		{name: "read plain = %2F", method: "GET", path: "/file/testdir/testfile2", status: 200, respBody: "in dir"},
		{name: "replace", method: "POST", path: "/file/testfile", body: "v2", status: 200,
			disk: map[string]string{"testfile": "v2"}},
		{name: "multi-line", method: "POST", path: "/file/ml", body: "file contents\nline2\nline3\n", status: 200},
		{name: "wc", method: "GET", path: "/file/ml/wc", status: 200, respBody: "3"},
		{name: "wc op", method: "GET", path: "/file/ml?op=wc", status: 200, respBody: "3"},
		{name: "wc HEAD", method: "HEAD", path: "/file/ml/wc", status: 200},
		{name: "append", method: "PUT", path: "/file/ml", body: "line4\n", status: 200, respBody: "OK",
			disk: map[string]string{"ml": "file contents\nline2\nline3\nline4\n"}},
		{name: "append missing", method: "PUT", path: "/file/nofile", body: "x", status: 404, gone: []string{"nofile"}},
		{name: "list", method: "GET", path: "/file/testdir", status: 200, respBody: "testfile2\n"},
		{name: "list sorted", method: "GET", path: "/file/a%2Fb", status: 200, respBody: "c.txt\n"},
		{name: "list root", method: "GET", path: "/file/%2F", status: 200, respBody: "a\nml\ntestdir\ntestfile\n"},
		{name: "list json", method: "GET", path: "/file/testdir", hdr: []string{"Accept", "application/json"}, status: 200,
			respBody: `~"name":"testfile2","size":6,`},
		{name: "wc as a name when no file", method: "GET", path: "/file/nofile/wc", status: 404},
		{name: "mv missing", method: "PUT", path: "/file/nofile.txt/mv", body: `{"path":"x"}`, status: 404},
		{name: "mv same dir", method: "PUT", path: "/file/testdir%2Ftestfile2/mv", body: `{"path":"testdir%2Fmoved"}`, status: 200,
			disk: map[string]string{"testdir/moved": "in dir"}, gone: []string{"testdir/testfile2"}},
		{name: "mv new dir", method: "PUT", path: "/file/testdir%2Fmoved/mv", body: `{"path":"testmoved%2Fmoved"}`, status: 200,
			disk: map[string]string{"testmoved/moved": "in dir"}},
		{name: "mv op", method: "PUT", path: "/file/testmoved/moved?op=mv", body: `{"path":"testmoved/m2"}`, status: 200,
			disk: map[string]string{"testmoved/m2": "in dir"}},
		{name: "mv README form", method: "PUT", path: "/file/testfile", body: `{ "path": "newcat.jpg" }`,
			hdr: []string{"Content-Type", "application/json"}, status: 200,
			disk: map[string]string{"newcat.jpg": "v2"}, gone: []string{"testfile"}},
		{name: "json append (not a move body)", method: "PUT", path: "/file/newcat.jpg", body: `{"path":"x","more":1}`,
			hdr: []string{"Content-Type", "application/json"}, status: 200,
			disk: map[string]string{"newcat.jpg": `v2{"path":"x","more":1}`}},
		{name: "mv bad json", method: "PUT", path: "/file/ml/mv", body: `{"path":`, status: 400, respBody: "~invalid JSON body"},
		{name: "mv no path", method: "PUT", path: "/file/ml/mv", body: `{"dest":"x"}`, status: 400},
		{name: "mv dir", method: "PUT", path: "/file/testmoved/mv", body: `{"path":"x/y/testmoved"}`, status: 200,
			disk: map[string]string{"x/y/testmoved/m2": "in dir"}},
		{name: "mv onto existing dir", method: "PUT", path: "/file/ml/mv", body: `{"path":"x"}`, status: 409},
		{name: "mv escape", method: "PUT", path: "/file/ml/mv", body: `{"path":"../../etc/evil"}`, status: 400},
		{name: "delete file", method: "DELETE", path: "/file/newcat.jpg", status: 200, respBody: "OK", gone: []string{"newcat.jpg"}},
		{name: "delete dir", method: "DELETE", path: "/file/x", status: 200, gone: []string{"x"}},
		{name: "delete missing", method: "DELETE", path: "/file/x", status: 404},
		{name: "delete root", method: "DELETE", path: "/file/%2F", status: 403},
		{name: "wrong method", method: "PATCH", path: "/file/ml", status: 405},
		{name: "wrong method wc", method: "POST", path: "/file/ml?op=wc", status: 405},
		{name: "unknown op", method: "GET", path: "/file/ml?op=rm", status: 400},
		{name: "dotdot", method: "GET", path: "/file/..%2F..%2Fetc%2Fpasswd", status: 400},
		{name: "dotdot plain", method: "GET", path: "/file/a/../../etc/passwd", status: 400},
		{name: "NUL", method: "GET", path: "/file/a%00b", status: 400},
		{name: "reserved", method: "POST", path: "/file/.davnas-tmp-x", body: "x", status: 400},
		{name: "bad escape", method: "GET", path: "/file/a%zz", status: 400},
		{name: "file as parent", method: "POST", path: "/file/ml/child", body: "x", status: 409},
		{name: "POST onto dir", method: "POST", path: "/file/testdir", body: "x", status: 409},
		{name: "append to dir", method: "PUT", path: "/file/testdir", body: "x", status: 409},
		// A name ending in / is a directory's: a file is never written
		// under the name without it.
		{name: "POST trailing slash", method: "POST", path: "/file/newname/", body: "x", status: 400,
			respBody: "~cannot end in /", gone: []string{"newname"}},
		{name: "POST trailing %2F", method: "POST", path: "/file/newname%2F", body: "x", status: 400, gone: []string{"newname"}},
		{name: "POST trailing slash on a file", method: "POST", path: "/file/ml/", body: "x", status: 400,
			disk: map[string]string{"ml": "file contents\nline2\nline3\nline4\n"}},
		{name: "append trailing slash", method: "PUT", path: "/file/ml/", body: "x", status: 400,
			disk: map[string]string{"ml": "file contents\nline2\nline3\nline4\n"}},
		{name: "mv README form, directory with slash", method: "PUT", path: "/file/testdir/", body: `{"path": "td2"}`,
			hdr: []string{"Content-Type", "application/json"}, status: 200, gone: []string{"testdir"}},
		{name: "directory moved with slash", method: "GET", path: "/file/td2", status: 200},
		// A newline in a name would fake entries in the plain listing.
		{name: "newline in a new name", method: "POST", path: "/file/x%0Ay", body: "x", status: 400,
			respBody: "control characters are not allowed in names\n", gone: []string{"x\ny"}},
		{name: "escape in a new directory", method: "POST", path: "/file/d%1B/f", body: "x", status: 400, gone: []string{"d\x1b"}},
		{name: "newline in a move target", method: "PUT", path: "/file/ml/mv", body: `{"path":"m\nl"}`, status: 400,
			disk: map[string]string{"ml": "file contents\nline2\nline3\nline4\n"}},
	}
	e := newEnv(t)
	for _, r := range rows {
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		resp, got := e.do(r.method, r.path, body, r.hdr...)
		if resp.StatusCode != r.status {
			t.Errorf("%s: %s %s = %d %q, want %d", r.name, r.method, r.path, resp.StatusCode, got, r.status)
			continue
		}
		if want, ok := strings.CutPrefix(r.respBody, "~"); ok {
			if !strings.Contains(got, want) {
				t.Errorf("%s: body %q does not contain %q", r.name, got, want)
			}
		} else if r.respBody != "" && got != r.respBody {
			t.Errorf("%s: body %q, want %q", r.name, got, r.respBody)
		}
		if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: error Content-Type %q", r.name, resp.Header.Get("Content-Type"))
		}
		if r.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s: 405 without Allow", r.name)
		}
		for name, want := range r.disk {
			if got, ok := e.read(name); !ok || got != want {
				t.Errorf("%s: disk %s = %q (exists %v), want %q", r.name, name, got, ok, want)
			}
		}
		for _, name := range r.gone {
			if _, ok := e.read(name); ok {
				t.Errorf("%s: %s still exists", r.name, name)
			}
			if _, err := os.Stat(filepath.Join(e.dir, name)); err == nil {
				t.Errorf("%s: %s still exists", r.name, name)
			}
		}
	}
}

func TestGetHeaders(t *testing.T) {
	e := newEnv(t)
	e.write("d/report.csv", "0123456789")
	resp, body := e.do("GET", "/file/d/report.csv", nil)
	h := resp.Header
	if h.Get("Content-Length") != "10" || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") ||
		h.Get("Last-Modified") == "" || h.Get("ETag") == "" || h.Get("Accept-Ranges") != "bytes" || body != "0123456789" {
		t.Fatalf("headers %v body %q", h, body)
	}
	etag := h.Get("ETag")
	resp, body = e.do("GET", "/file/d/report.csv", nil, "Range", "bytes=2-4")
	if resp.StatusCode != 206 || body != "234" || resp.Header.Get("Content-Range") != "bytes 2-4/10" {
		t.Errorf("Range: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = e.do("GET", "/file/d/report.csv", nil, "If-None-Match", etag)
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	resp, _ = e.do("GET", "/file/d/report.csv", nil, "If-Modified-Since", h.Get("Last-Modified"))
	if resp.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %d", resp.StatusCode)
	}
	resp, body = e.do("HEAD", "/file/d/report.csv", nil)
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != "10" {
		t.Errorf("HEAD: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = e.do("GET", "/file/d/report.csv", nil, "Range", "bytes=20-30")
	if resp.StatusCode != 416 {
		t.Errorf("unsatisfiable Range: %d", resp.StatusCode)
	}
	// POST and PUT answer the new ETag, which GET then serves.
	resp, _ = e.do("POST", "/file/d/report.csv", strings.NewReader("new"))
	tag := resp.Header.Get("ETag")
	resp2, _ := e.do("GET", "/file/d/report.csv", nil)
	if tag == "" || tag == etag || resp2.Header.Get("ETag") != tag {
		t.Errorf("ETag after POST %q, GET serves %q (before %q)", tag, resp2.Header.Get("ETag"), etag)
	}
}

func TestListJSON(t *testing.T) {
	e := newEnv(t)
	e.write("d/f.txt", "abc")
	os.Mkdir(filepath.Join(e.dir, "d", "sub"), 0o755)
	e.write("d/.davnas-tmp-hidden", "x")
	resp, body := e.do("GET", "/file/d", nil, "Accept", "text/html, application/json;q=0.9")
	var got []struct {
		Name    string    `json:"name"`
		Size    int64     `json:"size"`
		ModTime time.Time `json:"modTime"`
		IsDir   bool      `json:"isDir"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("JSON listing %q: %v", body, err)
	}
	if len(got) != 2 || got[0].Name != "f.txt" || got[0].Size != 3 || got[0].IsDir || got[1].Name != "sub" || !got[1].IsDir || got[0].ModTime.IsZero() {
		t.Errorf("listing = %+v", got)
	}
	_, body = e.do("GET", "/file/d", nil)
	if body != "f.txt\nsub\n" {
		t.Errorf("text listing = %q", body)
	}
	os.Mkdir(filepath.Join(e.dir, "empty"), 0o755)
	if _, body = e.do("GET", "/file/empty", nil, "Accept", "application/json"); strings.TrimSpace(body) != "[]" {
		t.Errorf("empty JSON listing = %q", body)
	}
}

// TestSuffixAmbiguity: /wc and /mv are operations only when the part before
// them names an existing file (wc) or entry (mv).
func TestSuffixAmbiguity(t *testing.T) {
	e := newEnv(t)
	e.write("dir/wc", "a file named wc\n")
	e.write("dir/mv", "x")
	// dir is a directory, so dir/wc is a name, not a line count of dir.
	if _, body := e.do("GET", "/file/dir/wc", nil); body != "a file named wc\n" {
		t.Errorf("GET dir/wc = %q", body)
	}
	if _, body := e.do("GET", "/file/dir/wc/wc", nil); body != "1" {
		t.Errorf("GET dir/wc/wc = %q, want the line count of dir/wc", body)
	}
	// %2Fwc is always part of the name (http-nas's route matched one segment).
	if resp, _ := e.do("GET", "/file/dir%2Fwc", nil); resp.StatusCode != 200 {
		t.Errorf("GET dir%%2Fwc = %d", resp.StatusCode)
	}
	// PUT dir/mv with a JSON body: dir exists, so this is a move of dir.
	if resp, _ := e.do("PUT", "/file/dir/mv", strings.NewReader(`{"path":"dir2"}`)); resp.StatusCode != 200 {
		t.Errorf("PUT dir/mv = %d", resp.StatusCode)
	}
	if _, ok := e.read("dir2/wc"); !ok {
		t.Error("dir was not moved")
	}
	// PUT name/mv where name does not exist: an append to a file named mv
	// in name, which does not exist either: 404.
	if resp, _ := e.do("PUT", "/file/nothing/mv", strings.NewReader("x")); resp.StatusCode != 404 {
		t.Errorf("PUT nothing/mv = %d", resp.StatusCode)
	}
}

// TestInterruptedUpload cuts a chunked POST off mid-body over a raw TCP
// connection: the old file survives, no temp file is left.
func TestInterruptedUpload(t *testing.T) {
	e := newEnv(t)
	e.write("big.bin", "old")
	e.write("log.txt", "l1\n")
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/file/big.bin", "old"},
		{"POST", "/file/fresh.bin", ""},
		{"PUT", "/file/log.txt", "l1\n"},
	} {
		conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", tc.method, tc.path)
		chunk := bytes.Repeat([]byte("z"), 1<<20)
		for range 3 {
			fmt.Fprintf(conn, "%x\r\n", len(chunk))
			conn.Write(chunk)
			conn.Write([]byte("\r\n"))
		}
		conn.Close() // no terminating chunk
		want := tc.want
		if tc.method == "PUT" {
			// An append writes in place and is rolled back when its body
			// fails, so "l1\n" is also what the file holds before the
			// server has read a byte: waiting for it proves nothing. Appends
			// to one file are serialized, so a second one runs only after
			// the first has ended, and must find the file rolled back.
			if resp, body := e.do("PUT", tc.path, strings.NewReader("l2\n")); resp.StatusCode != http.StatusOK {
				t.Fatalf("the append after the interrupted one: %d %q", resp.StatusCode, body)
			}
			want += "l2\n"
		}
		waitFor(t, func() bool {
			got, ok := e.read(strings.TrimPrefix(tc.path, "/file/"))
			return (want == "" && !ok) || got == want
		})
		waitFor(t, func() bool { return len(reservedFiles(e.dir)) == 0 })
		got, ok := e.read(strings.TrimPrefix(tc.path, "/file/"))
		if want == "" && ok {
			t.Errorf("%s %s: interrupted upload created the file (%d bytes)", tc.method, tc.path, len(got))
		} else if got != want {
			t.Errorf("%s %s: content %d bytes, want %q", tc.method, tc.path, len(got), want)
		}
	}
}

// TestContentLengthShortBody sends fewer bytes than Content-Length.
func TestContentLengthShortBody(t *testing.T) {
	e := newEnv(t)
	e.write("f", "keep")
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /file/f HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly this")
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		if resp.StatusCode != 400 {
			t.Errorf("short body answered %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	conn.Close()
	if got, _ := e.read("f"); got != "keep" {
		t.Errorf("content = %q", got)
	}
}

func reservedFiles(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && storage.IsTemp(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConcurrentAppendsHTTP: 16 clients append 64 KiB blocks to one file
// through the API at once; every block lands whole.
func TestConcurrentAppendsHTTP(t *testing.T) {
	e := newEnv(t)
	e.write("shared.log", "")
	const size = 64 << 10
	letters := "abcdefghijklmnop"
	var wg sync.WaitGroup
	for _, c := range []byte(letters) {
		wg.Go(func() {
			pr, pw := io.Pipe()
			go func() {
				block := bytes.Repeat([]byte{c}, 4096)
				for range size / 4096 {
					pw.Write(block)
				}
				pw.Close()
			}()
			req, _ := http.NewRequest("PUT", e.srv.URL+"/file/shared.log", pr)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("append %c: %d", c, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	data, _ := e.read("shared.log")
	if len(data) != size*len(letters) {
		t.Fatalf("file has %d bytes, want %d", len(data), size*len(letters))
	}
	for off := 0; off < len(data); off += size {
		if strings.Count(data[off:off+size], data[off:off+1]) != size {
			t.Fatalf("appends interleaved at offset %d", off)
		}
	}
}

// TestWebDAVLockBlocksFileAPI: a file a WebDAV client holds locked answers
// 423 to writes through /file/, and reads still work.
func TestWebDAVLockBlocksFileAPI(t *testing.T) {
	e := newEnv(t)
	e.write("doc.txt", "v1")
	e.write("dir/inner.txt", "x")
	token, err := e.locks.Lock(locking.Request{Root: "/doc.txt", Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := e.locks.Lock(locking.Request{Root: "/dir/inner.txt", Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/file/doc.txt", "v2"},
		{"PUT", "/file/doc.txt", "more"},
		{"DELETE", "/file/doc.txt", ""},
		{"PUT", "/file/doc.txt/mv", `{"path":"other.txt"}`},
		{"PUT", "/file/dir/inner.txt", "more"},
		{"DELETE", "/file/dir", ""}, // a lock below a directory protects it
		{"PUT", "/file/dir/mv", `{"path":"dir2"}`},
	} {
		resp, body := e.do(r.method, r.path, strings.NewReader(r.body))
		if resp.StatusCode != http.StatusLocked {
			t.Errorf("%s %s = %d %q, want 423", r.method, r.path, resp.StatusCode, body)
		}
	}
	if _, body := e.do("GET", "/file/doc.txt", nil); body != "v1" {
		t.Errorf("GET of a locked file = %q", body)
	}
	e.locks.Unlock(token.Token)
	e.locks.Unlock(inner.Token)
	if resp, _ := e.do("POST", "/file/doc.txt", strings.NewReader("v2")); resp.StatusCode != 200 {
		t.Errorf("POST after UNLOCK = %d", resp.StatusCode)
	}
}

// TestInterruptedJSONAppend: an append typed application/json whose client
// disconnects is rolled back like any other (the move-body sniffing must
// not turn a cut body into a clean one).
func TestInterruptedJSONAppend(t *testing.T) {
	e := newEnv(t)
	e.write("log.txt", "l1\n")
	for _, n := range []int{52, 100 << 10} {
		conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT /file/log.txt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", n+1000)
		conn.Write(bytes.Repeat([]byte("j"), n))
		conn.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			if resp.StatusCode != 400 {
				t.Errorf("cut JSON append of %d bytes answered %d", n, resp.StatusCode)
			}
			resp.Body.Close()
		}
		conn.Close()
		if got, _ := e.read("log.txt"); got != "l1\n" {
			t.Errorf("after a cut JSON append of %d bytes the file has %d bytes", n, len(got))
		}
	}
}

// TestPreconditions: POST, append, DELETE and mv honour If-Match,
// If-None-Match and If-Unmodified-Since (RFC 9110 §13.2.2): a pipeline
// that guards a write with the ETag it read is refused (412), and nothing
// changes, when another writer came first.
func TestPreconditions(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/file/f.txt", strings.NewReader("one\n"))
	head, _ := e.do("HEAD", "/file/f.txt", nil)
	tag := head.Header.Get("ETag")
	stale := []string{"If-Match", `"stale"`}
	for _, c := range []struct {
		method, path, body string
		hdr                []string
	}{
		{"POST", "/file/f.txt", "two\n", stale},
		{"POST", "/file/f.txt", "two\n", []string{"If-None-Match", "*"}},
		{"POST", "/file/new.txt", "x", []string{"If-Match", "*"}},
		{"PUT", "/file/f.txt", "more\n", stale},
		{"PUT", "/file/f.txt", "more\n", []string{"If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"}},
		{"DELETE", "/file/f.txt", "", stale},
		{"PUT", "/file/f.txt/mv", `{"path":"g.txt"}`, stale},
		{"PUT", "/file/f.txt", `{"path":"g.txt"}`, append([]string{"Content-Type", "application/json"}, stale...)},
	} {
		resp, body := e.do(c.method, c.path, strings.NewReader(c.body), c.hdr...)
		if resp.StatusCode != 412 {
			t.Errorf("%s %s %v = %d %q, want 412", c.method, c.path, c.hdr, resp.StatusCode, body)
		}
	}
	if got, ok := e.read("f.txt"); got != "one\n" || !ok {
		t.Errorf("f.txt after refused writes = %q, %v", got, ok)
	}
	for _, name := range []string{"new.txt", "g.txt"} {
		if _, ok := e.read(name); ok {
			t.Errorf("%s was written by a request whose precondition failed", name)
		}
	}
	// True preconditions pass.
	if resp, _ := e.do("PUT", "/file/f.txt", strings.NewReader("more\n"), "If-Match", tag); resp.StatusCode != 200 {
		t.Errorf("append with the current ETag = %d", resp.StatusCode)
	}
	head, _ = e.do("HEAD", "/file/f.txt", nil)
	if resp, _ := e.do("POST", "/file/f.txt", strings.NewReader("two\n"), "If-Match", head.Header.Get("ETag")); resp.StatusCode != 200 {
		t.Errorf("replace with the current ETag = %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", "/file/n.txt", strings.NewReader("n"), "If-None-Match", "*"); resp.StatusCode != 200 {
		t.Errorf("create-only POST of a new name = %d", resp.StatusCode)
	}
	if resp, _ := e.do("DELETE", "/file/f.txt", nil, "If-Match", "*"); resp.StatusCode != 200 {
		t.Errorf("DELETE with If-Match: * = %d", resp.StatusCode)
	}
}
