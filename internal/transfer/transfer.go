// Package transfer holds the one download path shared by the /file/ API and
// WebDAV, and the request-body conventions both upload paths honour.
package transfer

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/storage"
)

// ServeFile answers GET or HEAD for a regular file just opened (its offset
// still 0, as Store.Open leaves it) and its stat: Content-Type from
// the name, a strong ETag, Last-Modified, Accept-Ranges and Range (206),
// conditional requests (304/412). The body is handed to http.ServeContent as
// a SizedFile, which the response writer (the server's countingWriter)
// unwraps back to the *os.File, so the kernel's sendfile moves the bytes
// without copying them through user space.
func ServeFile(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo) {
	h := w.Header()
	// The keys are written in canonical form, as Set would make them,
	// which saves canonicalizing them on every download.
	h["Etag"] = []string{storage.ETag(fi)}
	ct := storage.ContentType(fi.Name())
	h["Content-Type"] = []string{ct}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	if scriptable(ct) {
		// Anyone who can write can upload a page; opened in a browser it
		// would run on the server's origin, where the WebDAV listing lives
		// and a user's Basic credentials are sent. A sandbox gives it an
		// origin of its own and no scripts.
		h["Content-Security-Policy"] = []string{"sandbox"}
	}
	if rng := r.Header.Get("Range"); rng != "" {
		if fixed := normalizeRange(rng, fi.Size()); fixed == "" {
			r.Header.Del("Range")
		} else if fixed != rng {
			r.Header.Set("Range", fixed)
		}
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), &SizedFile{f: f, size: fi.Size()})
}

// normalizeRange rewrites the byte ranges http.ServeContent gets wrong
// into ones it gets right (RFC 9110 §14.1): a suffix of zero bytes, which
// it served as "bytes 10-9/10", becomes an unsatisfiable range (skipped
// beside others, 416 alone); an empty file has no range to serve (it
// served "bytes 0--1/0"): "" drops the header, and the answer is the
// whole, empty, file (200, as RFC 9110 §14.2 allows); a last position or suffix too large for
// int64, which it refused, means "to the end" and "all". Anything else,
// malformed included, is left for ServeContent to judge.
func normalizeRange(v string, size int64) string {
	specs, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return v
	}
	if size == 0 {
		return ""
	}
	out := make([]string, 0, 2)
	changed := false
	for spec := range strings.SplitSeq(specs, ",") {
		spec = strings.TrimSpace(spec)
		first, last, found := strings.Cut(spec, "-")
		switch {
		case !found || !allDigits(last):
		case first == "" && strings.Trim(last, "0") == "":
			spec, changed = strconv.FormatInt(size, 10)+"-", true // a zero suffix
		case first == "" && tooBig(last):
			spec, changed = "0-", true
		case allDigits(first) && tooBig(last):
			spec, changed = first+"-", true
		}
		out = append(out, spec)
	}
	if !changed {
		return v
	}
	return "bytes=" + strings.Join(out, ",")
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// tooBig: digits past int64.
func tooBig(digits string) bool {
	_, err := strconv.ParseInt(digits, 10, 64)
	return err != nil
}

// scriptable reports whether a browser runs scripts in content of type ct.
func scriptable(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.TrimSpace(mt) {
	case "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/xsl":
		return true
	}
	return false
}

// SizedFile is a freshly opened file (offset 0) whose size is known from
// its stat. http.ServeContent finds a body's size by seeking to its end
// and back, two lseek(2) calls a download (of about a dozen system calls
// for a 4 KiB GET) that the stat in hand already answers: SizedFile's Seek
// moves only a position of its own, and the file's offset follows it when
// the file is read, or handed out by File.
type SizedFile struct {
	f    *os.File
	size int64
	pos  int64 // the position ServeContent has sought
	off  int64 // the file's own offset
}

var errWhence = errors.New("transfer: invalid whence")

// Seek sets the position the next read starts from.
func (s *SizedFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.pos
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, errWhence
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: s.f.Name(), Err: fs.ErrInvalid}
	}
	s.pos = offset
	return offset, nil
}

// sync moves the file's offset to the sought position.
func (s *SizedFile) sync() error {
	if s.pos != s.off {
		if _, err := s.f.Seek(s.pos, io.SeekStart); err != nil {
			return err
		}
		s.off = s.pos
	}
	return nil
}

func (s *SizedFile) Read(p []byte) (int, error) {
	if err := s.sync(); err != nil {
		return 0, err
	}
	n, err := s.f.Read(p)
	s.pos += int64(n)
	s.off = s.pos
	return n, err
}

// File returns the file with its offset at the sought position, for a
// caller that reads it directly from there (sendfile) and is done with s.
func (s *SizedFile) File() (*os.File, error) {
	if err := s.sync(); err != nil {
		return nil, err
	}
	return s.f, nil
}

// ExpectedLength returns the body size a client announced in
// X-Expected-Entity-Length (macOS Finder sends it with chunked PUTs), or -1.
// A malformed value is an error.
func ExpectedLength(r *http.Request) (int64, bool) {
	v := r.Header.Get("X-Expected-Entity-Length")
	if v == "" {
		if r.ContentLength >= 0 {
			return r.ContentLength, true
		}
		return -1, true
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return -1, false
	}
	return n, true
}

// HasPreconditions reports whether r carries a precondition that
// CheckPreconditions evaluates.
func HasPreconditions(r *http.Request) bool {
	h := r.Header
	return h.Get("If-Match") != "" || h.Get("If-Unmodified-Since") != "" || h.Get("If-None-Match") != ""
}

// Preconditions evaluates r's preconditions (CheckPreconditions) against
// what name in store is now, when r has any.
func Preconditions(r *http.Request, store *storage.Store, name string) error {
	if !HasPreconditions(r) {
		return nil
	}
	fi, err := store.Stat(name)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		fi = nil
	}
	return CheckPreconditions(r, fi)
}

// CheckPreconditions evaluates If-Match, If-None-Match and
// If-Unmodified-Since against the current resource (nil when there is
// none), RFC 9110 §13.2.2, for a method that changes it: 412 when one is
// false. (x/net/webdav ignores them on every write, golang/go#44493.)
func CheckPreconditions(r *http.Request, fi fs.FileInfo) error {
	failed := httperr.New(http.StatusPreconditionFailed, "precondition failed")
	if im := r.Header.Get("If-Match"); im != "" {
		if fi == nil || !etagListMatches(im, storage.ETag(fi), false) {
			return failed
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" && fi != nil {
		if t, err := http.ParseTime(ius); err == nil && fi.ModTime().Truncate(time.Second).After(t) {
			return failed
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && fi != nil {
		if etagListMatches(inm, storage.ETag(fi), true) {
			return failed
		}
	}
	return nil
}

// etagListMatches reports whether a comma-separated entity-tag list (or
// "*") matches etag (always strong here). If-Match compares strongly, so a
// weak tag never matches it; If-None-Match compares weakly (RFC 9110 §8.8.3.2).
func etagListMatches(list, etag string, weak bool) bool {
	for part := range strings.SplitSeq(list, ",") {
		p := strings.TrimSpace(part)
		if weak {
			p = strings.TrimPrefix(p, "W/")
		}
		if p == "*" || p == etag {
			return true
		}
	}
	return false
}
