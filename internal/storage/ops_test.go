package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestLines(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	big := strings.Repeat("0123456789\n", 100000) // crosses buffer boundaries
	for _, tc := range []struct {
		content string
		want    int64
	}{
		{"", 0}, {"a", 1}, {"\n", 1}, {"a\nb\nc\n", 3}, {"a\nb\nc", 3}, {"a\n\n", 2},
		{"a\r\nb\r\n", 2}, {big, 100000}, {big + "tail", 100001},
	} {
		must(t, os.WriteFile(filepath.Join(dir, "f"), []byte(tc.content), 0o644))
		got, err := s.Lines(ctx, "f")
		if err != nil || got != tc.want {
			t.Errorf("Lines(%.20q) = %d, %v; want %d", tc.content, got, err, tc.want)
		}
	}
	if _, err := s.Lines(ctx, "."); !errors.Is(err, ErrIsDir) {
		t.Errorf("Lines(dir) = %v", err)
	}
}

func TestListHidesTempAndSorts(t *testing.T) {
	s, dir := newStore(t)
	for _, n := range []string{"b", "a", "C", ".davnas-tmp-123", ".hidden"} {
		must(t, os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644))
	}
	must(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	list, err := s.List(context.Background(), ".")
	must(t, err)
	var got []string
	for _, e := range list {
		got = append(got, e.Name)
		if e.Name == "d" && (!e.IsDir || e.Size != 0) {
			t.Errorf("d = %+v", e)
		}
	}
	if strings.Join(got, ",") != ".hidden,C,a,b,d" {
		t.Errorf("List = %v", got)
	}
	if _, err := s.List(context.Background(), "a"); !errors.Is(err, ErrNotDir) {
		t.Errorf("List(file) = %v, want ErrNotDir", err)
	}
}

