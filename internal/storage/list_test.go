package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The FileInfo a listing builds from its own fstatat is the one os.Lstat
// builds: same name, size, mode bits, time and Stat_t.
func TestStatInfoMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "file"), []byte("12345"), 0o640))
	must(t, os.Mkdir(filepath.Join(dir, "dir"), 0o750))
	must(t, os.Symlink("file", filepath.Join(dir, "link")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "special"), nil, 0o644))
	must(t, os.Chmod(filepath.Join(dir, "special"), 0o644|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	must(t, os.Chtimes(filepath.Join(dir, "file"), time.Time{}, time.Date(2020, 1, 2, 3, 4, 5, 6789, time.UTC)))
	d, err := os.Open(dir)
	must(t, err)
	defer d.Close()
	for _, name := range []string{"file", "dir", "link", "fifo", "special"} {
		want, err := os.Lstat(filepath.Join(dir, name))
		must(t, err)
		got := &statInfo{name: name}
		must(t, control(d, "fstatat", func(fd int) error { return fstatat(fd, name, &got.st) }))
		if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() ||
			!got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() ||
			*got.Sys().(*syscall.Stat_t) != *want.Sys().(*syscall.Stat_t) {
			t.Errorf("%s: statInfo %v %d %v %v, os.Lstat %v %d %v %v", name,
				got.Name(), got.Size(), got.Mode(), got.ModTime(), want.Name(), want.Size(), want.Mode(), want.ModTime())
		}
	}
}

// ReadDir reads ahead in a goroutine: a caller that stops early, or a
// cancelled context, must not leave it behind, and every entry of a large
// directory arrives once.
func TestReadDirReadAhead(t *testing.T) {
	s, dir := newStore(t)
	const n = 3*readDirBatch + 17
	for i := range n {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), []byte{byte(i)}, 0o644))
	}
	seen := map[string]bool{}
	watched := false
	must(t, s.ReadDir(context.Background(), ".", func(e Entry) error {
		if !watched {
			// The goroutine count below proves nothing unless it sees
			// the read-ahead while one runs.
			watched = true
			if n, _ := readDirGoroutines(); n == 0 {
				t.Error("readDirGoroutines sees no read-ahead goroutine during a listing")
			}
		}
		if seen[e.Name] || e.Size != 1 || e.IsDir {
			t.Errorf("entry %+v (seen before: %v)", e, seen[e.Name])
		}
		seen[e.Name] = true
		return nil
	}))
	if len(seen) != n {
		t.Fatalf("listed %d of %d entries", len(seen), n)
	}

	errStop := errors.New("enough")
	for range 20 {
		k := 0
		err := s.ReadDir(context.Background(), ".", func(Entry) error {
			if k++; k == 3 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("early stop: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := 0
	err := s.ReadDir(ctx, ".", func(Entry) error {
		if k++; k == readDirBatch/2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled listing: %v", err)
	}
	if k >= n {
		t.Fatalf("a cancelled listing went on to the end (%d entries)", k)
	}
	// ReadDir waits for its goroutine before returning. Only ReadDir's own
	// goroutines are counted: runtime.NumGoroutine also counts whatever
	// the runtime runs meanwhile (a cleanup goroutine closing a file an
	// earlier test dropped made it flaky).
	if n, stacks := readDirGoroutines(); n > 0 {
		t.Fatalf("%d read-ahead goroutines left after ReadDir returned:\n%s", n, stacks)
	}
}

// readDirGoroutines counts the goroutines running ReadDir's read-ahead
// (ReadDirMeta's, which ReadDir calls) and its stat workers.
func readDirGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var hits []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "storage.(*Store).ReadDirMeta.func") || strings.Contains(g, "storage.(*Store).statBatch.func") {
			n++
			hits = append(hits, g)
		}
	}
	return n, strings.Join(hits, "\n\n")
}

// A caller that cancels the request and then fails (a PROPFIND whose
// client went away) must get ReadDir back: the read-ahead goroutine, about
// to report the cancellation into a full channel, must not keep it.
func TestReadDirCancelThenFail(t *testing.T) {
	s, dir := newStore(t)
	for i := range 3 * readDirBatch {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), nil, 0o644))
	}
	errGone := errors.New("client went away")
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- s.ReadDir(ctx, ".", func(Entry) error {
				cancel()
				time.Sleep(50 * time.Millisecond) // the reader fills the channel meanwhile
				return errGone
			})
		}()
		select {
		case err := <-done:
			if !errors.Is(err, errGone) {
				t.Fatalf("ReadDir = %v, want the caller's error", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ReadDir did not return after its caller failed (the read-ahead goroutine is stuck)")
		}
		cancel()
	}
}

