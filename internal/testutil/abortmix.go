package testutil

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The abort mix: clients that vanish at a random byte of their request or
// of the response, over raw TCP connections: chunked POST /file/ replaces,
// PUT /file/ appends (chunked or sized), WebDAV PUT replaces, and GETs
// (some with a Range) closed after a random part. internal/server runs it
// in process, test/faults against the binary.
const (
	AbortMixIters   = 100
	AbortMixWorkers = 4
	abortUpSize     = 1<<20 + 4321 // every version of a replaced file
	abortBlock      = 64 << 10     // one append
	abortDLSize     = 6 << 20      // the downloaded file
)

var (
	abortUploads = []string{"up-0.bin", "up-1.bin"}
	abortAppends = []string{"ap-0.log", "ap-1.log"}
	abortInitLog = []byte("init\n")
)

// AbortMixSetup writes the files the mix works on into root.
func AbortMixSetup(t testing.TB, root string) {
	t.Helper()
	for _, n := range abortUploads {
		must(t, os.WriteFile(filepath.Join(root, n), bytes.Repeat([]byte{'O'}, abortUpSize), 0o644))
	}
	for _, n := range abortAppends {
		must(t, os.WriteFile(filepath.Join(root, n), abortInitLog, 0o644))
	}
	must(t, os.WriteFile(filepath.Join(root, "dl.bin"), abortDownload(), 0o644))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// AbortMixWarmUp sends one whole request of each kind to the server at
// baseURL (http://host:port), so that pools and buffers exist before a
// baseline is taken.
func AbortMixWarmUp(t testing.TB, baseURL string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 60 * time.Second}
	for _, r := range []struct {
		method, path string
		body         []byte
	}{
		{"POST", "/file/up-0.bin", bytes.Repeat([]byte{'w'}, abortUpSize)},
		{"PUT", "/dav/up-1.bin", bytes.Repeat([]byte{'w'}, abortUpSize)},
		{"PUT", "/file/ap-0.log", bytes.Repeat([]byte{'W'}, abortBlock)},
		{"GET", "/file/dl.bin", nil},
		{"GET", "/dav/dl.bin", nil},
	} {
		req, _ := http.NewRequest(r.method, baseURL+r.path, bytes.NewReader(r.body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("warm-up %s %s: %v", r.method, r.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("warm-up %s %s = %d", r.method, r.path, resp.StatusCode)
		}
	}
}

// AbortMixRun runs the mix's iterations against addr (host:port),
// AbortMixWorkers connections at a time, and returns how many of each kind
// ran. seed makes the run reproducible.
func AbortMixRun(addr string, seed uint64) map[string]int {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	kinds := map[string]int{}
	for range AbortMixWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= AbortMixIters {
					return
				}
				kind := abortOne(addr, seed, i)
				mu.Lock()
				kinds[kind]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return kinds
}

// AbortMixCheck verifies that every file of the mix holds one of its valid
// states: a whole version of a replaced file, the first line plus whole
// appends, the download unchanged.
func AbortMixCheck(t testing.TB, root string) {
	t.Helper()
	for _, n := range abortUploads {
		b, _ := os.ReadFile(filepath.Join(root, n))
		if len(b) != abortUpSize || !Uniform(b) {
			t.Errorf("%s is not one complete version: %s", n, Describe(b))
		}
	}
	for _, n := range abortAppends {
		b, _ := os.ReadFile(filepath.Join(root, n))
		rest, ok := bytes.CutPrefix(b, abortInitLog)
		if !ok || len(rest)%abortBlock != 0 {
			t.Errorf("%s is not its first line plus whole appends: %s", n, Describe(b))
			continue
		}
		for j := 0; j < len(rest); j += abortBlock {
			if blk := rest[j : j+abortBlock]; !Uniform(blk) {
				t.Errorf("%s: append %d is torn: %s", n, j/abortBlock, Describe(blk))
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "dl.bin")); !bytes.Equal(b, abortDownload()) {
		t.Errorf("dl.bin changed by downloads: %s", Describe(b))
	}
}

// Uniform reports whether b is non-empty and one byte repeated.
func Uniform(b []byte) bool { return len(b) > 0 && bytes.Count(b, b[:1]) == len(b) }

// Describe summarises a file's content for a failure message: its size and
// its first runs of equal bytes.
func Describe(b []byte) string {
	var runs []string
	for i := 0; i < len(b) && len(runs) < 8; {
		j := i
		for j < len(b) && b[j] == b[i] {
			j++
		}
		runs = append(runs, fmt.Sprintf("%q×%d", b[i], j-i))
		i = j
	}
	return fmt.Sprintf("%d bytes: %s", len(b), strings.Join(runs, " "))
}

// ProcFDs counts the open descriptors of process pid (0: this process),
// apart from the idle append-journal slots storage keeps open for reuse,
// counted separately (one per append that ran at the same time).
func ProcFDs(pid int) (fds, slots int) {
	dir := "/proc/self/fd"
	if pid != 0 {
		dir = fmt.Sprintf("/proc/%d/fd", pid)
	}
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

func abortDownload() []byte {
	b := make([]byte, abortDLSize)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}

// abortRequest builds an iteration's request.
func abortRequest(r *rand.Rand) (kind string, req []byte) {
	var b bytes.Buffer
	k := r.IntN(4)
	if k == 3 {
		path := []string{"/file/dl.bin", "/dav/dl.bin"}[r.IntN(2)]
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", path)
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "Range: bytes=%d-\r\n", r.IntN(abortDLSize))
		}
		b.WriteString("\r\n")
		return "get", b.Bytes()
	}
	var body []byte
	var method, path string
	chunked := true
	switch k {
	case 0:
		kind, method, path = "post", "POST", "/file/"+abortUploads[r.IntN(len(abortUploads))]
		body = bytes.Repeat([]byte{byte('a' + r.IntN(26))}, abortUpSize)
	case 1:
		kind, method, path = "append", "PUT", "/file/"+abortAppends[r.IntN(len(abortAppends))]
		body = bytes.Repeat([]byte{byte('A' + r.IntN(26))}, abortBlock)
		chunked = r.IntN(2) == 0
	case 2:
		kind, method, path = "davput", "PUT", "/dav/"+abortUploads[r.IntN(len(abortUploads))]
		body = bytes.Repeat([]byte{byte('a' + r.IntN(26))}, abortUpSize)
		chunked = false
	}
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

// abortOne runs iteration i: the request sent up to a random byte (or
// whole), a random part of the answer read, then the connection closed,
// sometimes with a reset.
func abortOne(addr string, seed uint64, i int) string {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	kind, req := abortRequest(r)
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return kind + "-dial-failed"
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if r.IntN(4) == 0 {
		conn.(*net.TCPConn).SetLinger(0) // close with a reset
	}
	cut := len(req)
	if kind != "get" && r.IntN(5) != 0 {
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
	if cut == len(req) {
		if kind == "get" {
			io.CopyN(io.Discard, conn, int64(r.IntN(abortDLSize+1024)))
		} else if r.IntN(2) == 0 {
			io.CopyN(io.Discard, conn, 1<<10)
		}
	}
	return kind
}
