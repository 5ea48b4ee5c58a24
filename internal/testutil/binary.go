package testutil

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

// Main runs a package's tests and then removes the binary Binary built
// (20 MB a test process, which used to stay in the temporary directory).
// A package whose tests start davnas calls it from its TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Binary builds cmd/davnas once per test process and returns its path. Set
// DAVNAS_BIN to test a binary built elsewhere.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("DAVNAS_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "davnas-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		buildPath = filepath.Join(dir, "davnas")
		cmd := exec.Command("go", "build", "-o", buildPath, "github.com/davnas/davnas/cmd/davnas")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Proc is a davnas process started by Start.
type Proc struct {
	Cmd  *exec.Cmd
	Addr string // host:port it listens on
	URL  string // http://Addr
	Root string

	mu      sync.Mutex
	log     strings.Builder
	done    chan struct{}
	waitErr error
}

var listenRE = regexp.MustCompile(`msg="davnas listening" addr=(\S+)`)

// Start runs `davnas serve` on 127.0.0.1 with a free port over root (a new
// temp dir when empty) plus extra flags, waits until it listens, and stops
// it (by PID) when the test ends.
func Start(t testing.TB, root string, extra ...string) *Proc {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--root", root, "--log-level", "debug"}, extra...)
	return StartArgs(t, root, Options{}, args...)
}

// Options tunes StartArgs.
type Options struct {
	Dir string   // working directory (default: the test's)
	Env []string // added to the environment
}

// StartArgs runs the binary with exactly args, waiting for the "davnas
// listening" line. root is only recorded in the Proc.
func StartArgs(t testing.TB, root string, opt Options, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Dir = opt.Dir
	cmd.Env = append(os.Environ(), opt.Env...)
	// Killed with the test process, should that die before its cleanups
	// run (a go test piped into head, which then got SIGPIPE, left a
	// server running on its own).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{Cmd: cmd, Root: root, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	// The log is read to its end before Wait: Wait closes the pipe once
	// the process exits, and lines still in it were lost (a test that
	// looked for "davnas stopped" failed now and then).
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-readDone
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(t, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("davnas log:\n%s", p.Log())
		}
	})
	select {
	case a := <-addr:
		p.Addr = a
		p.URL = "http://" + a
	case <-p.done:
		t.Fatalf("davnas exited before listening: %v\n%s", p.waitErr, p.Log())
	case <-time.After(30 * time.Second):
		t.Fatalf("davnas did not start listening within 30s\n%s", p.Log())
	}
	return p
}

// Log returns what the process wrote to stderr so far.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Stop sends sig and waits up to 60 s for the process to exit, returning
// its wait error. It is safe to call more than once.
func (p *Proc) Stop(t testing.TB, sig syscall.Signal) error {
	select {
	case <-p.done:
		return p.waitErr
	default:
	}
	p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.Cmd.Process.Kill()
		<-p.done
		t.Errorf("davnas (pid %d) did not exit within 60s of %v", p.Cmd.Process.Pid, sig)
	}
	return p.waitErr
}

// Wait waits for the process to exit on its own.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.waitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status reads a field in kB (VmRSS, VmHWM) from /proc/PID/status, in bytes.
func (p *Proc) Status(field string) int64 {
	if runtime.GOOS != "linux" {
		return -1
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}
