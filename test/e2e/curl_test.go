package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davnas/davnas/internal/testutil"
)

// sh runs a shell pipeline with $URL set to the server, failing the test
// when it exits non-zero.
func sh(t *testing.T, dir, url, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-o", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "URL="+url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// TestCurl runs the README's curl commands, the two from http-nas's README
// verbatim but for the host and port.
func TestCurl(t *testing.T) {
	testutil.Need(t, "curl")
	p := testutil.Start(t, "")
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "cat.jpg"), []byte("\xff\xd8\xff\xe0 not really a jpeg"), 0o644)
	os.WriteFile(filepath.Join(p.Root, "mydata.csv"), []byte("a,b\n"), 0o644)

	sh(t, work, p.URL, `cat cat.jpg | curl -X POST -H "Transfer-Encoding: chunked" -s -f -T - $URL/file/cat.jpg`)
	sh(t, work, p.URL, `printf "test append" | curl -X PUT -H "Transfer-Encoding: chunked" -s -f -T - $URL/file/mydata.csv`)
	if b, _ := os.ReadFile(filepath.Join(p.Root, "mydata.csv")); string(b) != "a,b\ntest append" {
		t.Errorf("mydata.csv = %q", b)
	}
	if out := sh(t, work, p.URL, `curl -s -f $URL/file/cat.jpg | cmp - cat.jpg && echo same`); out != "same\n" {
		t.Errorf("download differs: %q", out)
	}
	if out := sh(t, work, p.URL, `curl -s -f $URL/file/mydata.csv/wc`); out != "2" {
		t.Errorf("wc = %q", out)
	}
	sh(t, work, p.URL, `cat cat.jpg | curl -X POST -H "Transfer-Encoding: chunked" -s -f -T - $URL/file/mydirectory%2Fcat.jpg`)
	sh(t, work, p.URL, `curl -s -f $URL/file/mydirectory%2Fcat.jpg | cmp - cat.jpg`)
	sh(t, work, p.URL, `curl -s -f -X PUT $URL/file/cat.jpg --header 'Content-Type: application/json' --data-raw '{ "path": "newcat.jpg" }'`)
	if !exists(filepath.Join(p.Root, "newcat.jpg")) || exists(filepath.Join(p.Root, "cat.jpg")) {
		t.Error("README move form did not move")
	}
	if out := sh(t, work, p.URL, `curl -s -f -r 0-3 $URL/file/newcat.jpg | od -An -tx1 | tr -d ' \n'`); out != "ffd8ffe0" {
		t.Errorf("Range download = %q", out)
	}
	sh(t, work, p.URL, `curl -s -f -X DELETE $URL/file/newcat.jpg`)
	// -f makes curl fail on 4xx: the pipeline's own error handling works.
	cmd := exec.Command("bash", "-c", `curl -s -f $URL/file/newcat.jpg`)
	cmd.Env = append(os.Environ(), "URL="+p.URL)
	if err := cmd.Run(); err == nil {
		t.Error("curl -f of a deleted file succeeded")
	}
	// A 4xx body is one short plain-text line.
	out := sh(t, work, p.URL, `curl -s -w ' %{http_code}' $URL/file/..%2F..%2Fetc%2Fpasswd`)
	if out != "invalid name\n 400" {
		t.Errorf("bad name answer %q", out)
	}
	// Listing and JSON listing.
	if out := sh(t, work, p.URL, `curl -s -f $URL/file/mydirectory`); out != "cat.jpg\n" {
		t.Errorf("listing = %q", out)
	}
	if out := sh(t, work, p.URL, `curl -s -f -H 'Accept: application/json' $URL/file/mydirectory`); !strings.Contains(out, `"name":"cat.jpg"`) {
		t.Errorf("JSON listing = %q", out)
	}
	// WebDAV with curl: PUT, PROPFIND, MOVE, GET.
	sh(t, work, p.URL, `curl -s -f -T cat.jpg $URL/dav/mydirectory/dav.jpg`)
	if out := sh(t, work, p.URL, `curl -s -f -X PROPFIND -H 'Depth: 1' $URL/dav/mydirectory/`); !strings.Contains(out, "/dav/mydirectory/dav.jpg") {
		t.Errorf("PROPFIND = %s", out)
	}
	sh(t, work, p.URL, `curl -s -f -X MOVE -H "Destination: $URL/dav/moved.jpg" $URL/dav/mydirectory/dav.jpg`)
	sh(t, work, p.URL, `curl -s -f $URL/file/moved.jpg | cmp - cat.jpg`)
}
