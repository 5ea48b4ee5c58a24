package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowBlock yields a block of one repeated byte in small pieces with
// pauses, so that concurrent appends would interleave if nothing stopped
// them.
type slowBlock struct {
	b    byte
	left int
}

func (s *slowBlock) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), s.left, 1000)
	for i := range p[:n] {
		p[i] = s.b
	}
	s.left -= n
	time.Sleep(50 * time.Microsecond)
	return n, nil
}

// checkBlocks verifies that data is a sequence of whole blocks of one byte
// each, every letter appearing exactly once.
func checkBlocks(t *testing.T, data []byte, size int, letters string) {
	t.Helper()
	if len(data) != size*len(letters) {
		t.Fatalf("file has %d bytes, want %d", len(data), size*len(letters))
	}
	seen := map[byte]bool{}
	for off := 0; off < len(data); off += size {
		block := data[off : off+size]
		c := block[0]
		if bytes.Count(block, []byte{c}) != size {
			t.Fatalf("appends interleaved in the block at offset %d", off)
		}
		if seen[c] {
			t.Fatalf("block %q appended twice", c)
		}
		seen[c] = true
	}
}

func TestAppendSerialized(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.WriteFile(filepath.Join(dir, "log"), nil, 0o644))
	const size = 64 << 10
	letters := "abcdefghijklmnop"
	var wg sync.WaitGroup
	for _, c := range []byte(letters) {
		wg.Go(func() {
			if _, err := s.Append(ctx, "log", &slowBlock{b: c, left: size}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	checkBlocks(t, []byte(readFile(t, filepath.Join(dir, "log"))), size, letters)
}

// TestAppendSerializedAcrossStores uses two Stores on one directory, as two
// davnas processes on one volume would be: only flock orders them.
func TestAppendSerializedAcrossStores(t *testing.T) {
	s1, dir := newStore(t)
	s2, err := Open(dir, Options{})
	must(t, err)
	defer s2.Close()
	ctx := context.Background()
	must(t, os.WriteFile(filepath.Join(dir, "log"), nil, 0o644))
	const size = 32 << 10
	letters := "ABCDEFGHIJ"
	var wg sync.WaitGroup
	for i, c := range []byte(letters) {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			if _, err := s.Append(ctx, "log", &slowBlock{b: c, left: size}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	checkBlocks(t, []byte(readFile(t, filepath.Join(dir, "log"))), size, letters)
}

func TestAppendRollback(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("line1\n"), 0o644))
	_, err := s.Append(ctx, "f", &failAfter{n: 1 << 20})
	if err == nil {
		t.Fatal("append with a failing body succeeded")
	}
	if got := readFile(t, filepath.Join(dir, "f")); got != "line1\n" {
		t.Errorf("after a failed append the file is %d bytes, want the 6 it had", len(got))
	}
	res, err := s.Append(ctx, "f", strings.NewReader("line2\n"))
	if err != nil || res.Size != 6 || res.Info.Size() != 12 {
		t.Fatalf("append = %+v, %v", res, err)
	}
	if _, err := s.Append(ctx, "missing", strings.NewReader("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("append to a missing file = %v, want ErrNotFound", err)
	}
	must(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	if _, err := s.Append(ctx, "d", strings.NewReader("x")); !errors.Is(err, ErrIsDir) {
		t.Errorf("append to a directory = %v, want ErrIsDir", err)
	}
}

// gate blocks the first Read until released, holding the append lock.
type gate struct {
	release chan struct{}
	started chan struct{}
	data    io.Reader
	once    sync.Once
}

func (g *gate) Read(p []byte) (int, error) {
	g.once.Do(func() { close(g.started); <-g.release })
	return g.data.Read(p)
}

// TestAppendFollowsReplace: an append that waited for the lock while the
// file was replaced goes to the new file, not to the orphaned old inode.
func TestAppendFollowsReplace(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("old\n"), 0o644))
	g := &gate{release: make(chan struct{}), started: make(chan struct{}), data: strings.NewReader("first\n")}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := s.Append(ctx, "f", g); err != nil {
			t.Error(err)
		}
	})
	<-g.started // the first append holds the lock
	second := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, "f", strings.NewReader("second\n"))
		second <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the second append queue on the lock
	if _, err := s.Create(ctx, "f", strings.NewReader("new\n"), CreateOptions{ExpectedSize: -1}); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	wg.Wait()
	must(t, <-second)
	if got := readFile(t, filepath.Join(dir, "f")); got != "new\nsecond\n" {
		t.Errorf("file = %q, want the replacement plus the waiting append", got)
	}
}

func TestAppendWaitHonoursContext(t *testing.T) {
	s, dir := newStore(t)
	must(t, os.WriteFile(filepath.Join(dir, "f"), nil, 0o644))
	g := &gate{release: make(chan struct{}), started: make(chan struct{}), data: strings.NewReader("x")}
	done := make(chan struct{})
	go func() {
		s.Append(context.Background(), "f", g)
		close(done)
	}()
	<-g.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, "f", strings.NewReader("y")); !errors.Is(err, context.Canceled) {
		t.Errorf("append with a cancelled context = %v", err)
	}
	close(g.release)
	<-done
	if n := len(s.sh.appends.locks); n != 0 {
		t.Errorf("%d lock table entries left", n)
	}
}

func ExampleStore_Append() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	s, _ := Open(dir, Options{})
	defer s.Close()
	ctx := context.Background()
	s.Create(ctx, "data.csv", strings.NewReader("a,b\n"), CreateOptions{ExpectedSize: -1})
	s.Append(ctx, "data.csv", strings.NewReader("1,2\n"))
	n, _ := s.Lines(ctx, "data.csv")
	fmt.Println(n)
	// Output: 2
}

// TestAppendFlockWaitHonoursContext: a request waiting for another
// process's flock gives up when its client does.
func TestAppendFlockWaitHonoursContext(t *testing.T) {
	s1, dir := newStore(t)
	s2, err := Open(dir, Options{})
	must(t, err)
	defer s2.Close()
	must(t, os.WriteFile(filepath.Join(dir, "f"), nil, 0o644))
	g := &gate{release: make(chan struct{}), started: make(chan struct{}), data: strings.NewReader("x")}
	done := make(chan struct{})
	go func() {
		s2.Append(context.Background(), "f", g) // "another process" holds the flock
		close(done)
	}()
	<-g.started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s1.Append(ctx, "f", strings.NewReader("y"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("append waiting on a flock = %v after %v", err, time.Since(start))
	}
	close(g.release)
	<-done
}
