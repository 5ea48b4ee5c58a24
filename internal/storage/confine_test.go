package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/davnas/davnas/internal/testutil"
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

// TestUploadDirResolution writes into directories reached in every way a
// path can reach one, once through openat2(RESOLVE_BENEATH) and once
// through os.Root's own walk: both must land the same files in the same
// places and refuse the same names with the same errors.
func TestUploadDirResolution(t *testing.T) {
	type outcome struct {
		err   string // the sentinel's text, or ""
		where string // root-relative path of the stored file
	}
	run := func(t *testing.T) map[string]outcome {
		outside := t.TempDir()
		s, dir := newStore(t)
		ctx := context.Background()
		must(t, os.MkdirAll(filepath.Join(dir, "in", "deep"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
		linkZoo(t, dir, outside)
		got := map[string]outcome{}
		for _, name := range []string{"in/new", "in/deep/new", "rel-in/new", "in/deep/up-in/new2",
			"abs-in/new", "abs-out/new", "rel-out/new", "round-trip/new", "loop1/new",
			"magic/new", "file/new", "missing/new", "in/missing/new"} {
			var o outcome
			res, err := s.Create(ctx, name, strings.NewReader(name), CreateOptions{ExpectedSize: -1})
			if err != nil {
				o.err = classify(err).Error()
			} else {
				o.where = res.Info.Name()
				// Where the bytes really are: find the file by content.
				filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
					if err == nil && d.Type().IsRegular() && readFile(t, p) == name {
						o.where, _ = filepath.Rel(dir, p)
					}
					return nil
				})
			}
			got[name] = o
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("a file landed outside the root: %v", entries)
		}
		return got
	}
	setNoOpenat2(false)
	viaOpenat2 := run(t)
	if noOpenat2.Load() {
		testutil.Missing(t, "openat2(2) was refused (a kernel before 5.6, or a seccomp filter): only os.Root's walk was tested")
	}
	setNoOpenat2(true)
	defer setNoOpenat2(false)
	viaRoot := run(t)
	for name, want := range viaRoot {
		if got := viaOpenat2[name]; got != want {
			t.Errorf("%s: openat2 %+v, os.Root %+v", name, got, want)
		}
	}
	// What os.Root does is the contract; spell out the cases that matter.
	for name, want := range map[string]outcome{
		"in/deep/new":        {where: "in/deep/new"},
		"rel-in/new":         {where: "in/deep/new"},
		"abs-out/new":        {err: ErrOutsideRoot.Error()},
		"rel-out/new":        {err: ErrOutsideRoot.Error()},
		"file/new":           {err: ErrNotDir.Error()},
		"missing/new":        {err: ErrNotFound.Error()},
		"in/deep/up-in/new2": {where: "in/new2"},
	} {
		if got := viaOpenat2[name]; got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	t.Logf("outcomes: %+v", viaOpenat2)
}

// TestOpenResolution: Store.Open of a name in a sub-directory takes one
// openat2 below the root, and answers exactly what os.Root's walk answers:
// the same file for links that stay inside, the same errors for links
// that leave, loops, magic links, FIFOs, missing and non-directory parents.
func TestOpenResolution(t *testing.T) {
	type outcome struct {
		err     string // the sentinel's text, or ""
		content string // what was read
		dir     bool
	}
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("top secret"), 0o644))
	s, dir := newStore(t)
	must(t, os.MkdirAll(filepath.Join(dir, "in", "deep"), 0o755))
	for _, f := range []string{"file", "in/x", "in/deep/f"} {
		must(t, os.WriteFile(filepath.Join(dir, f), []byte("content of "+f), 0o644))
	}
	must(t, syscall.Mkfifo(filepath.Join(dir, "in", "fifo"), 0o644))
	linkZoo(t, dir, outside)
	must(t, os.Symlink("../../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "in", "out-link")))
	must(t, os.Symlink("deep/f", filepath.Join(dir, "in", "in-link")))
	names := []string{"in/x", "in/deep/f", "in/deep", "rel-in/f", "in/deep/up-in/x", "abs-in/x",
		"abs-out/secret", "rel-out/secret", "round-trip/x", "loop1/x", "magic/x", "file/x",
		"missing/x", "in/missing", "in/fifo", "in/out-link", "in/in-link", "in/deep/up-in/deep/up-in/file"}
	run := func() map[string]outcome {
		got := map[string]outcome{}
		for _, name := range names {
			var o outcome
			f, fi, err := s.Open(name)
			if err != nil {
				o.err = classify(err).Error()
			} else {
				o.dir = fi.IsDir()
				if !o.dir {
					b, _ := io.ReadAll(f)
					o.content = string(b)
				}
				f.Close()
			}
			got[name] = o
		}
		return got
	}
	setNoOpenat2(false)
	viaOpenat2 := run()
	if noOpenat2.Load() {
		testutil.Missing(t, "openat2(2) was refused (a kernel before 5.6, or a seccomp filter): only os.Root's walk was tested")
	}
	setNoOpenat2(true)
	defer setNoOpenat2(false)
	viaRoot := run()
	for _, name := range names {
		if got, want := viaOpenat2[name], viaRoot[name]; got != want {
			t.Errorf("%s: openat2 %+v, os.Root %+v", name, got, want)
		}
	}
	for name, want := range map[string]outcome{
		"rel-in/f":       {content: "content of in/deep/f"},
		"in/in-link":     {content: "content of in/deep/f"},
		"in/deep":        {dir: true},
		"abs-out/secret": {err: ErrOutsideRoot.Error()},
		"rel-out/secret": {err: ErrOutsideRoot.Error()},
		"in/out-link":    {err: ErrOutsideRoot.Error()},
		"in/fifo":        {err: ErrNotRegular.Error()},
		"missing/x":      {err: ErrNotFound.Error()},
	} {
		if got := viaOpenat2[name]; got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
}

// linkZoo puts in dir (which holds in/deep) the symbolic links the
// resolution tests walk through: inside and out, relative and absolute, a
// round trip over the root's own name, a loop and a magic link.
func linkZoo(t *testing.T, dir, outside string) {
	t.Helper()
	for link, target := range map[string]string{
		"rel-in":        "in/deep",
		"in/deep/up-in": "..",
		"abs-in":        filepath.Join(dir, "in"),
		"abs-out":       outside,
		"rel-out":       "../" + filepath.Base(outside),
		"round-trip":    "in/../../" + filepath.Base(dir) + "/in",
		"loop1":         "loop2",
		"loop2":         "loop1",
		"magic":         "/proc/self/cwd",
	} {
		must(t, os.Symlink(target, filepath.Join(dir, link)))
	}
}

// TestSubStoreUploadDirConfined: a user's root (Store.Sub) confines an
// upload's directory to itself, not to the volume: a link from one user's
// root into another's, or to the volume's top, is refused, by openat2 and
// by os.Root alike.
func TestSubStoreUploadDirConfined(t *testing.T) {
	t.Cleanup(func() { setNoOpenat2(false) })
	for _, viaRoot := range []bool{false, true} {
		setNoOpenat2(viaRoot)
		s, dir := newStore(t)
		ctx := context.Background()
		alice, err := s.Sub("users/alice")
		must(t, err)
		_, err = s.Sub("users/bob")
		must(t, err)
		must(t, os.Mkdir(filepath.Join(dir, "users", "bob", "inbox"), 0o755))
		must(t, os.Mkdir(filepath.Join(dir, "users", "alice", "own"), 0o755))
		must(t, os.Symlink("../bob/inbox", filepath.Join(dir, "users", "alice", "to-bob")))
		must(t, os.Symlink("../..", filepath.Join(dir, "users", "alice", "to-top")))
		must(t, os.Symlink("own", filepath.Join(dir, "users", "alice", "to-own")))
		for _, name := range []string{"to-bob/x", "to-top/x", "to-top/users/bob/inbox/x"} {
			if _, err := alice.Create(ctx, name, strings.NewReader("pwned"), CreateOptions{ExpectedSize: -1}); !errors.Is(err, ErrOutsideRoot) {
				t.Errorf("os.Root %v: Create(%q) = %v, want ErrOutsideRoot", viaRoot, name, err)
			}
		}
		if _, err := alice.Create(ctx, "to-own/x", strings.NewReader("mine"), CreateOptions{ExpectedSize: -1}); err != nil {
			t.Errorf("os.Root %v: Create through a link inside the user's root: %v", viaRoot, err)
		}
		if entries, _ := os.ReadDir(filepath.Join(dir, "users", "bob", "inbox")); len(entries) != 0 {
			t.Errorf("os.Root %v: a file landed in another user's root", viaRoot)
		}
		if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
			t.Errorf("os.Root %v: a file landed at the volume's top", viaRoot)
		}
	}
}

// TestClosedDirHandle: a directory handle used after close fails; it never
// names descriptor 0 (the zero value's fd).
func TestClosedDirHandle(t *testing.T) {
	s, _ := newStore(t)
	must(t, s.Mkdir("d", 0o755))
	d, err := s.openDirHandle("d")
	must(t, err)
	d.close()
	if err := d.at(func(int) error { return nil }); err == nil {
		t.Error("at on a closed handle ran")
	}
	if err := d.sync(); err == nil {
		t.Error("sync on a closed handle succeeded")
	}
	if _, err := d.lstat("x"); err == nil {
		t.Error("lstat on a closed handle succeeded")
	}
}
