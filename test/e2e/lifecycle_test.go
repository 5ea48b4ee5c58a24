package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/testutil"
)

// TestGracefulShutdown: SIGTERM during an upload lets it finish within the
// grace period, refuses new connections, and exits 0.
func TestGracefulShutdown(t *testing.T) {
	p := testutil.Start(t, "", "--shutdown-grace", "20s")
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("y"), 64<<10)
		for range 40 { // ~2 s of trickle
			pw.Write(chunk)
			time.Sleep(50 * time.Millisecond)
		}
		pw.Close()
	}()
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", p.URL+"/file/inflight.bin", pr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("in-flight upload: %v", err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		c.Close()
		t.Error("new connections accepted after SIGTERM")
	}
	if code := <-done; code != 200 {
		t.Errorf("in-flight upload answered %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	fi, err := os.Stat(filepath.Join(p.Root, "inflight.bin"))
	if err != nil || fi.Size() != 40*64<<10 {
		t.Errorf("in-flight file: %v %v", fi, err)
	}
	if !strings.Contains(p.Log(), "davnas stopped") {
		t.Errorf("no clean stop in the log:\n%s", p.Log())
	}
}

// TestCrashLeavesNothingVisible kills the server with SIGKILL in the middle
// of an upload: the old content is intact and nothing of the upload is
// left. The upload is written to an unnamed file (O_TMPFILE): it has no
// name in the directory while it streams, and the kernel frees it when the
// process dies, so there is nothing for the next start to sweep.
func TestCrashLeavesNothingVisible(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "data.bin"), []byte("old"), 0o644)
	p := testutil.Start(t, root)
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /file/data.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := strings.Repeat("n", 1<<20)
	for range 3 {
		fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	// The upload is in progress once the server holds an unnamed file of
	// 3 MiB in the root.
	deadline := time.Now().Add(10 * time.Second)
	for unnamedFiles(p.Cmd.Process.Pid, root, 3<<20) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := unnamedFiles(p.Cmd.Process.Pid, root, 3<<20); n != 1 {
		t.Fatalf("the upload is not in an unnamed file of 3 MiB (found %d); temporary names: %v", n, tempFiles(root))
	}
	if tf := tempFiles(root); len(tf) != 0 {
		t.Fatalf("an upload in progress has a name: %v", tf)
	}
	p.Stop(t, syscall.SIGKILL)
	if tf := tempFiles(root); len(tf) != 0 {
		t.Fatalf("the killed upload left %v", tf)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "data.bin")); string(b) != "old" {
		t.Errorf("data.bin after kill -9: %d bytes", len(b))
	}
	q := testutil.Start(t, root)
	c := newClient(t, q)
	if got := c.expect(200, "GET", "/file/%2F", nil); got != "data.bin\n" {
		t.Errorf("listing shows %q", got)
	}
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(q.Log(), "sweep done") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(q.Log(), "removed=0") {
		t.Errorf("the sweep found something to remove:\n%s", q.Log())
	}
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if e.Name() != "data.bin" && !storage.IsReserved(e.Name()) {
			t.Errorf("unexpected entry after the crash: %s", e.Name())
		}
	}
}

// unnamedFiles counts the unnamed files (O_TMPFILE) of at least size bytes
// that process pid holds open in dir: /proc shows them as "DIR/#INODE
// (deleted)".
func unnamedFiles(pid int, dir string, size int64) int {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	n := 0
	for _, fd := range fds {
		p := fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())
		target, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(target, dir+"/#") || !strings.HasSuffix(target, " (deleted)") {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Size() >= size {
			n++
		}
	}
	return n
}

// attachStrace traces the system calls in calls (strace's -e trace= list)
// of the server p, on every thread; detach stops it and returns the trace
// and strace's own messages.
func attachStrace(t *testing.T, strace string, p *testutil.Proc, calls string) (detach func() (trace, stderr string)) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "strace.out")
	cmd := exec.Command(strace, "-f", "-qq", "-e", "trace="+calls, "-o", out, "-p", fmt.Sprint(p.Cmd.Process.Pid))
	var serr bytes.Buffer
	cmd.Stderr = &serr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(500 * time.Millisecond) // let strace attach to every thread
	return func() (string, string) {
		time.Sleep(200 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT) // detach
		cmd.Wait()
		b, _ := os.ReadFile(out)
		return string(b), serr.String()
	}
}

