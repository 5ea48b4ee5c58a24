// Package dav serves WebDAV (RFC 4918, classes 1 and 2; RFC 4331 quota
// properties) over the same storage.Store as the /file/ API.
//
// It began as golang.org/x/net/webdav with fixes around it; one method at a
// time, each fix became davnas's own method, because the library's version
// lost data or answered wrongly for a real client (see
// docs/ARCHITECTURE.md, "Why davnas serves every WebDAV method itself").
// Every method is now served here:
//
//   - PUT: atomic through the store's one upload path, 201/204, 409 for a
//     missing parent, 507 on a full disk, Content-Range refused (400),
//     If-Match/If-None-Match checked again at commit, X-Expected-Entity-Length,
//     X-OC-Mtime and OC-Checksum (rclone's owncloud mode);
//   - GET/HEAD: the one download path (sendfile, Range, the same ETag as
//     PROPFIND); an HTML listing for a collection;
//   - PROPFIND: streamed as the directory is read, Depth: infinity refused
//     unless allowed, types from names, quota, checksums, lockdiscovery,
//     dead properties;
//   - PROPPATCH: dead properties stored with the file (extended attribute or
//     sidecar), modification times settable (getlastmodified, lastmodified,
//     Win32LastModifiedTime), all-or-nothing;
//   - LOCK/UNLOCK: exclusive and shared write locks of depth 0 or infinity,
//     refresh, lock-null creation, through the shared locking.System;
//   - COPY/MOVE/DELETE/MKCOL: everything checked before anything is
//     touched, copies built aside and renamed into place, locks released
//     with what was removed.
//
// Every request name is checked by storage.Clean before anything else. It
// must not touch the disk except through the store.
package dav

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/transfer"
)

// Options tunes the handler.
type Options struct {
	// AllowInfiniteDepth lets PROPFIND walk a whole tree (Depth: infinity);
	// refused with 403 otherwise (RFC 4918 §9.1, propfind-finite-depth).
	AllowInfiniteDepth bool
}

// Handler serves WebDAV under a prefix.
type Handler struct {
	prefix string // "/dav", or "" when WebDAV is served at the root
	store  *storage.Store
	locks  *locking.System
	opt    Options
	log    *slog.Logger
}

// New returns a Handler serving store under prefix ("/dav/" or "/dav"; "/"
// for the root). locks is shared with the /file/ API.
func New(prefix string, store *storage.Store, locks *locking.System, opt Options, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		prefix: strings.TrimRight(prefix, "/"),
		store:  store,
		locks:  locks,
		opt:    opt,
		log:    log,
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

// ServeHTTP is the one place that writes error responses.
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
	if err := h.preconditions(r, clean); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodOptions:
		return h.options(w, clean)
	case http.MethodGet, http.MethodHead:
		return h.get(w, r, clean)
	case http.MethodPut:
		return h.put(w, r, clean, strings.HasSuffix(name, "/"))
	case http.MethodDelete:
		return h.del(w, r, clean)
	case "MKCOL":
		return h.mkcol(w, r, clean)
	case "COPY", "MOVE":
		return h.copyMove(w, r, clean)
	case "LOCK":
		return h.lock(w, r, clean)
	case "UNLOCK":
		return h.unlock(w, r, clean)
	case "PROPFIND":
		return h.propfind(w, r, clean)
	case "PROPPATCH":
		return h.proppatch(w, r, clean)
	}
	w.Header().Set("Allow", h.allow(clean))
	return httperr.New(http.StatusMethodNotAllowed, "method not allowed")
}

// preconditions refuses (412) a method that changes the resource when its
// If-Match, If-None-Match or If-Unmodified-Since is false (RFC 9110
// §13.2.2). GET and HEAD evaluate them in ServeContent (304 as well), PUT
// again at commit under the name's lock; for the others the check runs
// before anything is touched.
func (h *Handler) preconditions(r *http.Request, clean string) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, "PROPFIND":
		return nil
	}
	return transfer.Preconditions(r, h.store, clean)
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
