package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

var (
	color = PropName{"urn:test", "color"}
	big   = PropName{"urn:test", "big"}
)

// bigValue does not fit in any extended attribute (XATTR_SIZE_MAX is
// 64 KiB; ext4 allows one block): it forces the sidecar store.
var bigValue = strings.Repeat("v", 100<<10)

func setProp(t *testing.T, s *Store, name string, n PropName, v string) {
	t.Helper()
	must(t, s.PatchProps(context.Background(), name, func(p Props) error {
		if v == "" {
			delete(p, n)
		} else {
			p[n] = v
		}
		return nil
	}))
}

func propOf(t *testing.T, s *Store, name string, n PropName) string {
	t.Helper()
	p, err := s.Props(name)
	must(t, err)
	return p[n]
}

func TestPropsXattrAndSidecar(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.WriteFile(filepath.Join(dir, "small"), []byte("s"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "large"), []byte("l"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))

	setProp(t, s, "small", color, "blue")
	if _, err := unix.Getxattr(filepath.Join(dir, "small"), propsXattr, make([]byte, 1024)); err != nil {
		t.Errorf("small props are not in the extended attribute: %v", err)
	}
	setProp(t, s, "large", big, bigValue)
	if _, err := os.Stat(filepath.Join(dir, sidecarPrefix+"large")); err != nil {
		t.Errorf("large props did not go to the sidecar: %v", err)
	}
	setProp(t, s, "d", color, "dir")
	setProp(t, s, ".", color, "root")
	for _, tc := range []struct {
		name string
		n    PropName
		want string
	}{{"small", color, "blue"}, {"large", big, bigValue}, {"d", color, "dir"}, {".", color, "root"}} {
		if got := propOf(t, s, tc.name, tc.n); got != tc.want {
			t.Errorf("%s: %.20q", tc.name, got)
		}
	}
	// Listings hide the sidecar.
	list, _ := s.List(ctx, ".")
	for _, e := range list {
		if IsReserved(e.Name) {
			t.Errorf("listing shows %s", e.Name)
		}
	}
	// A replace (PUT) keeps them; a move carries them; a copy copies them;
	// a delete removes them.
	for _, name := range []string{"small", "large"} {
		if _, err := s.Create(ctx, name, strings.NewReader("new"), CreateOptions{ExpectedSize: -1}); err != nil {
			t.Fatal(err)
		}
	}
	if propOf(t, s, "small", color) != "blue" || propOf(t, s, "large", big) != bigValue {
		t.Error("a replace lost the properties")
	}
	_, err := s.Move(ctx, "large", "d/moved", MoveOptions{})
	must(t, err)
	if propOf(t, s, "d/moved", big) != bigValue {
		t.Error("a move lost the sidecar properties")
	}
	_, err = s.Copy(ctx, "d", "d2", CopyOptions{})
	must(t, err)
	if propOf(t, s, "d2", color) != "dir" || propOf(t, s, "d2/moved", big) != bigValue {
		t.Error("a copy lost properties")
	}
	_, err = s.Copy(ctx, "small", "small2", CopyOptions{})
	must(t, err)
	if propOf(t, s, "small2", color) != "blue" {
		t.Error("a file copy lost properties")
	}
	// Shrinking back below the limit moves them into the attribute.
	setProp(t, s, "d/moved", big, "")
	if _, err := os.Stat(filepath.Join(dir, "d", sidecarPrefix+"moved")); !os.IsNotExist(err) {
		t.Error("an emptied property set left its sidecar")
	}
	setProp(t, s, "d2/moved", big, "") // copy is independent
	must(t, s.Remove(ctx, "small2"))
	must(t, os.WriteFile(filepath.Join(dir, "small2"), nil, 0o644))
	if len(mustProps(t, s, "small2")) != 0 {
		t.Error("a new file inherited a deleted file's properties")
	}
	setProp(t, s, "d2", big, bigValue)
	must(t, s.Remove(ctx, "d2"))
	if _, err := os.Stat(filepath.Join(dir, sidecarPrefix+"d2")); !os.IsNotExist(err) {
		t.Error("DELETE left a directory's sidecar")
	}
}

func mustProps(t *testing.T, s *Store, name string) Props {
	t.Helper()
	p, err := s.Props(name)
	must(t, err)
	return p
}

func TestChecksums(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("hello\n"), 0o644))
	sums, err := s.Checksums(ctx, "f")
	must(t, err)
	// sha1sum / md5sum of "hello\n"
	if sums.SHA1 != "f572d396fae9206628714fb2ce00f72e94f2258f" || sums.MD5 != "b1946ac92492d2347c6235b4d2611184" {
		t.Fatalf("sums %+v", sums)
	}
	if _, err := unix.Getxattr(filepath.Join(dir, "f"), sumsXattr, make([]byte, 256)); err != nil {
		t.Errorf("checksums not cached: %v", err)
	}
	// An append invalidates the cache.
	_, err = s.Append(ctx, "f", strings.NewReader("x"))
	must(t, err)
	sums, _ = s.Checksums(ctx, "f")
	if sums.MD5 == "b1946ac92492d2347c6235b4d2611184" {
		t.Error("stale checksum after an append")
	}
	// An upload can verify its checksum; a mismatch discards it.
	res, err := s.Create(ctx, "g", strings.NewReader("hello\n"), CreateOptions{ExpectedSize: -1, Verify: func(got Sums) error {
		if got.SHA1 != "f572d396fae9206628714fb2ce00f72e94f2258f" {
			return ErrChecksum
		}
		return nil
	}})
	if err != nil || res.Sums.MD5 != "b1946ac92492d2347c6235b4d2611184" {
		t.Fatalf("verified upload: %+v %v", res, err)
	}
	_, err = s.Create(ctx, "h", strings.NewReader("other"), CreateOptions{ExpectedSize: -1, Verify: func(Sums) error { return ErrChecksum }})
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("mismatch = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "h")); !os.IsNotExist(err) {
		t.Error("a mismatched upload was kept")
	}
}

// TestPropsLongName: a name of 242-255 bytes is valid, but its sidecar's
// name (".davnas-props." and the name) is over NAME_MAX. Where extended
// attributes work, no sidecar is needed: reading the properties of such a
// file (PROPPATCH, COPY) answered "name too long".
func TestPropsLongName(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	long := strings.Repeat("q", 250)
	must(t, os.WriteFile(filepath.Join(dir, long), []byte("x"), 0o644))
	if p, err := s.Props(long); err != nil || len(p) != 0 {
		t.Fatalf("Props of a 250-byte name: %v, %v", p, err)
	}
	setProp(t, s, long, color, "green")
	if _, err := s.Copy(ctx, long, long[:249]+"c", CopyOptions{}); err != nil {
		t.Fatalf("Copy of a 250-byte name: %v", err)
	}
	if p, err := s.Props(long[:249] + "c"); err != nil || p[color] != "green" {
		t.Errorf("the copy's properties: %v, %v", p, err)
	}
}