// getEach downloads name n times through each API (/file/ and /dav/),
// failing unless every answer is want; with head, a HEAD follows each GET.
func getEach(t *testing.T, c *client, name, want string, n int, head bool) {
	t.Helper()
	for range n {
		for _, path := range []string{"/file/" + name, "/dav/" + name} {
			if got := c.expect(200, "GET", path, nil); got != want {
				t.Fatalf("GET %s: %d bytes, not the file", path, len(got))
			}
			if head {
				c.expect(200, "HEAD", path, nil)
			}
		}
	}
}

// countCalls counts the system calls of an strace -f -o trace by name (of
// those keep accepts, or all when keep is nil), and in all; signal lines
// ("--- SIGURG ...") are not calls.
func countCalls(trace string, keep func(name string) bool) (map[string]int, int) {
	counts := map[string]int{}
	total := 0
	for line := range strings.SplitSeq(trace, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasPrefix(line, "---") {
			continue
		}
		name, _, ok := strings.Cut(fields[1], "(")
		if ok && (keep == nil || keep(name)) {
			counts[name]++
			total++
		}
	}
	return counts, total
}

// TestPutSystemCalls attaches strace to the running server and counts the
// file-system system calls of small WebDAV PUTs of new files two
// directories deep: the directory is opened in one openat2 (not walked an
// element at a time by os.Root, with a close and a refused epoll_ctl for
// each), and the whole upload stays within its budget. A regression here
// is a slower small PUT, which no functional test would notice.
func TestPutSystemCalls(t *testing.T) {
	strace := testutil.Need(t, "strace")
	p := testutil.Start(t, "")
	os.MkdirAll(filepath.Join(p.Root, "a", "b"), 0o755)
	c := newClient(t, p)
	c.expect(201, "PUT", "/dav/a/b/warm.bin", strings.NewReader("warm")) // the connection, the first open of the root
	detach := attachStrace(t, strace, p, "openat,openat2,open,close,newfstatat,statx,fstat,fcntl,linkat,renameat,renameat2,unlinkat,epoll_ctl,ioctl")
	const puts = 50
	body := strings.Repeat("x", 4096)
	for i := range puts {
		c.expect(201, "PUT", fmt.Sprintf("/dav/a/b/f%03d.bin", i), strings.NewReader(body))
	}
	trace, serr := detach()
	counts, total := countCalls(trace, nil)
	t.Logf("%d PUTs: %d file-system calls %v", puts, total, counts)
	for i := range puts {
		if !exists(filepath.Join(p.Root, "a", "b", fmt.Sprintf("f%03d.bin", i))) {
			t.Fatalf("f%03d.bin was not stored", i)
		}
	}
	if counts["openat2"] < puts {
		t.Errorf("the upload directory was opened by openat2 %d times for %d PUTs\n%s\n%s", counts["openat2"], puts, trace, serr)
	}
	// Per PUT: openat2 of a/b, openat of the O_TMPFILE, the existence
	// fstatat, fstat for the ETag, linkat, two closes. The unnamed file
	// stays a bare descriptor: no os.NewFile, whose fcntl was an eighth
	// system call. A little slack for the runtime's own calls.
	if n := counts["fcntl"]; n > 2 {
		t.Errorf("%d fcntl calls for %d PUTs: the upload's file was made an *os.File\n%s", n, puts, trace)
	}
	if budget := 7*puts + 10; total > budget {
		t.Errorf("%d file-system calls for %d PUTs, budget %d: %v\n%s", total, puts, budget, counts, trace)
	}
}

// TestGetSystemCalls: a download answers http.ServeContent's size probe
// from the stat it already has, so a whole-file GET or HEAD makes no
// lseek(2) (ServeContent seeks to the end and back on its own), while a
// Range still starts where it asks and moves by sendfile.
func TestGetSystemCalls(t *testing.T) {
	strace := testutil.Need(t, "strace")
	p := testutil.Start(t, "")
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i * 7 / 3)
	}
	os.WriteFile(filepath.Join(p.Root, "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(p.Root, "small.bin"), big[:4096], 0o644)
	c := newClient(t, p)
	c.expect(200, "GET", "/file/small.bin", nil) // the connection, the first open of the root
	detach := attachStrace(t, strace, p, "lseek,sendfile")
	const gets = 20
	getEach(t, c, "small.bin", string(big[:4096]), gets, true)
	trace, serr := detach()
	if n := strings.Count(trace, "lseek("); n > 0 {
		t.Errorf("%d lseek calls for %d whole-file GETs and HEADs\n%s\n%s", n, 4*gets, trace, serr)
	}

	// Ranges: the file is read from where each range starts.
	detach = attachStrace(t, strace, p, "lseek,sendfile")
	for _, r := range [][2]int{{1 << 20, 3 << 20}, {0, 100}, {4<<20 - 10, 4<<20 - 1}, {5000, 5000}} {
		for _, path := range []string{"/file/big.bin", "/dav/big.bin"} {
			got := c.expect(206, "GET", path, nil, "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
			if got != string(big[r[0]:r[1]+1]) {
				t.Errorf("GET %s bytes=%d-%d: %d bytes, not that range of the file", path, r[0], r[1], len(got))
			}
		}
	}
	got := c.expect(206, "GET", "/file/big.bin", nil, "Range", "bytes=10-19,2000000-2000009")
	for _, part := range []string{string(big[10:20]), string(big[2000000:2000010])} {
		if !strings.Contains(got, part) {
			t.Errorf("a two-range answer lacks one of the ranges:\n%q", got)
		}
	}
	trace, _ = detach()
	if !strings.Contains(trace, "sendfile(") {
		t.Errorf("the 2 MiB range did not move by sendfile:\n%s", trace)
	}
}

// TestNestedGetSystemCalls: a GET of a file three directories deep opens
// it in one openat2 below the root, not by os.Root's walk (an openat and a
// close per directory), and the file stays out of the poller (no refused
// epoll_ctl).
func TestNestedGetSystemCalls(t *testing.T) {
	strace := testutil.Need(t, "strace")
	p := testutil.Start(t, "")
	os.MkdirAll(filepath.Join(p.Root, "a", "b", "c"), 0o755)
	body := strings.Repeat("n", 4096)
	os.WriteFile(filepath.Join(p.Root, "a", "b", "c", "f.txt"), []byte(body), 0o644)
	c := newClient(t, p)
	c.expect(200, "GET", "/file/a/b/c/f.txt", nil) // the connection, the first open of the root
	detach := attachStrace(t, strace, p, "openat,openat2,close,fcntl,epoll_ctl")
	const gets = 20
	getEach(t, c, "a/b/c/f.txt", body, gets, false)
	trace, serr := detach()
	counts, total := countCalls(trace, nil)
	t.Logf("%d nested GETs: %v", 2*gets, counts)
	if counts["openat"] > 2 || counts["openat2"] < 2*gets || counts["epoll_ctl"] > 2 {
		t.Errorf("%d nested GETs opened their file by walking the path: %v\n%s\n%s", 2*gets, counts, trace, serr)
	}
	if total > 4*2*gets+4 {
		t.Errorf("%d file-system calls for %d nested GETs, budget %d: %v", total, 2*gets, 4*2*gets+4, counts)
	}
}

// TestSendfile attaches strace to the running server and downloads a file
// through /file/ and WebDAV: the bytes must move by sendfile(2), not by
// read/write through user space.
func TestSendfile(t *testing.T) {
	strace := testutil.Need(t, "strace")
	p := testutil.Start(t, "")
	const size = 8 << 20
	os.WriteFile(filepath.Join(p.Root, "big.bin"), bytes.Repeat([]byte("s"), size), 0o644)
	detach := attachStrace(t, strace, p, "sendfile")
	c := newClient(t, p)
	for _, path := range []string{"/file/big.bin", "/dav/big.bin"} {
		if got := c.expect(200, "GET", path, nil); len(got) != size {
			t.Fatalf("%s: %d bytes", path, len(got))
		}
	}
	trace, serr := detach()
	var moved int64
	calls := 0
	for line := range strings.SplitSeq(trace, "\n") {
		if i := strings.LastIndex(line, "= "); strings.Contains(line, "sendfile(") && i > 0 {
			var n int64
			if _, err := fmt.Sscan(line[i+2:], &n); err == nil && n > 0 {
				moved += n
				calls++
			}
		}
	}
	t.Logf("sendfile moved %d bytes in %d calls", moved, calls)
	// http.ServeContent sends the first 512 bytes by write to sniff; the
	// rest of both downloads must go by sendfile.
	if moved < 2*(size-512) {
		t.Errorf("sendfile moved %d bytes of %d\n%s\n%s", moved, 2*size, trace, serr)
	}
}
