package faults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// TestSIGTERMDrainsUploads: SIGTERM while several slow uploads (about 2 s
// each) stream in. With --shutdown-grace 20s every one of them completes
// with success and its full content, and the process exits 0.
func TestSIGTERMDrainsUploads(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "replace.bin"), []byte("old replace"), 0o644)
	os.WriteFile(filepath.Join(root, "dav.bin"), []byte("old dav"), 0o644)
	os.WriteFile(filepath.Join(root, "log.txt"), []byte("old log\n"), 0o644)
	p := testutil.Start(t, root, "--shutdown-grace", "20s")
	const chunk, chunks = 32 << 10, 40 // 40 × 50 ms ≈ 2 s per body
	uploads := []struct {
		method, path, file string
		fill               byte
		want               []byte // the file afterwards
		codes              []int
	}{
		{"POST", "/file/replace.bin", "replace.bin", 'r', bytes.Repeat([]byte{'r'}, chunk*chunks), []int{200}},
		{"POST", "/file/new%2Fdir%2Fcreated.bin", "new/dir/created.bin", 'c', bytes.Repeat([]byte{'c'}, chunk*chunks), []int{200}},
		{"PUT", "/dav/dav.bin", "dav.bin", 'd', bytes.Repeat([]byte{'d'}, chunk*chunks), []int{201, 204}},
		{"PUT", "/file/log.txt", "log.txt", 'l', append([]byte("old log\n"), bytes.Repeat([]byte{'l'}, chunk*chunks)...), []int{200}},
		{"POST", "/file/second.bin", "second.bin", 's', bytes.Repeat([]byte{'s'}, chunk*chunks), []int{200}},
	}
	client := httpClient()
	codes := make([]int, len(uploads))
	errs := make([]error, len(uploads))
	var wg sync.WaitGroup
	for i, u := range uploads {
		wg.Go(func() {
			body := &slowReader{fill: u.fill, n: chunk * chunks, chunk: chunk, pause: 50 * time.Millisecond}
			codes[i], _, errs[i] = do(client, p.URL, u.method, u.path, body)
		})
	}
	// Four of the five are replaces with a file of their own each, the fifth
	// an append that grows log.txt: wait until all are streaming, then
	// signal.
	appending := func() bool {
		fi, err := os.Stat(filepath.Join(root, "log.txt"))
		return err == nil && fi.Size() > int64(len("old log\n"))
	}
	if !waitFor(10*time.Second, func() bool { return uploading(p.Cmd.Process.Pid, root) >= 4 && appending() }) {
		t.Fatalf("uploads did not start: %d in progress", uploading(p.Cmd.Process.Pid, root))
	}
	sigAt := time.Now()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	err := p.Wait(ctx)
	t.Logf("exited %v after SIGTERM: %v", time.Since(sigAt).Round(10*time.Millisecond), err)
	if err != nil {
		t.Errorf("exit after SIGTERM with transfers in flight: %v", err)
	}
	wg.Wait()
	for i, u := range uploads {
		okCode := false
		for _, c := range u.codes {
			okCode = okCode || codes[i] == c
		}
		if !okCode || errs[i] != nil {
			t.Errorf("%s %s during shutdown = %d %v, want %v", u.method, u.path, codes[i], errs[i], u.codes)
		}
		if b, err := os.ReadFile(filepath.Join(root, u.file)); !bytes.Equal(b, u.want) {
			t.Errorf("%s after a drained shutdown: %s (%v), want %d bytes", u.file, testutil.Describe(b), err, len(u.want))
		}
	}
	if tf := tempFiles(root); len(tf) > 0 {
		t.Errorf("temporary files after a clean shutdown: %v", tf)
	}
}

// TestSIGTERMGraceExpires: with --shutdown-grace 1s, uploads whose bodies
// never end do not hold the process: it exits 0 soon after the grace
// period, and the cut transfers leave what a client disconnect leaves (the
// README's guarantee): replaced files keep their old content, appends are
// rolled back, no temporary file remains. Then a restart on the same root
// must find (or make) the same state. Three rounds of 45 transfers each, as
// the cut races the process's exit.
func TestSIGTERMGraceExpires(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprintf("round%d", round+1), graceExpiresRound)
	}
}

func graceExpiresRound(t *testing.T) {
	root := t.TempDir()
	old := []byte("old content\n")
	const perKind = 15
	type transfer struct{ method, path, file string }
	var transfers []transfer
	for i := range perKind {
		for _, k := range []transfer{{"POST", "/file/", "keep"}, {"PUT", "/dav/", "dav"}, {"PUT", "/file/", "log"}} {
			name := fmt.Sprintf("%s-%d.bin", k.file, i)
			os.WriteFile(filepath.Join(root, name), old, 0o644)
			transfers = append(transfers, transfer{k.method, k.path + name, name})
		}
	}
	p := testutil.Start(t, root, "--shutdown-grace", "1s")
	stop := make(chan struct{})
	defer close(stop)
	client := httpClient()
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, r := range transfers {
		wg.Go(func() {
			code, body, err := do(client, p.URL, r.method, r.path, &endless{fill: 'x', stop: stop})
			if err == nil {
				t.Logf("%s %s cut by the shutdown: %d %q", r.method, r.path, code, body)
			}
		})
	}
	grew := func() bool {
		for i := range perKind {
			fi, err := os.Stat(filepath.Join(root, fmt.Sprintf("log-%d.bin", i)))
			if err != nil || fi.Size() <= int64(len(old)) {
				return false
			}
		}
		return true
	}
	if !waitFor(10*time.Second, func() bool { return uploading(p.Cmd.Process.Pid, root) >= 2*perKind && grew() }) {
		t.Fatalf("endless uploads did not start: %d in progress", uploading(p.Cmd.Process.Pid, root))
	}
	sigAt := time.Now()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := p.Wait(ctx)
	took := time.Since(sigAt)
	t.Logf("exited %v after SIGTERM (grace 1s): %v; %d of %d cut requests reached the request log",
		took.Round(10*time.Millisecond), err, strings.Count(p.Log(), "msg=request"), len(transfers))
	if ctx.Err() != nil {
		t.Fatalf("still running 20s after SIGTERM with a 1s grace period")
	}
	if err != nil {
		t.Errorf("exit status after the grace period: %v", err)
	}
	check := func(when string) {
		var bad []string
		for _, r := range transfers {
			b, _ := os.ReadFile(filepath.Join(root, r.file))
			if !bytes.Equal(b, old) {
				bad = append(bad, fmt.Sprintf("%s %s: %d bytes, %d after the old content", r.method, r.path, len(b), len(b)-len(old)))
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s, %d transfers cut by the shutdown left their bytes:\n%s", when, len(bad), strings.Join(bad, "\n"))
		}
		if tf := tempFiles(root); len(tf) > 0 {
			t.Errorf("%s, %d temporary files left by cut uploads: %v", when, len(tf), tf)
		}
	}
	check("at exit")
	// What the next start finds: the journal rolls back torn appends
	// before serving, the sweep removes orphaned temporary files.
	q := testutil.Start(t, root)
	waitFor(15*time.Second, func() bool { return len(tempFiles(root)) == 0 })
	check("after a restart")
	q.Stop(t, syscall.SIGTERM)
}
