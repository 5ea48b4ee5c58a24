package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// run runs the binary to completion and returns its exit code and stderr.
func run(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// TestCLIErrors: bad input exits non-zero with one clear line, no usage
// dump, no stack trace.
func TestCLIErrors(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a-file")
	os.WriteFile(file, nil, 0o644)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"serve", "--nope"}, "flag provided but not defined: -nope (see 'davnas serve --help')"},
		// A command's flag before the command: the hint names the right
		// help, not "davnas davnas --help".
		{"flag before the command", []string{"--log-level", "warn", "serve"}, "flag provided but not defined: -log-level (see 'davnas --help'"},
		{"root is a file", []string{"serve", "--root", file, "--listen", "127.0.0.1:0"}, "is not a directory"},
		{"root under a file", []string{"serve", "--root", file + "/sub", "--listen", "127.0.0.1:0"}, "cannot use storage root"},
		{"bad listen", []string{"serve", "--root", tmp, "--listen", "localhost:http"}, "--listen"},
		{"bad listen host", []string{"serve", "--root", tmp, "--listen", "256.1.1.1:0"}, "is not an IP address"},
		{"port in use", []string{"serve", "--root", tmp, "--listen", busy.Addr().String()}, "address already in use"},
		{"bad log format", []string{"serve", "--log-format", "xml"}, "--log-format"},
		{"bad duration", []string{"serve", "--shutdown-grace", "soon"}, "shutdown-grace"},
		{"stray argument", []string{"serve", "extra"}, "unexpected argument"},
		{"unknown command", []string{"srve"}, "unknown command"},
	} {
		code, _, stderr := run(t, tmp, nil, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code == 0 || !strings.Contains(stderr, tc.want) || len(lines) != 1 || strings.Contains(stderr, "goroutine") {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant one line containing %q", tc.name, code, stderr, tc.want)
		}
	}
}

// TestUnwritableRoot runs the server as an unprivileged user over a root
// it cannot write.
func TestUnwritableRoot(t *testing.T) {
	setpriv := testutil.Need(t, "setpriv")
	if os.Getuid() != 0 {
		testutil.Missing(t, "needs root to drop to an unprivileged user")
	}
	bin := testutil.Binary(t)
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	// The binary must be reachable by the unprivileged user.
	exe := filepath.Join(t.TempDir(), "davnas")
	data, _ := os.ReadFile(bin)
	os.WriteFile(exe, data, 0o755)
	os.Chmod(filepath.Dir(exe), 0o755)
	os.Chmod(filepath.Dir(filepath.Dir(exe)), 0o755)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", exe, "serve", "--root", dir, "--listen", "127.0.0.1:0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil || !strings.Contains(stderr.String(), "is not writable: permission denied") || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
		t.Errorf("unwritable root: %v\n%s", err, stderr.String())
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := run(t, t.TempDir(), nil, "version")
	if code != 0 || !strings.HasPrefix(stdout, "davnas ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("version: %d %q", code, stdout)
	}
	code, stdout, _ = run(t, t.TempDir(), nil, "serve", "--help")
	for _, flag := range []string{"--root", "--listen", "--dav-prefix", "--fsync", "--log-format", "--log-level", "--shutdown-grace", "$DAVNAS_ROOT", "$STORAGE_PATH", "$DAVNAS_LISTEN"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("serve --help lacks %s:\n%s", flag, stdout)
		}
	}
	if code != 0 {
		t.Errorf("serve --help exit %d", code)
	}
}

// TestDefaultsAndHTTPNASEnv: with no --root the server serves ./data
// (created); http-nas's STORAGE_PATH is honoured. (PORT alone would bind
// every interface; config's tests cover it, these tests stay on loopback.)
func TestDefaultsAndHTTPNASEnv(t *testing.T) {
	cwd := t.TempDir()
	p := testutil.StartArgs(t, filepath.Join(cwd, "data"), testutil.Options{Dir: cwd}, "serve", "--listen", "127.0.0.1:0")
	if !strings.Contains(p.Log(), "root=./data") {
		t.Errorf("log does not show root=./data:\n%s", p.Log())
	}
	newClient(t, p).expect(200, "POST", "/file/d%2Fx", strings.NewReader("x"))
	if !exists(filepath.Join(cwd, "data", "d", "x")) {
		t.Error("the default root is not ./data")
	}

	store := t.TempDir()
	q := testutil.StartArgs(t, store, testutil.Options{Env: []string{"STORAGE_PATH=" + store}}, "serve", "--listen", "127.0.0.1:0")
	newClient(t, q).expect(200, "POST", "/file/x", strings.NewReader("x"))
	if !exists(filepath.Join(store, "x")) {
		t.Error("STORAGE_PATH not used")
	}
}