func TestMove(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.MkdirAll(filepath.Join(dir, "d/sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "d/sub/f"), []byte("f"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "g"), []byte("g"), 0o644))

	if _, err := s.Move(ctx, "d", "d/sub/inside", MoveOptions{MakeParents: true}); !errors.Is(err, ErrIntoItself) {
		t.Errorf("move into itself = %v", err)
	}
	if _, err := s.Move(ctx, "missing", "x", MoveOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("move missing = %v", err)
	}
	if _, err := s.Move(ctx, "g", "d/sub/f", MoveOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("move onto a file without overwrite = %v", err)
	}
	replaced, err := s.Move(ctx, "g", "d/sub/f", MoveOptions{Overwrite: true})
	if err != nil || !replaced || readFile(t, filepath.Join(dir, "d/sub/f")) != "g" {
		t.Errorf("move with overwrite = %v, %v", replaced, err)
	}
	if _, err := s.Move(ctx, "d/sub/f", "d", MoveOptions{Overwrite: true, Replace: true}); !errors.Is(err, ErrIntoItself) {
		t.Errorf("move onto its own ancestor = %v, want ErrIntoItself", err)
	}
	must(t, os.Mkdir(filepath.Join(dir, "other"), 0o755))
	if _, err := s.Move(ctx, "d/sub/f", "other", MoveOptions{Overwrite: true}); !errors.Is(err, ErrIsDir) {
		t.Errorf("move onto a directory without Replace = %v, want ErrIsDir", err)
	}
	if _, err := s.Move(ctx, "d", "new/place/d2", MoveOptions{MakeParents: true}); err != nil {
		t.Fatalf("move a directory into new parents: %v", err)
	}
	if readFile(t, filepath.Join(dir, "new/place/d2/sub/f")) != "g" {
		t.Error("directory content not moved")
	}
	if _, err := s.Move(ctx, ".", "x", MoveOptions{}); !errors.Is(err, ErrIsRoot) {
		t.Errorf("move root = %v", err)
	}
}

func TestRemove(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.MkdirAll(filepath.Join(dir, "d/e"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "d/e/f"), nil, 0o644))
	must(t, s.Remove(ctx, "d"))
	if _, err := os.Stat(filepath.Join(dir, "d")); !os.IsNotExist(err) {
		t.Error("directory not removed")
	}
	if err := s.Remove(ctx, "d"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove missing = %v", err)
	}
	for _, n := range []string{"", "/", "."} {
		if err := s.Remove(ctx, n); !errors.Is(err, ErrIsRoot) {
			t.Errorf("Remove(%q) = %v, want ErrIsRoot", n, err)
		}
	}
}

func TestSweepTemp(t *testing.T) {
	// Named temporary files: the fallback where O_TMPFILE is missing, and
	// what a replace's commit and COPY use.
	dir := t.TempDir()
	s, err := Open(dir, Options{Fsync: true, NoUnnamedFiles: true})
	must(t, err)
	defer s.Close()
	must(t, os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
	old := time.Now().Add(-time.Hour)
	stale := []string{".davnas-tmp-1", "a/b/.davnas-tmp-2"}
	for _, n := range stale {
		p := filepath.Join(dir, n)
		must(t, os.WriteFile(p, []byte("partial"), 0o644))
		must(t, os.Chtimes(p, old, old))
	}
	// A fresh temp file and one whose upload is still running are kept.
	must(t, os.WriteFile(filepath.Join(dir, ".davnas-tmp-young"), nil, 0o644))
	live, err := s.NewAtomicFile("a/live", CreateOptions{ExpectedSize: -1})
	must(t, err)
	if live.tmp == "" {
		t.Fatal("the upload has no temporary name")
	}
	must(t, os.Chtimes(filepath.Join(dir, "a", live.tmp), old, old))
	// A symbolic link to a directory is not followed, and a directory
	// under the root is swept however deep.
	outside := t.TempDir()
	staleOutside := filepath.Join(outside, ".davnas-tmp-out")
	must(t, os.WriteFile(staleOutside, nil, 0o644))
	must(t, os.Chtimes(staleOutside, old, old))
	must(t, os.Symlink(outside, filepath.Join(dir, "a/link")))
	must(t, os.WriteFile(filepath.Join(dir, "a/keep"), nil, 0o644))

	n, young, err := s.SweepTemp(context.Background())
	if err != nil || n != 2 || young != 1 {
		t.Fatalf("SweepTemp = %d removed, %d young, %v; want 2 and 1", n, young, err)
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s not removed", n)
		}
	}
	for _, n := range []string{".davnas-tmp-young", "a/" + live.tmp, "a/keep"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
	if _, err := os.Stat(staleOutside); err != nil {
		t.Errorf("the sweep followed a symbolic link out of the root: %v", err)
	}
	if _, err := live.Commit(); err != nil {
		t.Errorf("the live upload could not commit after the sweep: %v", err)
	}
}

// A FIFO under a temporary name (nothing davnas makes, but anything with
// the volume mounted can) neither stops the start-up sweep, whose open(2)
// of it waited for a writer forever, nor survives it once stale.
func TestSweepFIFO(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	must(t, err)
	defer s.Close()
	fifo := filepath.Join(dir, tempPrefix+"fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	old := time.Now().Add(-time.Hour)
	must(t, os.Chtimes(fifo, old, old))
	must(t, notStuckOnFIFO(t, fifo, "the sweep", func() error {
		_, _, err := s.SweepTemp(context.Background())
		return err
	}))
	if _, err := os.Lstat(fifo); !os.IsNotExist(err) {
		t.Fatalf("the stale FIFO was kept: %v", err)
	}
}

// The sweep allocates for what it acts on, not per entry: at every start it
// walks the whole volume, and garbage per file raised the process's peak
// memory with the number of files.
func TestSweepAllocations(t *testing.T) {
	s, dir := newStore(t)
	must(t, os.MkdirAll(filepath.Join(dir, "d"), 0o755))
	for i := range 3000 {
		must(t, os.WriteFile(filepath.Join(dir, "d", fmt.Sprintf("file-%05d.csv", i)), nil, 0o644))
	}
	allocs := testing.AllocsPerRun(3, func() {
		if n, _, err := s.SweepTemp(context.Background()); err != nil || n != 0 {
			t.Fatalf("sweep: %d, %v", n, err)
		}
	})
	if allocs > 100 {
		t.Errorf("a sweep of 3,000 files allocated %.0f times; want it independent of the file count", allocs)
	}
	var st syscall.Stat_t
	d, err := os.Open(dir)
	must(t, err)
	defer d.Close()
	must(t, control(d, "", func(fd int) error {
		if !isDirAt(fd, "d") || isDirAt(fd, "d/file-00000.csv") || isDirAt(fd, "missing") {
			t.Error("isDirAt is wrong")
		}
		return fstatat(fd, "d", &st)
	}))
}

func TestETagChangesOnEveryWrite(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	seen := map[string]bool{}
	for i := range 5 {
		// Same size, written within the same second: davfs2's If-Match case.
		res, err := s.Create(ctx, "f", strings.NewReader("same"), CreateOptions{ExpectedSize: -1})
		must(t, err)
		tag := ETag(res.Info)
		fi, _ := s.Stat("f")
		if ETag(fi) != tag {
			t.Fatalf("ETag from Create %s != ETag from Stat %s", tag, ETag(fi))
		}
		if seen[tag] {
			t.Fatalf("write %d reused ETag %s", i, tag)
		}
		seen[tag] = true
	}
}

func TestReady(t *testing.T) {
	s, dir := newStore(t)
	must(t, s.Ready())
	if !s.Readable() {
		t.Error("Readable = false")
	}
	if tf := tempFiles(t, dir); len(tf) != 0 {
		t.Errorf("probe left %v", tf)
	}
}

func TestCopy(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.MkdirAll(filepath.Join(dir, "src/sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "src/a"), []byte("A"), 0o640))
	must(t, os.WriteFile(filepath.Join(dir, "src/sub/b"), []byte("B"), 0o644))
	must(t, os.Symlink("..", filepath.Join(dir, "src/sub/up"))) // a loop if followed
	must(t, os.WriteFile(filepath.Join(dir, "src/.davnas-tmp-x"), []byte("tmp"), 0o644))

	if replaced, err := s.Copy(ctx, "src", "dst", CopyOptions{}); err != nil || replaced {
		t.Fatalf("Copy = %v, %v", replaced, err)
	}
	if readFile(t, filepath.Join(dir, "dst/sub/b")) != "B" || readFile(t, filepath.Join(dir, "dst/a")) != "A" {
		t.Error("content not copied")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "dst/a")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if target, err := os.Readlink(filepath.Join(dir, "dst/sub/up")); err != nil || target != ".." {
		t.Errorf("link copied as %q, %v", target, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dst/.davnas-tmp-x")); err == nil {
		t.Error("a temp file was copied")
	}
	for _, tc := range []struct {
		from, to string
		want     error
	}{
		{"src", "src/sub/inside", ErrIntoItself},
		{"src/sub", "src", ErrIntoItself},
		{"src", "src", ErrIntoItself},
		{"src", "dst", ErrExists},
		{"missing", "x", ErrNotFound},
		{"src/a", "nope/a", ErrNotFound},
		{"src/a", "src/a/b", ErrIntoItself},
		{"src/sub/b", "src/a/x", ErrNotDir},
	} {
		if _, err := s.Copy(ctx, tc.from, tc.to, CopyOptions{}); !errors.Is(err, tc.want) {
			t.Errorf("Copy(%s, %s) = %v, want %v", tc.from, tc.to, err, tc.want)
		}
	}
	// Overwrite a directory with a file and a file with a directory.
	if replaced, err := s.Copy(ctx, "src/a", "dst", CopyOptions{Overwrite: true}); err != nil || !replaced {
		t.Fatalf("file over dir = %v, %v", replaced, err)
	}
	if readFile(t, filepath.Join(dir, "dst")) != "A" {
		t.Error("dst is not the file")
	}
	if _, err := s.Copy(ctx, "src", "dst", CopyOptions{Overwrite: true, Shallow: true}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "dst")); len(entries) != 0 {
		t.Errorf("shallow copy has %d members", len(entries))
	}
	if tf := tempFiles(t, dir); len(tf) != 1 { // only the planted src/.davnas-tmp-x
		t.Errorf("temp entries left: %v", tf)
	}
}

func TestCommitCheck(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	errStale := errors.New("stale")
	first, err := s.NewAtomicFile("f", CreateOptions{ExpectedSize: -1, Check: func(cur fs.FileInfo) error {
		if cur != nil {
			return errStale
		}
		return nil
	}})
	must(t, err)
	second, err := s.NewAtomicFile("f", CreateOptions{ExpectedSize: -1, Check: func(cur fs.FileInfo) error {
		if cur != nil {
			return errStale
		}
		return nil
	}})
	must(t, err)
	first.Write([]byte("1"))
	second.Write([]byte("2"))
	if _, err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Commit(); !errors.Is(err, errStale) {
		t.Errorf("second create-only commit = %v", err)
	}
	if n, _ := s.Lines(ctx, "f"); n != 1 {
		t.Error("file missing")
	}
}

func TestMkdirAllThroughAFile(t *testing.T) {
	s, dir := newStore(t)
	must(t, os.WriteFile(filepath.Join(dir, "f"), nil, 0o644))
	if _, err := s.Create(context.Background(), "f/g/h", strings.NewReader(""), CreateOptions{MakeParents: true, ExpectedSize: -1}); !errors.Is(err, ErrNotDir) {
		t.Errorf("Create under a file = %v", err)
	}
	if _, err := s.Create(context.Background(), "x/y/z", strings.NewReader("z"), CreateOptions{MakeParents: true, ExpectedSize: -1}); err != nil {
		t.Errorf("Create with new parents = %v", err)
	}
}

// notStuckOnFIFO runs fn and returns its error. If fn has not returned
// after 10 s (a hang detector, not a speed limit), it is stuck opening the
// FIFO: the FIFO is opened for reading and writing, which frees it, and
// the test fails.
func notStuckOnFIFO(t *testing.T, fifo, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			f.Close()
		}
		t.Fatalf("%s is stuck opening the FIFO %s", what, filepath.Base(fifo))
		return nil
	}
}

// A file under a kernel lease (Samba's oplocks, an NFS server's
// delegations) makes a conflicting open wait until the lease is given up;
// an O_NONBLOCK open fails at once with EWOULDBLOCK instead. Reads and
// appends must wait for the lease, as a blocking open did.
func TestOpenWaitsForLease(t *testing.T) {
	s, dir := newStore(t)
	p := filepath.Join(dir, "f")
	must(t, os.WriteFile(p, []byte("x"), 0o644))
	holder, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, err)
	defer holder.Close()
	if _, err := unix.FcntlInt(holder.Fd(), unix.F_SETLEASE, unix.F_WRLCK); err != nil {
		testutil.Missing(t, "no write lease on %s: %v", dir, err)
	}
	// The holder gives the lease up shortly after the break begins.
	release := func(f *os.File) chan struct{} {
		fd, done := f.Fd(), make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(100 * time.Millisecond)
			unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK)
		}()
		return done
	}
	released := release(holder)
	f, _, err := s.Open("f")
	<-released
	if err != nil {
		t.Fatalf("open of a leased file: %v", err)
	}
	f.Close()

	reader, err := os.Open(p)
	must(t, err)
	defer reader.Close()
	holder.Close()
	if _, err := unix.FcntlInt(reader.Fd(), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		testutil.Missing(t, "no read lease on %s: %v", dir, err)
	}
	released = release(reader)
	_, err = s.Append(context.Background(), "f", strings.NewReader("y"))
	<-released
	if err != nil {
		t.Fatalf("append to a file under a read lease: %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "xy" {
		t.Fatalf("content %q, want %q", got, "xy")
	}
}
