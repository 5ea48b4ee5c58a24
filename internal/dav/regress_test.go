package dav

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

// Regression tests for a review of the first WebDAV layer: each reproduced
// a loss of data or a wrong answer before the fix.

// MOVE and COPY must check everything before touching the destination.
func TestMoveCopyNeverLoseTheDestination(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/important.txt", "keep me")
	e.want(404, "MOVE", "/dav/does-not-exist.txt", "", "Destination", "/dav/important.txt")
	e.want(404, "COPY", "/dav/does-not-exist.txt", "", "Destination", "/dav/important.txt")
	if got, ok := e.file("important.txt"); !ok || got != "keep me" {
		t.Fatalf("a failed MOVE deleted the destination (%q, %v)", got, ok)
	}

	e.want(201, "MKCOL", "/dav/a", "")
	e.want(201, "MKCOL", "/dav/a/b", "")
	e.want(201, "PUT", "/dav/a/keep.txt", "k")
	e.want(201, "PUT", "/dav/a/b/inner.txt", "i")
	// Onto its own parent, into its own subtree, onto itself with a slash.
	e.want(409, "MOVE", "/dav/a/b", "", "Destination", "/dav/a")
	e.want(409, "MOVE", "/dav/a", "", "Destination", "/dav/a/b/sub")
	e.want(409, "COPY", "/dav/a", "", "Destination", "/dav/a/b/sub")
	e.want(403, "COPY", "/dav/a", "", "Destination", "/dav/a/")
	e.want(403, "MOVE", "/dav/a/", "", "Destination", "/dav/a")
	for _, n := range []string{"a/keep.txt", "a/b/inner.txt"} {
		if _, ok := e.file(n); !ok {
			t.Errorf("%s lost", n)
		}
	}
	if _, ok := e.file("a/b/sub"); ok {
		t.Error("COPY into its own subtree created something")
	}
	// Parent of the destination missing: 409, nothing touched.
	e.want(409, "MOVE", "/dav/important.txt", "", "Destination", "/dav/nope/x.txt")
	e.want(409, "COPY", "/dav/important.txt", "", "Destination", "/dav/nope/x.txt")
	if _, ok := e.file("important.txt"); !ok {
		t.Error("source lost")
	}
}

// MOVE with overwrite of a collection by a file (and the reverse) replaces
// the destination, and a failed replace puts it back.
func TestMoveOverwriteKinds(t *testing.T) {
	e := newEnv(t)
	e.want(201, "MKCOL", "/dav/dir", "")
	e.want(201, "PUT", "/dav/dir/x", "x")
	e.want(201, "PUT", "/dav/f", "f")
	e.want(412, "MOVE", "/dav/f", "", "Destination", "/dav/dir", "Overwrite", "F")
	e.want(204, "MOVE", "/dav/f", "", "Destination", "/dav/dir")
	if got, _ := e.file("dir"); got != "f" {
		t.Errorf("dir is now %q", got)
	}
	e.want(201, "MKCOL", "/dav/d2", "")
	e.want(201, "PUT", "/dav/d2/y", "y")
	e.want(204, "MOVE", "/dav/d2", "", "Destination", "/dav/dir")
	if got, _ := e.file("dir/y"); got != "y" {
		t.Errorf("dir/y = %q", got)
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 1 {
		t.Errorf("root holds %d entries, want only dir (no temp files)", len(entries))
	}
	e.want(201, "COPY", "/dav/dir", "", "Destination", "/dav/dir3", "Depth", "0")
	if entries, _ := os.ReadDir(filepath.Join(e.dir, "dir3")); len(entries) != 0 {
		t.Errorf("COPY Depth 0 copied %d members", len(entries))
	}
	e.want(400, "COPY", "/dav/dir", "", "Destination", "/dav/dir4", "Depth", "1")
	e.want(400, "MOVE", "/dav/dir", "", "Destination", "/dav/dir4", "Depth", "0")
}

// A lock's owner may write while a PUT of its own is running, refresh the
// lock, and use the token in parallel requests; tagged lists naming the
// locked collection work for members.
func TestLockOwnerIsNotBlockedByItself(t *testing.T) {
	e := newEnv(t)
	e.want(201, "MKCOL", "/dav/c", "")
	resp, _ := e.want(200, "LOCK", "/dav/c", lockBody, "Timeout", "Second-600")
	tok := resp.Header.Get("Lock-Token")
	e.want(201, "PUT", "/dav/c/new.txt", "x", "If", "<"+e.srv.URL+"/dav/c> ("+tok+")")
	e.want(201, "MKCOL", "/dav/c/sub", "", "If", "("+tok+")")
	e.want(423, "MKCOL", "/dav/c/sub2", "")

	// A slow PUT under the lock does not stop a refresh or a parallel write.
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/dav/c/slow.bin", pr)
		req.Header.Set("If", "("+tok+")")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Errorf("slow PUT = %d", resp.StatusCode)
		}
	})
	pw.Write([]byte("begin"))
	time.Sleep(50 * time.Millisecond)
	e.want(200, "LOCK", "/dav/c", "", "If", "("+tok+")", "Timeout", "Second-600")
	e.want(201, "PUT", "/dav/c/parallel.txt", "p", "If", "("+tok+")")
	e.want(204, "DELETE", "/dav/c/new.txt", "", "If", "("+tok+")")
	pw.Close()
	wg.Wait()
	e.want(204, "UNLOCK", "/dav/c", "", "Lock-Token", tok)
	e.want(201, "PUT", "/dav/c/after.txt", "a")
}

