// Package dav serves WebDAV (RFC 4918, classes 1 and 2) over the same
// storage.Store as the /file/ API, through golang.org/x/net/webdav, and
// fixes in its own layer what that library gets wrong for real clients:
//
//   - PUT is davnas's own: atomic (temp file + rename through the store's one
//     upload path), 201 for a new file and 204 for a replaced one, 409 for a
//     missing parent, 507 on a full disk, Content-Range refused (400),
//     If-Match/If-None-Match and X-Expected-Entity-Length honoured;
//   - GET and HEAD use the one download path (sendfile, Range, conditional
//     requests, the same ETag as PROPFIND); GET on a collection is an HTML
//     listing instead of 405;
//   - MOVE and COPY default to Overwrite: T (RFC 4918 §10.6) and compare
//     Destination by path, not host, so they work behind a reverse proxy;
//   - every request name is checked by storage.Clean before the library
//     sees it, and temporary upload files never appear in PROPFIND.
//
// It must not touch the disk except through the store.
package dav

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/webdav"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

// Handler serves WebDAV under a prefix.
type Handler struct {
	prefix string // "/dav", or "" when WebDAV is served at the root
	store  *storage.Store
	locks  *locking.System
	lib    *webdav.Handler
	log    *slog.Logger
}

// New returns a Handler serving store under prefix ("/dav/" or "/dav"; "/"
// for the root). locks is shared with the /file/ API.
func New(prefix string, store *storage.Store, locks *locking.System, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	prefix = strings.TrimRight(prefix, "/")
	h := &Handler{prefix: prefix, store: store, locks: locks, log: log}
	h.lib = &webdav.Handler{
		Prefix:     prefix,
		FileSystem: fileSystem{store: store},
		LockSystem: locks,
		Logger: func(r *http.Request, err error) {
			httperr.Record(r, err)
		},
	}
	return h
}

// Prefix is the URL path WebDAV is served under, without a trailing slash.
func (h *Handler) Prefix() string { return h.prefix }

// strip removes the prefix from a decoded URL path and returns the name
// (always starting with "/"), or false when the path is not under the prefix.
// "/dav" without its slash is the collection itself (Windows and some
// clients drop it; a redirect is not followed by all of them).
func (h *Handler) strip(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, h.prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	if rest == "" {
		rest = "/"
	}
	return rest, true
}

// ServeHTTP is the one place that writes davnas's own error responses;
// x/net/webdav writes its own.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		httperr.Respond(w, r, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	name, ok := h.strip(r.URL.Path)
	if !ok {
		return httperr.New(http.StatusNotFound, "Not Found")
	}
	clean, err := storage.Clean(name)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodOptions:
		return h.options(w, clean)
	case http.MethodGet, http.MethodHead:
		return h.get(w, r, clean)
	case http.MethodPut:
		return h.put(w, r, clean)
	case http.MethodPost:
		w.Header().Set("Allow", h.allow(clean))
		return httperr.New(http.StatusMethodNotAllowed, "method not allowed")
	case "COPY", "MOVE":
		if err := h.fixCopyMove(r); err != nil {
			return err
		}
	}
	h.lib.ServeHTTP(w, r)
	return nil
}

// options answers OPTIONS with the compliance classes. RFC 4918 §18: a
// class 2 server must also list class 1 ("DAV: 1, 2"); davfs2 refuses a
// server that sends "2" alone. MS-Author-Via tells the Windows
// mini-redirector to use WebDAV rather than FrontPage extensions.
func (h *Handler) options(w http.ResponseWriter, clean string) error {
	hdr := w.Header()
	hdr.Set("DAV", "1, 2")
	hdr.Set("MS-Author-Via", "DAV")
	hdr.Set("Allow", h.allow(clean))
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) allow(clean string) string {
	fi, err := h.store.Stat(clean)
	switch {
	case err != nil:
		return "OPTIONS, LOCK, PUT, MKCOL"
	case fi.IsDir():
		return "OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
	default:
		return "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
	}
}

// fixCopyMove validates the Destination header and adjusts the request
// before x/net/webdav sees it:
//
//   - RFC 4918 §10.6: "If the Overwrite header is not included in a COPY or
//     MOVE request, then the resource MUST treat the request as if it has an
//     overwrite header of value "T"." The library treats a missing header as
//     "F" (golang/go#66059), so it is added.
//   - The destination is compared by path only: behind a reverse proxy its
//     host is the proxy's, which the library would refuse with 502.
//   - A destination outside the prefix is on "another server" (§9.8.5: 502);
//     a destination name storage.Clean refuses is a bad request.
func (h *Handler) fixCopyMove(r *http.Request) error {
	switch ow := r.Header.Get("Overwrite"); ow {
	case "":
		r.Header.Set("Overwrite", "T")
	case "T", "F":
	default:
		return httperr.New(http.StatusBadRequest, "invalid Overwrite header: want T or F")
	}
	dst := r.Header.Get("Destination")
	if dst == "" {
		return httperr.New(http.StatusBadRequest, "missing Destination header")
	}
	u, err := url.Parse(dst)
	if err != nil || u.Path == "" {
		return httperr.New(http.StatusBadRequest, "invalid Destination header")
	}
	name, ok := h.strip(u.Path)
	if !ok {
		return httperr.New(http.StatusBadGateway, "Destination is outside this server's WebDAV tree")
	}
	if _, err := storage.Clean(name); err != nil {
		return err
	}
	r.Header.Set("Destination", (&url.URL{Path: u.Path}).EscapedPath())
	return nil
}
