// Package testutil holds what the tests of several packages share: finding
// (or failing on) the real clients, a size-limited tmpfs, and building and
// running the real davnas binary on loopback. Only tests import it.
package testutil

import (
	"os"
	"os/exec"
	"testing"
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