// readNames returns every name once across its batches, each followed in
// memory by the NUL that lets fstatatNUL pass it without a copy, and the
// names stay intact while the getdents buffer is reused for later batches.
func TestReadNamesBatches(t *testing.T) {
	dir := t.TempDir()
	want := map[string]bool{}
	for l := 1; l <= 255; l++ { // every length up to NAME_MAX
		name := []byte(fmt.Sprintf("%03d", l))
		for len(name) < l {
			name = append(name, "aé-\x01 "[len(name)%6])
		}
		want[string(name[:l])] = true
	}
	for name := range want {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644))
	}
	d, err := os.Open(dir)
	must(t, err)
	defer d.Close()
	buf := make([]byte, direntBufSize)
	var all []string
	for batches := 0; ; batches++ {
		if batches > len(want) {
			t.Fatal("readNames never reported the end of the directory")
		}
		var names []string
		var eof bool
		must(t, control(d, "getdents64", func(fd int) error {
			var err error
			names, eof, err = readNames(fd, buf, 20)
			return err
		}))
		if !eof && len(names) < 20 {
			t.Fatalf("a batch of %d names before the end, want at least 20", len(names))
		}
		all = append(all, names...)
		if eof {
			if batches < 3 {
				t.Fatalf("%d batches for %d names of up to 255 bytes in an %d-byte buffer", batches+1, len(want), len(buf))
			}
			break
		}
	}
	if len(all) != len(want) {
		t.Fatalf("%d names, want %d", len(all), len(want))
	}
	for _, name := range all {
		if !want[name] {
			t.Fatalf("name %q was not created (or was overwritten by a later batch)", name)
		}
		delete(want, name)
		if nul := unsafe.Add(unsafe.Pointer(unsafe.StringData(name)), len(name)); *(*byte)(nul) != 0 {
			t.Fatalf("name %q is not followed by a NUL", name)
		}
		var got statInfo
		must(t, control(d, "fstatat", func(fd int) error { return fstatatNUL(fd, name, &got.st) }))
		if got.Size() != int64(len(name)) {
			t.Fatalf("fstatatNUL(%q): size %d, want %d", name, got.Size(), len(name))
		}
	}

	empty, err := os.Open(t.TempDir())
	must(t, err)
	defer empty.Close()
	must(t, control(empty, "getdents64", func(fd int) error {
		names, eof, err := readNames(fd, buf, 20)
		if len(names) != 0 || !eof || err != nil {
			t.Fatalf("empty directory: %q, eof %v, %v", names, eof, err)
		}
		return nil
	}))
}

// A batch is stat'ed by several goroutines (statBatch), yet the listing
// keeps the directory's own order, lists each visible entry once with its
// own size, and drops what it must (reserved names, FIFOs, dangling links)
// wherever they fall in a batch.
func TestReadDirKeepsDirectoryOrder(t *testing.T) {
	s, dir := newStore(t)
	const n = 2*readDirBatch + 300
	for i := range n {
		name := fmt.Sprintf("f%04d", i)
		switch i % 97 {
		case 5:
			name = ReservedPrefix + name
		case 11:
			must(t, syscall.Mkfifo(filepath.Join(dir, name), 0o644))
			continue
		case 13:
			must(t, os.Symlink("missing", filepath.Join(dir, name)))
			continue
		}
		must(t, os.WriteFile(filepath.Join(dir, name), make([]byte, i), 0o644))
	}
	d, err := os.Open(dir)
	must(t, err)
	all, err := d.Readdirnames(-1)
	d.Close()
	must(t, err)
	var want []string
	for _, name := range all {
		var i int
		if _, err := fmt.Sscanf(name, "f%04d", &i); err == nil && i%97 != 11 && i%97 != 13 {
			want = append(want, name)
		}
	}
	var got []string
	must(t, s.ReadDir(context.Background(), ".", func(e Entry) error {
		var i int
		if _, err := fmt.Sscanf(e.Name, "f%04d", &i); err != nil || e.Size != int64(i) {
			t.Errorf("entry %q has size %d", e.Name, e.Size)
		}
		got = append(got, e.Name)
		return nil
	}))
	if len(want) < n*9/10 {
		t.Fatalf("only %d of %d names to expect", len(want), n)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("listed %d entries, want %d in the directory's order\ngot  %.300v\nwant %.300v", len(got), len(want), got, want)
	}
}
