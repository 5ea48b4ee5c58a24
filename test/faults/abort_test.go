package faults

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// The abort mix: clients that vanish at a random byte of their request or
// of the response, over raw TCP connections.
const (
	mixIters   = 100
	mixWorkers = 4
	mixUpSize  = 1<<20 + 4321 // every version of a replaced file
	mixBlock   = 64 << 10     // one append
	mixDLSize  = 6 << 20      // the downloaded file
	mixSeed    = 0x5eed
)

var (
	mixUploads = []string{"up-0.bin", "up-1.bin"}
	mixAppends = []string{"ap-0.log", "ap-1.log"}
	mixInitLog = []byte("init\n")
)

// mixSetup writes the files the mix works on.
func mixSetup(t testing.TB, root string) {
	t.Helper()
	for _, n := range mixUploads {
		os.WriteFile(filepath.Join(root, n), bytes.Repeat([]byte{'O'}, mixUpSize), 0o644)
	}
	for _, n := range mixAppends {
		os.WriteFile(filepath.Join(root, n), mixInitLog, 0o644)
	}
	if err := os.WriteFile(filepath.Join(root, "dl.bin"), mixDownload(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mixDownload() []byte {
	b := make([]byte, mixDLSize)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}

// mixRequest builds iteration i's request: a chunked POST /file/ replace, a
// PUT /file/ append (chunked or sized), a WebDAV PUT replace, or a GET.
func mixRequest(r *rand.Rand) (kind string, req []byte) {
	var b bytes.Buffer
	switch k := r.IntN(4); k {
	case 0, 1, 2:
		var body []byte
		var path string
		chunked := true
		switch k {
		case 0:
			kind, path = "post", "/file/"+mixUploads[r.IntN(len(mixUploads))]
			body = bytes.Repeat([]byte{byte('a' + r.IntN(26))}, mixUpSize)
		case 1:
			kind, path = "append", "/file/"+mixAppends[r.IntN(len(mixAppends))]
			body = bytes.Repeat([]byte{byte('A' + r.IntN(26))}, mixBlock)
			chunked = r.IntN(2) == 0
		case 2:
			kind, path = "davput", "/dav/"+mixUploads[r.IntN(len(mixUploads))]
			body = bytes.Repeat([]byte{byte('a' + r.IntN(26))}, mixUpSize)
			chunked = false
		}
		method := map[string]string{"post": "POST", "append": "PUT", "davput": "PUT"}[kind]
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", method, path)
		if !chunked {
			fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
			b.Write(body)
			return kind, b.Bytes()
		}
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for len(body) > 0 {
			n := min(len(body), 1+r.IntN(96<<10))
			fmt.Fprintf(&b, "%x\r\n", n)
			b.Write(body[:n])
			b.WriteString("\r\n")
			body = body[n:]
		}
		b.WriteString("0\r\n\r\n")
		return kind, b.Bytes()
	}
	path := []string{"/file/dl.bin", "/dav/dl.bin"}[r.IntN(2)]
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", path)
	if r.IntN(3) == 0 {
		from := r.IntN(mixDLSize)
		fmt.Fprintf(&b, "Range: bytes=%d-\r\n", from)
	}
	b.WriteString("\r\n")
	return "get", b.Bytes()
}

// mixOne runs iteration i against addr: it sends the request up to a
// random byte, or whole, reads a random part of the answer, and closes
// (sometimes with a reset). It returns what it did, for the log.
func mixOne(addr string, i int) string {
	r := rand.New(rand.NewPCG(mixSeed, uint64(i)))
	kind, req := mixRequest(r)
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return kind + " dial: " + err.Error()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if r.IntN(4) == 0 {
		conn.(*net.TCPConn).SetLinger(0) // close with a reset
	}
	cut := len(req)
	switch {
	case kind == "get":
	case r.IntN(5) == 0: // the whole request; the answer read or not
	default:
		cut = r.IntN(len(req))
	}
	for sent := 0; sent < cut; {
		n := min(cut-sent, 1+r.IntN(256<<10))
		if _, err := conn.Write(req[sent : sent+n]); err != nil {
			break
		}
		sent += n
		if r.IntN(8) == 0 {
			time.Sleep(time.Duration(r.IntN(5)) * time.Millisecond)
		}
	}
	read := int64(0)
	if cut == len(req) {
		switch kind {
		case "get":
			read, _ = io.CopyN(io.Discard, conn, int64(r.IntN(mixDLSize+1024)))
		default:
			if r.IntN(2) == 0 {
				read, _ = io.CopyN(io.Discard, conn, 1<<10) // the whole small answer
			}
		}
	}
	return fmt.Sprintf("%s sent %d/%d read %d", kind, cut, len(req), read)
}

// mixRun runs the iterations on mixWorkers connections at a time.
func mixRun(t testing.TB, addr string) {
	var next atomic.Int64
	var wg sync.WaitGroup
	kinds := map[string]int{}
	var mu sync.Mutex
	for range mixWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= mixIters {
					return
				}
				what := mixOne(addr, i)
				mu.Lock()
				kinds[strings.Fields(what)[0]]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("abort mix: %d iterations %v", mixIters, kinds)
}

// mixCheck verifies every file holds one of its valid states.
func mixCheck(t testing.TB, root string) {
	t.Helper()
	for _, n := range mixUploads {
		b, _ := os.ReadFile(filepath.Join(root, n))
		if len(b) != mixUpSize || !uniform(b) {
			t.Errorf("%s is not one complete version: %s", n, describe(b))
		}
	}
	for _, n := range mixAppends {
		b, _ := os.ReadFile(filepath.Join(root, n))
		rest, ok := bytes.CutPrefix(b, mixInitLog)
		if !ok || len(rest)%mixBlock != 0 {
			t.Errorf("%s is not its first line plus whole appends: %s", n, describe(b))
			continue
		}
		for j := 0; j < len(rest); j += mixBlock {
			if !uniform(rest[j : j+mixBlock]) {
				t.Errorf("%s: append %d is torn: %s", n, j/mixBlock, describe(rest[j:j+mixBlock]))
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "dl.bin")); !bytes.Equal(b, mixDownload()) {
		t.Errorf("dl.bin changed by downloads: %s", describe(b))
	}
}

// TestClientAbortsBinary runs the abort mix against the real binary: after
// it settles, the server's resident memory is back within 8 MiB of where
// it was, its descriptors are back to their number, no temporary file is
// left and every file holds a valid state.
func TestClientAbortsBinary(t *testing.T) {
	root := t.TempDir()
	mixSetup(t, root)
	p := testutil.Start(t, root)
	pid := p.Cmd.Process.Pid
	// Warm up: one of each kind, whole, so pools and buffers exist.
	c := httpClient()
	for _, r := range []struct{ method, path string }{
		{"POST", "/file/up-0.bin"}, {"PUT", "/dav/up-1.bin"}, {"PUT", "/file/ap-0.log"}, {"GET", "/file/dl.bin"}, {"GET", "/dav/dl.bin"},
	} {
		var body io.Reader
		switch {
		case r.method == "GET":
		case strings.HasSuffix(r.path, ".log"):
			body = bytes.NewReader(bytes.Repeat([]byte{'W'}, mixBlock))
		default:
			body = bytes.NewReader(bytes.Repeat([]byte{'w'}, mixUpSize))
		}
		if code, _, err := do(c, p.URL, r.method, r.path, body); err != nil || code/100 != 2 {
			t.Fatalf("warm-up %s %s = %d %v", r.method, r.path, code, err)
		}
	}
	waitFor(10*time.Second, func() bool { return strings.Contains(p.Log(), "sweep done") })
	time.Sleep(500 * time.Millisecond)
	baseFD, baseSlots := serverFDs(pid)
	baseRSS := p.Status("VmRSS")
	t.Logf("baseline: %d fds (+%d append journal slots), VmRSS %d KiB", baseFD, baseSlots, baseRSS>>10)

	mixRun(t, p.Addr)
	peakFD, peakSlots := serverFDs(pid)
	peakRSS := p.Status("VmRSS")
	var fd, slots int
	var rss int64
	settled := waitFor(20*time.Second, func() bool {
		fd, slots = serverFDs(pid)
		rss = p.Status("VmRSS")
		return fd <= baseFD && rss <= baseRSS+8<<20
	})
	t.Logf("after the mix: %d fds (+%d slots), VmRSS %d KiB; settled: %d fds (+%d slots), VmRSS %d KiB (%+d KiB), VmHWM %d KiB",
		peakFD, peakSlots, peakRSS>>10, fd, slots, rss>>10, (rss-baseRSS)>>10, p.Status("VmHWM")>>10)
	if !settled {
		t.Errorf("did not settle within 20s: %d fds (baseline %d), VmRSS %d KiB (baseline %d KiB, allowed +8 MiB)", fd, baseFD, rss>>10, baseRSS>>10)
		logFDs(t, pid)
	}
	// Idle append-journal slots stay open for reuse; there can be at most
	// one per append that ran at the same time.
	if slots > mixWorkers {
		t.Errorf("%d append journal slots open after at most %d concurrent appends", slots, mixWorkers)
	}
	if tf := tempFiles(root); len(tf) > 0 {
		t.Errorf("temporary files left by aborted uploads: %v", tf)
	}
	mixCheck(t, root)
	if code, body, err := do(c, p.URL, "GET", "/readyz", nil); err != nil || code != 200 {
		t.Errorf("readyz after the mix = %d %q %v", code, body, err)
	}
}

// serverFDs counts a process's open descriptors, apart from the idle
// append-journal slots it keeps open for reuse (counted separately).
func serverFDs(pid int) (fds, slots int) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return -1, -1
	}
	for _, e := range entries {
		l, _ := os.Readlink(filepath.Join(dir, e.Name()))
		if strings.Contains(l, "/.davnas-journal/") {
			slots++
		} else {
			fds++
		}
	}
	return fds, slots
}

func logFDs(t testing.TB, pid int) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		l, _ := os.Readlink(filepath.Join(dir, e.Name()))
		t.Logf("fd %s -> %s", e.Name(), l)
	}
}
