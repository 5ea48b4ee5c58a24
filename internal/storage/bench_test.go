package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/davnas/davnas/internal/testutil"
)

// loopbackBody returns a reader that delivers n bytes over a real loopback
// TCP connection, as an upload body would arrive.
func loopbackBody(b *testing.B, n int64) io.Reader {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		io.CopyN(c, zeros{}, n)
	}()
	conn, err := ln.Accept()
	ln.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return readerOnly{conn}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// BenchmarkCopyBufferSize chose copyBufSize: a 64 MiB body arrives over
// loopback TCP and is written to a file through buffers of each size, one
// write per read; "256KiB-gathered" is what copyBuffer does, reads gathered
// into writes of at least writeAtLeast bytes.
func BenchmarkCopyBufferSize(b *testing.B) {
	const n = 64 << 20
	type variant struct {
		name   string
		size   int
		gather int // least bytes a write; 0: io.CopyBuffer
	}
	var variants []variant
	for _, size := range []int{32 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20} {
		variants = append(variants, variant{fmt.Sprintf("%dKiB", size>>10), size, 0})
	}
	variants = append(variants, variant{"256KiB-gathered", copyBufSize, writeAtLeast})
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			dir := b.TempDir()
			buf := make([]byte, v.size)
			b.SetBytes(n)
			for b.Loop() {
				f, err := os.Create(filepath.Join(dir, "f"))
				if err != nil {
					b.Fatal(err)
				}
				if v.gather > 0 {
					_, err = gatherCopy(fileWriter{f}, loopbackBody(b, n), buf, v.gather)
				} else {
					_, err = io.CopyBuffer(fileWriter{f}, loopbackBody(b, n), buf)
				}
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

func benchStore(b *testing.B) (*Store, string) {
	dir := b.TempDir()
	s, err := Open(dir, Options{Fsync: false})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, dir
}

// BenchmarkCreate is the upload path: temp file, copy, rename.
func BenchmarkCreate(b *testing.B) {
	for _, size := range []int64{4 << 10, 16 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s, _ := benchStore(b)
			ctx := context.Background()
			b.SetBytes(size)
			for b.Loop() {
				if _, err := s.Create(ctx, "f", io.LimitReader(zeros{}, size), CreateOptions{ExpectedSize: -1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCreateNew creates new 4 KiB files in a sub-directory, the shape
// of the end-to-end benchmark's PUT workload (BenchmarkCreate replaces one
// file), in memory (testutil.MemDir), leaving the disk's noise out.
func BenchmarkCreateNew(b *testing.B) {
	dir := testutil.MemDir(b)
	s, err := Open(dir, Options{Fsync: false})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(4 << 10)
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Create(ctx, "d/f"+strconv.Itoa(i), io.LimitReader(zeros{}, 4<<10), CreateOptions{ExpectedSize: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend is one 4 KiB append: locks, copy, stat.
func BenchmarkAppend(b *testing.B) {
	s, dir := benchStore(b)
	os.WriteFile(filepath.Join(dir, "log"), nil, 0o644)
	ctx := context.Background()
	block := bytes.Repeat([]byte("a"), 4096)
	b.SetBytes(4096)
	for b.Loop() {
		if _, err := s.Append(ctx, "log", bytes.NewReader(block)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList lists a directory of 10,000 files.
func BenchmarkList(b *testing.B) {
	s, dir := benchStore(b)
	for i := range 10000 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d.csv", i)), nil, 0o644)
	}
	ctx := context.Background()
	for b.Loop() {
		if l, err := s.List(ctx, "."); err != nil || len(l) != 10000 {
			b.Fatal(len(l), err)
		}
	}
}

// BenchmarkLines counts the lines of a 64 MiB file (compare: wc -l).
func BenchmarkLines(b *testing.B) {
	s, dir := benchStore(b)
	line := strings.Repeat("x", 79) + "\n"
	os.WriteFile(filepath.Join(dir, "f"), bytes.Repeat([]byte(line), (64<<20)/len(line)), 0o644)
	ctx := context.Background()
	b.SetBytes(64 << 20)
	for b.Loop() {
		if _, err := s.Lines(ctx, "f"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClean resolves a typical request name.
func BenchmarkClean(b *testing.B) {
	for b.Loop() {
		if _, err := Clean("/pipelines/run-2026-11-25/step-03/output.part-00017.csv"); err != nil {
			b.Fatal(err)
		}
	}
}
