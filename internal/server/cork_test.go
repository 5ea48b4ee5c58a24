package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/config"
)

// recordingListener keeps the connections it accepts.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// A file's headers and body are sent corked (one segment for a small
// file), and the cork is off again when the response is done, whatever
// its shape: a corked keep-alive connection would hold the next small
// response back for 200 ms.
func TestDownloadCorked(t *testing.T) {
	root := t.TempDir()
	small := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
	big := bytes.Repeat([]byte("davnas"), 200_000)         // 1.2 MB: several sendfile calls
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "small.bin"), small, 0o644))
	must(os.WriteFile(filepath.Join(root, "big.bin"), big, 0o644))

	cfg := config.Default()
	cfg.Root = root
	cfg.Listen = "127.0.0.1:0"
	s, err := New(cfg, NewLogger(cfg, io.Discard))
	must(err)
	must(s.Listen())
	rl := &recordingListener{Listener: s.ln}
	s.ln = rl
	var mu sync.Mutex
	var seen []bool
	corkSeen = func(on bool) { mu.Lock(); seen = append(seen, on); mu.Unlock() }
	defer func() { corkSeen = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	c := &http.Client{Timeout: 30 * time.Second}
	base := "http://" + s.Addr().String()
	for _, tc := range []struct {
		path, rng string
		want      []byte
		corked    bool
	}{
		{"/file/small.bin", "", small, true},
		{"/dav/big.bin", "", big, true},
		{"/file/big.bin", "bytes=1000-1999", big[1000:2000], true},
		{"/file/%2F", "", []byte("big.bin\nsmall.bin\n"), false}, // a listing: no file body
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		resp, err := c.Do(req)
		must(err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		must(err)
		if !bytes.Equal(body, tc.want) {
			t.Fatalf("GET %s %s: %d bytes, want %d", tc.path, tc.rng, len(body), len(tc.want))
		}
		// The client can have the last byte before the handler uncorks:
		// wait (boundedly) for the handler's last cork change.
		var got []bool
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			got = append(got[:0], seen...)
			mu.Unlock()
			if !tc.corked || len(got) >= 2 || time.Now().After(deadline) {
				break
			}
		}
		if tc.corked && (len(got) != 2 || !got[0] || got[1]) {
			t.Errorf("GET %s: cork changes %v, want [true false]", tc.path, got)
		}
		if !tc.corked && len(got) != 0 {
			t.Errorf("GET %s: cork changes %v, want none", tc.path, got)
		}
		// The handler is done with the connection: the cork must be off
		// on every one of them.
		rl.mu.Lock()
		for _, conn := range rl.conns {
			rc, err := conn.(*net.TCPConn).SyscallConn()
			must(err)
			var v int
			var gerr error
			rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK) })
			if gerr == nil && v != 0 {
				t.Errorf("after GET %s: TCP_CORK still set on a connection", tc.path)
			}
		}
		rl.mu.Unlock()
	}
}
