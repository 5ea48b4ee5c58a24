// Package transfer holds the one download path shared by the /file/ API and
// WebDAV, and the request-body conventions both upload paths honour.
package transfer

import (
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/davnas/davnas/internal/storage"
)

// ServeFile answers GET or HEAD for an open regular file: Content-Type from
// the name, a strong ETag, Last-Modified, Accept-Ranges and Range (206),
// conditional requests (304/412). The body is handed to http.ServeContent as
// the *os.File itself, so the kernel's sendfile moves the bytes without
// copying them through user space; wrapping f would silently lose that.
func ServeFile(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo) {
	h := w.Header()
	// The keys are written in canonical form, as Set would make them,
	// which saves canonicalizing them on every download.
	h["Etag"] = []string{storage.ETag(fi)}
	h["Content-Type"] = []string{storage.ContentType(fi.Name())}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
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
