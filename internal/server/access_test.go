package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/davnas/davnas/internal/auth"
	"github.com/davnas/davnas/internal/config"
	"github.com/davnas/davnas/internal/testutil"
)

const lockXML = `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`

// authEnv serves a root holding shared.txt and teams/carol/own.txt, with
// users alice (rw), bob (ro), carol (rw, root teams/carol) and a token.
func authEnv(t *testing.T, mod func(*config.Config)) (*env, string) {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "teams/carol"), 0o755)
	os.WriteFile(filepath.Join(dir, "shared.txt"), []byte("shared"), 0o644)
	os.WriteFile(filepath.Join(dir, "teams/carol/own.txt"), []byte("carol's"), 0o644)
	var lines []string
	for _, u := range []struct {
		name, pw, root string
		ro             bool
	}{{"alice", "a-pw", "", false}, {"bob", "b-pw", "", true}, {"carol", "c-pw", "teams/carol", false}} {
		// bcrypt's minimum cost: these tests check access, not the work factor.
		hash, err := bcrypt.GenerateFromPassword([]byte(u.pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		role := "rw"
		if u.ro {
			role = "ro"
		}
		lines = append(lines, u.name+":"+string(hash)+":"+role+":"+u.root)
	}
	cred := t.TempDir()
	users := filepath.Join(cred, "users")
	os.WriteFile(users, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	tok, tline, _ := auth.NewToken("ci", false, "")
	tokens := filepath.Join(cred, "tokens")
	os.WriteFile(tokens, []byte(tline+"\n"), 0o600)
	e := newEnvCfg(t, dir, func(c *config.Config) {
		c.AuthFile, c.TokenFile = users, tokens
		if mod != nil {
			mod(c)
		}
	})
	return e, tok
}

func withAuth(user, pw string, hdr ...string) []string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pw)
	return append([]string{"Authorization", r.Header.Get("Authorization")}, hdr...)
}

func TestAuthRequired(t *testing.T) {
	e, tok := authEnv(t, nil)
	for _, p := range []string{"/file/shared.txt", "/dav/shared.txt", "/file/%2F", "/dav/", "/"} {
		resp, body := e.do("GET", p, "")
		if resp.StatusCode != 401 || body != "authentication required\n" || len(resp.Header.Values("WWW-Authenticate")) != 2 {
			t.Errorf("GET %s without credentials = %d %q %v", p, resp.StatusCode, body, resp.Header)
		}
	}
	if resp, _ := e.do("GET", "/file/shared.txt", "", withAuth("alice", "nope")...); resp.StatusCode != 401 {
		t.Errorf("wrong password = %d", resp.StatusCode)
	}
	// Open: the probes and http-nas's health check.
	for _, p := range []string{"/healthz", "/readyz", "/file"} {
		if resp, _ := e.do("GET", p, ""); resp.StatusCode != 200 {
			t.Errorf("GET %s = %d, want it open", p, resp.StatusCode)
		}
	}
	// OPTIONS answers without credentials, and says nothing about the path.
	r1, b1 := e.do("OPTIONS", "/dav/shared.txt", "")
	r2, b2 := e.do("OPTIONS", "/dav/no-such-file", "")
	if r1.StatusCode != 200 || r1.Header.Get("DAV") != "1, 2" || r1.Header.Get("Allow") != r2.Header.Get("Allow") || b1 != b2 {
		t.Errorf("unauthenticated OPTIONS: %d %v / %v", r1.StatusCode, r1.Header, r2.Header)
	}
	if resp, body := e.do("GET", "/file/shared.txt", "", "Authorization", "Bearer "+tok); resp.StatusCode != 200 || body != "shared" {
		t.Errorf("bearer token: %d %q", resp.StatusCode, body)
	}
	if resp, body := e.do("GET", "/dav/shared.txt", "", withAuth("alice", "a-pw")...); resp.StatusCode != 200 || body != "shared" {
		t.Errorf("alice: %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(e.log.String(), "user=alice") || !strings.Contains(e.log.String(), "user=ci") {
		t.Error("the request log does not name the user")
	}
	for range 10 {
		e.do("GET", "/file/shared.txt", "", withAuth("alice", "guess")...)
	}
	resp, _ := e.do("GET", "/file/shared.txt", "", withAuth("alice", "a-pw")...)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("after 11 failures: %d %v", resp.StatusCode, resp.Header)
	}
}

