package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/config"
	"github.com/davnas/davnas/internal/storage"
)

// The abort mix: clients that vanish at a random byte of their request or
// of the response, over raw TCP connections (test/faults runs the same mix
// against the binary).
const (
	abortIters   = 100
	abortWorkers = 4
	abortUpSize  = 1<<20 + 4321 // every version of a replaced file
	abortBlock   = 64 << 10     // one append
	abortDLSize  = 6 << 20      // the downloaded file
	abortSeed    = 0xab0e7
)

var (
	abortUploads = []string{"up-0.bin", "up-1.bin"}
	abortAppends = []string{"ap-0.log", "ap-1.log"}
	abortInitLog = []byte("init\n")
)

// TestClientAborts serves a real listener in-process and runs 100 requests
// that their clients abandon at random points: chunked POST /file/
// replaces, PUT /file/ appends, WebDAV PUTs, and downloads closed after a
// random part. Once things settle, the goroutines and open descriptors of
// the process are back to their baseline, no temporary file is left, and
// every file holds one of its valid states.
func TestClientAborts(t *testing.T) {
	root := t.TempDir()
	for _, n := range abortUploads {
		os.WriteFile(filepath.Join(root, n), bytes.Repeat([]byte{'O'}, abortUpSize), 0o644)
	}
	for _, n := range abortAppends {
		os.WriteFile(filepath.Join(root, n), abortInitLog, 0o644)
	}
	os.WriteFile(filepath.Join(root, "dl.bin"), abortDownload(), 0o644)

	cfg := config.Default()
	cfg.Root = root
	cfg.Listen = "127.0.0.1:0"
	cfg.LogLevel = "debug"
	logs := &syncBuffer{}
	s, err := New(cfg, NewLogger(cfg, logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("Serve did not return within 60s of its context ending")
		}
	}()
	addr := s.Addr().String()

	// Warm up with one whole request of each kind, and let the start-up
	// sweep finish, before taking the baseline.
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
		req, _ := http.NewRequest(r.method, "http://"+addr+r.path, bytes.NewReader(r.body))
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
	abortSettle(10*time.Second, func() bool { return strings.Contains(logs.String(), "sweep done") })
	time.Sleep(200 * time.Millisecond)
	baseG := runtime.NumGoroutine()
	baseFD, baseSlots := abortFDs()
	t.Logf("baseline: %d goroutines, %d fds (+%d append journal slots)", baseG, baseFD, baseSlots)

	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	kinds := map[string]int{}
	for range abortWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= abortIters {
					return
				}
				kind := abortOne(addr, i)
				mu.Lock()
				kinds[kind]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	peakG := runtime.NumGoroutine()
	peakFD, _ := abortFDs()

	var g, fd, slots int
	settled := abortSettle(10*time.Second, func() bool {
		g = runtime.NumGoroutine()
		fd, slots = abortFDs()
		return g <= baseG+2 && fd <= baseFD+2
	})
	t.Logf("%d iterations %v; right after: %d goroutines, %d fds; settled: %d goroutines, %d fds (+%d slots)",
		abortIters, kinds, peakG, peakFD, g, fd, slots)
	if slots > abortWorkers {
		t.Errorf("%d append journal slots open after at most %d concurrent appends", slots, abortWorkers)
	}
	if !settled {
		buf := make([]byte, 1<<20)
		t.Errorf("did not settle within 10s: %d goroutines (baseline %d), %d fds (baseline %d)\n%s",
			g, baseG, fd, baseFD, buf[:runtime.Stack(buf, true)])
	}
	var temps []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), storage.ReservedPrefix+"tmp-") {
			temps = append(temps, p)
		}
		return nil
	})
	if len(temps) > 0 {
		t.Errorf("temporary files left by aborted uploads: %v", temps)
	}
	for _, n := range abortUploads {
		b, _ := os.ReadFile(filepath.Join(root, n))
		if len(b) != abortUpSize || bytes.Count(b, b[:1]) != len(b) {
			t.Errorf("%s is not one complete version: %d bytes", n, len(b))
		}
	}
	for _, n := range abortAppends {
		b, _ := os.ReadFile(filepath.Join(root, n))
		rest, ok := bytes.CutPrefix(b, abortInitLog)
		if !ok || len(rest)%abortBlock != 0 {
			t.Errorf("%s is not its first line plus whole appends: %d bytes", n, len(b))
			continue
		}
		for j := 0; j < len(rest); j += abortBlock {
			if blk := rest[j : j+abortBlock]; bytes.Count(blk, blk[:1]) != len(blk) {
				t.Errorf("%s: append %d is torn", n, j/abortBlock)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "dl.bin")); !bytes.Equal(b, abortDownload()) {
		t.Errorf("dl.bin changed by downloads")
	}
}

func abortDownload() []byte {
	b := make([]byte, abortDLSize)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}

// abortRequest builds an iteration's request: a chunked POST /file/
// replace, a PUT /file/ append (chunked or sized), a WebDAV PUT, or a GET.
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
func abortOne(addr string, i int) string {
	r := rand.New(rand.NewPCG(abortSeed, uint64(i)))
	kind, req := abortRequest(r)
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return kind + "-dial-failed"
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if r.IntN(4) == 0 {
		conn.(*net.TCPConn).SetLinger(0)
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

// abortFDs counts this process's open descriptors, apart from the idle
// append-journal slots storage keeps open for reuse (counted separately:
// one per append that ran at the same time).
func abortFDs() (fds, slots int) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, -1
	}
	for _, e := range entries {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if strings.Contains(l, "/"+storage.ReservedPrefix+"journal/") {
			slots++
		} else {
			fds++
		}
	}
	return fds, slots
}

// abortSettle polls cond every 50 ms until it holds or d passes.
func abortSettle(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
