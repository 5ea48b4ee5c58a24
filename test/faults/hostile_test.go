package faults

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/davnas/davnas/internal/testutil"
)

// The secret outside the root: its content and one of its names are
// markers that no request may ever bring back.
const (
	secretMarker = "TOPSECRET-c0ffee-41d7"
	secretName   = "LISTED-OUTSIDE-9b2e"
)

// outsideWorld builds base/root (served) next to base/outside (the
// secret), with two symbolic links in the root that point out: outdir to
// the directory, outfile to the secret file.
type outsideWorld struct {
	base, root, outside string
	before              treeState
}

func newOutsideWorld(t *testing.T) *outsideWorld {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &outsideWorld{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{w.root, w.outside, filepath.Join(w.outside, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(w.outside, "secret.txt"), []byte(secretMarker+"\n"), 0o644)
	os.WriteFile(filepath.Join(w.outside, secretName), []byte(secretMarker), 0o644)
	os.WriteFile(filepath.Join(w.outside, "sub", "deep.txt"), []byte(secretMarker+" deep"), 0o644)
	// Make the mtimes old, so that any write shows as a change.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	filepath.WalkDir(w.outside, func(p string, _ os.DirEntry, _ error) error { return os.Chtimes(p, old, old) })
	w.reset(t)
	w.before = snapshot(t, w.outside)
	return w
}

// reset empties the root and puts the fixtures back.
func (w *outsideWorld) reset(t *testing.T) {
	t.Helper()
	entries, _ := os.ReadDir(w.root)
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(w.root, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(w.root, "legit.txt"), []byte("legit\n"), 0o644)
	os.MkdirAll(filepath.Join(w.root, "dir"), 0o755)
	os.WriteFile(filepath.Join(w.root, "dir", "inner.txt"), []byte("inner\n"), 0o644)
	if err := os.Symlink(w.outside, filepath.Join(w.root, "outdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(w.outside, "secret.txt"), filepath.Join(w.root, "outfile")); err != nil {
		t.Fatal(err)
	}
}

// untouched fails the test when anything outside the root changed: names,
// bytes, modes, modification times, extended attributes.
func (w *outsideWorld) untouched(t *testing.T, after string) {
	t.Helper()
	if d := w.before.diff(snapshot(t, w.outside)); d != "" {
		t.Fatalf("the directory outside the root changed after %s: %s", after, d)
	}
	filepath.WalkDir(w.outside, func(p string, _ os.DirEntry, _ error) error {
		buf := make([]byte, 4096)
		if n, err := unix.Llistxattr(p, buf); err == nil && n > 0 {
			t.Fatalf("extended attributes appeared on %s after %s: %q", p, after, buf[:n])
		}
		return nil
	})
}

// leak returns what is wrong with a response body: the secret, a listing
// of the outside, or a server path.
func (w *outsideWorld) leak(body string, echoesPath bool) string {
	switch {
	case strings.Contains(body, secretMarker):
		return "the secret's content"
	case strings.Contains(body, secretName):
		return "a listing of the outside directory"
	case !echoesPath && strings.Contains(body, w.base):
		return "a server path"
	}
	return ""
}

// hostileName is a name as written in the URL after /file/ or /dav/.
type hostileName struct {
	esc    string
	refuse bool // must be refused (4xx) by every method; else it names something inside the root
}

func hostileNames(w *outsideWorld) []hostileName {
	abs := url.PathEscape(filepath.Join(w.outside, "secret.txt")) // "/" as %2F
	return []hostileName{
		{"..", true},
		{"%2e%2e", true},
		{"%2E%2E%2F", true},
		{"%2E%2E%2Foutside%2Fsecret.txt", true},
		{"..%2F..%2F", true},
		{"..%2Foutside%2Fsecret.txt", true},
		{"../outside/secret.txt", true},
		{"dir/../../outside/secret.txt", true},
		{"dir%2F..%2F..%2Foutside", true},
		{"%00", true},
		{"legit.txt%00.jpg", true},
		{strings.Repeat("a", 300), true},
		{strings.Repeat("abcd/", 1000), true},
		{"outdir", true},
		{"outdir/secret.txt", true},
		{"outdir%2Fsecret.txt", true},
		{"outdir/sub/deep.txt", true},
		{"outfile", true},
		{".davnas-journal", true},
		{".davnas-tmp-0123456789abcdef", true},
		{"%252e%252e", false},
		{"%252e%252e%252Foutside%252Fsecret.txt", false},
		{`..\..\etc\passwd`, false},
		{"..%5C..%5Coutside%5Csecret.txt", false},
		{"%2Fetc%2Fpasswd", false},
		{abs, false},
		{"/" + strings.TrimPrefix(filepath.Join(w.outside, "secret.txt"), "/"), false},
	}
}

// hostileReq is one request of the table.
type hostileReq struct {
	method, path, body string
	hdr                []string
	refuse             bool
	allow502           bool // a Destination outside /dav/: RFC 4918 §9.8.5's 502
	echoesPath         bool // the name itself contains the base path
	// overLink, for a move or copy whose target is exactly the name of a
	// link that points out: replacing the link itself (a directory entry
	// in the root) is allowed; following it is not.
	overLink string
}

// TestHostileNames sends every hostile name through every method of both
// APIs, as a request name, a move target and a WebDAV Destination. Nothing
// outside the root is read, listed or changed; names that leave the root
// (or pass a symbolic link that does) are refused with a 4xx; nothing
// answers 5xx; error bodies are one short line without a server path.
func TestHostileNames(t *testing.T) {
	w := newOutsideWorld(t)
	p := testutil.Start(t, w.root)
	c := httpClient()
	var reqs []hostileReq
	for _, n := range hostileNames(w) {
		decoded, _ := url.PathUnescape(n.esc)
		echo := strings.Contains(decoded, w.base) // a name that contains the path: echoes are no leak
		add := func(method, path, body string, hdr ...string) {
			reqs = append(reqs, hostileReq{method: method, path: path, body: body, hdr: hdr, refuse: n.refuse, echoesPath: echo})
		}
		f, d := "/file/"+n.esc, "/dav/"+n.esc
		add("GET", f, "")
		add("GET", f+"/wc", "")
		add("POST", f, "HOSTILE-WRITE")
		add("PUT", f, "HOSTILE-APPEND")
		add("DELETE", f, "")
		add("PUT", f+"/mv", `{"path": "moved.txt"}`)
		add("PUT", f+"?op=mv", `{"path": "moved.txt"}`)
		add("GET", d, "")
		add("PUT", d, "HOSTILE-WRITE")
		add("PROPFIND", d, "", "Depth", "1")
		add("PROPPATCH", d, `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:x xmlns:Z="urn:z">HOSTILE</Z:x></D:prop></D:set></D:propertyupdate>`)
		add("MKCOL", d, "")
		add("DELETE", d, "")
		add("COPY", d, "", "Destination", "/dav/copied.txt")
		add("MOVE", d, "", "Destination", "/dav/moved.txt")
		// The name as the target of a move and as a Destination: the
		// source is a legitimate file, the target is hostile.
		overLink := ""
		if n.esc == "outdir" || n.esc == "outfile" {
			overLink = n.esc
		}
		target, _ := url.PathUnescape(n.esc)
		if !strings.ContainsRune(target, 0) {
			reqs = append(reqs,
				hostileReq{method: "PUT", path: "/file/legit.txt/mv", body: fmt.Sprintf(`{"path": %q}`, n.esc), refuse: n.refuse, echoesPath: echo, overLink: overLink},
				hostileReq{method: "PUT", path: "/file/legit.txt/mv", body: fmt.Sprintf(`{"path": %q}`, target), refuse: n.refuse, echoesPath: echo, overLink: overLink},
			)
		}
		for _, m := range []string{"COPY", "MOVE"} {
			for _, dest := range []string{"http://" + p.Addr + d, d} {
				reqs = append(reqs, hostileReq{method: m, path: "/dav/legit.txt", hdr: []string{"Destination", dest}, refuse: n.refuse, echoesPath: echo, overLink: overLink})
			}
		}
	}
	// Destinations that leave the WebDAV tree altogether.
	for _, dest := range []string{
		"http://" + p.Addr + "/dav/../outside/x.txt", "/dav/%2e%2e/outside/x.txt", "/dav/..%2Foutside%2Fx.txt",
		"/dav/outdir/x.txt", "/dav/outdir/sub/x.txt", "http://" + p.Addr + "/dav/outdir/sub",
	} {
		for _, m := range []string{"COPY", "MOVE"} {
			reqs = append(reqs, hostileReq{method: m, path: "/dav/legit.txt", hdr: []string{"Destination", dest}, refuse: true})
			reqs = append(reqs, hostileReq{method: m, path: "/dav/dir", hdr: []string{"Destination", dest}, refuse: true})
		}
	}
	for _, dest := range []string{"http://" + p.Addr + "/../outside/x.txt", "http://evil.example" + w.outside + "/x.txt", "/file/../outside/x.txt"} {
		for _, m := range []string{"COPY", "MOVE"} {
			reqs = append(reqs, hostileReq{method: m, path: "/dav/legit.txt", hdr: []string{"Destination", dest}, refuse: true, allow502: true, echoesPath: true})
		}
	}
	// Listings of the root, which holds the links.
	reqs = append(reqs, []hostileReq{
		{method: "GET", path: "/file/%2F"}, {method: "GET", path: "/file/"}, {method: "GET", path: "/file/%2F", hdr: []string{"Accept", "application/json"}},
		{method: "PROPFIND", path: "/dav/", hdr: []string{"Depth", "1"}}, {method: "GET", path: "/dav/"}, {method: "PROPFIND", path: "/", hdr: []string{"Depth", "1"}},
	}...)

	statuses := map[int]int{}
	var overLinks []string
	for _, r := range reqs {
		w.reset(t)
		label := fmt.Sprintf("%s %.120s %v %s", r.method, r.path, r.hdr, r.body)
		var body *strings.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		hdr := r.hdr
		if strings.HasPrefix(r.body, "{") {
			hdr = append(hdr, "Content-Type", "application/json")
		}
		var code int
		var got string
		var err error
		if body != nil {
			code, got, err = do(c, p.URL, r.method, r.path, body, hdr...)
		} else {
			code, got, err = do(c, p.URL, r.method, r.path, nil, hdr...)
		}
		if err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		statuses[code]++
		switch {
		case code >= 500 && !(r.allow502 && code == http.StatusBadGateway):
			t.Errorf("%s = %d %q", label, code, got)
		case r.overLink != "" && code < 400:
			// Allowed only if the link itself was replaced in the root.
			if fi, err := os.Lstat(filepath.Join(w.root, r.overLink)); err != nil || fi.Mode()&os.ModeSymlink != 0 {
				t.Errorf("%s = %d %q, but %s is still the link (or gone: %v)", label, code, got, r.overLink, err)
			}
			overLinks = append(overLinks, fmt.Sprintf("%s = %d", label, code))
		case r.refuse && code < 400:
			t.Errorf("%s = %d %q, want a 4xx", label, code, got)
		}
		if what := w.leak(got, r.echoesPath); what != "" {
			t.Errorf("%s = %d: the body shows %s: %q", label, code, what, got)
		}
		if code >= 400 && (len(got) > 120 || strings.Count(got, "\n") > 1 || (got != "" && !strings.HasSuffix(got, "\n"))) {
			t.Errorf("%s = %d: the error body is not one short line: %q", label, code, got)
		}
		w.untouched(t, label)
	}
	var codes []string
	for c, n := range statuses {
		codes = append(codes, fmt.Sprintf("%d×%d", c, n))
	}
	sort.Strings(codes)
	t.Logf("%d hostile requests: %s", len(reqs), strings.Join(codes, " "))
	if len(overLinks) > 0 {
		t.Logf("moves and copies that replaced a link to the outside (the link entry, not its target):\n%s", strings.Join(overLinks, "\n"))
	}
	if tf := tempFiles(w.root); len(tf) > 0 {
		t.Errorf("temporary files left: %v", tf)
	}
}

// TestSymlinkSwap: while one goroutine keeps replacing a directory of the
// root with a symbolic link to the outside (and back), others read, write,
// append, list, copy and PROPFIND through that path. The outside is never
// read, listed or changed, and nothing answers 5xx.
func TestSymlinkSwap(t *testing.T) {
	w := newOutsideWorld(t)
	swap := filepath.Join(w.root, "swap")
	away := filepath.Join(w.root, "swap.away")
	os.MkdirAll(filepath.Join(swap, "sub"), 0o755)
	os.WriteFile(filepath.Join(swap, "f.txt"), []byte("inside f\n"), 0o644)
	p := testutil.Start(t, w.root)

	stop := make(chan struct{})
	var swaps atomic.Int64
	var swapper sync.WaitGroup
	swapper.Go(func() {
		r := rand.New(rand.NewPCG(7, 7))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if os.Rename(swap, away) == nil {
				if os.Symlink(w.outside, swap) == nil {
					swaps.Add(1)
				}
				time.Sleep(time.Duration(r.IntN(1500)) * time.Microsecond)
				if fi, err := os.Lstat(swap); err == nil && fi.Mode()&os.ModeSymlink != 0 {
					os.Remove(swap)
				} else if err == nil {
					os.RemoveAll(swap) // a client created it while it was away
				}
				os.Rename(away, swap)
			}
			time.Sleep(time.Duration(r.IntN(1500)) * time.Microsecond)
		}
	})

	ops := []hostileReq{
		{method: "GET", path: "/file/swap/secret.txt"},
		{method: "GET", path: "/file/swap%2Fsecret.txt"},
		{method: "GET", path: "/dav/swap/secret.txt"},
		{method: "GET", path: "/file/swap/secret.txt/wc"},
		{method: "GET", path: "/file/swap/sub/deep.txt"},
		{method: "GET", path: "/file/swap/f.txt"},
		{method: "GET", path: "/file/swap"},
		{method: "GET", path: "/file/swap", hdr: []string{"Accept", "application/json"}},
		{method: "GET", path: "/dav/swap/"},
		{method: "PROPFIND", path: "/dav/swap/", hdr: []string{"Depth", "1"}},
		{method: "PROPFIND", path: "/dav/swap/secret.txt", hdr: []string{"Depth", "0"}},
		{method: "PROPFIND", path: "/dav/", hdr: []string{"Depth", "1"}},
		{method: "POST", path: "/file/swap/secret.txt", body: "PWNED"},
		{method: "POST", path: "/file/swap/sub/new.txt", body: "new"},
		{method: "PUT", path: "/file/swap/secret.txt", body: "PWNED-APPEND"},
		{method: "PUT", path: "/file/swap/f.txt", body: "appended\n"},
		{method: "PUT", path: "/dav/swap/secret.txt", body: "PWNED"},
		{method: "PUT", path: "/dav/swap/w.txt", body: "w"},
		{method: "PROPPATCH", path: "/dav/swap/secret.txt", body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:x xmlns:Z="urn:z">PWNED</Z:x></D:prop></D:set></D:propertyupdate>`},
		{method: "DELETE", path: "/dav/swap/secret.txt"},
		{method: "DELETE", path: "/file/swap/sub/deep.txt"},
		{method: "MKCOL", path: "/dav/swap/newcol"},
		{method: "COPY", path: "/dav/swap/f.txt", hdr: []string{"Destination", "/dav/swap/secret.txt"}},
		{method: "COPY", path: "/dav/swap/sub", hdr: []string{"Destination", "/dav/copied-sub"}},
		{method: "MOVE", path: "/dav/swap/w.txt", hdr: []string{"Destination", "/dav/swap/secret.txt"}},
		{method: "PUT", path: "/file/swap/secret.txt/mv", body: `{"path": "stolen.txt"}`},
	}
	c := httpClient()
	var mu sync.Mutex
	statuses := map[int]int{}
	fails := map[string]int{} // 5xx answers, by request
	var clients sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	for g := range 6 {
		clients.Go(func() {
			r := rand.New(rand.NewPCG(11, uint64(g)))
			for time.Now().Before(deadline) {
				op := ops[r.IntN(len(ops))]
				hdr := op.hdr
				if strings.HasPrefix(op.body, "{") {
					hdr = append(hdr, "Content-Type", "application/json")
				}
				var code int
				var got string
				var err error
				if op.body != "" {
					code, got, err = do(c, p.URL, op.method, op.path, strings.NewReader(op.body), hdr...)
				} else {
					code, got, err = do(c, p.URL, op.method, op.path, nil, hdr...)
				}
				mu.Lock()
				statuses[code]++
				mu.Unlock()
				label := fmt.Sprintf("%s %s %v", op.method, op.path, op.hdr)
				if err != nil {
					t.Errorf("%s: %v", label, err)
					return
				}
				if code >= 500 {
					mu.Lock()
					fails[fmt.Sprintf("%s = %d %q", label, code, got)]++
					mu.Unlock()
				}
				if what := w.leak(got, false); what != "" {
					t.Errorf("%s = %d: the body shows %s: %q", label, code, what, got)
				}
			}
		})
	}
	clients.Wait()
	close(stop)
	swapper.Wait()
	var codes []string
	total := 0
	for c, n := range statuses {
		codes = append(codes, fmt.Sprintf("%d×%d", c, n))
		total += n
	}
	sort.Strings(codes)
	t.Logf("%d swaps, %d requests through the swapped path: %s", swaps.Load(), total, strings.Join(codes, " "))
	for what, n := range fails {
		t.Errorf("during the swap, %d× %s", n, what)
	}
	w.untouched(t, "the swap")
	if _, err := os.Lstat(filepath.Join(w.root, "stolen.txt")); err == nil {
		if b, _ := os.ReadFile(filepath.Join(w.root, "stolen.txt")); strings.Contains(string(b), secretMarker) {
			t.Errorf("the secret was moved into the root")
		}
	}
	// Uploads cut by a swap may leave a temporary file in the directory
	// while it was away; the start-up sweep removes those. Report them.
	if tf := tempFiles(w.root); len(tf) > 0 {
		t.Logf("temporary files left by uploads the swap broke: %v", tf)
	}
}
