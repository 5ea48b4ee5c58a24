package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// Tmpfs mounts a tmpfs of the given size (e.g. "1m") on a new temporary
// directory and unmounts it when the test ends. It needs root (CI runs as
// root); elsewhere it fails or skips as Missing says.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput()
	if err != nil {
		Missing(t, "cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
