package storage

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/davnas/davnas/internal/testutil"
)

// TestWritebackChunks: a durable upload hands each chunk to writeback once,
// in order, without waiting for it, and waits only for the chunk before
// it: the disk works during the transfer while an upload's dirty pages stay
// at about two chunks.
func TestWritebackChunks(t *testing.T) {
	type call struct {
		off, n int64
		flags  int
	}
	var calls []call
	orig := syncFileRange
	syncFileRange = func(fd int, off, n int64, flags int) error {
		calls = append(calls, call{off, n, flags})
		return nil
	}
	t.Cleanup(func() { syncFileRange = orig })

	f, err := os.Create(filepath.Join(testutil.MemDir(t), "up"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &writebackWriter{f: f}
	buf := make([]byte, 1<<20)
	const chunks = 6
	for range chunks * writebackChunk / len(buf) {
		if _, err := w.Write(buf); err != nil {
			t.Fatal(err)
		}
	}

	const wait = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	var kicks [][2]int64
	waits := 0
	for i, c := range calls {
		switch c.flags {
		case unix.SYNC_FILE_RANGE_WRITE:
			kicks = append(kicks, [2]int64{c.off, c.off + c.n})
		case wait:
			waits++
			if len(kicks) == 0 || (kicks[len(kicks)-1] != [2]int64{c.off, c.off + c.n}) {
				t.Errorf("call %d waits for [%d, %d), want the chunk handed over just before", i, c.off, c.off+c.n)
			}
		default:
			t.Errorf("call %d: flags %#x", i, c.flags)
		}
	}
	if len(kicks) != chunks {
		t.Fatalf("%d ranges handed to writeback for %d chunks: %v", len(kicks), chunks, calls)
	}
	for i, k := range kicks {
		if k != [2]int64{int64(i) * writebackChunk, int64(i+1) * writebackChunk} {
			t.Errorf("range %d is [%d, %d), want chunk %d", i, k[0], k[1], i)
		}
	}
	if waits != chunks-1 {
		t.Errorf("%d waits for %d chunks, want %d", waits, chunks, chunks-1)
	}
}
