package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/config"
	"github.com/davnas/davnas/internal/testutil"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	t   *testing.T
	srv *httptest.Server
	s   *Server
	log *syncBuffer
	dir string
}

func newEnv(t *testing.T, dir string) *env {
	t.Helper()
	return newEnvCfg(t, dir, nil)
}

// newEnvCfg is newEnv with the configuration adjusted by mod.
func newEnvCfg(t *testing.T, dir string, mod func(*config.Config)) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := config.Default()
	cfg.Root = dir
	cfg.LogLevel = "debug"
	if mod != nil {
		mod(&cfg)
	}
	logs := &syncBuffer{}
	s, err := New(cfg, NewLogger(cfg, logs))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.store.Close() })
	return &env{t: t, srv: srv, s: s, log: logs, dir: dir}
}

func (e *env) do(method, path, body string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, "")
	ids := map[string]bool{}
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
		header       [2]string
	}{
		{"GET", "/healthz", 200, "ok\n", [2]string{}},
		{"GET", "/readyz", 200, "ready\n", [2]string{}},
		{"HEAD", "/healthz", 200, "", [2]string{}},
		{"DELETE", "/healthz", 405, "method not allowed\n", [2]string{"Allow", "GET, HEAD"}},
		{"POST", "/readyz", 405, "method not allowed\n", [2]string{"Allow", "GET, HEAD"}},
		{"PROPFIND", "/metrics", 405, "method not allowed\n", [2]string{"Allow", "GET, HEAD"}},
		{"GET", "/file", 200, "OK", [2]string{}},
		{"GET", "/", 302, "", [2]string{"Location", "/dav/"}},
		{"OPTIONS", "/", 200, "", [2]string{"DAV", "1, 2"}},
		{"PROPFIND", "/", 207, "", [2]string{}},
		{"MKCOL", "/", 405, "", [2]string{"Allow", "OPTIONS, GET, HEAD, PROPFIND"}},
		{"PROPFIND", "/dav", 207, "", [2]string{}},
		{"GET", "/dav/", 200, "", [2]string{"Content-Type", "text/html; charset=utf-8"}},
		{"GET", "/davfoo", 404, "Not Found\n", [2]string{}},
		{"GET", "/file%2Fx", 404, "", [2]string{}},
		{"GET", "/nothing", 404, "Not Found\n", [2]string{}},
	} {
		resp, body := e.do(tc.method, tc.path, "", "Depth", "0")
		if resp.StatusCode != tc.status || (tc.body != "" && body != tc.body) ||
			(tc.header[0] != "" && resp.Header.Get(tc.header[0]) != tc.header[1]) {
			t.Errorf("%s %s = %d %q %v", tc.method, tc.path, resp.StatusCode, body, resp.Header)
		}
		id := resp.Header.Get("X-Request-Id")
		if !requestIDShape.MatchString(id) || ids[id] {
			t.Errorf("%s %s: X-Request-Id %q: not 16 hex digits, or seen before", tc.method, tc.path, id)
		}
		ids[id] = true
	}
}

var requestIDShape = regexp.MustCompile(`^[0-9a-f]{16}$`)

