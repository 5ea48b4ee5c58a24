package dav

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

// Namespaces of the properties davnas computes.
const (
	nsOC    = "http://owncloud.org/ns"     // rclone --webdav-vendor owncloud
	nsWin32 = "urn:schemas-microsoft-com:" // Windows mini-redirector
)

// Property names.
var (
	pResourceType   = xml.Name{Space: nsDAV, Local: "resourcetype"}
	pDisplayName    = xml.Name{Space: nsDAV, Local: "displayname"}
	pContentLength  = xml.Name{Space: nsDAV, Local: "getcontentlength"}
	pContentType    = xml.Name{Space: nsDAV, Local: "getcontenttype"}
	pETag           = xml.Name{Space: nsDAV, Local: "getetag"}
	pLastModified   = xml.Name{Space: nsDAV, Local: "getlastmodified"}
	pSupportedLock  = xml.Name{Space: nsDAV, Local: "supportedlock"}
	pLockDiscovery  = xml.Name{Space: nsDAV, Local: "lockdiscovery"}
	pCreationDate   = xml.Name{Space: nsDAV, Local: "creationdate"}
	pQuotaAvailable = xml.Name{Space: nsDAV, Local: "quota-available-bytes"}
	pQuotaUsed      = xml.Name{Space: nsDAV, Local: "quota-used-bytes"}
	pLastModifiedOC = xml.Name{Space: nsDAV, Local: "lastmodified"} // rclone's PROPPATCH name
	pChecksums      = xml.Name{Space: nsOC, Local: "checksums"}
	pWin32Modified  = xml.Name{Space: nsWin32, Local: "Win32LastModifiedTime"}
)

// allpropNames are the live properties allprop returns (RFC 4918 §9.1:
// those the RFC defines). RFC 4331 quota properties and checksums are
// expensive and returned only when named.
var allpropNames = []xml.Name{pResourceType, pDisplayName, pContentLength, pContentType, pETag, pLastModified, pCreationDate, pSupportedLock, pLockDiscovery}

// computed are the properties davnas answers itself; a PROPPATCH cannot
// store them as dead properties.
var computed = map[xml.Name]bool{
	pResourceType: true, pDisplayName: true, pCreationDate: true, pContentLength: true, pContentType: true, pETag: true,
	pLastModified: true, pSupportedLock: true, pLockDiscovery: true, pQuotaAvailable: true,
	pQuotaUsed: true, pChecksums: true, pWin32Modified: true,
}

// propfindReq is a parsed PROPFIND body.
type propfindReq struct {
	allprop  bool
	propname bool
	names    []xml.Name // <prop> names, or allprop's <include> names
}

// parsePropfind reads a PROPFIND body. RFC 4918 §9.1: "A client may choose
// not to submit a request body. An empty PROPFIND request body MUST be
// treated as if it were an 'allprop' request."
func parsePropfind(r io.Reader) (propfindReq, error) {
	x := newXMLDecoder(r)
	root, err := x.root()
	if err == io.EOF {
		return propfindReq{allprop: true}, nil
	}
	if err != nil {
		return propfindReq{}, err
	}
	if root.Name != (xml.Name{Space: nsDAV, Local: "propfind"}) {
		return propfindReq{}, errBadXML
	}
	var pf propfindReq
	kinds := 0
	err = x.children(func(c xml.StartElement) error {
		if c.Name.Space != nsDAV {
			return x.skip() // extensions are ignored (litmus propextended)
		}
		switch c.Name.Local {
		case "allprop":
			pf.allprop = true
			kinds++
		case "propname":
			pf.propname = true
			kinds++
		case "prop":
			kinds++
			return x.children(func(p xml.StartElement) error {
				pf.names = append(pf.names, p.Name)
				return x.skip()
			})
		case "include":
			return x.children(func(p xml.StartElement) error {
				pf.names = append(pf.names, p.Name)
				return x.skip()
			})
		}
		return x.skip()
	})
	if err != nil {
		return propfindReq{}, err
	}
	if kinds != 1 {
		return propfindReq{}, errBadXML
	}
	return pf, x.end()
}

