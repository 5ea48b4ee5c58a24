package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how much an upload writes before the kernel is asked
// to start writing it to disk.
const writebackChunk = 8 << 20

// syncFileRange is sync_file_range(2); a test records the calls.
var syncFileRange = unix.SyncFileRange

// writebackWriter starts writeback as an upload streams in, when fsync is
// on: after each chunk it asks the kernel to write that chunk
// (sync_file_range SYNC_FILE_RANGE_WRITE, which does not wait) and waits
// for the chunk before it. The disk works while the body is still
// arriving, dirty memory stays at two chunks, and the fdatasync at commit
// finds almost nothing left to do: durability costs what the disk costs.
// Without sync_file_range (not Linux, or a file system that refuses it) it
// degrades to plain writes.
type writebackWriter struct {
	f       *os.File // the file, or nil for a bare descriptor:
	fd      int      // an unnamed upload's (AtomicFile.fd)
	written int64    // bytes written
	prev    int64    // start of the last range handed to writeback
	started int64    // end of the range already handed to writeback
	off     bool     // sync_file_range failed once: stop trying
}

func (w *writebackWriter) Write(p []byte) (int, error) {
	var n int
	var err error
	if w.f != nil {
		n, err = w.f.Write(p)
	} else {
		n, err = writeFd(w.fd, p)
	}
	w.written += int64(n)
	if err == nil && !w.off && w.written-w.started >= writebackChunk {
		w.kick()
	}
	return n, err
}

func (w *writebackWriter) kick() {
	prev, start, end := w.prev, w.started, w.written
	syncRange := func(fd int) error {
		if start > prev { // (a length of 0 would mean "to the end of the file")
			// Wait for the previous chunk, the range handed over last
			// time (a chunk ends where the write that filled it ended):
			// dirty pages stay bounded.
			if err := syncFileRange(fd, prev, start-prev,
				unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER); err != nil {
				return err
			}
		}
		return syncFileRange(fd, start, end-start, unix.SYNC_FILE_RANGE_WRITE)
	}
	var err error
	if w.f != nil {
		err = control(w.f, "sync_file_range", syncRange)
	} else {
		err = syncRange(w.fd)
	}
	if err != nil {
		w.off = true
		return
	}
	w.prev, w.started = start, end
}
