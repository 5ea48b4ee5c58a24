package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfinement puts a secret outside the root and symbolic links to it
// inside: nothing reaches it, by any operation.
func TestConfinement(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	os.WriteFile(secret, []byte("top secret"), 0o644)
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.Symlink(secret, filepath.Join(dir, "abs-link")))
	must(t, os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "rel-link")))
	must(t, os.Symlink(outside, filepath.Join(dir, "dir-link")))
	must(t, os.Mkdir(filepath.Join(dir, "in"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "in", "ok"), []byte("inside"), 0o644))
	must(t, os.Symlink("in/ok", filepath.Join(dir, "good-link")))

	for _, name := range []string{"abs-link", "rel-link", "dir-link/secret", "../secret", "/../secret", "dir-link"} {
		if _, _, err := s.Open(name); err == nil {
			t.Errorf("Open(%q) succeeded", name)
		} else if !errors.Is(err, ErrOutsideRoot) && !errors.Is(err, ErrInvalidName) {
			t.Errorf("Open(%q) = %v, want ErrOutsideRoot or ErrInvalidName", name, err)
		}
		if _, err := s.Stat(name); err == nil {
			t.Errorf("Stat(%q) succeeded", name)
		}
		if _, err := s.Lines(ctx, name); err == nil {
			t.Errorf("Lines(%q) succeeded", name)
		}
		if _, err := s.Append(ctx, name, strings.NewReader("pwned")); err == nil {
			t.Errorf("Append(%q) succeeded", name)
		}
		if err := s.ReadDir(ctx, name, func(Entry) error { return nil }); err == nil {
			t.Errorf("ReadDir(%q) succeeded", name)
		}
	}
	if _, err := s.Create(ctx, "dir-link/new", strings.NewReader("pwned"), CreateOptions{ExpectedSize: -1}); err == nil {
		t.Error("Create through a symlink to outside succeeded")
	}
	if _, err := s.Create(ctx, "dir-link/sub/new", strings.NewReader("pwned"), CreateOptions{MakeParents: true, ExpectedSize: -1}); err == nil {
		t.Error("Create with parents through a symlink to outside succeeded")
	}
	if _, err := s.Move(ctx, "in/ok", "dir-link/moved", MoveOptions{MakeParents: true}); err == nil {
		t.Error("Move into a symlink to outside succeeded")
	}
	if err := s.Remove(ctx, "dir-link/secret"); err == nil {
		t.Error("Remove through a symlink to outside succeeded")
	}
	// Removing the link itself removes the link, not what it points to.
	must(t, s.Remove(ctx, "abs-link"))
	if got := readFile(t, secret); got != "top secret" {
		t.Errorf("secret changed: %q", got)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("outside dir now holds %d entries", len(entries))
	}
	// A link inside the root works, and listings never describe the outside.
	if f, _, err := s.Open("good-link"); err != nil {
		t.Errorf("Open(good-link) = %v", err)
	} else {
		f.Close()
	}
	list, err := s.List(ctx, ".")
	must(t, err)
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ","); got != "good-link,in" {
		t.Errorf("listing = %s, want good-link,in (links out of the root hidden)", got)
	}
}

// TestRootEscapeErrorText pins the os.Root error text isRootEscape relies on.
func TestRootEscapeErrorText(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.root.Open("../x")
	if err == nil || !isRootEscape(err) {
		t.Fatalf("os.Root's escape error is no longer recognised: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
