package dav

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

// propResult is what a client makes of one PROPFIND response: property →
// (status, inner XML).
type propResult struct {
	href   string
	status map[string]int
	value  map[string]string
}

func parseMultistatus(t *testing.T, body string) []propResult {
	t.Helper()
	var doc struct {
		Responses []struct {
			Href      string `xml:"href"`
			Propstats []struct {
				Prop struct {
					Any []struct {
						XMLName xml.Name
						Inner   string `xml:",innerxml"`
					} `xml:",any"`
				} `xml:"prop"`
				Status string `xml:"status"`
			} `xml:"propstat"`
		} `xml:"response"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("multistatus does not parse: %v\n%s", err, body)
	}
	var out []propResult
	for _, r := range doc.Responses {
		pr := propResult{href: r.Href, status: map[string]int{}, value: map[string]string{}}
		for _, ps := range r.Propstats {
			f := strings.Fields(ps.Status)
			code, _ := strconv.Atoi(f[1])
			for _, p := range ps.Prop.Any {
				key := p.XMLName.Space + " " + p.XMLName.Local
				pr.status[key] = code
				pr.value[key] = p.Inner
			}
		}
		out = append(out, pr)
	}
	return out
}

func (e *env) props(path, depth, body string) []propResult {
	e.t.Helper()
	_, got := e.want(207, "PROPFIND", path, body, "Depth", depth)
	return parseMultistatus(e.t, got)
}

func propfindBody(props ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:W="urn:schemas-microsoft-com:" xmlns:Z="urn:test"><D:prop>`)
	for _, p := range props {
		b.WriteString("<" + p + "/>")
	}
	b.WriteString("</D:prop></D:propfind>")
	return b.String()
}

