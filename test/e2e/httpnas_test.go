package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// TestHTTPNASSuite replays http-nas's own test file (tests/stream.test.js)
// against the real binary, case by case and in its order, including the
// 1 GiB upload, and measures the server's peak memory during that upload.
func TestHTTPNASSuite(t *testing.T) {
	p := testutil.Start(t, "")
	c := newClient(t, p)
	root := p.Root

	// healthcheck
	if got := c.expect(200, "GET", "/file", nil); got != "OK" {
		t.Errorf("health body %q", got)
	}
	// check for non-existing file
	c.expect(404, "GET", "/file/blah", nil)
	// create small file
	c.expect(200, "POST", "/file/testfile", strings.NewReader("file contents"))
	// stream small file
	if got := c.expect(200, "GET", "/file/testfile", nil); got != "file contents" {
		t.Errorf("stream small file: %q", got)
	}
	// create small file in directory
	c.expect(200, "POST", "/file/testdir%2Ftestfile2", strings.NewReader("file contents in directory"))
	// create multi-line file
	c.expect(200, "POST", "/file/testfileML", strings.NewReader("file contents\nline2\nline3\n"))
	// get linecount on multi-line file
	if got := c.expect(200, "GET", "/file/testfileML/wc", nil); got != "3" {
		t.Errorf("wc = %q, want 3", got)
	}
	// append to file
	c.expect(200, "PUT", "/file/testfileML", strings.NewReader("line4\n"))
	// confirm file contents
	if b, _ := os.ReadFile(filepath.Join(root, "testfileML")); string(b) != "file contents\nline2\nline3\nline4\n" {
		t.Errorf("after append: %q", b)
	}
	// check that parent directory was created
	if fi, err := os.Stat(filepath.Join(root, "testdir")); err != nil || !fi.IsDir() {
		t.Errorf("testdir not created: %v", err)
	}
	// stream small file from directory
	if got := c.expect(200, "GET", "/file/testdir%2Ftestfile2", nil); got != "file contents in directory" {
		t.Errorf("stream from directory: %q", got)
	}
	// get directory listing
	if got := c.expect(200, "GET", "/file/testdir", nil); got != "testfile2\n" {
		t.Errorf("listing: %q", got)
	}
	// create large file in directory: 1 GiB, streamed chunked from a pipe
	const gib = 1 << 30
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, &zeroReader{n: gib})
		pw.CloseWithError(err)
	}()
	stop := make(chan struct{})
	peak := make(chan int64, 1)
	go func() { // sample RSS while the upload runs
		var max int64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := p.Status("VmRSS"); v > max {
				max = v
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	req, _ := http.NewRequest("POST", p.URL+"/file/testdir%2Flargefile", pr)
	req.URL.Opaque = "/file/testdir%2Flargefile"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	dur := time.Since(start)
	close(stop)
	rss := <-peak
	hwm := p.Status("VmHWM")
	if resp.StatusCode != 200 {
		t.Fatalf("1 GiB upload = %d", resp.StatusCode)
	}
	if fi, err := os.Stat(filepath.Join(root, "testdir/largefile")); err != nil || fi.Size() != gib {
		t.Fatalf("largefile: %v %v", fi, err)
	}
	t.Logf("1 GiB chunked upload: %.0f MB/s, server peak RSS %.1f MiB (VmHWM %.1f MiB)",
		float64(gib)/1e6/dur.Seconds(), float64(rss)/(1<<20), float64(hwm)/(1<<20))
	if hwm > 64<<20 {
		t.Errorf("server resident memory peaked at %.1f MiB during a 1 GiB upload, want < 64 MiB", float64(hwm)/(1<<20))
	}
	// get directory listing, expecting two files
	if got := c.expect(200, "GET", "/file/testdir", nil); got != "largefile\ntestfile2\n" {
		t.Errorf("listing: %q", got)
	}
	// attempt to mv a file that doesn't exist
	c.expect(404, "PUT", "/file/nofile.txt/mv", strings.NewReader(`{"path":"nofilemoved.txt"}`), "Content-Type", "application/json")
	// mv largefile in same directory
	c.expect(200, "PUT", "/file/testdir%2Flargefile/mv", strings.NewReader(`{"path":"testdir%2Flargefilemoved"}`), "Content-Type", "application/json")
	if !exists(filepath.Join(root, "testdir/largefilemoved")) {
		t.Error("mv within directory")
	}
	// mv largefile to a new directory
	c.expect(200, "PUT", "/file/testdir%2Flargefilemoved/mv", strings.NewReader(`{"path":"testmoved%2Flargefilemoved"}`), "Content-Type", "application/json")
	if !exists(filepath.Join(root, "testmoved/largefilemoved")) {
		t.Error("mv to a new directory")
	}
	// delete testfile, testdir, testmoved
	for _, n := range []string{"testfile", "testdir", "testmoved"} {
		c.expect(200, "DELETE", "/file/"+n, nil)
		if exists(filepath.Join(root, n)) {
			t.Errorf("%s still exists", n)
		}
	}
	if tf := tempFiles(root); len(tf) > 0 {
		t.Errorf("temp files left: %v", tf)
	}
}
