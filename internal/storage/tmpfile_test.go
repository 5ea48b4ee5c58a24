package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// Every upload path is run twice: with unnamed files (O_TMPFILE, the
// default where the volume has them) and with named temporary files (the
// fallback for file systems without). Both must keep the same promises.
func TestCreateBothPaths(t *testing.T) {
	for _, mode := range []string{"unnamed", "unnamed-via-proc", "named"} {
		unnamed := mode != "named"
		t.Run(mode, func(t *testing.T) {
			setNoEmptyPathLink(mode == "unnamed-via-proc")
			defer setNoEmptyPathLink(false)
			dir := t.TempDir()
			s, err := Open(dir, Options{Fsync: true, NoUnnamedFiles: !unnamed})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if unnamed && runtime.GOOS == "linux" && !s.sh.tmpfile {
				t.Fatalf("the test directory %s has no O_TMPFILE: the unnamed path would go untested", dir)
			}
			if s.sh.tmpfile != unnamed {
				t.Fatalf("tmpfile = %v, want %v", s.sh.tmpfile, unnamed)
			}
			checkCreatePromises(t, s, dir, unnamed)
		})
	}
}

func checkCreatePromises(t *testing.T, s *Store, dir string, unnamed bool) {
	ctx := context.Background()
	must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	for _, name := range []string{"new.txt", "sub/new.txt"} {
		// A new file.
		res, err := s.Create(ctx, name, strings.NewReader("one"), CreateOptions{ExpectedSize: -1})
		if err != nil || !res.Created || res.Size != 3 || res.Info.Name() != filepath.Base(name) {
			t.Fatalf("%s: create = %+v, %v", name, res, err)
		}
		if got := readFile(t, filepath.Join(dir, name)); got != "one" {
			t.Fatalf("%s: content %q", name, got)
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		must(t, err)
		if ETag(fi) != ETag(res.Info) {
			t.Fatalf("%s: ETag of the result %s, of the file %s", name, ETag(res.Info), ETag(fi))
		}

		// A replace keeps the mode and reports Created false.
		must(t, os.Chmod(filepath.Join(dir, name), 0o640))
		res, err = s.Create(ctx, name, strings.NewReader("two!"), CreateOptions{ExpectedSize: -1})
		if err != nil || res.Created || res.Size != 4 {
			t.Fatalf("%s: replace = %+v, %v", name, res, err)
		}
		fi, err = os.Stat(filepath.Join(dir, name))
		must(t, err)
		if fi.Mode().Perm() != 0o640 || readFile(t, filepath.Join(dir, name)) != "two!" {
			t.Fatalf("%s: after replace mode %v content %q", name, fi.Mode(), readFile(t, filepath.Join(dir, name)))
		}

		// An interrupted upload leaves the old content and nothing else.
		if _, err := s.Create(ctx, name, &failAfter{n: 1 << 20}, CreateOptions{ExpectedSize: -1}); !errors.Is(err, errClientGone) {
			t.Fatalf("%s: cut upload: %v", name, err)
		}
		if got := readFile(t, filepath.Join(dir, name)); got != "two!" {
			t.Fatalf("%s: cut upload clobbered the file: %q", name, got)
		}

		// A modification time asked for is kept.
		mt := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
		if _, err := s.Create(ctx, name+".mt", strings.NewReader("t"), CreateOptions{ExpectedSize: -1, ModTime: mt}); err != nil {
			t.Fatal(err)
		}
		fi, err = os.Stat(filepath.Join(dir, name+".mt"))
		must(t, err)
		if !fi.ModTime().Equal(mt) {
			t.Fatalf("%s: mtime %v, want %v", name, fi.ModTime(), mt)
		}

		// A failed precondition commits nothing.
		errNo := errors.New("precondition")
		_, err = s.Create(ctx, name+".pc", strings.NewReader("x"), CreateOptions{ExpectedSize: -1,
			Check: func(fs.FileInfo) error { return errNo }})
		if !errors.Is(err, errNo) {
			t.Fatalf("%s: check: %v", name, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, name+".pc")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: a refused upload left a file: %v", name, err)
		}
	}

	// A dangling symbolic link is replaced (not followed) and reported as
	// a replace.
	must(t, os.Symlink("nowhere", filepath.Join(dir, "dangling")))
	res, err := s.Create(ctx, "dangling", strings.NewReader("real"), CreateOptions{ExpectedSize: -1})
	if err != nil || res.Created {
		t.Fatalf("dangling link: %+v, %v", res, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "dangling")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("dangling link not replaced by a file: %v, %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the upload followed the dangling link")
	}

	// While an upload streams, an unnamed file has no directory entry at
	// all; a named one has its flocked temporary name.
	a, err := s.NewAtomicFile("streaming", CreateOptions{ExpectedSize: -1})
	must(t, err)
	if _, err := a.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if tmp := tempFiles(t, dir); unnamed != (len(tmp) == 0) {
		t.Fatalf("unnamed=%v: temporary entries during an upload: %v", unnamed, tmp)
	}
	a.Abort()

	// Concurrent creates of one new name: each commit is whole, the last
	// one wins, and no temporary file is left.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat(string(rune('a'+i)), 4096)
			if _, err := s.Create(ctx, "race", strings.NewReader(body), CreateOptions{ExpectedSize: -1}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := readFile(t, filepath.Join(dir, "race"))
	if len(got) != 4096 || strings.Count(got, got[:1]) != 4096 {
		t.Fatalf("concurrent creates interleaved: %d bytes, %q...", len(got), got[:16])
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

// Without a precondition an unnamed upload does not stat the target at
// commit: linkat tells a new name from a taken one. Both outcomes must
// still report Created right, and a name taken during the upload is
// replaced, not written through.
func TestCommitWithoutPrecondition(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	a, err := s.NewAtomicFile("late", CreateOptions{ExpectedSize: -1})
	must(t, err)
	a.Write([]byte("new"))
	// Another process creates the name while the upload streams.
	must(t, os.WriteFile(filepath.Join(dir, "late"), []byte("theirs"), 0o644))
	res, err := a.Commit()
	if err != nil || res.Created {
		t.Fatalf("commit over a name taken meanwhile: %+v, %v", res, err)
	}
	if got := readFile(t, filepath.Join(dir, "late")); got != "new" {
		t.Fatalf("content %q", got)
	}
	// And a name that disappears during the upload is created.
	must(t, os.WriteFile(filepath.Join(dir, "gone"), []byte("old"), 0o644))
	a, err = s.NewAtomicFile("gone", CreateOptions{ExpectedSize: -1})
	must(t, err)
	a.Write([]byte("back"))
	must(t, os.Remove(filepath.Join(dir, "gone")))
	res, err = a.Commit()
	if err != nil || !res.Created {
		t.Fatalf("commit of a name removed meanwhile: %+v, %v", res, err)
	}
	if _, err := s.Create(ctx, "x", strings.NewReader("1"), CreateOptions{ExpectedSize: -1}); err != nil {
		t.Fatal(err)
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

// A name that appears between the commit's check and its link (a MOVE,
// another process) is judged by the precondition as if it had been there:
// If-None-Match: * refuses it instead of replacing it.
func TestPreconditionRecheckedWhenLinkFinds(t *testing.T) {
	s, dir := newStore(t)
	if !s.sh.tmpfile {
		t.Fatal("no unnamed files on the test directory: the race cannot be staged")
	}
	errExists := errors.New("412")
	ifNoneMatch := func(cur fs.FileInfo) error {
		if cur != nil {
			return errExists
		}
		return nil
	}
	testHookBeforeLink = func() {
		must(t, os.WriteFile(filepath.Join(dir, "race"), []byte("theirs"), 0o644))
	}
	defer func() { testHookBeforeLink = nil }()
	_, err := s.Create(context.Background(), "race", strings.NewReader("mine"), CreateOptions{ExpectedSize: -1, Check: ifNoneMatch})
	if !errors.Is(err, errExists) {
		t.Fatalf("Create = %v, want the precondition's error", err)
	}
	if got := readFile(t, filepath.Join(dir, "race")); got != "theirs" {
		t.Fatalf("the refused upload replaced the file: %q", got)
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
	// Without a precondition the late name is replaced, as any PUT does.
	_, err = s.Create(context.Background(), "race2", strings.NewReader("mine"), CreateOptions{ExpectedSize: -1})
	must(t, err)
}

// A file system that makes unnamed files but will not link them (a mount
// inside the root) must not lose the upload at commit: the bytes are copied
// to a named temporary file, with the mode, properties, times and
// checksums an upload keeps.
func TestLinkRefusedFallsBackToCopy(t *testing.T) {
	s, dir := newStore(t)
	if !s.sh.tmpfile {
		t.Fatal("no unnamed files on the test directory")
	}
	testHookLink = func() error { return &os.LinkError{Op: "link", Err: syscall.EOPNOTSUPP} }
	defer func() { testHookLink = nil }()
	ctx := context.Background()
	mt := time.Date(2022, 5, 6, 7, 8, 9, 0, time.UTC)
	verified := false
	for _, name := range []string{"new", "sub/new"} {
		must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
		res, err := s.Create(ctx, name, strings.NewReader("fresh"), CreateOptions{ExpectedSize: -1, ModTime: mt,
			Verify: func(Sums) error { verified = true; return nil }})
		if err != nil || !res.Created || !verified {
			t.Fatalf("%s: create with links refused: %+v, %v", name, res, err)
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		must(t, err)
		if readFile(t, filepath.Join(dir, name)) != "fresh" || !fi.ModTime().Equal(mt) || ETag(fi) != ETag(res.Info) {
			t.Fatalf("%s: content %q, mtime %v, ETag %s (result %s)", name, readFile(t, filepath.Join(dir, name)), fi.ModTime(), ETag(fi), ETag(res.Info))
		}
		// A replace keeps the mode and the dead properties.
		must(t, os.Chmod(filepath.Join(dir, name), 0o640))
		color := PropName{Space: "urn:x", Local: "color"}
		must(t, s.PatchProps(ctx, name, func(p Props) error { p[color] = "blue"; return nil }))
		res, err = s.Create(ctx, name, strings.NewReader("again"), CreateOptions{ExpectedSize: -1})
		if err != nil || res.Created {
			t.Fatalf("%s: replace with links refused: %+v, %v", name, res, err)
		}
		fi, err = os.Stat(filepath.Join(dir, name))
		must(t, err)
		props, err := s.Props(name)
		must(t, err)
		if readFile(t, filepath.Join(dir, name)) != "again" || fi.Mode().Perm() != 0o640 || props[color] != "blue" {
			t.Fatalf("%s: after replace %q %v %v", name, readFile(t, filepath.Join(dir, name)), fi.Mode(), props)
		}
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

// TestDroppedUploadClosesItsFile: an unnamed upload is held as a bare
// descriptor, not an *os.File; one dropped without Abort (a handler that
// panicked) must still have its descriptor closed, or the unnamed file's
// blocks stay allocated for as long as the process runs.
func TestDroppedUploadClosesItsFile(t *testing.T) {
	s, _ := newStore(t)
	if !s.sh.tmpfile {
		testutil.Missing(t, "unnamed files (O_TMPFILE) on the test directory's file system")
	}
	fd := func() int {
		a, err := s.NewAtomicFile("dropped.bin", CreateOptions{ExpectedSize: -1})
		must(t, err)
		if _, err := a.Write([]byte("lost")); err != nil {
			t.Fatal(err)
		}
		if a.fd < 0 {
			t.Fatal("the unnamed upload was made an *os.File before it needed one")
		}
		a.closeDir()
		return a.fd
	}()
	target := func() string { l, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); return l }
	held := target()
	if !strings.Contains(held, "(deleted)") && !strings.HasPrefix(held, "/") {
		t.Fatalf("descriptor %d is %q, not the upload's unnamed file", fd, held)
	}
	for range 100 {
		runtime.GC()
		runtime.Gosched()
		if target() != held {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Errorf("descriptor %d (%s) still open after the upload was dropped and 100 collections ran", fd, held)
}
