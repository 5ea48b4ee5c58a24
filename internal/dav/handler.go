// Package dav serves WebDAV (RFC 4918, classes 1 and 2) over the same
// storage.Store as the /file/ API. golang.org/x/net/webdav parses and
// answers PROPFIND, PROPPATCH and LOCK; davnas serves every other method
// itself, because the library's versions lose data or answer wrongly for
// real clients:
//
//   - PUT: atomic through the store's one upload path, 201/204, 409 for a
//     missing parent, 507 on a full disk, Content-Range refused (400),
//     If-Match/If-None-Match checked again at commit, X-Expected-Entity-Length;
//   - GET/HEAD: the one download path (sendfile, Range, the same ETag as
//     PROPFIND); an HTML listing for a collection instead of 405;
//   - COPY/MOVE: everything checked before anything is touched (the library
//     deletes the destination first), Overwrite defaults to T (§10.6),
//     Destination compared by path so proxies work, copies built aside and
//     renamed into place, locks released with what a MOVE took away;
//   - DELETE, MKCOL, UNLOCK, OPTIONS: correct status codes, locks released
//     with what was deleted, UNLOCK only within the lock's scope.
//
// Every request name is checked by storage.Clean before anything else, and
// requests reach the library with the cleaned path. Locks live in the shared
// locking.System; the library sees it through a per-request view.
//
// It must not touch the disk except through the store.
package dav

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

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
	fs     fileSystem
	log    *slog.Logger
	now    func() time.Time
}

// New returns a Handler serving store under prefix ("/dav/" or "/dav"; "/"
// for the root). locks is shared with the /file/ API.
func New(prefix string, store *storage.Store, locks *locking.System, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		prefix: strings.TrimRight(prefix, "/"),
		store:  store,
		locks:  locks,
		fs:     fileSystem{store: store},
		log:    log,
		now:    time.Now,
	}
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
	case http.MethodDelete:
		return h.del(w, r, clean)
	case "MKCOL":
		return h.mkcol(w, r, clean)
	case "COPY", "MOVE":
		return h.copyMove(w, r, clean)
	case "UNLOCK":
		return h.unlock(w, r, clean)
	case "LOCK":
		// A LOCK of an unmapped URL creates an empty resource (§7.3),
		// which needs its parent (409, where the library answers 500).
		if r.ContentLength != 0 {
			if _, err := h.store.Stat(clean); err != nil {
				if err := h.needParent(clean); err != nil {
					return err
				}
			}
		}
		h.library(h.locks.LockView()).ServeHTTP(w, h.canonical(r, clean))
		return nil
	case "PROPFIND", "PROPPATCH":
		h.library(h.locks.WriteView(h.etagOf)).ServeHTTP(w, h.canonical(r, clean))
		return nil
	}
	w.Header().Set("Allow", h.allow(clean))
	return httperr.New(http.StatusMethodNotAllowed, "method not allowed")
}

// library returns x/net/webdav's handler over our file system with the
// given view of the lock system.
func (h *Handler) library(ls webdav.LockSystem) *webdav.Handler {
	return &webdav.Handler{
		Prefix:     h.prefix,
		FileSystem: h.fs,
		LockSystem: ls,
		Logger:     func(r *http.Request, err error) { httperr.Record(r, err) },
	}
}

// canonical returns r with its path rewritten to the cleaned name, so the
// library, its lock names and its hrefs never see "/./" or "//".
func (h *Handler) canonical(r *http.Request, clean string) *http.Request {
	p := h.prefix + lockName(clean)
	if clean != "." && strings.HasSuffix(r.URL.Path, "/") {
		p += "/"
	}
	if p == r.URL.Path {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = p, ""
	r2.URL = &u
	return r2
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
		return "OPTIONS, PUT, MKCOL, LOCK"
	case fi.IsDir():
		return "OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
	default:
		return "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
	}
}
