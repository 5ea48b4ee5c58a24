package clients

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// cadaverSession drives one cadaver process through pipes, a command at a
// time: cadaver reads commands from a non-terminal stdin, echoes each one
// and prints its prompt ("dav:/dav/> ") when it is ready for the next, so
// the test can check each step's effect before the next runs. The server
// needs no credentials, so cadaver never prompts for them.
type cadaverSession struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	out    []byte
	notify chan struct{}
	exited chan struct{}
}

var cadaverPrompt = regexp.MustCompile(`(?:^|\n)dav:[^\n]*> $`)

func startCadaver(t *testing.T, url, dir string) *cadaverSession {
	t.Helper()
	testutil.Need(t, "cadaver")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, "cadaver", url)
	cmd.Dir = dir
	cmd.Env = cleanEnv("HOME=" + dir) // no ~/.cadaverrc or ~/.netrc of the user
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &cadaverSession{t: t, cmd: cmd, stdin: stdin, notify: make(chan struct{}, 1), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			s.mu.Lock()
			s.out = append(s.out, buf[:n]...)
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() // by PID
			<-s.exited
		}
		cancel()
	})
	s.wait(0, "start")
	return s
}

// wait returns what cadaver printed from offset from until its next prompt.
func (s *cadaverSession) wait(from int, what string) string {
	s.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		out := string(s.out[from:])
		s.mu.Unlock()
		if cadaverPrompt.MatchString(out) {
			return cadaverPrompt.ReplaceAllString(out, "")
		}
		select {
		case <-s.notify:
		case <-s.exited:
			s.t.Fatalf("cadaver exited during %q; output:\n%s", what, out)
		case <-deadline:
			s.t.Fatalf("cadaver: no prompt 30s after %q; output:\n%s", what, out)
		}
	}
}

// do runs one cadaver command and returns its output (without the echoed
// command and the prompt).
func (s *cadaverSession) do(line string) string {
	s.t.Helper()
	s.mu.Lock()
	from := len(s.out)
	s.mu.Unlock()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("cadaver %q: %v", line, err)
	}
	out := strings.TrimPrefix(s.wait(from, line), line+"\n")
	s.t.Logf("cadaver> %s\n%s", line, out)
	return out
}

// ok runs a command that must report success.
func (s *cadaverSession) ok(line string) string {
	s.t.Helper()
	out := s.do(line)
	if !strings.Contains(out, "succeeded") || strings.Contains(out, "failed") {
		s.t.Errorf("cadaver %q did not succeed:\n%s", line, out)
	}
	return out
}

