// Package fileapi serves the http-nas /file/ API over a storage.Store: the
// routes, status codes and bodies of http-nas (so existing curl pipelines
// keep working byte for byte), plus what its users lacked: atomic replace,
// serialized appends, Range and conditional GET, JSON listings, clear errors.
//
// It owns routing inside /file/ and the translation of requests into store
// calls; it never touches the disk itself.
package fileapi

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/transfer"
)

// Prefix is where the API is mounted.
const Prefix = "/file"

// Handler serves /file and /file/....
type Handler struct {
	store *storage.Store
	locks *locking.System
	log   *slog.Logger
}

// New returns a Handler over store. locks is the lock system shared with
// WebDAV: a file a WebDAV client holds locked answers 423 to writes through
// /file/ too. It may be nil.
func New(store *storage.Store, locks *locking.System, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{store: store, locks: locks, log: log}
}

// route is a parsed /file/ request.
type route struct {
	name string // percent-decoded, not yet cleaned
	op   string // "", "wc" or "mv"
}

const (
	opWC = "wc"
	opMV = "mv"
)

// ServeHTTP is the one place that turns a handler's error into a response.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		httperr.Respond(w, r, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	rt, health, err := h.parse(r)
	if err != nil {
		return err
	}
	if health {
		return h.health(w, r)
	}
	if err := h.preconditions(r, rt.name); err != nil {
		return err
	}
	switch rt.op {
	case opWC:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return methodNotAllowed(w, "GET, HEAD")
		}
		return h.wc(w, r, rt.name)
	case opMV:
		if r.Method != http.MethodPut {
			return methodNotAllowed(w, "PUT")
		}
		return h.moveFromBody(w, r, rt.name)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return h.get(w, r, rt.name)
	case http.MethodPost:
		return h.create(w, r, rt.name)
	case http.MethodPut:
		return h.put(w, r, rt.name)
	case http.MethodDelete:
		return h.delete(w, r, rt.name)
	case http.MethodOptions:
		w.Header().Set("Allow", allowName)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return methodNotAllowed(w, allowName)
}

// preconditions refuses (412) a POST, append, DELETE or move whose
// If-Match, If-None-Match or If-Unmodified-Since is false (RFC 9110
// §13.2.2), before anything is touched; a POST checks again at commit,
// under the name's lock. GET and HEAD evaluate them in ServeContent.
func (h *Handler) preconditions(r *http.Request, name string) error {
	if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodDelete {
		return nil
	}
	return transfer.Preconditions(r, h.store, name)
}

const allowName = "GET, HEAD, POST, PUT, DELETE, OPTIONS"

// parse splits the request path into a name and an operation.
//
// Names may arrive %2F-encoded (http-nas's form, /file/dir%2Fa.txt) or plain
// (/file/dir/a.txt); both mean the same file. A trailing /wc (GET) or /mv
// (PUT) written literally in the URL is an operation only when the part
// before it names an existing file (wc) or entry (mv); otherwise it is part
// of the name. ?op=wc and ?op=mv are always operations.
func (h *Handler) parse(r *http.Request) (rt route, health bool, err error) {
	raw, ok := strings.CutPrefix(r.URL.EscapedPath(), Prefix)
	if !ok || (raw != "" && raw[0] != '/') {
		return rt, false, httperr.New(http.StatusNotFound, "Not Found")
	}
	raw = strings.TrimPrefix(raw, "/")
	if r.URL.RawQuery != "" { // most requests have none: no map to parse it into
		q := r.URL.Query()
		if _, has := q["op"]; has {
			switch rt.op = q.Get("op"); rt.op {
			case opWC, opMV:
			default:
				return rt, false, httperr.New(http.StatusBadRequest, "unknown op: want wc or mv")
			}
		}
	}
	if raw == "" && rt.op == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return rt, true, nil
	}
	if rt.op == "" {
		switch {
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			if base, ok := strings.CutSuffix(raw, "/wc"); ok && h.isFile(base) {
				raw, rt.op = base, opWC
			}
		case r.Method == http.MethodPut:
			if base, ok := strings.CutSuffix(raw, "/mv"); ok && h.exists(base) {
				raw, rt.op = base, opMV
			}
		}
	}
	rt.name, err = url.PathUnescape(raw)
	if err != nil {
		return rt, false, httperr.New(http.StatusBadRequest, "invalid percent-encoding in name")
	}
	if _, err := storage.Clean(rt.name); err != nil {
		return rt, false, err
	}
	return rt, false, nil
}

// isFile: raw names something that is not a directory (a FIFO too, so
// that its /wc is refused as such instead of read as a path below it).
func (h *Handler) isFile(raw string) bool {
	fi, ok := h.statRaw(raw)
	return ok && !fi.IsDir()
}

func (h *Handler) exists(raw string) bool {
	_, ok := h.statRaw(raw)
	return ok
}

func (h *Handler) statRaw(raw string) (fs.FileInfo, bool) {
	name, err := url.PathUnescape(raw)
	if err != nil || raw == "" {
		return nil, false
	}
	fi, err := h.store.Stat(name)
	if err != nil {
		return nil, false
	}
	return fi, true
}

// health is http-nas's health check: 200 "OK" when the root is a readable
// directory. The old Helm chart's probes call it.
func (h *Handler) health(w http.ResponseWriter, r *http.Request) error {
	if !h.store.Readable() {
		return httperr.New(http.StatusServiceUnavailable, "storage unavailable")
	}
	httperr.OK(w)
	return nil
}

// lock registers a write to name (deep: to everything below it too; member:
// one that adds or removes name in its directory) with the lock system
// shared with WebDAV: it fails with 423 when a WebDAV client holds a lock in
// the way. Writes through either API do not exclude each other; storage
// orders them.
func (h *Handler) lock(name string, deep, member bool) (func(), error) {
	if h.locks == nil {
		return func() {}, nil
	}
	clean, err := storage.Clean(name)
	if err != nil {
		return nil, err
	}
	root := "/"
	if clean != "." {
		root += clean
	}
	release, err := h.locks.BeginWrite(locking.Write{Name: root, Deep: deep, Member: member}, nil)
	if errors.Is(err, locking.ErrLocked) {
		return nil, httperr.New(http.StatusLocked, "resource is locked by a WebDAV client")
	}
	return release, err
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return httperr.New(http.StatusMethodNotAllowed, "method not allowed")
}