// writeRequests are every write, through both APIs.
var writeRequests = []struct{ method, path, body string }{
	{"POST", "/file/new.txt", "x"},
	{"PUT", "/file/shared.txt", "appended"},
	{"PUT", "/file/shared.txt/mv", `{"path":"moved.txt"}`},
	{"DELETE", "/file/shared.txt", ""},
	{"PUT", "/dav/shared.txt", "replaced"},
	{"POST", "/dav/shared.txt", "x"},
	{"DELETE", "/dav/shared.txt", ""},
	{"MKCOL", "/dav/newdir", ""},
	{"COPY", "/dav/shared.txt", ""},
	{"MOVE", "/dav/shared.txt", ""},
	{"PROPPATCH", "/dav/shared.txt", `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`},
	{"LOCK", "/dav/shared.txt", lockXML},
	{"UNLOCK", "/dav/shared.txt", ""},
}

func checkReadOnly(t *testing.T, e *env, creds []string) {
	t.Helper()
	for _, w := range writeRequests {
		hdr := append([]string{"Destination", "/dav/copy.txt", "Lock-Token", "<urn:uuid:x>"}, creds...)
		resp, body := e.do(w.method, w.path, w.body, hdr...)
		if resp.StatusCode != 403 {
			t.Errorf("read-only %s %s = %d %q, want 403", w.method, w.path, resp.StatusCode, body)
		}
	}
	entries, _ := os.ReadDir(e.dir)
	if got, _ := os.ReadFile(filepath.Join(e.dir, "shared.txt")); string(got) != "shared" || len(entries) != 2 {
		t.Errorf("a read-only request changed the volume (%d entries, shared.txt %q)", len(entries), got)
	}
	for _, r := range []struct{ method, path string }{{"GET", "/file/shared.txt"}, {"HEAD", "/dav/shared.txt"}, {"PROPFIND", "/dav/"}, {"GET", "/file/shared.txt/wc"}} {
		resp, _ := e.do(r.method, r.path, "", append([]string{"Depth", "1"}, creds...)...)
		if resp.StatusCode >= 300 {
			t.Errorf("read-only %s %s = %d", r.method, r.path, resp.StatusCode)
		}
	}
}

func TestReadOnlyUser(t *testing.T) {
	e, _ := authEnv(t, nil)
	checkReadOnly(t, e, withAuth("bob", "b-pw"))
}

func TestReadOnlyServer(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "shared.txt"), []byte("shared"), 0o644)
	os.Mkdir(filepath.Join(dir, "teams"), 0o755)
	e := newEnvCfg(t, dir, func(c *config.Config) { c.ReadOnly = true })
	checkReadOnly(t, e, nil)
	// Everyone is read-only, authenticated or not.
	ea, _ := authEnv(t, func(c *config.Config) { c.ReadOnly = true })
	if resp, _ := ea.do("POST", "/file/x", "x", withAuth("alice", "a-pw")...); resp.StatusCode != 403 {
		t.Errorf("--read-only with a read-write user = %d", resp.StatusCode)
	}
}

