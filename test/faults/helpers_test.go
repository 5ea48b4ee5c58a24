// Package faults proves davnas's guarantees under faults, against the real
// binary on 127.0.0.1: kill -9 in the middle of uploads and appends,
// SIGTERM with transfers in flight, clients that vanish at any byte, and
// hostile names and symbolic links that try to leave the root. Every test
// starts its own server (testutil.Start) and stops it by PID.
package faults

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/storage"
)

// tempPrefix names an upload's hidden temporary file (storage's tempPrefix).
const tempPrefix = storage.ReservedPrefix + "tmp-"

// httpClient never follows redirects and bounds every request; the bound is
// a safety net, not a performance assertion.
func httpClient() *http.Client {
	return &http.Client{
		Timeout:       90 * time.Second,
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// request builds a request whose path is sent verbatim (so %2F, %2e and
// ".." reach the server as written).
func request(base, method, rawPath string, body io.Reader, hdr ...string) (*http.Request, error) {
	req, err := http.NewRequest(method, base, body)
	if err != nil {
		return nil, err
	}
	p, q, _ := strings.Cut(rawPath, "?")
	req.URL.Opaque = p
	req.URL.RawQuery = q
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req, nil
}

// do sends one request and returns its status and body.
func do(c *http.Client, base, method, rawPath string, body io.Reader, hdr ...string) (int, string, error) {
	req, err := request(base, method, rawPath, body, hdr...)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// tempFiles lists the upload temporary files anywhere under root.
func tempFiles(root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// uploading counts the uploads process pid is writing under root: named
// temporary files, and unnamed files (O_TMPFILE), which have no name while
// they stream and which /proc shows as "DIR/#INODE (deleted)".
func uploading(pid int, root string) int {
	n := len(tempFiles(root))
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, root+"/") && strings.Contains(target, "/#") && strings.HasSuffix(target, " (deleted)") {
			n++
		}
	}
	return n
}

// slowReader yields n bytes of fill in chunks of chunk bytes, sleeping
// pause before each chunk but the first: a body that streams for a while,
// so that a fault lands in the middle of it.
type slowReader struct {
	fill  byte
	n     int64
	chunk int
	pause time.Duration
	sent  int64
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.sent >= r.n {
		return 0, io.EOF
	}
	if r.sent > 0 && r.pause > 0 {
		time.Sleep(r.pause)
	}
	k := int(min(int64(len(p)), int64(r.chunk), r.n-r.sent))
	for i := range p[:k] {
		p[i] = r.fill
	}
	r.sent += int64(k)
	return k, nil
}

// endless yields fill bytes in small pieces until stop is closed: a body
// that never ends.
type endless struct {
	fill byte
	stop chan struct{}
}

func (r *endless) Read(p []byte) (int, error) {
	select {
	case <-r.stop:
		return 0, io.ErrUnexpectedEOF
	case <-time.After(20 * time.Millisecond):
	}
	k := min(len(p), 4096)
	for i := range p[:k] {
		p[i] = r.fill
	}
	return k, nil
}

// treeState is what a directory tree looks like: every entry's relative
// name, kind, size, modification time and content hash stand-in (the
// bytes themselves; the trees compared are tiny).
type treeState map[string]string

func snapshot(t testing.TB, dir string) treeState {
	t.Helper()
	st := treeState{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		}
		st[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return st
}

func (s treeState) diff(o treeState) string {
	var out []string
	for k, v := range s {
		if w, ok := o[k]; !ok {
			out = append(out, "gone: "+k)
		} else if v != w {
			out = append(out, fmt.Sprintf("changed: %s (%s -> %s)", k, v, w))
		}
	}
	for k := range o {
		if _, ok := s[k]; !ok {
			out = append(out, "new: "+k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
