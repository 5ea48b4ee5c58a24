package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func write(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustLine(t *testing.T, name, pw string, ro bool, root string) string {
	t.Helper()
	l, err := PasswdLine(name, pw, ro, root)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func basic(name, pw string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(name, pw)
	r.RemoteAddr = "10.0.0.1:1234"
	return r
}

func TestUsersAndTokens(t *testing.T) {
	dir := t.TempDir()
	users, tokens := filepath.Join(dir, "users"), filepath.Join(dir, "tokens")
	write(t, users, "# pipeline users",
		mustLine(t, "alice", "a-secret", false, ""),
		mustLine(t, "bob", "b-secret", true, ""),
		mustLine(t, "carol", "c-secret", false, "teams/carol"))
	tok, line, err := NewToken("ci", true, "pipelines")
	if err != nil {
		t.Fatal(err)
	}
	write(t, tokens, line, "raw:this-is-a-raw-token-of-enough-length")
	a, err := New(Config{AuthFile: users, TokenFile: tokens}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r    *http.Request
		want Principal
		err  error
	}{
		{basic("alice", "a-secret"), Principal{Name: "alice"}, nil},
		{basic("bob", "b-secret"), Principal{Name: "bob", ReadOnly: true}, nil},
		{basic("carol", "c-secret"), Principal{Name: "carol", Root: "teams/carol"}, nil},
		{basic("alice", "wrong"), Principal{}, ErrBadCredentials},
		{basic("nobody", "a-secret"), Principal{}, ErrBadCredentials},
		{bearer(tok), Principal{Name: "ci", ReadOnly: true, Root: "pipelines"}, nil},
		{bearer("this-is-a-raw-token-of-enough-length"), Principal{Name: "raw"}, nil},
		{bearer(tok + "x"), Principal{}, ErrBadCredentials},
		{bearer(""), Principal{}, ErrBadCredentials},
	} {
		got, err := a.Authenticate(tc.r)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v, %v", tc.r.Header.Get("Authorization"), got, err, tc.want, tc.err)
		}
	}
	r, _ := http.NewRequest("GET", "/", nil)
	if _, err := a.Authenticate(r); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no header: %v", err)
	}
	if c := a.Challenges(); len(c) != 2 || !strings.HasPrefix(c[0], `Basic realm="davnas"`) {
		t.Errorf("challenges %v", c)
	}
}

func bearer(tok string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.RemoteAddr = "10.0.0.2:1234"
	return r
}

// TestCacheMakesMountsFast: the second verification of the same
// credentials does not run bcrypt, and a changed hash invalidates it.
func TestCache(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	write(t, users, mustLine(t, "alice", "pw", false, ""))
	a, _ := New(Config{AuthFile: users}, slog.New(slog.DiscardHandler))
	if _, err := a.Authenticate(basic("alice", "pw")); err != nil {
		t.Fatal(err)
	}
	u := a.users.Load().entries["alice"]
	if !a.cache.get(cacheKey("alice", "pw"), u.hash) {
		t.Fatal("a success was not cached")
	}
	if a.cache.get(cacheKey("alice", "other"), u.hash) {
		t.Error("the cache accepts another password")
	}
	if a.cache.get(cacheKey("alice", "pw"), []byte("$2a$10$changed")) {
		t.Error("the cache outlives a password change")
	}
	for k := range a.cache.m {
		if strings.Contains(string(k[:]), "pw") {
			t.Error("the cache holds the password")
		}
	}
}

func TestRateLimit(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	write(t, users, mustLine(t, "alice", "pw", false, ""))
	a, _ := New(Config{AuthFile: users}, slog.New(slog.DiscardHandler))
	for range failLimit {
		a.Authenticate(basic("alice", "nope"))
	}
	if _, err := a.Authenticate(basic("alice", "pw")); !errors.Is(err, ErrRateLimited) {
		t.Errorf("after %d failures the right password gave %v, want ErrRateLimited", failLimit, err)
	}
	other := basic("alice", "pw")
	other.RemoteAddr = "10.9.9.9:1"
	if _, err := a.Authenticate(other); err != nil {
		t.Errorf("another address is limited too: %v", err)
	}
}

