// Package testutil holds what the tests of several packages share: finding
// (or failing on) the real clients, a size-limited tmpfs, and building and
// running the real davnas binary on loopback, a ResponseWriter for
// benchmarks. Only tests import it.
package testutil

import (
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// AllowMissingEnv, set to 1, lets a test skip when a real client or a
// privilege it needs is missing on the machine. Without it (always in CI)
// the test fails: a client that cannot run is not a pass.
const AllowMissingEnv = "DAVNAS_ALLOW_MISSING_CLIENTS"

// Missing fails the test (or skips it when AllowMissingEnv is set) because
// something it needs is not available.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(AllowMissingEnv) == "1" {
		t.Skipf("skipped ("+AllowMissingEnv+"=1): "+format, args...)
	}
	t.Fatalf(format+" (run test/deps.sh, or set "+AllowMissingEnv+"=1 to skip)", args...)
}

// Need returns the path of command, or fails the test when it is missing.
func Need(t testing.TB, command string) string {
	t.Helper()
	p, err := exec.LookPath(command)
	if err != nil {
		Missing(t, "%s is not installed", command)
	}
	return p
}

// NullResponseWriter is an http.ResponseWriter that throws the response
// away, for benchmarks of handlers without a network, keeping only the
// status. It answers http.ResponseController's SetWriteDeadline, as the
// server's own writer does.
type NullResponseWriter struct {
	H    http.Header
	Code int // the first status written (0 until then)
}

// NewNullResponseWriter returns a NullResponseWriter with empty headers.
func NewNullResponseWriter() *NullResponseWriter { return &NullResponseWriter{H: http.Header{}} }

func (w *NullResponseWriter) Header() http.Header { return w.H }

func (w *NullResponseWriter) Write(p []byte) (int, error) {
	if w.Code == 0 {
		w.Code = http.StatusOK
	}
	return len(p), nil
}

func (w *NullResponseWriter) WriteHeader(code int) {
	if w.Code == 0 {
		w.Code = code
	}
}

func (w *NullResponseWriter) SetWriteDeadline(time.Time) error { return nil }