// If: (Not <DAV:no-lock>) holds on an unlocked resource (RFC 4918 §10.4.8),
// and (<DAV:no-lock>) never does.
func TestIfNotNoLock(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/f", "1")
	e.want(204, "PUT", "/dav/f", "2", "If", "(Not <DAV:no-lock>)")
	e.want(412, "PUT", "/dav/f", "3", "If", "(<DAV:no-lock>)")
	e.want(204, "PUT", "/dav/f", "4", "If", "(<DAV:no-lock>) (Not <DAV:no-lock>)")
	e.want(207, "PROPPATCH", "/dav/f", proppatch, "If", "(Not <DAV:no-lock>)")
}

// x/net/webdav's own short locks (PROPPATCH) and /file/-style writes in
// progress do not answer 423 to each other.
func TestWritesInProgressDoNotLockOthersOut(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/w.txt", "x")
	end, err := e.locks.BeginWrite(locking.Write{Name: "/w.txt"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.want(207, "PROPPATCH", "/dav/w.txt", proppatch)
	e.want(204, "PUT", "/dav/w.txt", "y")
	// A real LOCK waits for no one but is refused while the write runs,
	// whatever spelling of the name it uses.
	e.want(423, "LOCK", "/dav/w.txt", lockBody)
	e.want(423, "LOCK", "/dav/./w.txt", lockBody)
	e.want(423, "LOCK", "/dav//w.txt", lockBody)
	end()
	e.want(200, "LOCK", "/dav/./w.txt", lockBody)
}

// Two PUTs carrying the same If-Match: exactly one wins, the other gets
// 412 (the precondition is checked again when the upload commits).
func TestIfMatchIsCheckedAtCommit(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.want(201, "PUT", "/dav/f", "base")
	tag := resp.Header.Get("ETag")
	codes := make(chan int, 2)
	var writers []*io.PipeWriter
	var wg sync.WaitGroup
	for _, body := range []string{"A", "B"} {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		wg.Go(func() {
			req, _ := http.NewRequest("PUT", e.srv.URL+"/dav/f", pr)
			req.Header.Set("If-Match", tag)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
		pw.Write([]byte(body))
	}
	time.Sleep(50 * time.Millisecond) // both passed the first check
	writers[0].Close()
	time.Sleep(50 * time.Millisecond)
	writers[1].Close()
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if got[204] != 1 || got[412] != 1 {
		t.Errorf("status codes %v, want one 204 and one 412", got)
	}
	if content, _ := e.file("f"); content != "A" {
		t.Errorf("content %q, want the first commit's", content)
	}
}

// With WebDAV at the server root, a collection named like a host must not
// turn the trailing-slash redirect into an open redirect.
func TestNoOpenRedirect(t *testing.T) {
	dir := t.TempDir()
	store, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e := &env{t: t, dir: dir, locks: locking.New()}
	e.srv = newTestServer(New("/", store, e.locks, Options{}, nil))
	defer e.srv.Close()
	os.Mkdir(filepath.Join(dir, "evil.example"), 0o755)
	resp, _ := e.want(301, "GET", "//evil.example", "")
	if loc := resp.Header.Get("Location"); loc != "/evil.example/" {
		t.Errorf("Location %q", loc)
	}
}

func TestStatusCodes(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/file", "x")
	e.want(409, "LOCK", "/dav/missing/f", lockBody)                           // no parent
	e.want(409, "MKCOL", "/dav/file/sub", "")                                 // parent is a file
	e.want(415, "MKCOL", "/dav/withbody", "<x/>", "Content-Type", "text/xml") // §9.3.1
	e.want(404, "MOVE", "/dav/missing", "", "Destination", "/dav/x")          //
	e.want(404, "DELETE", "/dav/missing", "")                                 //
	e.want(403, "DELETE", "/dav/", "")                                        // the root
	e.want(403, "MOVE", "/dav/", "", "Destination", "/dav/x")                 //
	resp, _ := e.want(405, "PATCH", "/dav/file", "x")                         // unknown to WebDAV
	if resp.Header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
	e.want(409, "UNLOCK", "/dav/file", "", "Lock-Token", "<opaquelocktoken:nope>")
	e.want(409, "UNLOCK", "/dav/file", "", "Lock-Token", "nope") // unbracketed (Windows): parsed, no such lock
	e.want(400, "UNLOCK", "/dav/file", "", "Lock-Token", "<a b>")
	// The lock of another resource cannot be removed through this one.
	resp, _ = e.want(201, "LOCK", "/dav/other", lockBody)
	e.want(409, "UNLOCK", "/dav/file", "", "Lock-Token", resp.Header.Get("Lock-Token"))
	e.want(204, "UNLOCK", "/dav/other", "", "Lock-Token", resp.Header.Get("Lock-Token"))
}

// DELETE and MOVE release the locks of what they removed (x/net/webdav
// keeps them, golang/go#42839), so the name is free again.
func TestDeleteAndMoveReleaseLocks(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.want(201, "LOCK", "/dav/a", lockBody)
	tok := resp.Header.Get("Lock-Token")
	e.want(204, "DELETE", "/dav/a", "", "If", "("+tok+")")
	e.want(201, "PUT", "/dav/a", "new owner, no lock needed")
	resp, _ = e.want(201, "LOCK", "/dav/b", lockBody)
	tok = resp.Header.Get("Lock-Token")
	e.want(201, "MOVE", "/dav/b", "", "Destination", "/dav/c", "If", "("+tok+")")
	e.want(201, "PUT", "/dav/b", "free again")
	e.want(204, "PUT", "/dav/c", "the lock did not move with it")
}

const lockBody = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>`

const proppatch = `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:test"><D:set><D:prop><Z:color>blue</Z:color></D:prop></D:set></D:propertyupdate>`
