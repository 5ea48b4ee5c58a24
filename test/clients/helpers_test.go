// Package clients drives the real davnas binary with real third-party
// WebDAV clients: rclone (webdav backend), davfs2 (a FUSE mount), cadaver
// and curl. Each test starts its own server on 127.0.0.1 with a free port
// and a temporary root (testutil.Start), drives the client as a user would,
// and checks the outcome on the server's root directory on disk as well as
// in what the client reports.
//
// Every external command runs under a context timeout; every process a test
// starts is stopped by PID and every mount unmounted when the test ends.
package clients

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

const mib = 1 << 20

// result is what a finished command left behind.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cleanEnv is the environment without the variables that would let a
// user's own client configuration leak into a test.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "RCLONE_") || strings.HasPrefix(kv, "TZ=") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "TZ=UTC"), extra...)
}

// command runs name with args to completion in dir, with env added to a
// cleaned environment and stdin as its input, killing it (by PID, through
// the context) when timeout passes. A timeout fails the test; a non-zero
// exit is returned for the caller to judge.
func command(t *testing.T, timeout time.Duration, dir string, env []string, stdin, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	// Its own process group, so a timeout kills what it started too (the
	// children of bash -c), by the group's ID.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v\n%s", name, strings.Join(args, " "), timeout, r)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// mustRun is command that fails the test on a non-zero exit.
func mustRun(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) result {
	t.Helper()
	r := command(t, timeout, dir, env, "", name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: %s", name, strings.Join(args, " "), r)
	}
	return r
}

// genFile is one file of a generated tree.
type genFile struct {
	rel   string // slash-separated, relative to the tree's root
	size  int64
	mtime time.Time
}

// writeGen writes f under dir with deterministic pseudo-random content
// (seeded by its name and seed) and sets its modification time.
func writeGen(t *testing.T, dir string, f genFile, seed uint64) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(f.rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d/%s", seed, f.rel)))
	rng := rand.NewChaCha8(sum)
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, min(f.size, mib))
	for left := f.size; left > 0; {
		n := min(left, int64(len(buf)))
		rng.Read(buf[:n])
		if _, err := out.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if !f.mtime.IsZero() {
		if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// fileInfo is what a tree listing records of one file.
type fileInfo struct {
	size   int64
	sha256 string
	mtime  time.Time
}

// snapshot walks dir and returns its files (by slash-separated relative
// name, with size, SHA-256 and mtime) and its directories. skip names
// top-level entries to leave out (davfs2's lost+found).
func snapshot(t *testing.T, dir string, skip ...string) (map[string]fileInfo, []string) {
	t.Helper()
	files := map[string]fileInfo{}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		for _, s := range skip {
			if rel == s {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if d.IsDir() {
			dirs = append(dirs, rel)
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		files[rel] = fileInfo{size: fi.Size(), sha256: fileHash(t, p, sha256.New()), mtime: fi.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	sort.Strings(dirs)
	return files, dirs
}

// fileHash returns the hex digest of the file at p.
func fileHash(t *testing.T, p string, h hash.Hash) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sha1Hex(t *testing.T, p string) string { return fileHash(t, p, sha1.New()) }
func md5Hex(t *testing.T, p string) string  { return fileHash(t, p, md5.New()) }

// compareContents reports every file whose presence, size or content
// differs between want and got (at most 20 lines), and every directory
// present in one listing only.
func compareContents(t *testing.T, what string, want, got map[string]fileInfo, wantDirs, gotDirs []string) {
	t.Helper()
	var diffs []string
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("missing %q", name))
		case g.size != w.size || g.sha256 != w.sha256:
			diffs = append(diffs, fmt.Sprintf("differs %q: size %d sha256 %.12s, want size %d sha256 %.12s", name, g.size, g.sha256, w.size, w.sha256))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected %q", name))
		}
	}
	if wantDirs != nil || gotDirs != nil {
		inWant := map[string]bool{}
		for _, d := range wantDirs {
			inWant[d] = true
		}
		inGot := map[string]bool{}
		for _, d := range gotDirs {
			inGot[d] = true
			if !inWant[d] {
				diffs = append(diffs, fmt.Sprintf("unexpected directory %q", d))
			}
		}
		for _, d := range wantDirs {
			if !inGot[d] {
				diffs = append(diffs, fmt.Sprintf("missing directory %q", d))
			}
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		n := len(diffs)
		if n > 20 {
			diffs = append(diffs[:20], "...")
		}
		t.Errorf("%s: %d differences:\n  %s", what, n, strings.Join(diffs, "\n  "))
	}
}

// requestLine matches one request line of the server's text log.
var requestLine = regexp.MustCompile(`msg=request (?:api=\S+ )?method=(\S+) path=("(?:[^"\\]|\\.)*"|\S+) .*status=(\d+)`)

// logRequest is one request from the server's log.
type logRequest struct {
	method, path, status string
}

// requests returns the requests the server logged, in order.
func requests(p *testutil.Proc) []logRequest {
	var out []logRequest
	sc := bufio.NewScanner(strings.NewReader(p.Log()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := requestLine.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, logRequest{m[1], m[2], m[3]})
		}
	}
	return out
}

// countMethods counts the logged requests per method.
func countMethods(reqs []logRequest) map[string]int {
	n := map[string]int{}
	for _, r := range reqs {
		n[r.method]++
	}
	return n
}

// noServerErrors fails the test when the server answered any request
// with a 5xx status.
func noServerErrors(t *testing.T, p *testutil.Proc) {
	t.Helper()
	logMark(t, p)
	for _, r := range requests(p) {
		if strings.HasPrefix(r.status, "5") {
			t.Errorf("server answered %s %s with %s", r.method, r.path, r.status)
		}
	}
}

// httpDo sends one request to the server and returns the response with
// its body read.
func httpDo(t *testing.T, method, url string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}

// readFile returns the content of p, or "<missing>" when it does not
// exist.
func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// newCmd is exec.Command with the cleaned environment.
func newCmd(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = cleanEnv()
	return cmd
}

// logMark sends a marked probe to the server and waits until its log line
// appears, so every request answered before it is in p.Log() too (the log
// is read asynchronously). It returns the number of requests logged so
// far, for slicing requests(p) afterwards.
func logMark(t *testing.T, p *testutil.Proc) int {
	t.Helper()
	id := fmt.Sprintf("testmark%d", time.Now().UnixNano())
	httpDo(t, "GET", p.URL+"/healthz", nil, "X-Request-Id", id)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Log(), "req_id="+id) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log request %s within 10s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return len(requests(p))
}