// TestConfinedUser: carol's root is teams/carol; nothing else is reachable.
func TestConfinedUser(t *testing.T) {
	e, _ := authEnv(t, nil)
	os.Symlink(e.dir, filepath.Join(e.dir, "teams/carol/escape"))
	c := withAuth("carol", "c-pw")
	if _, body := e.do("GET", "/file/%2F", "", c...); body != "own.txt\n" {
		t.Errorf("carol's listing = %q (links out of her root hidden)", body)
	}
	if _, body := e.do("GET", "/file/own.txt", "", c...); body != "carol's" {
		t.Errorf("carol's file = %q", body)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/file/..%2Fshared.txt"}, {"GET", "/file/../../shared.txt"}, {"GET", "/dav/../shared.txt"},
		{"GET", "/file/escape/shared.txt"}, {"GET", "/dav/escape/shared.txt"}, {"GET", "/file/shared.txt"},
	} {
		resp, body := e.do(r.method, r.path, "", c...)
		if resp.StatusCode < 400 || strings.Contains(body, "shared") {
			t.Errorf("carol %s %s = %d %q", r.method, r.path, resp.StatusCode, body)
		}
	}
	for _, dst := range []string{"/dav/../x.txt", "/dav/%2e%2e/x.txt", "http://other/dav/../../x.txt", "/elsewhere/x.txt"} {
		resp, _ := e.do("COPY", "/dav/own.txt", "", append([]string{"Destination", dst}, c...)...)
		if resp.StatusCode < 400 {
			t.Errorf("carol COPY to %s = %d", dst, resp.StatusCode)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "x.txt")); err == nil {
		t.Error("carol wrote outside her root")
	}
	// Within her root everything works, as names of her own.
	e.do("COPY", "/dav/own.txt", "", append([]string{"Destination", "/dav/copy.txt"}, c...)...)
	if _, err := os.Stat(filepath.Join(e.dir, "teams/carol/copy.txt")); err != nil {
		t.Errorf("carol's COPY: %v", err)
	}
	_, body := e.do("PROPFIND", "/dav/", "", append([]string{"Depth", "1"}, c...)...)
	if !strings.Contains(body, "<D:href>/dav/own.txt</D:href>") || strings.Contains(body, "shared.txt") || strings.Contains(body, "teams") {
		t.Errorf("carol's PROPFIND:\n%s", body)
	}
	// A lock carol takes is seen by alice, whose root is the whole volume.
	resp, _ := e.do("LOCK", "/dav/own.txt", lockXML, c...)
	if resp.StatusCode != 200 {
		t.Fatalf("carol LOCK = %d", resp.StatusCode)
	}
	if resp, _ := e.do("PUT", "/dav/teams/carol/own.txt", "x", withAuth("alice", "a-pw")...); resp.StatusCode != 423 {
		t.Errorf("alice PUT on carol's locked file = %d", resp.StatusCode)
	}
}

func TestUploadLimits(t *testing.T) {
	e := newEnvCfg(t, "", func(c *config.Config) { c.MaxUploadSize = 1 << 20 })
	os.WriteFile(filepath.Join(e.dir, "f"), []byte("old"), 0o644)
	big := strings.Repeat("x", 2<<20)
	for _, r := range []struct{ method, path string }{{"POST", "/file/f"}, {"PUT", "/file/f"}, {"PUT", "/dav/f"}} {
		resp, body := e.do(r.method, r.path, big)
		if resp.StatusCode != 413 {
			t.Errorf("%s %s of 2 MiB (Content-Length) = %d %q", r.method, r.path, resp.StatusCode, body)
		}
		// Chunked: the limit cuts the stream.
		code := rawChunked(t, e.srv.Listener.Addr().String(), r.method, r.path, 2<<20)
		if code != 413 {
			t.Errorf("%s %s of 2 MiB (chunked) = %d", r.method, r.path, code)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(e.dir, "f")); string(got) != "old" {
		t.Errorf("f = %d bytes", len(got))
	}
	assertNoTemp(t, e.dir)
	if resp, _ := e.do("POST", "/file/small", strings.Repeat("y", 1<<20)); resp.StatusCode != 200 {
		t.Errorf("an upload at the limit = %d", resp.StatusCode)
	}
}

// rawChunked sends a chunked body of n bytes and returns the status.
func rawChunked(t *testing.T, addr, method, path string, n int) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", method, path)
	chunk := strings.Repeat("z", 64<<10)
	go func() {
		for sent := 0; sent < n; sent += len(chunk) {
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
		fmt.Fprint(conn, "0\r\n\r\n")
	}()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), ".davnas-tmp-") {
				found = append(found, p)
			}
			return nil
		})
		if len(found) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("temp files left: %v", found)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMinFreeSpace(t *testing.T) {
	dir := testutil.Tmpfs(t, "8m")
	e := newEnvCfg(t, dir, func(c *config.Config) { c.MinFreeSpace = 6 << 20 })
	if resp, _ := e.do("POST", "/file/small", strings.Repeat("s", 512<<10)); resp.StatusCode != 200 {
		t.Fatalf("a small upload = %d", resp.StatusCode)
	}
	resp, body := e.do("POST", "/file/big", strings.Repeat("b", 3<<20))
	if resp.StatusCode != 507 || body != "insufficient storage\n" {
		t.Errorf("an upload past --min-free-space = %d %q", resp.StatusCode, body)
	}
	if code := rawChunked(t, e.srv.Listener.Addr().String(), "POST", "/file/big2", 3<<20); code != 507 {
		t.Errorf("a chunked upload past --min-free-space = %d", code)
	}
	assertNoTemp(t, dir)
	os.WriteFile(filepath.Join(dir, "filler"), make([]byte, 2<<20), 0o644) // now below the minimum
	if resp, _ := e.do("GET", "/readyz", ""); resp.StatusCode != 503 {
		t.Errorf("readyz below --min-free-space = %d", resp.StatusCode)
	}
}

