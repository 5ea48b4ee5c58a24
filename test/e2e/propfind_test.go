package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// TestPropfindStreams lists a collection of 100,000 files with PROPFIND
// Depth 1 (the property list davfs2 and rclone ask for). The response is
// streamed as the directory is read: the server's peak memory after the
// 100,000-entry listing is no higher than after a 10,000-entry one (plus a
// small allowance), and the first bytes arrive long before the last.
func TestPropfindStreams(t *testing.T) {
	root := t.TempDir()
	for _, d := range []struct {
		name string
		n    int
	}{{"small", 10000}, {"big", 100000}} {
		dir := filepath.Join(root, d.name)
		os.Mkdir(dir, 0o755)
		for i := range d.n {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("file-%06d.csv", i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	p := testutil.Start(t, root, "--log-level", "info")
	body := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:getcontenttype/></D:prop></D:propfind>`
	list := func(dir string) (responses int, ttfb, total time.Duration) {
		req, _ := http.NewRequest("PROPFIND", p.URL+"/dav/"+dir+"/", strings.NewReader(body))
		req.Header.Set("Depth", "1")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 207 {
			t.Fatalf("PROPFIND %s = %d", dir, resp.StatusCode)
		}
		br := bufio.NewReader(resp.Body)
		if _, err := br.Peek(1); err != nil {
			t.Fatal(err)
		}
		ttfb = time.Since(start)
		data, err := io.ReadAll(br)
		if err != nil {
			t.Fatal(err)
		}
		total = time.Since(start)
		if !bytes.HasSuffix(bytes.TrimSpace(data), []byte("</D:multistatus>")) {
			t.Fatalf("truncated multistatus")
		}
		return bytes.Count(data, []byte("<D:response>")), ttfb, total
	}
	n, _, _ := list("small")
	afterSmall := p.Status("VmHWM")
	if n != 10001 {
		t.Fatalf("small listing: %d responses", n)
	}
	n, ttfb, total := list("big")
	afterBig := p.Status("VmHWM")
	if n != 100001 {
		t.Fatalf("big listing: %d responses", n)
	}
	t.Logf("PROPFIND Depth 1 of 100,000 files: first byte after %v, all after %v (ratio %.3f); peak RSS %.1f MiB after 10,000, %.1f MiB after 100,000",
		ttfb, total, ttfb.Seconds()/total.Seconds(), float64(afterSmall)/(1<<20), float64(afterBig)/(1<<20))
	if afterBig > afterSmall+8<<20 {
		t.Errorf("peak RSS grew from %.1f to %.1f MiB between a 10,000 and a 100,000-entry listing: not streamed",
			float64(afterSmall)/(1<<20), float64(afterBig)/(1<<20))
	}
	if ttfb*4 > total {
		t.Errorf("first byte after %v of %v: the listing was not streamed", ttfb, total)
	}
}
