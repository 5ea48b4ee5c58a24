package faults

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

const (
	crashOldSize = 1 << 20   // old content of a replaced file (plus its index)
	crashNewSize = 3 << 20   // every new version of a replaced file
	crashBlock   = 256 << 10 // one append
	crashChunk   = 64 << 10
)

// crashWriter is one of the 20 clients writing while the server is killed.
type crashWriter struct {
	kind    string // "post", "davput" or "append"
	name    string // file name under the root
	old     []byte // content before the round
	mu      sync.Mutex
	started int // attempts started (uploads) or appends started
	acked   int // attempts (or appends) answered with success
	lastAck int // index of the last acknowledged upload attempt, -1 if none
}

// uploadByte is the fill byte of a replaced file's k-th new version.
func uploadByte(k int) byte { return byte('a' + k%26) }

// appendByte is the fill byte of an appender's k-th block.
func appendByte(k int) byte { return byte('A' + k%26) }

// TestKill9MidTransfer kills the server with SIGKILL while 20 clients
// stream into it (POST /file/ replaces, WebDAV PUT replaces, PUT /file/
// appends), restarts it on the same root, and checks what the README
// promises: every replaced file holds its old or one complete new content
// (and a new one if an upload was acknowledged), every appended file is its
// old content plus whole blocks only, no temporary file is listed, and the
// start-up sweep removes the temporary files the crash left. Three rounds,
// each killing at a different point of the transfers.
func TestKill9MidTransfer(t *testing.T) {
	rounds := []struct {
		killAfter time.Duration
		pause     time.Duration // between 64 KiB chunks
	}{
		{400 * time.Millisecond, 20 * time.Millisecond},
		{1300 * time.Millisecond, 30 * time.Millisecond},
		{2700 * time.Millisecond, 15 * time.Millisecond},
	}
	for i, r := range rounds {
		t.Run(fmt.Sprintf("round%d", i+1), func(t *testing.T) {
			crashRound(t, uint64(i+1), r.killAfter, r.pause)
		})
	}
}

func crashRound(t *testing.T, seed uint64, killAfter, pause time.Duration) {
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	root := t.TempDir()
	var writers []*crashWriter
	add := func(kind, prefix string, n int) {
		for i := range n {
			w := &crashWriter{kind: kind, name: fmt.Sprintf("%s-%02d.bin", prefix, i), lastAck: -1}
			if kind == "append" {
				w.old = fmt.Appendf(nil, "old %s\n", w.name)
			} else {
				w.old = bytes.Repeat([]byte{'o'}, crashOldSize+i)
			}
			if err := os.WriteFile(filepath.Join(root, w.name), w.old, 0o644); err != nil {
				t.Fatal(err)
			}
			writers = append(writers, w)
		}
	}
	add("post", "up", 7)
	add("davput", "dv", 7)
	add("append", "ap", 6)

	p := testutil.Start(t, root)
	client := httpClient()
	killed := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range writers {
		jitter := time.Duration(rng.IntN(int(pause))) // per-writer phase
		wg.Go(func() {
			time.Sleep(jitter)
			for k := 0; ; k++ {
				select {
				case <-killed:
					return
				default:
				}
				w.mu.Lock()
				w.started = k + 1
				w.mu.Unlock()
				if !w.send(client, p.URL, k, pause) {
					return
				}
				w.mu.Lock()
				w.acked = k + 1
				w.lastAck = k
				w.mu.Unlock()
			}
		})
	}
	time.Sleep(killAfter + time.Duration(rng.IntN(200))*time.Millisecond)
	// Wait until the transfers are really in the server: files exist for
	// the uploads in flight.
	waitFor(5*time.Second, func() bool { return uploading(p.Cmd.Process.Pid, root) > 0 })
	p.Stop(t, syscall.SIGKILL)
	close(killed)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("clients did not return within 60s of the kill")
	}
	left := tempFiles(root)
	acked, started := 0, 0
	for _, w := range writers {
		acked += w.acked
		started += w.started
	}
	var torn []string // appends the kill cut in the middle, as left on disk
	for _, w := range writers {
		if b, err := os.ReadFile(filepath.Join(root, w.name)); err == nil && w.kind == "append" && w.check(b) != "" {
			torn = append(torn, w.name)
		}
	}
	t.Logf("killed after %v: %d of %d transfers acknowledged; on disk before the restart: %d temporary files, %d torn appends",
		killAfter, acked, started, len(left), len(torn))

	q := testutil.Start(t, root)
	// Each torn append is rolled back at start-up, and says so in the log.
	for _, name := range torn {
		if !strings.Contains(q.Log(), `msg="interrupted append rolled back" path=`+name+" ") {
			t.Errorf("no log line for the rolled-back append to %s:\n%s", name, q.Log())
		}
	}
	for _, w := range writers {
		b, err := os.ReadFile(filepath.Join(root, w.name))
		if err != nil {
			t.Errorf("%s: %v", w.name, err)
			continue
		}
		if msg := w.check(b); msg != "" {
			t.Errorf("%s (%s, %d started, %d acknowledged): %s", w.name, w.kind, w.started, w.acked, msg)
		}
	}
	c := httpClient()
	for _, r := range []struct{ method, path, depth string }{
		{"GET", "/file/%2F", ""}, {"PROPFIND", "/dav/", "1"},
	} {
		hdr := []string{}
		if r.depth != "" {
			hdr = []string{"Depth", r.depth}
		}
		code, body, err := do(c, q.URL, r.method, r.path, nil, hdr...)
		if err != nil || code/100 != 2 {
			t.Errorf("%s %s after restart = %d %v", r.method, r.path, code, err)
		}
		if strings.Contains(body, ".davnas-") {
			t.Errorf("%s %s lists a server-internal file:\n%s", r.method, r.path, body)
		}
		for _, w := range writers {
			if !strings.Contains(body, w.name) {
				t.Errorf("%s %s does not list %s", r.method, r.path, w.name)
			}
		}
	}
	// The sweep removes temporary files whose owner is dead. It is one pass
	// at start-up: once it reported and a second has passed, stop waiting.
	var sweptAt time.Time
	ok := waitFor(30*time.Second, func() bool {
		if len(tempFiles(root)) == 0 {
			return true
		}
		if sweptAt.IsZero() && strings.Contains(q.Log(), "sweep done") {
			sweptAt = time.Now()
		}
		return !sweptAt.IsZero() && time.Since(sweptAt) > time.Second
	})
	if rest := tempFiles(root); !ok || len(rest) > 0 {
		t.Errorf("temporary files left %v after the restart's sweep: %v", time.Since(sweptAt).Round(time.Second), rest)
		for line := range strings.SplitSeq(q.Log(), "\n") {
			if strings.Contains(line, "sweep") {
				t.Log(line)
			}
		}
	}
	if err := q.Stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("restarted server exit: %v", err)
	}
}