// TestCrossView: what one API writes, the other reads at once.
func TestCrossView(t *testing.T) {
	e := newEnv(t, "")
	e.do("POST", "/file/pipe%2Fout.csv", "a,b\n1,2\n")
	if resp, body := e.do("GET", "/dav/pipe/out.csv", ""); resp.StatusCode != 200 || body != "a,b\n1,2\n" {
		t.Errorf("dav GET of a /file/ upload: %d %q", resp.StatusCode, body)
	}
	e.do("PUT", "/file/pipe%2Fout.csv", "3,4\n")
	r1, _ := e.do("HEAD", "/file/pipe/out.csv", "")
	r2, _ := e.do("HEAD", "/dav/pipe/out.csv", "")
	if r1.Header.Get("ETag") == "" || r1.Header.Get("ETag") != r2.Header.Get("ETag") {
		t.Errorf("ETags differ between APIs: %q vs %q", r1.Header.Get("ETag"), r2.Header.Get("ETag"))
	}
	if _, body := e.do("PROPFIND", "/dav/pipe/", "", "Depth", "1"); !strings.Contains(body, "<D:href>/dav/pipe/out.csv</D:href>") ||
		!strings.Contains(body, r1.Header.Get("ETag")) {
		t.Errorf("PROPFIND does not show the /file/ upload with its ETag:\n%s", body)
	}
	e.do("MKCOL", "/dav/laptop", "")
	e.do("PUT", "/dav/laptop/notes.txt", "x\ny\n")
	if _, body := e.do("GET", "/file/laptop/notes.txt/wc", ""); body != "2" {
		t.Errorf("wc of a WebDAV upload = %q", body)
	}
	if _, body := e.do("GET", "/file/laptop", ""); body != "notes.txt\n" {
		t.Errorf("/file/ listing of a WebDAV collection = %q", body)
	}
	e.do("DELETE", "/file/laptop", "")
	if resp, _ := e.do("PROPFIND", "/dav/laptop", "", "Depth", "0"); resp.StatusCode != 404 {
		t.Errorf("PROPFIND after /file/ DELETE = %d", resp.StatusCode)
	}
}

func TestRequestLog(t *testing.T) {
	e := newEnv(t, "")
	e.do("POST", "/file/x.txt", "hello", "X-Request-Id", "trace-me")
	e.do("GET", "/file/..%2Fetc", "")
	logs := e.log.String()
	var line string
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, "req_id=trace-me") {
			line = l
		}
	}
	for _, want := range []string{"msg=request", "method=POST", "path=/file/x.txt", "status=200", "bytes_in=5", "bytes_out=2", "dur=", "remote=127.0.0.1"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	if !strings.Contains(logs, `status=400`) || !strings.Contains(logs, `err="invalid name"`) {
		t.Errorf("a failed request's cause is not logged:\n%s", logs)
	}
}

// TestProgressLog: a transfer that takes longer than the progress interval
// logs how far it got while it runs.
func TestProgressLog(t *testing.T) {
	e := newEnv(t, "")
	e.s.progress.mu.Lock()
	e.s.progress.every = 50 * time.Millisecond
	e.s.progress.mu.Unlock()
	pr, pw := io.Pipe()
	go func() {
		for range 6 {
			pw.Write(bytes.Repeat([]byte("x"), 1000))
			time.Sleep(40 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.srv.URL+"/file/slow", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(e.log.String(), `msg="transfer progress" api=file method=POST path=/file/slow`) {
		t.Errorf("no progress line:\n%s", e.log.String())
	}
	// One goroutine reports for every request, and only while there are
	// any; no progress line follows the request's own line.
	idle := false
	for range 100 {
		e.s.progress.mu.Lock()
		idle = !e.s.progress.running && e.s.progress.head == nil
		e.s.progress.mu.Unlock()
		if idle {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !idle {
		t.Error("the progress reporter still runs with no request in flight")
	}
	log := e.log.String()
	end := strings.Index(log, "msg=request api=file method=POST path=/file/slow")
	if end < 0 || strings.Contains(log[end:], `msg="transfer progress"`) {
		t.Errorf("progress line after the request line (or no request line):\n%s", log)
	}
}

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t, "")
	h := e.s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			panic("boom at /secret/server/path")
		}
		w.Write([]byte("fine"))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || strings.Contains(string(body), "secret") || strings.Contains(string(body), "goroutine") {
		t.Errorf("panic answered %d %q", resp.StatusCode, body)
	}
	resp, err = http.Get(srv.URL + "/ok")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("server did not keep serving after a panic: %v", err)
	}
	resp.Body.Close()
	if !strings.Contains(e.log.String(), "panic serving request") {
		t.Error("panic not logged")
	}
}

// TestReadOnlyVolume remounts the root read-only: readiness fails, the
// http-nas health check and reads keep working, writes answer 503.
func TestReadOnlyVolume(t *testing.T) {
	dir := testutil.Tmpfs(t, "4m")
	os.WriteFile(dir+"/f", []byte("data"), 0o644)
	e := newEnv(t, dir)
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v %s", err, out)
	}
	defer exec.Command("mount", "-o", "remount,rw", dir).Run()
	if resp, _ := e.do("GET", "/readyz", ""); resp.StatusCode != 503 {
		t.Errorf("readyz on a read-only volume = %d", resp.StatusCode)
	}
	if resp, body := e.do("GET", "/file", ""); resp.StatusCode != 200 || body != "OK" {
		t.Errorf("health check = %d %q", resp.StatusCode, body)
	}
	if _, body := e.do("GET", "/file/f", ""); body != "data" {
		t.Errorf("read = %q", body)
	}
	if resp, body := e.do("POST", "/file/g", "x"); resp.StatusCode != 503 || strings.Contains(body, dir) {
		t.Errorf("write to a read-only volume = %d %q", resp.StatusCode, body)
	}
	if resp, _ := e.do("PUT", "/dav/g", "x"); resp.StatusCode != 503 {
		t.Errorf("WebDAV PUT to a read-only volume = %d", resp.StatusCode)
	}
	// A --read-only server over a read-only volume is ready: it only reads.
	ro := newEnvCfg(t, dir, func(c *config.Config) { c.ReadOnly = true })
	if resp, _ := ro.do("GET", "/readyz", ""); resp.StatusCode != 200 {
		t.Errorf("readyz of a --read-only server on a read-only volume = %d", resp.StatusCode)
	}
}