// propfind answers PROPFIND (RFC 4918 §9.1), streaming the multistatus as
// the directory is read: a collection of 100,000 members is never held in
// memory, and the first responses leave before the last entry is read.
func (h *Handler) propfind(w http.ResponseWriter, r *http.Request, clean string) error {
	depth := r.Header.Get("Depth")
	switch depth {
	case "0", "1":
	case "", "infinity":
		depth = "infinity"
		if !h.opt.AllowInfiniteDepth {
			// §9.1: a server may refuse Depth: infinity with 403 and the
			// propfind-finite-depth precondition.
			w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, xml.Header+`<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>`)
			httperr.Record(r, errors.New("depth infinity refused (see --allow-infinite-depth)"))
			return nil
		}
	default:
		return httperr.New(http.StatusBadRequest, "invalid Depth header")
	}
	pf, err := parsePropfind(r.Body)
	if err != nil {
		return badBody("invalid PROPFIND body", err)
	}
	fi, err := h.store.Stat(clean)
	if err != nil {
		return err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return storage.ErrNotRegular // a FIFO or socket: listings leave it out too
	}
	ms := newMultistatus(w)
	pw := newPropWriter(h, r.Context(), pf)
	if err := pw.write(ms, clean, fi); err != nil {
		return ms.abort(r, err)
	}
	if depth != "0" && fi.IsDir() {
		if err := pw.walk(ms, clean, depth == "infinity"); err != nil {
			return ms.abort(r, err)
		}
	}
	return ms.close()
}

// propWriter writes the responses of one PROPFIND.
type propWriter struct {
	h     *Handler
	ctx   context.Context
	pf    propfindReq
	usage *[2]uint64 // statfs, once per request

	// The last date formatted: files written together share their second.
	dateSec int64
	date    []byte
	dateBuf [32]byte
	href    []byte // the href being written

	// The last content type looked up, by extension: the files of a
	// directory mostly share one.
	ctExt, ct string

	plan     []plannedProp    // pf.names, once each, with what the stat gives
	allPlans [2][]plannedProp // allprop's plan for a file and a collection without dead properties
}

func newPropWriter(h *Handler, ctx context.Context, pf propfindReq) *propWriter {
	return &propWriter{h: h, ctx: ctx, pf: pf, plan: planProps(pf.names)}
}

// statProp names a property written from the stat alone (fromStat), or
// none.
type statProp uint8

const (
	spNone statProp = iota
	spResourceType
	spContentLength
	spContentType
	spETag
	spLastModified
)

// plannedProp is a requested property and, when the stat gives it, which.
type plannedProp struct {
	name xml.Name
	stat statProp
}

// planProps lists names in order, each once (a name asked for twice is
// answered once), with the stat property each is. A listing does this once,
// not once per member: comparing names per member cost a tenth of the
// listing's own time.
func planProps(names []xml.Name) []plannedProp {
	plan := make([]plannedProp, 0, len(names))
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			continue
		}
		k := spNone
		switch n {
		case pResourceType:
			k = spResourceType
		case pContentLength:
			k = spContentLength
		case pContentType:
			k = spContentType
		case pETag:
			k = spETag
		case pLastModified:
			k = spLastModified
		}
		plan = append(plan, plannedProp{n, k})
	}
	return plan
}

// contentType is the escaped getcontenttype of a file name.
func (pw *propWriter) contentType(name string) string {
	ext := path.Ext(name)
	if pw.ct == "" || ext != pw.ctExt {
		pw.ctExt, pw.ct = ext, escape(storage.ContentType(name))
	}
	return pw.ct
}

// httpDate formats t as an HTTP date (RFC 9110 IMF-fixdate), by hand:
// time.Format parses its layout on every call, 6% of a large listing.
// The bytes are valid until the next call.
func (pw *propWriter) httpDate(t time.Time) []byte {
	if sec := t.Unix(); pw.date == nil || sec != pw.dateSec {
		pw.dateSec, pw.date = sec, appendHTTPDate(pw.dateBuf[:0], t)
	}
	return pw.date
}

func appendHTTPDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	yy, mm, dd := t.Date()
	hh, mi, ss := t.Clock()
	if yy < 0 || yy > 9999 {
		return t.AppendFormat(b, http.TimeFormat)
	}
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = append(b, t.Weekday().String()[:3]...)
	b = append(b, ',', ' ')
	b = two(b, dd)
	b = append(b, ' ')
	b = append(b, mm.String()[:3]...)
	b = append(b, ' ')
	b = two(b, yy/100)
	b = two(b, yy%100)
	b = append(b, ' ')
	b = two(b, hh)
	b = append(b, ':')
	b = two(b, mi)
	b = append(b, ':')
	b = two(b, ss)
	return append(b, " GMT"...)
}

// walk writes the responses of dir's members (and theirs, if deep). A
// member's href is dir's escaped href followed by its escaped name, and its
// clean path is only joined when a property or the recursion needs it.
func (pw *propWriter) walk(ms *multistatus, dir string, deep bool) error {
	dirHref := pw.h.appendHref(nil, dir, true)
	return pw.h.store.ReadDirMeta(pw.ctx, dir, pw.listMeta(), func(e storage.Entry) error {
		isDir := e.Info.IsDir()
		pw.href = appendEscapedPath(append(pw.href[:0], dirHref...), e.Name)
		if isDir {
			pw.href = append(pw.href, '/')
		}
		rc := resource{pw: pw, parent: dir, base: e.Name, fi: e.Info,
			dead: e.Props, deadRead: e.PropsRead, birth: e.Birth, hasBirth: e.HasBirth, birthRead: e.BirthRead}
		if err := pw.writeResponse(ms.beginBytes(pw.href), ms, &rc); err != nil {
			return err
		}
		if deep && e.IsDir {
			return pw.walk(ms, rc.path(), true)
		}
		return nil
	})
}

func joinClean(dir, base string) string {
	if dir == "." {
		return base
	}
	return dir + "/" + base
}

// write writes one <response>. The href is built in a buffer reused for
// every entry of the listing.
func (pw *propWriter) write(ms *multistatus, clean string, fi fs.FileInfo) error {
	pw.href = pw.h.appendHref(pw.href[:0], clean, fi.IsDir())
	return pw.writeResponse(ms.beginBytes(pw.href), ms, &resource{pw: pw, clean: clean, fi: fi})
}

// writeAs writes the <response> of clean under the given href.
func (pw *propWriter) writeAs(ms *multistatus, href, clean string, fi fs.FileInfo) error {
	return pw.writeResponse(ms.begin(href), ms, &resource{pw: pw, clean: clean, fi: fi})
}

// writeResponse writes the properties of rc in a <response> begun in b.
func (pw *propWriter) writeResponse(b *bytes.Buffer, ms *multistatus, rc *resource) error {
	fi := rc.fi
	switch {
	case pw.pf.propname:
		names := pw.liveNames(fi)
		dead, err := rc.deadProps()
		if err != nil {
			return err
		}
		for n := range dead {
			names = append(names, xml.Name(n))
		}
		b.WriteString("<D:propstat><D:prop>")
		for _, n := range names {
			writeProp(b, n, "")
		}
		b.WriteString("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>")
	default:
		plan := pw.plan
		if pw.pf.allprop {
			dead, err := rc.deadProps()
			if err != nil {
				return err
			}
			plan = pw.allpropPlan(fi, dead)
		}
		var missing []xml.Name
		open := false
		for _, p := range plan {
			// The properties every listing asks for are written in place;
			// the others through a string.
			has, inPlace := rc.fromStat(p.stat)
			var v string
			if !inPlace {
				var err error
				if v, has, err = rc.value(p.name); err != nil {
					return err
				}
			}
			if !has {
				missing = append(missing, p.name)
				continue
			}
			if !open {
				b.WriteString("<D:propstat><D:prop>")
				open = true
			}
			if inPlace {
				rc.writeFromStat(b, p.stat)
			} else {
				writeProp(b, p.name, v)
			}
		}
		if open || len(missing) == 0 {
			if !open {
				b.WriteString("<D:propstat><D:prop>")
			}
			b.WriteString("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>")
		}
		if len(missing) > 0 {
			b.WriteString("<D:propstat><D:prop>")
			for _, n := range missing {
				writeProp(b, n, "")
			}
			b.WriteString("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>")
		}
	}
	return ms.end()
}