// send performs the writer's k-th transfer; false when it failed (the
// server is gone).
func (w *crashWriter) send(c *http.Client, base string, k int, pause time.Duration) bool {
	var (
		method, path string
		body         *slowReader
		okCodes      = map[int]bool{200: true}
	)
	switch w.kind {
	case "post":
		method, path = "POST", "/file/"+w.name
		body = &slowReader{fill: uploadByte(k), n: crashNewSize, chunk: crashChunk, pause: pause}
	case "davput":
		method, path = "PUT", "/dav/"+w.name
		body = &slowReader{fill: uploadByte(k), n: crashNewSize, chunk: crashChunk, pause: pause}
		okCodes = map[int]bool{201: true, 204: true}
	case "append":
		method, path = "PUT", "/file/"+w.name
		body = &slowReader{fill: appendByte(k), n: crashBlock, chunk: crashChunk / 2, pause: pause}
	}
	req, err := request(base, method, path, body)
	if err != nil {
		return false
	}
	if w.kind == "davput" {
		req.ContentLength = crashNewSize // sized, as a WebDAV client sends it
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return okCodes[resp.StatusCode]
}

// check returns why b is not a valid content of w's file after the crash,
// or "".
func (w *crashWriter) check(b []byte) string {
	if w.kind == "append" {
		rest, ok := bytes.CutPrefix(b, w.old)
		if !ok {
			return "old content lost: " + testutil.Describe(b)
		}
		if len(rest)%crashBlock != 0 {
			return fmt.Sprintf("partial append: %d bytes after the old content, not a multiple of %d: %s", len(rest), crashBlock, testutil.Describe(rest))
		}
		n := len(rest) / crashBlock
		for j := range n {
			blk := rest[j*crashBlock : (j+1)*crashBlock]
			if !testutil.Uniform(blk) || blk[0] != appendByte(j) {
				return fmt.Sprintf("block %d is torn or out of order: %s", j, testutil.Describe(blk))
			}
		}
		if n < w.acked {
			return fmt.Sprintf("%d blocks present, but %d appends were acknowledged", n, w.acked)
		}
		if n > w.started {
			return fmt.Sprintf("%d blocks present, only %d appends were sent", n, w.started)
		}
		return ""
	}
	if bytes.Equal(b, w.old) {
		if w.lastAck >= 0 {
			return fmt.Sprintf("old content, but upload %d was acknowledged", w.lastAck)
		}
		return ""
	}
	if len(b) != crashNewSize || !testutil.Uniform(b) {
		return "neither the old nor a complete new content: " + testutil.Describe(b)
	}
	k := int(b[0] - 'a')
	if k < w.lastAck || k >= w.started {
		return fmt.Sprintf("holds version %d, but %d was the last acknowledged and %d were started", k, w.lastAck, w.started)
	}
	return ""
}