func TestReload(t *testing.T) {
	old := reloadEvery
	reloadEvery = 20 * time.Millisecond
	defer func() { reloadEvery = old }()
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	write(t, users, mustLine(t, "alice", "pw", false, ""))
	a, _ := New(Config{AuthFile: users}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	// A Kubernetes Secret update: a new file renamed into place.
	tmp := filepath.Join(dir, "users.new")
	write(t, tmp, mustLine(t, "bob", "pw2", false, ""))
	os.Rename(tmp, users)
	waitFor(t, func() bool { _, err := a.Authenticate(basic("bob", "pw2")); return err == nil })
	if _, err := a.Authenticate(basic("alice", "pw")); err == nil {
		t.Error("a removed user still authenticates")
	}
	// A broken file keeps the last good version.
	write(t, users, "bob:not-a-bcrypt-hash")
	time.Sleep(100 * time.Millisecond)
	if _, err := a.Authenticate(basic("bob", "pw2")); err != nil {
		t.Errorf("a broken file replaced the good one: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ file, content, want string }{
		{"users", "alice:$apr1$abc$def", "only bcrypt"},
		{"users", "alice", "want user:bcrypt-hash"},
		{"users", "alice:$2y$10$abcdefghijklmnopqrstuuvwxyz0123456789ABCDEFGHIJKLMNOPQ:admin", "role"},
		{"users", "alice:$2y$10$abcdefghijklmnopqrstuuvwxyz0123456789ABCDEFGHIJKLMNOPQ:rw:../up", "root"},
		{"users", "a:$2y$10$x\na:$2y$10$y", "twice"},
		{"tokens", "ci:short", "at least"},
		{"tokens", "ci:sha256:zz", "64 hex"},
	} {
		p := filepath.Join(dir, tc.file)
		os.WriteFile(p, []byte(tc.content+"\n"), 0o600)
		cfg := Config{AuthFile: p}
		if tc.file == "tokens" {
			cfg = Config{TokenFile: p}
		}
		if _, err := New(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error about %q", tc.content, err, tc.want)
		}
	}
	if _, err := New(Config{AuthFile: filepath.Join(dir, "missing")}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a missing auth file is accepted")
	}
}

func TestMain(m *testing.M) {
	cost = 4 // bcrypt.MinCost: the tests check logic, not the work factor
	os.Exit(m.Run())
}

// TestReloadKubernetesSecret: a mounted Secret is a symlink to ..data/NAME,
// and an update swaps the ..data symlink to a new directory.
func TestReloadKubernetesSecret(t *testing.T) {
	old := reloadEvery
	reloadEvery = 20 * time.Millisecond
	defer func() { reloadEvery = old }()
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "..2026_v1"), filepath.Join(dir, "..2026_v2")
	os.Mkdir(v1, 0o755)
	os.Mkdir(v2, 0o755)
	write(t, filepath.Join(v1, "htpasswd"), mustLine(t, "alice", "pw", false, ""))
	write(t, filepath.Join(v2, "htpasswd"), mustLine(t, "bob", "pw2", false, ""))
	os.Symlink("..2026_v1", filepath.Join(dir, "..data"))
	os.Symlink("..data/htpasswd", filepath.Join(dir, "htpasswd"))
	a, err := New(Config{AuthFile: filepath.Join(dir, "htpasswd")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	// The kubelet's atomic swap: a new symlink renamed over ..data.
	os.Symlink("..2026_v2", filepath.Join(dir, "..data_tmp"))
	os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data"))
	waitFor(t, func() bool { _, err := a.Authenticate(basic("bob", "pw2")); return err == nil })
}

// TestUnknownUserHash: the hash an unknown user's password is compared
// against costs what a real user's does, and is made only when there can be
// users: without an auth file a start used to spend a bcrypt (about 80 ms of
// CPU at the default cost) on a hash nothing reads.
func TestUnknownUserHash(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	write(t, tokens, "ci:a-secret-token-of-length")
	for _, cfg := range []Config{{}, {TokenFile: tokens}} {
		a, err := New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if a.dummy != nil {
			t.Errorf("%+v: a bcrypt hash was made at start with no auth file", cfg)
		}
		if _, err := a.Authenticate(basic("alice", "pw")); !errors.Is(err, ErrNoCredentials) && !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%+v: Basic credentials without an auth file: %v", cfg, err)
		}
	}
	users := filepath.Join(dir, "users")
	write(t, users, mustLine(t, "alice", "pw", false, ""))
	a, err := New(Config{AuthFile: users}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost(a.dummy); err != nil || c != cost {
		t.Errorf("the unknown user's hash: cost %d, %v; want %d", c, err, cost)
	}
	if _, err := a.Authenticate(basic("mallory", "pw")); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("an unknown user: %v, want ErrBadCredentials", err)
	}
}

// TestReloadWaitsForTheWriter: a credential file rewritten in place is
// truncated before it is written. A check that falls in between must not
// load the empty (or half-written) file: it used to, which took every
// user away until the next check, and for good when what the writer
// finished was refused (TestReload failed about once in 200 runs so).
func TestReloadWaitsForTheWriter(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	write(t, users, mustLine(t, "alice", "pw", false, ""))
	var logs strings.Builder
	a, err := New(Config{AuthFile: users}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	authenticates := func(name, pw string) bool { _, err := a.Authenticate(basic(name, pw)); return err == nil }

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Truncate(users, 0)) // the writer has begun
	a.reload()
	if !authenticates("alice", "pw") {
		t.Fatal("a check during an in-place rewrite loaded the truncated file")
	}
	write(t, users, mustLine(t, "bob", "pw2", false, "")) // and finished
	a.reload()
	a.reload()
	if !authenticates("bob", "pw2") || authenticates("alice", "pw") {
		t.Fatal("the finished file was not loaded once it stayed the same for a check")
	}

	// A rewrite that ends broken keeps the last good version, even when a
	// check saw the file empty on the way.
	must(os.Truncate(users, 0))
	a.reload()
	write(t, users, "bob:not-a-bcrypt-hash")
	a.reload()
	a.reload()
	a.reload()
	if !authenticates("bob", "pw2") {
		t.Error("a rewrite that ended broken took the users away")
	}
	for _, want := range []string{`msg="auth file reloaded" file=` + users + " users=1",
		`msg="auth file not reloaded: keeping the previous version" file=` + users} {
		if strings.Count(logs.String(), want) != 1 {
			t.Errorf("the log does not say once %q:\n%s", want, logs.String())
		}
	}
}
