package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// failAfter yields n bytes of data and then fails, like a client that
// disconnects mid-upload.
type failAfter struct {
	n   int
	err error
}

var errClientGone = errors.New("client went away")

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		if f.err != nil {
			return 0, f.err
		}
		return 0, errClientGone
	}
	n := min(len(p), f.n)
	for i := range p[:n] {
		p[i] = 'x'
	}
	f.n -= n
	return n, nil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tempFiles lists every reserved file under dir, at any depth.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && IsReserved(d.Name()) && d.Name() != journalDir {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestOpenRootErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := Open(file, Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Open(file) = %v, want 'not a directory'", err)
	}
	if _, err := Open(filepath.Join(file, "sub"), Options{}); err == nil {
		t.Error("Open(file/sub) succeeded")
	}
	created := filepath.Join(dir, "new", "root")
	s, err := Open(created, Options{})
	if err != nil {
		t.Fatalf("Open creates a missing root: %v", err)
	}
	s.Close()
	if fi, err := os.Stat(created); err != nil || !fi.IsDir() {
		t.Errorf("root not created: %v", err)
	}
}

func TestCreateAtomic(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	res, err := s.Create(ctx, "a/b/c.txt", strings.NewReader("hello"), CreateOptions{MakeParents: true, ExpectedSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Size != 5 || res.Info.Name() != "c.txt" {
		t.Errorf("Create result = %+v", res)
	}
	if got := readFile(t, filepath.Join(dir, "a/b/c.txt")); got != "hello" {
		t.Errorf("content = %q", got)
	}
	os.Chmod(filepath.Join(dir, "a/b/c.txt"), 0o600)

	// An upload that fails half way leaves the old content and no temp file.
	_, err = s.Create(ctx, "a/b/c.txt", &failAfter{n: 3 << 20}, CreateOptions{ExpectedSize: -1})
	if !errors.Is(err, errClientGone) && !strings.Contains(fmtErr(err), "client went away") {
		t.Errorf("interrupted Create error = %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "a/b/c.txt")); got != "hello" {
		t.Errorf("after interrupted upload content = %q, want the old one", got)
	}
	if tf := tempFiles(t, dir); len(tf) != 0 {
		t.Errorf("temp files left: %v", tf)
	}

	// A short body (ErrUnexpectedEOF from net/http) is ErrIncomplete.
	_, err = s.Create(ctx, "a/b/c.txt", &failAfter{n: 10, err: io.ErrUnexpectedEOF}, CreateOptions{ExpectedSize: -1})
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("short body error = %v, want ErrIncomplete", err)
	}

	// A replace keeps the file's mode and reports Created=false.
	res, err = s.Create(ctx, "a/b/c.txt", strings.NewReader("new"), CreateOptions{ExpectedSize: -1})
	if err != nil || res.Created {
		t.Fatalf("replace = %+v, %v", res, err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "a/b/c.txt"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after replace = %v, want 0600", fi.Mode().Perm())
	}

	// The announced size must match.
	for _, tc := range []struct {
		body string
		want error
	}{{"abc", ErrIncomplete}, {"abcdefgh", ErrTooLarge}} {
		_, err = s.Create(ctx, "sized", strings.NewReader(tc.body), CreateOptions{ExpectedSize: 5})
		if !errors.Is(err, tc.want) {
			t.Errorf("ExpectedSize 5, body %q: %v, want %v", tc.body, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sized")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a body of the wrong size was committed")
	}

	// Parents are created only when asked.
	if _, err := s.Create(ctx, "no/such/dir/f", strings.NewReader(""), CreateOptions{ExpectedSize: -1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Create without parents = %v, want ErrNotFound", err)
	}
	// A directory cannot be replaced by a file, nor can a file be a parent.
	if _, err := s.Create(ctx, "a/b", strings.NewReader(""), CreateOptions{ExpectedSize: -1}); !errors.Is(err, ErrIsDir) {
		t.Errorf("Create over a directory = %v, want ErrIsDir", err)
	}
	if _, err := s.Create(ctx, "a/b/c.txt/d", strings.NewReader(""), CreateOptions{MakeParents: true, ExpectedSize: -1}); !errors.Is(err, ErrNotDir) {
		t.Errorf("Create under a file = %v, want ErrNotDir", err)
	}
	if tf := tempFiles(t, dir); len(tf) != 0 {
		t.Errorf("temp files left: %v", tf)
	}
}

func TestCreateModTime(t *testing.T) {
	s, dir := newStore(t)
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := s.Create(context.Background(), "f", strings.NewReader("x"), CreateOptions{ExpectedSize: -1, ModTime: mt})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "f"))
	if !fi.ModTime().Equal(mt) || !res.Info.ModTime().Equal(mt) {
		t.Errorf("modtime = %v (result %v), want %v", fi.ModTime(), res.Info.ModTime(), mt)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestErrorsCarryNoServerPath(t *testing.T) {
	s, dir := newStore(t)
	_, err := s.Stat("missing/file")
	if !os.IsNotExist(err) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat(missing) = %v; os.IsNotExist must hold for x/net/webdav", err)
	}
	if strings.Contains(err.Error(), dir) {
		t.Errorf("error %q contains the root's path", err)
	}
	if err := s.Mkdir("x", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Mkdir("x", 0o755); !os.IsExist(err) {
		t.Errorf("Mkdir(existing) = %v; os.IsExist must hold", err)
	}
}

// TestNoSpace fills a 1 MiB tmpfs: the upload fails with ErrNoSpace, the
// old file is intact, no temp file is left, and reads still work.
func TestNoSpace(t *testing.T) {
	dir := testutil.Tmpfs(t, "1m")
	s, err := Open(dir, Options{Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Create(ctx, "keep", strings.NewReader("old content"), CreateOptions{ExpectedSize: -1}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Create(ctx, "keep", bytes.NewReader(make([]byte, 4<<20)), CreateOptions{ExpectedSize: -1})
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Create on a full disk = %v, want ErrNoSpace", err)
	}
	_, err = s.Append(ctx, "keep", bytes.NewReader(make([]byte, 4<<20)))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Append on a full disk = %v, want ErrNoSpace", err)
	}
	if got := readFile(t, filepath.Join(dir, "keep")); got != "old content" {
		t.Errorf("content after ENOSPC = %q", got)
	}
	if tf := tempFiles(t, dir); len(tf) != 0 {
		t.Errorf("temp files left: %v", tf)
	}
	if _, err := s.Create(ctx, "small", strings.NewReader("fits"), CreateOptions{ExpectedSize: -1}); err != nil {
		t.Errorf("a small upload after ENOSPC: %v", err)
	}
}

// TestContentType: media types come from davnas's table, whatever the case
// of the extension, without an allocation; anything else is
// application/octet-stream.
func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"data.csv":                 "text/csv; charset=utf-8",
		"DATA.CSV":                 "text/csv; charset=utf-8",
		"notes.txt":                "text/plain; charset=utf-8",
		"job.py":                   "text/plain; charset=utf-8",
		"part-0001.parquet":        "application/vnd.apache.parquet",
		"logs.tar.gz":              "application/gzip",
		"Photo.JPG":                "image/jpeg",
		"index.html":               "text/html; charset=utf-8",
		"values.yaml":              "application/yaml",
		"clip.webm":                "video/webm",
		"blob.xyz":                 "application/octet-stream",
		"noext":                    "application/octet-stream",
		".hidden":                  "application/octet-stream",
		"name.":                    "application/octet-stream",
		"x.averyverylongextension": "application/octet-stream",
		"dir/a.b/c":                "application/octet-stream",
	} {
		if got := ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ContentType("Report.CSV") }); n != 0 {
		t.Errorf("ContentType allocates %v times", n)
	}
}

// TestControlCharactersInNewNames: a name with a control character (a
// newline above all) would break every line-oriented reader of a listing
// (GET /file/DIR, logs, `while read`): no file or directory is created
// under one, by any path. One put there by something else stays readable
// and removable.
func TestControlCharactersInNewNames(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644))
	for _, name := range []string{"a\nb", "tab\there", "cr\r", "esc\x1b[31m", "del\x7f", "d\nir/f"} {
		if _, err := s.Create(ctx, name, strings.NewReader("x"), CreateOptions{ExpectedSize: -1, MakeParents: true}); !errors.Is(err, ErrControlChar) {
			t.Errorf("Create(%q) = %v, want ErrControlChar", name, err)
		}
		if err := s.Mkdir(name, 0o755); !errors.Is(err, ErrControlChar) {
			t.Errorf("Mkdir(%q) = %v, want ErrControlChar", name, err)
		}
		if _, err := s.Move(ctx, "f", name, MoveOptions{}); !errors.Is(err, ErrControlChar) {
			t.Errorf("Move(f, %q) = %v, want ErrControlChar", name, err)
		}
		if _, err := s.Copy(ctx, "f", name, CopyOptions{}); !errors.Is(err, ErrControlChar) {
			t.Errorf("Copy(f, %q) = %v, want ErrControlChar", name, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("root holds %d entries, want only f", len(ents))
	}
	// Put there by another program: read and removed through the store.
	must(t, os.WriteFile(filepath.Join(dir, "old\nname"), []byte("kept"), 0o644))
	if _, err := s.Stat("old\nname"); err != nil {
		t.Errorf("Stat of an existing name with a newline: %v", err)
	}
	if err := s.Remove(ctx, "old\nname"); err != nil {
		t.Errorf("Remove of an existing name with a newline: %v", err)
	}
}

// TestCopyThroughSymlinkIntoItself: the name checks (a copy into itself or
// of the root is refused) compared names, but a symbolic link inside the
// root can name the root or an ancestor of the destination: COPY of such a
// link copied the whole volume into itself (an outside review filled 117
// MB with one request). The copy compares identities too.
func TestCopyThroughSymlinkIntoItself(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.MkdirAll(filepath.Join(dir, "sb/inner"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "sb/inner/f"), []byte("x"), 0o644))
	must(t, os.Symlink("../..", filepath.Join(dir, "sb/inner/up"))) // the root
	must(t, os.Symlink(".", filepath.Join(dir, "sb/self")))         // sb
	must(t, os.Symlink("sb", filepath.Join(dir, "l")))              // sb, from the root
	for _, c := range []struct {
		from, to string
		want     error
	}{
		{"sb/inner/up", "sb/copy", ErrIsRoot},
		{"sb/self", "sb/copy", ErrIntoItself},
		{"sb", "l/copy", ErrIntoItself},
		{"sb", "l/inner/copy", ErrIntoItself},
	} {
		if _, err := s.Copy(ctx, c.from, c.to, CopyOptions{}); !errors.Is(err, c.want) {
			t.Errorf("Copy(%s, %s) = %v, want %v", c.from, c.to, err, c.want)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "sb/copy")); err == nil {
		t.Error("a refused copy left sb/copy")
	}
	// A link to a sibling directory copies as before.
	must(t, os.Symlink("inner", filepath.Join(dir, "sb/toinner")))
	if _, err := s.Copy(ctx, "sb/toinner", "sb/copy", CopyOptions{}); err != nil {
		t.Errorf("Copy of a link to a sibling: %v", err)
	}
}