func TestStallTimeout(t *testing.T) {
	e := newEnvCfg(t, "", func(c *config.Config) { c.StallTimeout = 300 * time.Millisecond })
	os.WriteFile(filepath.Join(e.dir, "f"), []byte("old"), 0o644)
	for _, trickle := range []bool{false, true} {
		conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /file/f HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nsome bytes")
		if trickle { // a byte every 50 ms: moving, but slowloris-slow
			go func() {
				for range 100 {
					time.Sleep(50 * time.Millisecond)
					if _, err := conn.Write([]byte("t")); err != nil {
						return
					}
				}
			}()
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 408 {
				t.Errorf("stalled upload (trickle %v) answered %d", trickle, resp.StatusCode)
			}
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("a stalled upload (trickle %v) was not dropped", trickle)
		}
		conn.Close()
	}
	if got, _ := os.ReadFile(filepath.Join(e.dir, "f")); string(got) != "old" {
		t.Errorf("f = %q", got)
	}
	assertNoTemp(t, e.dir)
	// A steady upload slower than the window but faster than the minimum
	// rate is never cut.
	if resp, _ := e.do("POST", "/file/g", strings.Repeat("g", 1<<20)); resp.StatusCode != 200 {
		t.Errorf("an honest upload = %d", resp.StatusCode)
	}
}