// TestHealthcheck: the container's HEALTHCHECK command, configured by the
// same flags or environment as the server.
func TestHealthcheck(t *testing.T) {
	p := testutil.Start(t, "")
	if code, _, stderr := run(t, t.TempDir(), nil, "healthcheck", "--listen", p.Addr); code != 0 {
		t.Errorf("healthcheck of a running server: exit %d %s", code, stderr)
	}
	if code, _, stderr := run(t, t.TempDir(), []string{"DAVNAS_LISTEN=" + p.Addr}, "healthcheck"); code != 0 {
		t.Errorf("healthcheck from DAVNAS_LISTEN: exit %d %s", code, stderr)
	}
	p.Stop(t, syscall.SIGTERM)
	code, _, stderr := run(t, t.TempDir(), nil, "healthcheck", "--listen", p.Addr)
	if code == 0 || !strings.Contains(stderr, "not healthy") {
		t.Errorf("healthcheck of a stopped server: exit %d %q", code, stderr)
	}

	// With TLS: over HTTPS, whatever name the certificate carries.
	certs := t.TempDir()
	writeCert(t, certs, 1)
	tlsArgs := []string{"--tls-cert", filepath.Join(certs, "tls.crt"), "--tls-key", filepath.Join(certs, "tls.key")}
	q := testutil.Start(t, "", tlsArgs...)
	if code, _, stderr := run(t, t.TempDir(), nil, append([]string{"healthcheck", "--listen", q.Addr}, tlsArgs...)...); code != 0 {
		t.Errorf("healthcheck of a TLS server: exit %d %s", code, stderr)
	}
	if code, _, stderr := run(t, t.TempDir(), nil, "healthcheck", "--listen", q.Addr); code == 0 || !strings.Contains(stderr, "not healthy") {
		t.Errorf("plain healthcheck of a TLS server: exit %d %q", code, stderr)
	}

	// Something else on the port: any answer but 200 is not healthy.
	for _, answer := range []string{
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
		"SSH-2.0-OpenSSH_9.6\r\n",
		"",
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Read(make([]byte, 4096))
			c.Write([]byte(answer))
			c.Close()
		}()
		code, _, stderr := run(t, t.TempDir(), nil, "healthcheck", "--listen", ln.Addr().String())
		ln.Close()
		if code == 0 || !strings.Contains(stderr, "not healthy") {
			t.Errorf("healthcheck of a server answering %q: exit %d %q", answer, code, stderr)
		}
	}
}

// TestNoHTTPClientLinked: davnas links no HTTP client. The healthcheck
// used net/http's Client, which brought its Transport and HTTP/2 client into
// every binary: 0.47 MB of it, and about 0.45 MiB of every server's idle RSS
// (the kernel maps a binary's cached pages around each page touched, so the
// resident share grows with the binary). The probe speaks HTTP/1.1 itself.
func TestNoHTTPClientLinked(t *testing.T) {
	bin := testutil.Binary(t)
	out, err := exec.Command("go", "tool", "nm", bin).CombinedOutput()
	if err != nil {
		testutil.Missing(t, "go tool nm %s: %v (a stripped DAVNAS_BIN?)\n%s", bin, err, out)
	}
	if !bytes.Contains(out, []byte(" net/http.(*Server).Serve\n")) {
		t.Fatalf("go tool nm lists no net/http.(*Server).Serve in %s: the check below would prove nothing", bin)
	}
	for _, sym := range []string{"net/http.(*Transport).roundTrip", "net/http.(*persistConn).readLoop"} {
		if bytes.Contains(out, []byte(" "+sym+"\n")) {
			t.Errorf("%s is linked: something uses net/http's client", sym)
		}
	}
}