func TestPropfindProperties(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/a b.txt", "hello\n")
	e.want(201, "MKCOL", "/dav/sub", "")
	res := e.props("/dav/a%20b.txt", "0", propfindBody("D:getcontentlength", "D:getcontenttype", "D:getetag",
		"D:getlastmodified", "D:resourcetype", "D:displayname", "oc:checksums", "W:Win32LastModifiedTime",
		"D:quota-available-bytes", "D:quota-used-bytes", "Z:missing", "D:lockdiscovery"))
	if len(res) != 1 || res[0].href != "/dav/a%20b.txt" {
		t.Fatalf("responses %+v", res)
	}
	r := res[0]
	head, _ := e.do("HEAD", "/dav/a%20b.txt", "")
	checks := map[string]string{
		"DAV: getcontentlength": "6",
		"DAV: getcontenttype":   "text/plain; charset=utf-8",
		"DAV: getetag":          head.Header.Get("ETag"),
		"DAV: displayname":      "a b.txt",
		"DAV: resourcetype":     "",
	}
	for k, want := range checks {
		if r.status[k] != 200 || r.value[k] != want {
			t.Errorf("%s = %d %q, want %q", k, r.status[k], r.value[k], want)
		}
	}
	if _, err := http.ParseTime(r.value["DAV: getlastmodified"]); err != nil {
		t.Errorf("getlastmodified %q: %v", r.value["DAV: getlastmodified"], err)
	}
	if r.value["urn:schemas-microsoft-com: Win32LastModifiedTime"] != r.value["DAV: getlastmodified"] {
		t.Error("Win32LastModifiedTime differs from getlastmodified")
	}
	// sha1sum/md5sum of "hello\n"
	if !strings.Contains(r.value["http://owncloud.org/ns checksums"], ">SHA1:f572d396fae9206628714fb2ce00f72e94f2258f MD5:b1946ac92492d2347c6235b4d2611184<") {
		t.Errorf("oc:checksums = %q", r.value["http://owncloud.org/ns checksums"])
	}
	for _, q := range []string{"DAV: quota-available-bytes", "DAV: quota-used-bytes"} {
		if n, err := strconv.ParseUint(r.value[q], 10, 64); err != nil || r.status[q] != 200 || (q == "DAV: quota-available-bytes" && n == 0) {
			t.Errorf("%s = %q", q, r.value[q])
		}
	}
	if r.status["urn:test missing"] != 404 {
		t.Errorf("a missing property is %d", r.status["urn:test missing"])
	}
	// Depth 1 on the root: the collection, its members, collections with "/".
	res = e.props("/dav/", "1", "")
	var hrefs []string
	for _, r := range res {
		hrefs = append(hrefs, r.href)
		if strings.HasSuffix(r.href, "/") != (r.value["DAV: resourcetype"] != "") {
			t.Errorf("%s: resourcetype %q", r.href, r.value["DAV: resourcetype"])
		}
	}
	if strings.Join(hrefs, " ") != "/dav/ /dav/a%20b.txt /dav/sub/" && strings.Join(hrefs, " ") != "/dav/ /dav/sub/ /dav/a%20b.txt" {
		t.Errorf("hrefs %v", hrefs)
	}
	// Depth: infinity is refused by default, with the RFC's precondition.
	resp, body := e.do("PROPFIND", "/dav/", "", "Depth", "infinity")
	if resp.StatusCode != 403 || !strings.Contains(body, "<D:propfind-finite-depth/>") {
		t.Errorf("Depth infinity = %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do("PROPFIND", "/dav/", ""); resp.StatusCode != 403 {
		t.Errorf("no Depth (= infinity) = %d", resp.StatusCode)
	}
	e.want(400, "PROPFIND", "/dav/", "", "Depth", "2")
	e.want(400, "PROPFIND", "/dav/", "<foo>", "Depth", "0")
	e.want(400, "PROPFIND", "/dav/", `<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`, "Depth", "0")
	e.want(400, "PROPFIND", "/dav/", `<D:propfind xmlns:D="DAV:"><D:allprop/><D:propname/></D:propfind>`, "Depth", "0")
	// propname lists names without values.
	_, body = e.want(207, "PROPFIND", "/dav/a%20b.txt", `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`, "Depth", "0")
	if !strings.Contains(body, "<D:getcontentlength/>") || strings.Contains(body, ">6<") {
		t.Errorf("propname:\n%s", body)
	}
}

func TestPropfindInfiniteAllowed(t *testing.T) {
	dir := t.TempDir()
	store, _ := storage.Open(dir, storage.Options{})
	defer store.Close()
	os.MkdirAll(filepath.Join(dir, "a/b/c"), 0o755)
	os.WriteFile(filepath.Join(dir, "a/b/c/deep.txt"), nil, 0o644)
	srv := httptest.NewServer(New("/dav", store, locking.New(), Options{AllowInfiniteDepth: true}, nil))
	defer srv.Close()
	e := &env{t: t, dir: dir, srv: srv}
	res := e.props("/dav/", "infinity", "")
	if len(res) != 5 || res[4].href != "/dav/a/b/c/deep.txt" {
		var h []string
		for _, r := range res {
			h = append(h, r.href)
		}
		t.Errorf("infinite walk = %v", h)
	}
}

func TestProppatch(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/f", "x")
	ns := `xmlns:D="DAV:" xmlns:Z="urn:test" xmlns:W="urn:schemas-microsoft-com:"`
	// Set in document order: remove, then set twice; the last value wins.
	_, body := e.want(207, "PROPPATCH", "/dav/f", `<D:propertyupdate `+ns+`>
		<D:remove><D:prop><Z:color/></D:prop></D:remove>
		<D:set><D:prop><Z:color>red</Z:color><Z:nested><Z:a x="1">text</Z:a><b xmlns="urn:other"/></Z:nested></D:prop></D:set>
		<D:set><D:prop><Z:color>blue</Z:color><nons xmlns="">plain</nons></D:prop></D:set>
		</D:propertyupdate>`)
	if strings.Contains(body, "HTTP/1.1 4") {
		t.Fatalf("PROPPATCH failed:\n%s", body)
	}
	r := e.props("/dav/f", "0", propfindBody("Z:color", "Z:nested"))[0]
	if r.value["urn:test color"] != "blue" {
		t.Errorf("color = %q", r.value["urn:test color"])
	}
	// The nested value keeps its namespaces wherever it is read.
	var nested struct {
		A struct {
			X    string `xml:"x,attr"`
			Text string `xml:",chardata"`
		} `xml:"urn:test a"`
		B *struct{} `xml:"urn:other b"`
	}
	if err := xml.Unmarshal([]byte("<w>"+r.value["urn:test nested"]+"</w>"), &nested); err != nil || nested.A.Text != "text" || nested.A.X != "1" || nested.B == nil {
		t.Errorf("nested = %q (%+v, %v)", r.value["urn:test nested"], nested, err)
	}
	_, body = e.want(207, "PROPFIND", "/dav/f", `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`, "Depth", "0")
	if !strings.Contains(body, `<nons xmlns="">plain</nons>`) || !strings.Contains(body, `<color xmlns="urn:test">blue</color>`) {
		t.Errorf("allprop lacks dead properties:\n%s", body)
	}

	// A protected property fails the whole request: 403 for it, 424 for
	// the rest, and nothing is changed.
	_, body = e.want(207, "PROPPATCH", "/dav/f", `<D:propertyupdate `+ns+`><D:set><D:prop><Z:color>green</Z:color><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>`)
	if !strings.Contains(body, "403 Forbidden") || !strings.Contains(body, "424 Failed Dependency") || !strings.Contains(body, "cannot-modify-protected-property") {
		t.Errorf("protected property:\n%s", body)
	}
	if r := e.props("/dav/f", "0", propfindBody("Z:color"))[0]; r.value["urn:test color"] != "blue" {
		t.Error("a failed PROPPATCH changed a property")
	}

	// Modification times: getlastmodified (RFC 1123), lastmodified (rclone,
	// Unix seconds), Win32LastModifiedTime (Windows); other Win32 props are
	// stored.
	when := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, prop := range []string{
		"<D:getlastmodified>" + when.Format(http.TimeFormat) + "</D:getlastmodified>",
		"<D:lastmodified>" + strconv.FormatInt(when.Unix(), 10) + "</D:lastmodified>",
		"<W:Win32LastModifiedTime>" + when.Format(http.TimeFormat) + "</W:Win32LastModifiedTime><W:Win32FileAttributes>00000020</W:Win32FileAttributes>",
	} {
		os.Chtimes(filepath.Join(e.dir, "f"), time.Now(), time.Now())
		_, body = e.want(207, "PROPPATCH", "/dav/f", `<D:propertyupdate `+ns+`><D:set><D:prop>`+prop+`</D:prop></D:set></D:propertyupdate>`)
		if strings.Contains(body, "HTTP/1.1 4") {
			t.Errorf("%s:\n%s", prop, body)
		}
		if fi, _ := os.Stat(filepath.Join(e.dir, "f")); !fi.ModTime().Equal(when) {
			t.Errorf("%s: mtime %v", prop, fi.ModTime())
		}
	}
	r = e.props("/dav/f", "0", propfindBody("W:Win32FileAttributes", "D:getlastmodified"))[0]
	if r.value["urn:schemas-microsoft-com: Win32FileAttributes"] != "00000020" || r.value["DAV: getlastmodified"] != when.Format(http.TimeFormat) {
		t.Errorf("after Win32 PROPPATCH: %+v", r.value)
	}
	_, body = e.want(207, "PROPPATCH", "/dav/f", `<D:propertyupdate `+ns+`><D:set><D:prop><D:getlastmodified>yesterday</D:getlastmodified></D:prop></D:set></D:propertyupdate>`)
	if !strings.Contains(body, "409 Conflict") {
		t.Errorf("a bad time:\n%s", body)
	}
	// Properties of collections, and of the root, work too (x/net/webdav
	// opened directories read-write for PROPPATCH, golang/go#43929).
	e.want(201, "MKCOL", "/dav/col", "")
	for _, p := range []string{"/dav/col/", "/dav/"} {
		_, body = e.want(207, "PROPPATCH", p, `<D:propertyupdate `+ns+`><D:set><D:prop><Z:color>dir</Z:color></D:prop></D:set></D:propertyupdate>`)
		if !strings.Contains(body, "200 OK") {
			t.Errorf("PROPPATCH %s:\n%s", p, body)
		}
		if r := e.props(p, "0", propfindBody("Z:color"))[0]; r.value["urn:test color"] != "dir" {
			t.Errorf("%s color = %q", p, r.value["urn:test color"])
		}
	}
	e.want(404, "PROPPATCH", "/dav/missing", `<D:propertyupdate `+ns+`><D:set><D:prop><Z:color>x</Z:color></D:prop></D:set></D:propertyupdate>`)
	e.want(400, "PROPPATCH", "/dav/f", `<D:propertyupdate `+ns+`></D:propertyupdate>`)
}

func TestLockDiscoveryAndShared(t *testing.T) {
	e := newEnv(t)
	e.want(201, "MKCOL", "/dav/a dir", "")
	owner := `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:me@example.com</D:href></D:owner></D:lockinfo>`
	resp, body := e.want(201, "LOCK", "/dav/a%20dir/new.txt", owner, "Depth", "0", "Timeout", "Second-60")
	tok := resp.Header.Get("Lock-Token")
	for _, want := range []string{"<D:shared/>", "<D:depth>0</D:depth>", "<D:timeout>Second-60</D:timeout>",
		"<D:lockroot><D:href>/dav/a%20dir/new.txt</D:href></D:lockroot>", "mailto:me@example.com", strings.Trim(tok, "<>")} {
		if !strings.Contains(body, want) {
			t.Errorf("LOCK response lacks %q:\n%s", want, body)
		}
	}
	// A second shared lock is granted, an exclusive one is not.
	resp2, _ := e.want(200, "LOCK", "/dav/a%20dir/new.txt", owner, "Depth", "0")
	e.want(423, "LOCK", "/dav/a%20dir/new.txt", lockBody, "Depth", "0")
	// lockdiscovery shows both.
	r := e.props("/dav/a%20dir/new.txt", "0", propfindBody("D:lockdiscovery"))[0]
	if n := strings.Count(r.value["DAV: lockdiscovery"], "<D:activelock>"); n != 2 {
		t.Errorf("lockdiscovery has %d locks:\n%s", n, r.value["DAV: lockdiscovery"])
	}
	// Either holder may write.
	e.want(204, "PUT", "/dav/a%20dir/new.txt", "x", "If", "("+resp2.Header.Get("Lock-Token")+")")
	e.want(423, "PUT", "/dav/a%20dir/new.txt", "x")
	// Refresh needs the token; a refresh through a resource the lock does
	// not cover fails.
	_, body = e.want(200, "LOCK", "/dav/a%20dir/new.txt", "", "If", "("+tok+")", "Timeout", "Second-120")
	if !regexp.MustCompile(`Second-1[12][0-9]`).MatchString(body) {
		t.Errorf("refresh timeout:\n%s", body)
	}
	e.want(412, "LOCK", "/dav/a%20dir/", "", "If", "("+tok+")")
	e.want(400, "LOCK", "/dav/a%20dir/new.txt", "")
	e.want(400, "LOCK", "/dav/a%20dir/new.txt", lockBody, "Depth", "1")
	e.want(400, "LOCK", "/dav/a%20dir/new.txt", lockBody, "Timeout", "soon")
	e.want(204, "UNLOCK", "/dav/a%20dir/new.txt", "", "Lock-Token", tok)
	e.want(204, "UNLOCK", "/dav/a%20dir/new.txt", "", "Lock-Token", resp2.Header.Get("Lock-Token"))
	if r := e.props("/dav/a%20dir/new.txt", "0", propfindBody("D:lockdiscovery"))[0]; r.value["DAV: lockdiscovery"] != "" {
		t.Errorf("locks left: %s", r.value["DAV: lockdiscovery"])
	}
}

func TestPutOwnCloudHeaders(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.want(201, "PUT", "/dav/f", "hello\n", "X-OC-Mtime", "1600000000", "OC-Checksum", "SHA1:f572d396fae9206628714fb2ce00f72e94f2258f")
	if resp.Header.Get("X-OC-Mtime") != "accepted" {
		t.Errorf("X-OC-Mtime reply %q", resp.Header.Get("X-OC-Mtime"))
	}
	if fi, _ := os.Stat(filepath.Join(e.dir, "f")); fi.ModTime().Unix() != 1600000000 {
		t.Errorf("mtime %v", fi.ModTime())
	}
	_, body := e.want(400, "PUT", "/dav/g", "hello\n", "OC-Checksum", "MD5:00000000000000000000000000000000")
	if body != "checksum mismatch\n" {
		t.Errorf("mismatch body %q", body)
	}
	if _, ok := e.file("g"); ok {
		t.Error("an upload with a wrong checksum was kept")
	}
	e.want(201, "PUT", "/dav/g", "hello\n", "OC-Checksum", "MD5:B1946AC92492D2347C6235B4D2611184")
	e.want(201, "PUT", "/dav/h", "x", "OC-Checksum", "ADLER32:abcd") // unknown algorithms are not checked
}

// TestPutOwnCloudMtimeBeforeEpoch: rclone sends X-OC-Mtime as signed Unix
// seconds, so a file dated 1970-01-01 (reproducible builds) or earlier
// must keep its time, or every sync uploads it again.
func TestPutOwnCloudMtimeBeforeEpoch(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		header string
		want   time.Time
	}{
		{"0", time.Unix(0, 0)},
		{"-304800895", time.Unix(-304800895, 0)},
		{"-1.5", time.Unix(-2, 500_000_000)},
		{"1600000000.25", time.Unix(1600000000, 250_000_000)},
	} {
		resp, _ := e.want(201, "PUT", "/dav/m"+c.header, "x", "X-OC-Mtime", c.header)
		if got := resp.Header.Get("X-OC-Mtime"); got != "accepted" {
			t.Errorf("X-OC-Mtime %s: reply %q", c.header, got)
		}
		fi, err := os.Stat(filepath.Join(e.dir, "m"+c.header))
		if err != nil || !fi.ModTime().Equal(c.want) {
			t.Errorf("X-OC-Mtime %s: mtime %v (%v), want %v", c.header, fi.ModTime(), err, c.want)
		}
	}
}

