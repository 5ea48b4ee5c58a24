package storage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/davnas/davnas/internal/testutil"
)

// listMeta lists dir with meta and returns the entries by name.
func listMeta(t *testing.T, s *Store, dir string, meta ListMeta) map[string]Entry {
	t.Helper()
	out := map[string]Entry{}
	must(t, s.ReadDirMeta(context.Background(), dir, meta, func(e Entry) error {
		out[e.Name] = e
		return nil
	}))
	return out
}

// TestReadDirMeta: a listing reads each member's birth time and dead
// properties relative to its directory when asked, and leaves to the slow
// path (Store.Birth, Store.Props) exactly what it cannot settle: a sidecar,
// a symbolic link. Whatever it reports agrees with the slow path.
func TestReadDirMeta(t *testing.T) {
	s, dir := newStore(t)
	must(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	for _, n := range []string{"plain", "small", "large"} {
		must(t, os.WriteFile(filepath.Join(dir, "d", n), []byte(n), 0o644))
	}
	must(t, os.Mkdir(filepath.Join(dir, "d", "sub"), 0o755))
	must(t, os.Symlink("small", filepath.Join(dir, "d", "link")))
	setProp(t, s, "d/small", color, "blue")
	setProp(t, s, "d/sub", color, "green")
	setProp(t, s, "d/large", big, bigValue) // in the sidecar

	if got := listMeta(t, s, "d", 0); got["small"].PropsRead || got["small"].BirthRead {
		t.Errorf("a plain listing read metadata: %+v", got["small"])
	}
	got := listMeta(t, s, "d", MetaBirth|MetaProps)
	if len(got) != 5 {
		t.Fatalf("listed %d entries, want 5 (the sidecar hidden): %v", len(got), got)
	}
	for _, n := range []string{"plain", "small", "sub"} {
		e := got[n]
		if !e.PropsRead || !e.BirthRead {
			t.Errorf("%s: properties read %v, birth read %v; want both read in the listing", n, e.PropsRead, e.BirthRead)
		}
		want, ok := s.Birth("d/" + n)
		if e.HasBirth != ok || !e.Birth.Equal(want) {
			t.Errorf("%s: birth %v (%v), Store.Birth says %v (%v)", n, e.Birth, e.HasBirth, want, ok)
		}
		p, err := s.Props("d/" + n)
		must(t, err)
		if len(p) != len(e.Props) || p[color] != e.Props[color] {
			t.Errorf("%s: listed properties %v, Store.Props says %v", n, e.Props, p)
		}
	}
	// With the birth time, a member's stat comes from statx: the same as
	// the kernel's stat of it, field by field.
	for _, n := range []string{"plain", "sub"} {
		fi, err := os.Lstat(filepath.Join(dir, "d", n))
		must(t, err)
		want := *fi.Sys().(*syscall.Stat_t)
		have := *got[n].Info.Sys().(*syscall.Stat_t)
		want.Atim, have.Atim = syscall.Timespec{}, syscall.Timespec{} // the Lstat may read it later
		if have != want {
			t.Errorf("%s: the listing's stat\n%+v\nLstat's\n%+v", n, have, want)
		}
		if got[n].Info.ModTime() != fi.ModTime() || got[n].Info.Mode() != fi.Mode() || got[n].Info.Size() != fi.Size() {
			t.Errorf("%s: FileInfo %v %v %d, Lstat %v %v %d", n, got[n].Info.ModTime(), got[n].Info.Mode(), got[n].Info.Size(), fi.ModTime(), fi.Mode(), fi.Size())
		}
	}
	if got["plain"].Props != nil {
		t.Errorf("plain: properties %v, want none", got["plain"].Props)
	}
	if got["small"].Props[color] != "blue" || got["sub"].Props[color] != "green" {
		t.Errorf("extended attribute properties: small %v, sub %v", got["small"].Props, got["sub"].Props)
	}
	if e := got["large"]; e.PropsRead {
		t.Errorf("large: its properties are in the sidecar, yet the listing settled them: %v", e.Props)
	}
	if e := got["link"]; e.PropsRead || e.BirthRead {
		t.Errorf("link: a symbolic link's metadata was read in place: %+v", e)
	}
	if p := propOf(t, s, "d/large", big); p != bigValue {
		t.Errorf("large: the slow path lost the sidecar's property (%d bytes)", len(p))
	}
}

// TestReadDirMetaFallback: without getxattrat (a kernel before 6.13, or a
// seccomp filter that refuses it), a listing leaves every member's dead
// properties to the slow path, and still reads birth times.
func TestReadDirMetaFallback(t *testing.T) {
	s, dir := newStore(t)
	must(t, os.WriteFile(filepath.Join(dir, "f"), nil, 0o644))
	setProp(t, s, "f", color, "red")
	noXattrat.Store(true)
	t.Cleanup(func() { noXattrat.Store(false) })
	e := listMeta(t, s, ".", MetaBirth|MetaProps)["f"]
	if e.PropsRead || !e.BirthRead {
		t.Errorf("without getxattrat: properties read %v (want false), birth read %v (want true)", e.PropsRead, e.BirthRead)
	}
	if propOf(t, s, "f", color) != "red" {
		t.Error("the slow path lost the property")
	}
}

// TestReadDirMetaLargeXattr: an extended attribute larger than the
// listing's buffer (tmpfs takes up to 64 KiB) is left to the slow path,
// which reads it whole.
func TestReadDirMetaLargeXattr(t *testing.T) {
	dir := testutil.MemDir(t) // ext4 would put it in the sidecar
	s, err := Open(dir, Options{})
	must(t, err)
	t.Cleanup(func() { s.Close() })
	must(t, os.WriteFile(filepath.Join(dir, "f"), nil, 0o644))
	long := strings.Repeat("w", 3*metaXattrBuf)
	setProp(t, s, "f", color, long)
	if _, err := unix.Getxattr(filepath.Join(dir, "f"), propsXattr, nil); err != nil {
		// The file system put it in the sidecar: the slow path either way.
		t.Logf("the properties went to the sidecar here: %v", err)
	}
	e := listMeta(t, s, ".", MetaProps)["f"]
	if e.PropsRead {
		t.Errorf("a %d-byte property was settled with a %d-byte buffer", len(long), metaXattrBuf)
	}
	if propOf(t, s, "f", color) != long {
		t.Error("the slow path did not read the large property whole")
	}
}

// TestReadDirMetaSidecars: the sidecars a listing finds in its first pass
// over the names decide which members go to the slow path, and the listing
// after that pass still sees every member. Past maxSidecars the listing
// stats each member's sidecar instead, with the same answers.
func TestReadDirMetaSidecars(t *testing.T) {
	s, dir := newStore(t)
	must(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	const files = 1500 // several getdents64 calls and listing batches
	for i := range files {
		must(t, os.WriteFile(filepath.Join(dir, "d", fmt.Sprintf("f%04d", i)), nil, 0o644))
	}
	withSidecar := []string{"f0003", "f0777", "f1499"}
	for _, n := range withSidecar {
		setProp(t, s, "d/"+n, big, bigValue)
	}
	setProp(t, s, "d/f0010", color, "blue")
	if _, err := os.Stat(filepath.Join(dir, "d", sidecarPrefix+"f0777")); err != nil {
		t.Fatalf("the large property is not in a sidecar here: %v", err)
	}
	check := func(label string) {
		t.Helper()
		got := listMeta(t, s, "d", MetaProps)
		if len(got) != files {
			t.Fatalf("%s: listed %d members, want %d", label, len(got), files)
		}
		for name, e := range got {
			side := slices.Contains(withSidecar, name)
			if e.PropsRead == side {
				t.Errorf("%s: %s: properties read in the listing %v, its sidecar exists %v", label, name, e.PropsRead, side)
			}
			if !side && name != "f0010" && e.Props != nil {
				t.Errorf("%s: %s: properties %v, want none", label, name, e.Props)
			}
		}
		if got["f0010"].Props[color] != "blue" {
			t.Errorf("%s: f0010's extended attribute was not read: %v", label, got["f0010"].Props)
		}
	}
	check("sidecars found in one pass")
	old := maxSidecars
	maxSidecars = 2
	t.Cleanup(func() { maxSidecars = old })
	check("more sidecars than maxSidecars")
}

// TestFindSidecars: the pass collects the members with a sidecar, drops the
// set past maxSidecars, and leaves the directory at its start.
func TestFindSidecars(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", sidecarPrefix + "a", sidecarPrefix + "gone", tempPrefix + "x"} {
		must(t, os.WriteFile(filepath.Join(dir, n), nil, 0o644))
	}
	d, err := os.Open(dir)
	must(t, err)
	defer d.Close()
	buf := make([]byte, direntBufSize)
	fd := int(d.Fd())
	set, err := findSidecars(fd, buf)
	must(t, err)
	if !set.known || len(set.names) != 2 {
		t.Fatalf("found %+v, want a and gone", set)
	}
	for _, n := range []string{"a", "gone"} {
		if _, ok := set.names[n]; !ok {
			t.Errorf("the sidecar of %s was not found: %v", n, set.names)
		}
	}
	names, _, err := readNames(fd, buf, 100)
	must(t, err)
	if len(names) != 5 {
		t.Errorf("after the pass the directory reads %d names, want all 5: %v", len(names), names)
	}
	old := maxSidecars
	maxSidecars = 1
	t.Cleanup(func() { maxSidecars = old })
	_, err = d.Seek(0, io.SeekStart)
	must(t, err)
	set, err = findSidecars(fd, buf)
	must(t, err)
	if set.known || set.names != nil {
		t.Errorf("past maxSidecars: %+v, want an unknown set", set)
	}
	names, _, err = readNames(fd, buf, 100)
	must(t, err)
	if len(names) != 5 {
		t.Errorf("after an abandoned pass the directory reads %d names, want all 5", len(names))
	}
}
