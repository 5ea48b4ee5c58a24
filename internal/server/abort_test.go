package server

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/config"
	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/testutil"
)

// TestClientAborts serves a real listener in-process and runs 100 requests
// that their clients abandon at random points: chunked POST /file/
// replaces, PUT /file/ appends, WebDAV PUTs, and downloads closed after a
// random part. Once things settle, the goroutines and open descriptors of
// the process are back to their baseline, no temporary file is left, and
// every file holds one of its valid states.
func TestClientAborts(t *testing.T) {
	root := t.TempDir()
	testutil.AbortMixSetup(t, root)

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
	testutil.AbortMixWarmUp(t, "http://"+addr)
	abortSettle(10*time.Second, func() bool { return strings.Contains(logs.String(), "sweep done") })
	time.Sleep(200 * time.Millisecond)
	baseG := runtime.NumGoroutine()
	baseFD, baseSlots := testutil.ProcFDs(0)
	t.Logf("baseline: %d goroutines, %d fds (+%d append journal slots)", baseG, baseFD, baseSlots)

	kinds := testutil.AbortMixRun(addr, 0xab0e7)
	peakG := runtime.NumGoroutine()
	peakFD, _ := testutil.ProcFDs(0)

	var g, fd, slots int
	settled := abortSettle(10*time.Second, func() bool {
		g = runtime.NumGoroutine()
		fd, slots = testutil.ProcFDs(0)
		return g <= baseG+2 && fd <= baseFD+2
	})
	t.Logf("%d iterations %v; right after: %d goroutines, %d fds; settled: %d goroutines, %d fds (+%d slots)",
		testutil.AbortMixIters, kinds, peakG, peakFD, g, fd, slots)
	if slots > testutil.AbortMixWorkers {
		t.Errorf("%d append journal slots open after at most %d concurrent appends", slots, testutil.AbortMixWorkers)
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
	testutil.AbortMixCheck(t, root)
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