func TestOcMtime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1600000000", time.Unix(1600000000, 0), true},
		{" 42 ", time.Unix(42, 0), true},
		{"0", time.Unix(0, 0), true},
		{"-1", time.Unix(-1, 0), true},
		{"-0.25", time.Unix(-1, 750_000_000), true},
		{"1.123456789123", time.Unix(1, 123456789), true},
		{"12.", time.Unix(12, 0), true},
		{"", time.Time{}, false},
		{"NaN", time.Time{}, false},
		{"Inf", time.Time{}, false},
		{"-Inf", time.Time{}, false},
		{"0x10", time.Time{}, false},
		{"1e9", time.Time{}, false},
		{"1_000", time.Time{}, false},
		{"+5", time.Unix(5, 0), true},
		{".5", time.Unix(0, 500_000_000), true},
		{"-.5", time.Unix(-1, 500_000_000), true},
		{".", time.Time{}, false},
		{"-", time.Time{}, false},
		{"1 2", time.Time{}, false},
		{"--1", time.Time{}, false},
		{"1.2.3", time.Time{}, false},
		{"99999999999999999999", time.Time{}, false},
		{"1099511627777", time.Time{}, false}, // past 2^40 s: no file system keeps it
		{"-1099511627777", time.Time{}, false},
	} {
		got, ok := ocMtime(c.in)
		if ok != c.ok || (ok && !got.Equal(c.want)) {
			t.Errorf("ocMtime(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestCreationDateAndBareUnlockToken(t *testing.T) {
	e := newEnv(t)
	before := time.Now().Add(-2 * time.Second)
	e.want(201, "PUT", "/dav/new", "x")
	r := e.props("/dav/new", "0", propfindBody("D:creationdate"))[0]
	created, err := time.Parse(time.RFC3339, r.value["DAV: creationdate"])
	if err != nil || created.Before(before) || created.After(time.Now().Add(2*time.Second)) {
		t.Errorf("creationdate %q (%v)", r.value["DAV: creationdate"], err)
	}
	resp, _ := e.want(200, "LOCK", "/dav/new", lockBody, "Depth", "0")
	bare := strings.Trim(resp.Header.Get("Lock-Token"), "<>")
	e.want(204, "UNLOCK", "/dav/new", "", "Lock-Token", bare)
	e.want(204, "PUT", "/dav/new", "unlocked")
}

// TestRcloneModTimeRequests: rclone's owncloud mode sets times with a
// server-side COPY/MOVE header and, in newer versions, a PROPPATCH of
// lastmodified together with oc:checksums.
func TestRcloneModTimeRequests(t *testing.T) {
	e := newEnv(t)
	e.want(201, "PUT", "/dav/a", "x")
	resp, _ := e.want(201, "COPY", "/dav/a", "", "Destination", "/dav/b", "Overwrite", "F", "X-OC-Mtime", "1600000000")
	if resp.Header.Get("X-OC-Mtime") != "accepted" {
		t.Error("COPY: no X-OC-Mtime: accepted")
	}
	resp, _ = e.want(201, "MOVE", "/dav/b", "", "Destination", "/dav/c", "X-OC-Mtime", "1600000060")
	if fi, _ := os.Stat(filepath.Join(e.dir, "c")); resp.Header.Get("X-OC-Mtime") != "accepted" || fi.ModTime().Unix() != 1600000060 {
		t.Errorf("MOVE: %q, mtime %v", resp.Header.Get("X-OC-Mtime"), fi.ModTime())
	}
	_, body := e.want(207, "PROPPATCH", "/dav/c", `<D:propertyupdate xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns"><D:set><D:prop>
		<lastmodified xmlns="DAV:">1500000000</lastmodified>
		<oc:checksums><oc:checksum>SHA1:11f6ad8ec52a2984abaafd7c3b516503785c2072</oc:checksum></oc:checksums>
		</D:prop></D:set></D:propertyupdate>`)
	if strings.Contains(body, "HTTP/1.1 4") {
		t.Errorf("PROPPATCH:\n%s", body)
	}
	if fi, _ := os.Stat(filepath.Join(e.dir, "c")); fi.ModTime().Unix() != 1500000000 {
		t.Errorf("mtime %v", fi.ModTime())
	}
}

func TestAppendHTTPDate(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("E", 13*3600), time.FixedZone("W", -9*3600-1800)}
	times := []time.Time{time.Unix(0, 0), time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 2000 {
		times = append(times, time.Unix(int64(i)*7919*86400/3+int64(i*i), 0))
	}
	pw := &propWriter{}
	for _, tm := range times {
		for _, z := range zones {
			tz := tm.In(z)
			want := tz.UTC().Format(http.TimeFormat)
			if got := string(appendHTTPDate(nil, tz)); got != want {
				t.Fatalf("appendHTTPDate(%v) = %q, want %q", tz, got, want)
			}
			if got := string(pw.httpDate(tz)); got != want {
				t.Fatalf("httpDate(%v) = %q, want %q", tz, got, want)
			}
		}
	}
}