// allpropPlan is the plan of an allprop response: the live properties, the
// included ones and the dead ones. Members without dead properties (most)
// share one plan for files and one for collections.
func (pw *propWriter) allpropPlan(fi fs.FileInfo, dead storage.Props) []plannedProp {
	if len(dead) > 0 {
		names := append(pw.liveNames(fi), pw.pf.names...)
		for n := range dead {
			names = append(names, xml.Name(n))
		}
		return planProps(names)
	}
	i := 0
	if fi.IsDir() {
		i = 1
	}
	if pw.allPlans[i] == nil {
		pw.allPlans[i] = planProps(append(pw.liveNames(fi), pw.pf.names...))
	}
	return pw.allPlans[i]
}

// liveNames are the live properties of a resource, for allprop and propname.
func (pw *propWriter) liveNames(fi fs.FileInfo) []xml.Name {
	out := make([]xml.Name, 0, len(allpropNames))
	for _, n := range allpropNames {
		if fi.IsDir() && (n == pContentLength || n == pContentType) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// resource computes the property values of one resource, reading dead
// properties and checksums only if asked for.
type resource struct {
	pw *propWriter
	// clean is the resource's clean path; when empty, it is
	// joinClean(parent, base), joined on first use by path.
	clean, parent, base string
	fi                  fs.FileInfo
	dead                storage.Props // when deadRead; nil is none
	deadRead            bool
	birth               time.Time // when birthRead and hasBirth
	hasBirth, birthRead bool
}

func (rc *resource) path() string {
	if rc.clean == "" {
		rc.clean = joinClean(rc.parent, rc.base)
	}
	return rc.clean
}

// fromStat reports whether k is a property computed from the stat alone
// (known), and if so whether the resource has it.
func (rc *resource) fromStat(k statProp) (has, known bool) {
	switch k {
	case spResourceType, spETag, spLastModified:
		return true, true
	case spContentLength, spContentType:
		return !rc.fi.IsDir(), true
	}
	return false, false
}

// writeFromStat writes property k, one fromStat knows and the resource
// has, appending its value to b without a string in between. The output
// is what writeProp makes of value's answer.
func (rc *resource) writeFromStat(b *bytes.Buffer, k statProp) {
	fi := rc.fi
	switch k {
	case spResourceType:
		if fi.IsDir() {
			b.WriteString("<D:resourcetype><D:collection/></D:resourcetype>")
		} else {
			b.WriteString("<D:resourcetype/>")
		}
	case spContentLength:
		b.WriteString("<D:getcontentlength>")
		b.Write(strconv.AppendInt(b.AvailableBuffer(), fi.Size(), 10))
		b.WriteString("</D:getcontentlength>")
	case spContentType:
		b.WriteString("<D:getcontenttype>")
		b.WriteString(rc.pw.contentType(fi.Name()))
		b.WriteString("</D:getcontenttype>")
	case spETag:
		b.WriteString("<D:getetag>")
		b.Write(storage.AppendETag(b.AvailableBuffer(), fi)) // hex digits, '-' and '"': nothing to escape
		b.WriteString("</D:getetag>")
	case spLastModified:
		b.WriteString("<D:getlastmodified>")
		b.Write(rc.pw.httpDate(fi.ModTime()))
		b.WriteString("</D:getlastmodified>")
	}
}

func (rc *resource) deadProps() (storage.Props, error) {
	if !rc.deadRead {
		p, err := rc.pw.h.store.Props(rc.path())
		if err != nil {
			return nil, err
		}
		rc.dead, rc.deadRead = p, true
	}
	return rc.dead, nil
}

// listMeta is what a listing's members need besides their stat: the birth
// time for creationdate, the dead properties for allprop, propname or a
// property davnas does not compute. The listing reads them relative to its
// directory (storage.ReadDirMeta) rather than opening each member.
func (pw *propWriter) listMeta() storage.ListMeta {
	var m storage.ListMeta
	if pw.pf.allprop || pw.pf.propname {
		m |= storage.MetaProps
	}
	if pw.pf.allprop {
		m |= storage.MetaBirth
	}
	for _, p := range pw.plan {
		switch {
		case p.name == pCreationDate:
			m |= storage.MetaBirth
		case p.stat == spNone && !computed[p.name]:
			m |= storage.MetaProps
		}
	}
	return m
}

// value returns the XML value of property n, or false when the resource
// has no such property. The properties fromStat knows never reach it.
func (rc *resource) value(n xml.Name) (string, bool, error) {
	fi, h := rc.fi, rc.pw.h
	dir := fi.IsDir()
	switch n { // resourcetype, getcontentlength, getcontenttype, getetag and getlastmodified: fromStat
	case pDisplayName:
		if rc.path() == "." {
			return "", true, nil
		}
		return escape(path.Base(rc.path())), true, nil
	case pWin32Modified:
		return string(rc.pw.httpDate(fi.ModTime())), true, nil
	case pCreationDate:
		// RFC 4918 §15.1: an RFC 3339 date-time. Finder shows it as the
		// creation date; where the file system keeps no birth time the
		// property is absent rather than made up from another time.
		t, ok := rc.birth, rc.hasBirth
		if !rc.birthRead {
			t, ok = h.store.Birth(rc.path())
		}
		if !ok {
			return "", false, nil
		}
		return t.UTC().Format("2006-01-02T15:04:05Z"), true, nil
	case pSupportedLock:
		return supportedLock, true, nil
	case pLockDiscovery:
		return h.lockDiscovery(lockName(rc.path())), true, nil
	case pQuotaAvailable, pQuotaUsed:
		if rc.pw.usage == nil {
			avail, used, err := h.store.Usage()
			if err != nil {
				return "", false, nil
			}
			rc.pw.usage = &[2]uint64{avail, used}
		}
		if n == pQuotaAvailable {
			return strconv.FormatUint(rc.pw.usage[0], 10), true, nil
		}
		return strconv.FormatUint(rc.pw.usage[1], 10), true, nil
	case pChecksums:
		if dir {
			return "", false, nil
		}
		sums, err := h.store.Checksums(rc.pw.ctx, rc.path())
		if err != nil {
			return "", false, nil
		}
		return "<oc:checksum xmlns:oc=\"" + nsOC + "\">SHA1:" + sums.SHA1 + " MD5:" + sums.MD5 + "</oc:checksum>", true, nil
	}
	dead, err := rc.deadProps()
	if err != nil {
		return "", false, err
	}
	v, ok := dead[storage.PropName(n)]
	return v, ok, nil
}

const supportedLock = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>" +
	"<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>"

// lockDiscovery is the DAV:lockdiscovery value of a lock name.
func (h *Handler) lockDiscovery(name string) string {
	locks := h.locks.Discover(name)
	if len(locks) == 0 {
		return ""
	}
	var b bytes.Buffer
	now := h.locks.Now()
	for i := range locks {
		h.writeActiveLock(&b, &locks[i], now)
	}
	return b.String()
}

// writeActiveLock writes an <activelock> (RFC 4918 §14.1). The lockroot is
// the escaped URL of the locked resource: Office clients compare it with
// what they locked and lock again forever when it differs (x/net/webdav
// does not escape it).
func (h *Handler) writeActiveLock(b *bytes.Buffer, l *locking.Lock, now time.Time) {
	scope, depth := "exclusive", "0"
	if l.Shared {
		scope = "shared"
	}
	if l.Deep {
		depth = "infinity"
	}
	b.WriteString("<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:" + scope + "/></D:lockscope>")
	b.WriteString("<D:depth>" + depth + "</D:depth>")
	if l.OwnerXML != "" {
		b.WriteString("<D:owner>" + l.OwnerXML + "</D:owner>")
	}
	b.WriteString("<D:timeout>" + timeoutValue(l.Remaining(now)) + "</D:timeout>")
	b.WriteString("<D:locktoken><D:href>" + escape(l.Token) + "</D:href></D:locktoken>")
	root := l.Root
	if root == "/" {
		root = ""
	}
	b.WriteString("<D:lockroot><D:href>" + escape((&url.URL{Path: h.prefix + root}).EscapedPath()) + "</D:href></D:lockroot>")
	b.WriteString("</D:activelock>")
}

func timeoutValue(d time.Duration) string {
	if d < 0 {
		return "Infinite"
	}
	// Rounded up: a lock granted for 60 s reads Second-60, not Second-59.
	return "Second-" + strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// href is the escaped URL path of a resource; collections end in "/".
func (h *Handler) href(clean string, dir bool) string {
	return string(h.appendHref(make([]byte, 0, len(h.prefix)+len(clean)+8), clean, dir))
}

// appendHref appends the percent-escaped href of clean to b.
func (h *Handler) appendHref(b []byte, clean string, dir bool) []byte {
	b = appendEscapedPath(b, h.prefix)
	b = append(b, '/')
	if clean != "." {
		b = appendEscapedPath(b, clean)
		if dir {
			b = append(b, '/')
		}
	}
	return b
}

// appendEscapedPath percent-encodes a path as url.URL.EscapedPath does:
// everything but unreserved characters, sub-delimiters, ':', '@' and '/'.
func appendEscapedPath(b []byte, p string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0 {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// multistatus streams a 207 Multi-Status body through a buffer that is
// flushed after the first response (so the client sees the first byte
// early) and whenever it fills.
type multistatus struct {
	w       http.ResponseWriter
	bw      *bufio.Writer
	b       bytes.Buffer // the response being built
	started bool
	n       int
}

func newMultistatus(w http.ResponseWriter) *multistatus {
	return &multistatus{w: w}
}

func (m *multistatus) begin(href string) *bytes.Buffer {
	m.b.Reset()
	m.b.WriteString("<D:response><D:href>")
	escapeTo(&m.b, href)
	m.b.WriteString("</D:href>")
	return &m.b
}

// beginBytes is begin for an href in a byte slice.
func (m *multistatus) beginBytes(href []byte) *bytes.Buffer {
	m.b.Reset()
	m.b.WriteString("<D:response><D:href>")
	if needsEscapeBytes(href) {
		escapeTo(&m.b, string(href))
	} else {
		m.b.Write(href)
	}
	m.b.WriteString("</D:href>")
	return &m.b
}

func (m *multistatus) end() error {
	m.b.WriteString("</D:response>\n")
	if !m.started {
		m.started = true
		m.w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		m.w.WriteHeader(http.StatusMultiStatus)
		m.bw = bufio.NewWriterSize(m.w, 64<<10)
		m.bw.WriteString(xml.Header + `<D:multistatus xmlns:D="DAV:">` + "\n")
	}
	if _, err := m.bw.Write(m.b.Bytes()); err != nil {
		return err
	}
	m.n++
	if m.n == 1 {
		return m.bw.Flush()
	}
	return nil
}

func (m *multistatus) close() error {
	if !m.started {
		m.w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		m.w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(m.w, xml.Header+`<D:multistatus xmlns:D="DAV:"></D:multistatus>`)
		return nil
	}
	m.bw.WriteString("</D:multistatus>\n")
	m.bw.Flush()
	return nil
}

// abort handles an error in the middle of a multistatus: before anything
// was sent it becomes the response; after, the document is closed where it
// stands (the client sees fewer members) and the cause logged.
func (m *multistatus) abort(r *http.Request, err error) error {
	if !m.started {
		return err
	}
	httperr.Record(r, err)
	return m.close()
}

// ServeServerRoot answers PROPFIND on the server root "/" when WebDAV lives
// under a prefix: Windows (and clients walking the path segment by
// segment) ask for it before the share. The root is described as a
// collection whose one member is the WebDAV collection.
func (h *Handler) ServeServerRoot(w http.ResponseWriter, r *http.Request) {
	if err := h.propfindServerRoot(w, r); err != nil {
		httperr.Respond(w, r, err)
	}
}

func (h *Handler) propfindServerRoot(w http.ResponseWriter, r *http.Request) error {
	depth := r.Header.Get("Depth")
	if depth != "0" && depth != "1" {
		depth = "1" // the tree below is the prefix's; one level says all there is
	}
	pf, err := parsePropfind(r.Body)
	if err != nil {
		return badBody("invalid PROPFIND body", err)
	}
	fi, err := h.store.Stat(".")
	if err != nil {
		return err
	}
	ms := newMultistatus(w)
	pw := newPropWriter(h, r.Context(), pf)
	if err := pw.writeAs(ms, "/", ".", fi); err != nil {
		return ms.abort(r, err)
	}
	if depth == "1" {
		if err := pw.writeAs(ms, h.href(".", true), ".", fi); err != nil {
			return ms.abort(r, err)
		}
	}
	return ms.close()
}