func TestNewRejectsBadRoot(t *testing.T) {
	f, _ := os.CreateTemp(t.TempDir(), "file")
	f.Close()
	cfg := config.Default()
	cfg.Root = f.Name()
	if _, err := New(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("New(root=file) = %v", err)
	}
}

// TestFullVolume: uploads to a full volume answer 507 through both APIs,
// leave the old file and no temp file, and reads go on.
func TestFullVolume(t *testing.T) {
	dir := testutil.Tmpfs(t, "1m")
	os.WriteFile(dir+"/keep.txt", []byte("old"), 0o644)
	e := newEnv(t, dir)
	big := strings.Repeat("x", 3<<20)
	for _, r := range []struct{ method, path string }{
		{"POST", "/file/keep.txt"}, {"PUT", "/file/keep.txt"}, {"PUT", "/dav/keep.txt"}, {"POST", "/file/new.bin"},
	} {
		resp, body := e.do(r.method, r.path, big)
		if resp.StatusCode != http.StatusInsufficientStorage || body != "insufficient storage\n" {
			t.Errorf("%s %s on a full volume = %d %q", r.method, r.path, resp.StatusCode, body)
		}
	}
	if _, body := e.do("GET", "/file/keep.txt", ""); body != "old" {
		t.Errorf("keep.txt = %q", body)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "keep.txt" && e.Name() != ".davnas-journal" {
			t.Errorf("the volume holds %s", e.Name())
		}
	}
}

// TestPropfindServerRoot: Windows asks the server root before the share.
func TestPropfindServerRoot(t *testing.T) {
	e := newEnv(t, "")
	resp, body := e.do("PROPFIND", "/", "", "Depth", "1")
	if resp.StatusCode != 207 || !strings.Contains(body, "<D:href>/</D:href>") || !strings.Contains(body, "<D:href>/dav/</D:href>") ||
		strings.Count(body, "<D:collection/>") != 2 {
		t.Errorf("PROPFIND / = %d\n%s", resp.StatusCode, body)
	}
	resp, body = e.do("PROPFIND", "/", "", "Depth", "0")
	if resp.StatusCode != 207 || strings.Count(body, "<D:response>") != 1 {
		t.Errorf("PROPFIND / Depth 0 = %d\n%s", resp.StatusCode, body)
	}
}

