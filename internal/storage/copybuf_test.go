package storage

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// writeCounter counts the writes a copy makes.
type writeCounter struct {
	bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// gatherCopy writes what many small reads brought in few writes, all of
// it, in order, and writes what came before a read error before returning
// the error.
func TestGatherCopy(t *testing.T) {
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	buf := make([]byte, 256<<10)
	for _, tc := range []struct {
		name   string
		src    io.Reader
		writes int
	}{
		// A 4 KiB body arriving as two socket reads: one write.
		{"4KiB-in-two-reads", io.MultiReader(bytes.NewReader(data[:3968]), bytes.NewReader(data[3968:4096])), 1},
		{"one-byte-reads", iotest.OneByteReader(bytes.NewReader(data[:200<<10])), 4},
		{"eof-with-data", iotest.DataErrReader(bytes.NewReader(data[:5000])), 1},
		{"big-reads", bytes.NewReader(data), 2}, // fills the 256 KiB buffer, then the rest
		{"empty", bytes.NewReader(nil), 0},
	} {
		var w writeCounter
		n, err := gatherCopy(&w, tc.src, buf, 64<<10)
		want := map[string]int{"4KiB-in-two-reads": 4096, "one-byte-reads": 200 << 10, "eof-with-data": 5000, "big-reads": len(data), "empty": 0}[tc.name]
		if err != nil || n != int64(want) || !bytes.Equal(w.Bytes(), data[:want]) {
			t.Errorf("%s: copied %d (want %d), %v, content equal: %v", tc.name, n, want, err, bytes.Equal(w.Bytes(), data[:want]))
		}
		if w.writes != tc.writes {
			t.Errorf("%s: %d writes, want %d", tc.name, w.writes, tc.writes)
		}
	}

	// A cut body: what arrived is written, then the error is returned.
	var w writeCounter
	n, err := gatherCopy(&w, iotest.TimeoutReader(bytes.NewReader(data[:1000])), buf, 64<<10)
	if !errors.Is(err, iotest.ErrTimeout) || n != 1000 || !bytes.Equal(w.Bytes(), data[:1000]) {
		t.Errorf("cut body: copied %d, %v", n, err)
	}
	// A writer that takes less than it was given stops the copy.
	n, err = gatherCopy(shortWriter{}, bytes.NewReader(data[:10]), buf, 64<<10)
	if !errors.Is(err, io.ErrShortWrite) || n != 5 {
		t.Errorf("short write: %d, %v", n, err)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }
