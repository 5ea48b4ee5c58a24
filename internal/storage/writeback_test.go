package storage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/davnas/davnas/internal/testutil"
)

// TestWritebackChunks: a durable upload hands each chunk to writeback once,
// in order, without waiting for it, and waits only for the chunk before
// it: the disk works during the transfer while an upload's dirty pages stay
// at about two chunks.
func TestWritebackChunks(t *testing.T) {
	// Writes that divide the chunk, and writes of an odd size, as the
	// upload's gathered copy makes them: a chunk then ends wherever the
	// write that filled it ended.
	for _, size := range []int{1 << 20, 300_001} {
		t.Run(fmt.Sprint(size), func(t *testing.T) { testWritebackChunks(t, size) })
	}
}

func testWritebackChunks(t *testing.T, size int) {
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
	buf := make([]byte, size)
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
				t.Errorf("call %d waits for [%d, %d), want the chunk handed over just before (%v)", i, c.off, c.off+c.n, kicks)
			}
		default:
			t.Errorf("call %d: flags %#x", i, c.flags)
		}
	}
	// The ranges follow each other from 0, each a chunk, or a chunk and
	// less than one write more.
	var end int64
	for i, k := range kicks {
		if k[0] != end || k[1]-k[0] < writebackChunk || k[1]-k[0] >= writebackChunk+int64(size) {
			t.Errorf("range %d is [%d, %d), want one chunk from %d", i, k[0], k[1], end)
		}
		end = k[1]
	}
	if want := int64(chunks * writebackChunk / size * size / writebackChunk); int64(len(kicks)) < want-1 || int64(len(kicks)) > want {
		t.Fatalf("%d ranges handed to writeback for %d bytes: %v", len(kicks), w.written, calls)
	}
	if waits != len(kicks)-1 {
		t.Errorf("%d waits for %d ranges, want %d", waits, len(kicks), len(kicks)-1)
	}
}

// An upload copied by two ReadFrom calls: the second's first chunk waits
// for the last chunk's worth of what the first wrote, never for a range
// of length 0 (which sync_file_range reads as "to the end of the file").
func TestWritebackSecondReadFrom(t *testing.T) {
	type call struct{ off, n int64 }
	var waits []call
	orig := syncFileRange
	syncFileRange = func(fd int, off, n int64, flags int) error {
		if n == 0 {
			t.Errorf("sync_file_range(%d, 0, %#x): a range to the end of the file", off, flags)
		}
		if flags&unix.SYNC_FILE_RANGE_WAIT_AFTER != 0 {
			waits = append(waits, call{off, n})
		}
		return nil
	}
	t.Cleanup(func() { syncFileRange = orig })

	s, err := Open(testutil.MemDir(t), Options{Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.NewAtomicFile("up", CreateOptions{ExpectedSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Abort()
	first := int64(writebackChunk + writebackChunk/2)
	if _, err := a.ReadFrom(io.LimitReader(zeros{}, first)); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 0 {
		t.Fatalf("first ReadFrom, one chunk handed over: waits %v, want none", waits)
	}
	if _, err := a.ReadFrom(io.LimitReader(zeros{}, writebackChunk)); err != nil {
		t.Fatal(err)
	}
	if want := []call{{first - writebackChunk, writebackChunk}}; !slices.Equal(waits, want) {
		t.Errorf("second ReadFrom waited for %v, want %v", waits, want)
	}
}