// A FIFO in the volume (left by another pod, or made on purpose) is
// neither a file nor a collection: every request that would read or write
// it gets a prompt 4xx, where an open(2) without O_NONBLOCK waited for a
// writer forever, holding an OS thread per request.
func TestSpecialFilesRefusedPromptly(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dir)
	// Were a request stuck opening the FIFO, this frees it before the
	// server's Close waits for it (cleanups run last-registered first).
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			f.Close()
		}
	})
	c := &http.Client{Timeout: 10 * time.Second} // a hang detector, not a speed limit
	for _, tc := range []struct {
		method, path, body string
		hdr                []string
		status             int
	}{
		{"GET", "/file/pipe", "", nil, 403},
		{"HEAD", "/file/pipe", "", nil, 403},
		{"GET", "/file/pipe/wc", "", nil, 403},
		{"PUT", "/file/pipe", "more", nil, 403},
		{"GET", "/dav/pipe", "", nil, 403},
		{"HEAD", "/dav/pipe", "", nil, 403},
		{"COPY", "/dav/pipe", "", []string{"Destination", "/dav/copy"}, 403},
		{"PROPFIND", "/dav/pipe", `<propfind xmlns="DAV:" xmlns:oc="http://owncloud.org/ns"><prop><oc:checksums/></prop></propfind>`, []string{"Depth", "0"}, 403},
		{"POST", "/file/pipe", "new", nil, 403},
		{"PUT", "/dav/pipe", "new", nil, 403},
	} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, strings.NewReader(tc.body))
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v (the server is stuck on the FIFO)", tc.method, tc.path, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s = %d %q, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
		if tc.status == 403 && tc.method != "HEAD" && string(body) != "not a regular file\n" {
			t.Errorf("%s %s: body %q", tc.method, tc.path, body)
		}
	}
	// Listings do not describe what cannot be served: a client syncing the
	// collection (rclone) would fail on it.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644))
	for _, tc := range [][]string{
		{"GET", "/file/%2F"},
		{"GET", "/dav/"},
		{"PROPFIND", "/dav/"},
	} {
		resp, body := e.do(tc[0], tc[1], "", "Depth", "1")
		if resp.StatusCode >= 300 || !strings.Contains(body, "file") || strings.Contains(body, "pipe") {
			t.Errorf("%s %s = %d, lists the FIFO or not the file: %s", tc[0], tc[1], resp.StatusCode, body)
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced or removed: %v %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "copy")); !os.IsNotExist(err) {
		t.Fatalf("COPY of a FIFO made something: %v", err)
	}
}

// forcedGCs is how many collections runtime.GC or debug.FreeOSMemory
// have forced in this process.
func forcedGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestSweepForcesNoIdleGC: the start-up sweep returns its garbage to the
// kernel (a forced collection and scavenge) only when it made some. The
// sweep allocates almost nothing now (0.3 MB for a root of 50,000 files),
// and a forced collection on a server that never needed one maps its
// mark bits and work buffers and the collector's code: idle RSS 11.9 →
// 12.7 MiB on an empty root.
func TestSweepForcesNoIdleGC(t *testing.T) {
	e := newEnvCfg(t, "", nil)
	for i := range 200 {
		os.MkdirAll(filepath.Join(e.dir, "d", strconv.Itoa(i%7)), 0o755)
		os.WriteFile(filepath.Join(e.dir, "d", strconv.Itoa(i%7), strconv.Itoa(i)), nil, 0o644)
	}
	before := forcedGCs()
	e.s.sweep(t.Context())
	if n := forcedGCs() - before; n != 0 {
		t.Errorf("a sweep of 200 files forced %d collections", n)
	}
	if !strings.Contains(e.log.String(), "sweep done") {
		t.Fatalf("the sweep did not finish:\n%s", e.log.String())
	}

	// A sweep that allocated more than sweepGarbage does return it.
	old := sweepGarbage
	sweepGarbage = 0
	t.Cleanup(func() { sweepGarbage = old })
	before = forcedGCs()
	e.s.sweep(t.Context())
	if forcedGCs() == before {
		t.Error("a sweep past sweepGarbage forced no collection")
	}
}
