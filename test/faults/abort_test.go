package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// TestClientAbortsBinary runs the abort mix against the real binary: after
// it settles, the server's resident memory is back within 8 MiB of where
// it was, its descriptors are back to their number, no temporary file is
// left and every file holds a valid state.
func TestClientAbortsBinary(t *testing.T) {
	root := t.TempDir()
	testutil.AbortMixSetup(t, root)
	p := testutil.Start(t, root)
	pid := p.Cmd.Process.Pid
	testutil.AbortMixWarmUp(t, p.URL)
	waitFor(10*time.Second, func() bool { return strings.Contains(p.Log(), "sweep done") })
	time.Sleep(500 * time.Millisecond)
	baseFD, baseSlots := testutil.ProcFDs(pid)
	baseRSS := p.Status("VmRSS")
	t.Logf("baseline: %d fds (+%d append journal slots), VmRSS %d KiB", baseFD, baseSlots, baseRSS>>10)

	kinds := testutil.AbortMixRun(p.Addr, 0x5eed)
	t.Logf("abort mix: %d iterations %v", testutil.AbortMixIters, kinds)
	peakFD, peakSlots := testutil.ProcFDs(pid)
	peakRSS := p.Status("VmRSS")
	var fd, slots int
	var rss int64
	settled := waitFor(20*time.Second, func() bool {
		fd, slots = testutil.ProcFDs(pid)
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
	if slots > testutil.AbortMixWorkers {
		t.Errorf("%d append journal slots open after at most %d concurrent appends", slots, testutil.AbortMixWorkers)
	}
	if tf := tempFiles(root); len(tf) > 0 {
		t.Errorf("temporary files left by aborted uploads: %v", tf)
	}
	testutil.AbortMixCheck(t, root)
	if code, body, err := do(httpClient(), p.URL, "GET", "/readyz", nil); err != nil || code != 200 {
		t.Errorf("readyz after the mix = %d %q %v", code, body, err)
	}
}

func logFDs(t testing.TB, pid int) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		l, _ := os.Readlink(filepath.Join(dir, e.Name()))
		t.Logf("fd %s -> %s", e.Name(), l)
	}
}
