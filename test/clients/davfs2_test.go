package clients

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// davfsMount is a davfs2 mount of a server's /dav/ made by mountDavfs.
type davfsMount struct {
	t    *testing.T
	base string // holds mnt and cache; mode 0755 so the davfs2 user can reach cache
	mnt  string
	pid  int // the mount.davfs daemon
	done bool
}

// mountDavfs mounts url on a new directory with davfs2, non-interactively:
// its own davfs2.conf (-o conf=) with ask_auth 0, so mount.davfs never asks
// for credentials (the server needs none), locks on, a private cache
// directory (a fresh one per mount: a remount reads from the server, not
// from a cache), uploads on close, and buf_size 64 (davfs2 1.6.1's default
// of 16 breaks directory listings on Linux 6.16 and later). The mount is
// unmounted, and the daemon gone, when the test ends.
func mountDavfs(t *testing.T, url string) *davfsMount {
	t.Helper()
	testutil.Need(t, "mount.davfs")
	if os.Getuid() != 0 {
		testutil.Missing(t, "mounting davfs2 needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testutil.Missing(t, "davfs2 needs /dev/fuse: %v", err)
	}
	grp, err := user.LookupGroup("davfs2")
	if err != nil {
		testutil.Missing(t, "the davfs2 group (created by the davfs2 package) is missing: %v", err)
	}
	gid, _ := strconv.Atoi(grp.Gid)
	base, err := os.MkdirTemp("", "davnas-davfs2-")
	if err != nil {
		t.Fatal(err)
	}
	m := &davfsMount{t: t, base: base, mnt: filepath.Join(base, "mnt")}
	t.Cleanup(m.cleanup)
	cache := filepath.Join(base, "cache")
	conf := filepath.Join(base, "davfs2.conf")
	for _, err := range []error{
		os.Chmod(base, 0o755),
		os.Mkdir(m.mnt, 0o755),
		os.Mkdir(cache, 0o775),
		// mount.davfs runs as the davfs2 user and insists on a cache
		// directory its group can write.
		os.Chown(cache, 0, gid),
		os.Chmod(cache, 0o775),
		os.WriteFile(conf, []byte(fmt.Sprintf("use_locks 1\nbuf_size 64\ncache_dir %s\ndelay_upload 0\nask_auth 0\n", cache)), 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	r := command(t, 30*time.Second, base, nil, "", "mount", "-t", "davfs", "-o", "conf="+conf, url, m.mnt)
	if r.code != 0 {
		t.Fatalf("mount -t davfs %s: %s", url, r)
	}
	if !mounted(m.mnt) {
		t.Fatalf("mount -t davfs exited 0 but %s is not mounted: %s", m.mnt, r)
	}
	m.pid = davfsPID(m.mnt)
	if m.pid == 0 {
		t.Fatalf("no mount.davfs process for %s", m.mnt)
	}
	return m
}

// unmount unmounts (which waits for davfs2 to upload what it has cached)
// and checks that the daemon is gone.
func (m *davfsMount) unmount() {
	m.t.Helper()
	r := command(m.t, 2*time.Minute, m.base, nil, "", "umount", m.mnt)
	if r.code != 0 {
		m.t.Fatalf("umount %s: %s", m.mnt, r)
	}
	if mounted(m.mnt) {
		m.t.Fatalf("%s still mounted after umount", m.mnt)
	}
	if !waitGone(m.pid, 30*time.Second) {
		m.t.Fatalf("mount.davfs (pid %d) still running 30s after umount", m.pid)
	}
	m.done = true
}

// cleanup makes sure nothing outlives the test: umount, else umount -l;
// then the daemon is waited for and, as a last resort, killed by PID. The
// directory is removed only once nothing is mounted on it (removing
// through a live mount would delete the server's files).
func (m *davfsMount) cleanup() {
	if !m.done && mounted(m.mnt) {
		if err := runQuiet(time.Minute, "umount", m.mnt); err != nil {
			m.t.Errorf("cleanup: umount %s: %v; trying umount -l", m.mnt, err)
			if err := runQuiet(30*time.Second, "umount", "-l", m.mnt); err != nil {
				m.t.Errorf("cleanup: umount -l %s: %v", m.mnt, err)
			}
		}
	}
	if m.pid != 0 && !waitGone(m.pid, 30*time.Second) {
		m.t.Errorf("cleanup: mount.davfs (pid %d) still running; killing it", m.pid)
		syscall.Kill(m.pid, syscall.SIGKILL)
		waitGone(m.pid, 10*time.Second)
	}
	if mounted(m.mnt) {
		m.t.Errorf("cleanup: %s is still mounted; leaving %s in place", m.mnt, m.base)
		return
	}
	os.RemoveAll(m.base)
}

// runQuiet runs a command under a timeout, for cleanup (no test failure
// from inside).
func runQuiet(timeout time.Duration, name string, args ...string) error {
	done := make(chan error, 1)
	cmd := newCmd(name, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("timed out after %v", timeout)
	}
}

// mounted reports whether something is mounted on dir.
func mounted(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// davfsPID finds the mount.davfs daemon serving mnt.
func davfsPID(mnt string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "mount.davfs") {
			continue
		}
		for _, a := range args[1:] {
			if a == mnt {
				return pid
			}
		}
	}
	return 0
}

// waitGone waits until pid has exited (a zombie counts as exited).
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if _, rest, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(rest, "Z") {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sha256Through hashes every regular file under dir/sub by running
// sha256sum on the mount (so a hung FUSE read is bounded by a timeout).
func sha256Through(t *testing.T, dir, sub string) map[string]string {
	t.Helper()
	r := command(t, 2*time.Minute, dir, nil, "", "bash", "-o", "pipefail", "-c",
		`cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum`, "bash", sub)
	if r.code != 0 {
		t.Fatalf("sha256sum through the mount: %s", r)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || strings.HasPrefix(sum, "\\") {
			t.Fatalf("cannot parse sha256sum line %q", line)
		}
		out[strings.TrimPrefix(name, "./")] = sum
	}
	return out
}

// davfsTree is the tree copied in: 40 files in nested directories, one of
// 5 MiB, names with spaces, NFC unicode, # and &.
func davfsTree() []genFile {
	files := []genFile{
		{rel: "big/five mib.bin", size: 5 * mib},
		{rel: "dir a/one.txt", size: 10},
		{rel: "dir a/two.txt", size: 20},
		{rel: "dir a/sub/three.txt", size: 30},
		{rel: "dir a/sub/deeper/four.bin", size: 40000},
		{rel: "dir b/f1.txt", size: 50},
		{rel: "dir b/keep.txt", size: 60},
		{rel: "x/f2.txt", size: 70},
		{rel: "del me.txt", size: 80},
		{rel: "gone dir/g1.txt", size: 90},
		{rel: "gone dir/g2.txt", size: 0},
		{rel: "caf\u00e9/\u65e5\u672c\u8a9e.txt", size: 110},
		{rel: "names/hash#and&amp.txt", size: 120},
		{rel: "names/empty", size: 0},
	}
	for i := 0; len(files) < 39; i++ {
		files = append(files, genFile{rel: fmt.Sprintf("bulk/d%d/file %02d.dat", i%4, i), size: int64(i*4099%70000 + 1)})
	}
	return files
}

// TestDavfs2 copies a tree onto a davfs2 mount, remounts and reads it back,
// then renames, moves, deletes and appends through the mount, checking the
// server's root on disk after each unmount.
func TestDavfs2(t *testing.T) {
	p := testutil.Start(t, "")
	src := t.TempDir()
	for _, f := range davfsTree() {
		writeGen(t, src, f, 2)
	}
	const appendRel = "dir b/append.txt"
	os.WriteFile(filepath.Join(src, filepath.FromSlash(appendRel)), []byte("line 1\nline 2\n"), 0o644)
	url := p.URL + "/dav/"
	serverTree := filepath.Join(p.Root, "tree")

	// 1. Copy the tree in and unmount (which waits for the uploads).
	m := mountDavfs(t, url)
	mustRun(t, 2*time.Minute, m.mnt, nil, "cp", "-r", src, filepath.Join(m.mnt, "tree"))
	mustRun(t, time.Minute, m.mnt, nil, "sync")
	m.unmount()
	want, wantDirs := snapshot(t, src)
	got, gotDirs := snapshot(t, serverTree)
	compareContents(t, "after copying in: server root vs source", want, got, wantDirs, gotDirs)
	logMark(t, p)
	n := countMethods(requests(p))
	if n["LOCK"] == 0 || n["UNLOCK"] == 0 || n["PUT"] < len(want) {
		t.Errorf("use_locks 1: want LOCK and UNLOCK around each of %d PUTs, server saw %v", len(want), n)
	}

	// 2. Remount with an empty cache: every file reads back with its SHA-256.
	m = mountDavfs(t, url)
	sums := sha256Through(t, m.mnt, "tree")
	var bad []string
	for name, w := range want {
		if sums[name] != w.sha256 {
			bad = append(bad, fmt.Sprintf("%q: %.12s, want %.12s", name, sums[name], w.sha256))
		}
	}
	if len(bad) > 0 || len(sums) != len(want) {
		t.Errorf("read back through a fresh mount: %d files (want %d), %d differ: %v", len(sums), len(want), len(bad), bad[:min(len(bad), 5)])
	}

	// 3. Change the tree through the mount, and the same in the model (src).
	script := `set -e
cd "$1/tree"
mkdir "new dir"
mkdir "new dir/nested"
mv "dir a" "dir a renamed"
mv "dir b/f1.txt" "new dir/"
mv "x/f2.txt" "dir a renamed/sub/f2 moved.txt"
mv "names/hash#and&amp.txt" "new dir/nested/"
rm "del me.txt"
rm -r "gone dir"
printf 'appended through davfs2\n' >> "` + appendRel + `"
sync
`
	mustRun(t, 2*time.Minute, m.mnt, nil, "bash", "-c", script, "bash", m.mnt)
	sp := func(rel string) string { return filepath.Join(src, filepath.FromSlash(rel)) }
	for _, err := range []error{
		os.MkdirAll(sp("new dir/nested"), 0o755),
		os.Rename(sp("dir a"), sp("dir a renamed")),
		os.Rename(sp("dir b/f1.txt"), sp("new dir/f1.txt")),
		os.Rename(sp("x/f2.txt"), sp("dir a renamed/sub/f2 moved.txt")),
		os.Rename(sp("names/hash#and&amp.txt"), sp("new dir/nested/hash#and&amp.txt")),
		os.Remove(sp("del me.txt")),
		os.RemoveAll(sp("gone dir")),
		os.WriteFile(sp(appendRel), []byte("line 1\nline 2\nappended through davfs2\n"), 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	m.unmount()
	want, wantDirs = snapshot(t, src)
	got, gotDirs = snapshot(t, serverTree)
	compareContents(t, "after changes through the mount: server root vs expected", want, got, wantDirs, gotDirs)
	if s := readFile(t, filepath.Join(serverTree, filepath.FromSlash(appendRel))); s != "line 1\nline 2\nappended through davfs2\n" {
		t.Errorf("appended file on disk: %q", s)
	}
	noServerErrors(t, p)
}