// TestStallTimeoutDownload: a client that stops reading a download is
// dropped once a write has waited a window, and the request line records
// what was sent.
func TestStallTimeoutDownload(t *testing.T) {
	e := newEnvCfg(t, "", func(c *config.Config) { c.StallTimeout = 300 * time.Millisecond })
	const size = 256 << 20 // far more than the socket buffers hold
	f, err := os.Create(filepath.Join(e.dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /file/big HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(1500 * time.Millisecond) // not reading: five windows
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection was neither dropped nor served to the end (%d bytes)", n)
	}
	if n >= size {
		t.Fatalf("read %d bytes: the stalled download was not dropped", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.log.String(), "path=/file/big") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(e.log.String(), "path=/file/big") {
		t.Fatalf("no request line for the dropped download:\n%s", e.log.String())
	}
}

// TestRefusedBodyNeverSent: a write refused before its body is read (a
// missing file to append to, a missing parent) from a client that sends
// the headers and never the body. net/http reads an unread body before it
// answers (so that a client still sending sees the answer), and closes a
// connection only after reading what it can of it: without a deadline,
// such a client got no answer and held the connection for ever. It gets
// its answer within the stall window and the connection is closed.
func TestRefusedBodyNeverSent(t *testing.T) {
	e := newEnvCfg(t, "", func(c *config.Config) { c.StallTimeout = 300 * time.Millisecond })
	for _, c := range []struct {
		req  string
		want int
	}{
		{"PUT /file/missing HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 404},
		{"PUT /file/missing HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n", 404},
		{"PUT /dav/nope/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 409},
		{"PUT /dav/nope/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 409},
	} {
		conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(conn, c.req)
		conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang, not a speed limit
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Errorf("%q: no answer: %v", c.req, err)
			conn.Close()
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%q = %d, want %d", c.req, resp.StatusCode, c.want)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%q: the connection was not closed after the answer: %v", c.req, err)
		}
		conn.Close()
	}
}

// TestMalformedChunkedBody: a chunked body whose framing is broken is the
// client's fault (400 with a reason), not the server's (it was 500), and
// the old file survives on both upload paths and the append path.
func TestMalformedChunkedBody(t *testing.T) {
	e := newEnvCfg(t, "", nil)
	os.WriteFile(filepath.Join(e.dir, "f"), []byte("old"), 0o644)
	for _, method := range []string{"POST /file/f", "PUT /file/f", "PUT /dav/f"} {
		for _, chunks := range []string{"zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcdef\r\n0\r\n\r\n", "ffffffffffffffffff\r\nabc\r\n"} {
			conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s", method, chunks)
			conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang, not a speed limit
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Errorf("%s with %q: %v", method, chunks, err)
				conn.Close()
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			conn.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(body), "malformed") {
				t.Errorf("%s with chunks %q = %d %q, want 400 malformed", method, chunks, resp.StatusCode, body)
			}
		}
	}
	if got, _ := os.ReadFile(filepath.Join(e.dir, "f")); string(got) != "old" {
		t.Errorf("f = %q after malformed uploads", got)
	}
	assertNoTemp(t, e.dir)
}

func TestMaxConnections(t *testing.T) {
	e := newEnvCfg(t, "", func(c *config.Config) { c.MaxConnections = 1 })
	// Hold the one slot with an upload whose body stops half way. It may
	// itself be refused if a probing GET holds the slot at that instant:
	// then start it again.
	var conn net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for got503 := false; !got503; {
		if time.Now().After(deadline) {
			t.Fatal("no 503 while the only slot was busy")
		}
		if conn == nil {
			c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "POST /file/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
			conn = c
			time.Sleep(20 * time.Millisecond)
		}
		resp, _ := e.do("GET", "/file/%2F", "")
		if resp.StatusCode == 503 {
			got503 = true
			if resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			continue
		}
		// Was the upload refused? Then it has an answer waiting.
		conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := bufio.NewReader(conn).ReadString('\n'); err == nil {
			conn.Close()
			conn = nil
		}
		conn.SetReadDeadline(time.Time{})
	}
	defer conn.Close()
	if resp, _ := e.do("GET", "/healthz", ""); resp.StatusCode != 200 {
		t.Errorf("probes are limited too: %d", resp.StatusCode)
	}
	conn.Write([]byte("defghij"))
	bufio.NewReader(conn).ReadString('\n')
	if resp, _ := e.do("GET", "/file/slow", ""); resp.StatusCode != 200 {
		t.Errorf("after the slot freed: %d", resp.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	e := newEnvCfg(t, "", func(c *config.Config) { c.CORSOrigins = []string{"https://app.example"} })
	resp, _ := e.do("OPTIONS", "/dav/x", "", "Origin", "https://app.example", "Access-Control-Request-Method", "PROPFIND",
		"Access-Control-Request-Headers", "Depth, Authorization")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PROPFIND") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = e.do("GET", "/file", "", "Origin", "https://app.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Etag") {
		t.Errorf("GET with Origin: %v", resp.Header)
	}
	resp, _ = e.do("GET", "/file", "", "Origin", "https://evil.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("another origin is allowed")
	}
	// A WebDAV client's OPTIONS (no Origin) still gets the DAV headers.
	resp, _ = e.do("OPTIONS", "/dav/", "")
	if resp.Header.Get("DAV") != "1, 2" {
		t.Errorf("OPTIONS without Origin: %v", resp.Header)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:3000": true, "[::1]:3000": true, "0.0.0.0:3000": false, "[::]:3000": false, "10.1.2.3:3000": false} {
		a, _ := net.ResolveTCPAddr("tcp", addr)
		if loopback(a) != want {
			t.Errorf("loopback(%s) = %v", addr, !want)
		}
	}
}