// TestCadaver runs a cadaver session (ls, mkcol, put, get, move, copy,
// lock, unlock, propset, propget, delete) and checks the effect of every
// step on the server's root directory, in cadaver's output, and where it
// matters with a second client.
func TestCadaver(t *testing.T) {
	p := testutil.Start(t, "")
	root := p.Root
	os.WriteFile(filepath.Join(root, "seed file.txt"), []byte("seed"), 0o644)
	os.Mkdir(filepath.Join(root, "seed dir"), 0o755)
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "local.txt"), []byte("from cadaver\n"), 0o644)
	os.WriteFile(filepath.Join(work, "local2.txt"), []byte("second version, put under the lock\n"), 0o644)
	dav := p.URL + "/dav/"
	s := startCadaver(t, dav, work)
	disk := func(rel string) string { return readFile(t, filepath.Join(root, filepath.FromSlash(rel))) }

	// ls shows what is on disk.
	out := s.ok("ls")
	if !regexp.MustCompile(`(?m)^\s+seed file\.txt\s+4 `).MatchString(out) || !regexp.MustCompile(`(?m)^Coll:\s+seed dir\s`).MatchString(out) {
		t.Errorf("ls does not list the seeded file and collection:\n%s", out)
	}

	// mkcol
	s.ok("mkcol newdir")
	if fi, err := os.Stat(filepath.Join(root, "newdir")); err != nil || !fi.IsDir() {
		t.Fatalf("mkcol: newdir is not a directory on disk: %v", err)
	}
	if out := s.do("mkcol newdir"); !strings.Contains(out, "failed") || !strings.Contains(out, "405") {
		t.Errorf("mkcol of an existing collection: want 405 failure, got:\n%s", out)
	}

	// put, get
	s.ok("put local.txt newdir/up.txt")
	if got := disk("newdir/up.txt"); got != "from cadaver\n" {
		t.Errorf("put: on disk %q", got)
	}
	s.ok("get newdir/up.txt got.txt")
	if got := readFile(t, filepath.Join(work, "got.txt")); got != "from cadaver\n" {
		t.Errorf("get: downloaded %q", got)
	}

	// move, copy
	s.ok("move newdir/up.txt newdir/moved.txt")
	if disk("newdir/up.txt") != "<missing>" || disk("newdir/moved.txt") != "from cadaver\n" {
		t.Errorf("move: up.txt %q, moved.txt %q", disk("newdir/up.txt"), disk("newdir/moved.txt"))
	}
	s.ok("copy newdir/moved.txt newdir/copy.txt")
	if disk("newdir/moved.txt") != "from cadaver\n" || disk("newdir/copy.txt") != "from cadaver\n" {
		t.Errorf("copy: moved.txt %q, copy.txt %q", disk("newdir/moved.txt"), disk("newdir/copy.txt"))
	}

	// lock: another client cannot write the file (WebDAV or /file/), cadaver
	// itself can (it submits its token), and the lock is discoverable.
	s.ok("lock newdir/copy.txt")
	if resp, _ := httpDo(t, "PUT", dav+"newdir/copy.txt", strings.NewReader("intruder")); resp.StatusCode != 423 {
		t.Errorf("PUT by another client on the locked file = %d, want 423", resp.StatusCode)
	}
	if resp, _ := httpDo(t, "POST", p.URL+"/file/newdir/copy.txt", strings.NewReader("intruder")); resp.StatusCode != 423 {
		t.Errorf("POST /file/ on the locked file = %d, want 423", resp.StatusCode)
	}
	if got := disk("newdir/copy.txt"); got != "from cadaver\n" {
		t.Errorf("locked file changed by another client: %q", got)
	}
	s.ok("put local2.txt newdir/copy.txt")
	if got := disk("newdir/copy.txt"); got != "second version, put under the lock\n" {
		t.Errorf("put by the lock holder: on disk %q", got)
	}
	if out := s.do("discover newdir/copy.txt"); strings.Contains(out, "no locks found") || !strings.Contains(out, "Lock token <") {
		t.Errorf("discover on the locked file (PROPFIND DAV:lockdiscovery) shows no lock:\n%s", out)
	}

	// unlock: others can write again.
	s.ok("unlock newdir/copy.txt")
	if resp, _ := httpDo(t, "PUT", dav+"newdir/copy.txt", strings.NewReader("after unlock\n")); resp.StatusCode != 204 {
		t.Errorf("PUT after unlock = %d, want 204", resp.StatusCode)
	}
	if got := disk("newdir/copy.txt"); got != "after unlock\n" {
		t.Errorf("after unlock: on disk %q", got)
	}

	// propset, propget (cadaver's namespace
	// http://webdav.org/cadaver/custom-properties/); the dead property is
	// seen by another client, follows MOVE and COPY.
	s.ok("propset newdir/copy.txt color red")
	if out := s.do("propget newdir/copy.txt color"); !strings.Contains(out, "Value of color is: red") {
		t.Errorf("propget after propset:\n%s", out)
	}
	const propfindColor = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><c:color xmlns:c="http://webdav.org/cadaver/custom-properties/"/></D:prop></D:propfind>`
	if resp, body := httpDo(t, "PROPFIND", dav+"newdir/copy.txt", strings.NewReader(propfindColor), "Depth", "0"); resp.StatusCode != 207 || !regexp.MustCompile(`<[^>]*color[^>]*>red</`).MatchString(body) {
		t.Errorf("PROPFIND of the property cadaver set = %d:\n%s", resp.StatusCode, body)
	}
	if out := s.ok("propnames newdir/copy.txt"); !strings.Contains(out, "http://webdav.org/cadaver/custom-properties/ color") {
		t.Errorf("propnames does not list the dead property:\n%s", out)
	}
	s.ok("move newdir/copy.txt newdir/renamed.txt")
	if out := s.do("propget newdir/renamed.txt color"); !strings.Contains(out, "Value of color is: red") {
		t.Errorf("propget after move:\n%s", out)
	}
	s.ok("copy newdir/renamed.txt newdir/copy3.txt")
	if out := s.do("propget newdir/copy3.txt color"); !strings.Contains(out, "Value of color is: red") {
		t.Errorf("propget on a copy:\n%s", out)
	}

	// delete, rmcol
	s.ok("delete newdir/moved.txt")
	if disk("newdir/moved.txt") != "<missing>" {
		t.Error("delete: moved.txt still on disk")
	}
	if out := s.ok("ls newdir"); strings.Contains(out, "moved.txt") || !strings.Contains(out, "renamed.txt") || !strings.Contains(out, "copy3.txt") {
		t.Errorf("ls newdir after delete:\n%s", out)
	}
	s.ok("rmcol newdir")
	if exists(filepath.Join(root, "newdir")) {
		t.Error("rmcol: newdir still on disk")
	}
	if got := disk("seed file.txt"); got != "seed" {
		t.Errorf("seed file changed: %q", got)
	}
	noServerErrors(t, p)
}
