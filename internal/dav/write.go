package dav

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/storage"
)

// errSameResource answers a COPY or MOVE onto itself. RFC 4918 §9.8.5:
// "403 (Forbidden) - The operation is forbidden. A special case for COPY
// could be that the source and destination resources are the same resource."
var errSameResource = httperr.New(http.StatusForbidden, "source and destination are the same resource")

// del is DELETE: a file, or a collection with everything in it. The locks
// of what was removed go with it.
func (h *Handler) del(w http.ResponseWriter, r *http.Request, clean string) error {
	if clean == "." {
		return httperr.New(http.StatusForbidden, "cannot delete the root collection")
	}
	fi, err := h.store.Stat(clean)
	if err != nil {
		return err
	}
	// §9.6.1: "A client MUST NOT submit a Depth header with a DELETE on a
	// collection with any value but infinity."
	if d := r.Header.Get("Depth"); fi.IsDir() && d != "" && d != "infinity" {
		return httperr.New(http.StatusBadRequest, "DELETE of a collection needs Depth: infinity")
	}
	release, err := h.authorize(r, clean, target{clean: clean, deep: fi.IsDir(), member: true})
	if err != nil {
		return err
	}
	defer release()
	if err := h.store.Remove(r.Context(), clean); err != nil {
		return err
	}
	h.locks.Release(lockName(clean))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mkcol is MKCOL (§9.3).
func (h *Handler) mkcol(w http.ResponseWriter, r *http.Request, clean string) error {
	// §9.3.1: "If the server receives a MKCOL request entity type it does
	// not support or understand, it MUST respond with a 415".
	if r.ContentLength > 0 || (r.ContentLength < 0 && hasBytes(r.Body)) {
		return httperr.New(http.StatusUnsupportedMediaType, "MKCOL with a body is not supported")
	}
	if _, err := h.store.Stat(clean); err == nil {
		w.Header().Set("Allow", h.allow(clean))
		return httperr.New(http.StatusMethodNotAllowed, "resource already exists")
	}
	if err := h.needParent(clean); err != nil {
		return err
	}
	release, err := h.authorize(r, clean, target{clean: clean, member: true})
	if err != nil {
		return err
	}
	defer release()
	if err := h.store.Mkdir(clean, 0o755); err != nil {
		if errors.Is(err, storage.ErrExists) {
			w.Header().Set("Allow", h.allow(clean))
			return httperr.New(http.StatusMethodNotAllowed, "resource already exists")
		}
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// needParent answers 409 when the parent collection of clean is missing or
// is not a collection (§9.3.1, §9.7.1, §9.8.5, §9.9.4).
func (h *Handler) needParent(clean string) error {
	fi, err := h.store.Stat(path.Dir(clean))
	if err != nil || !fi.IsDir() {
		return httperr.New(http.StatusConflict, "parent collection does not exist")
	}
	return nil
}

// copyMove is COPY (§9.8) and MOVE (§9.9). Everything that can be checked
// is checked before anything is touched: x/net/webdav deletes an existing
// destination first, so a MOVE of a missing source, or of a collection onto
// its own parent, destroyed the destination.
func (h *Handler) copyMove(w http.ResponseWriter, r *http.Request, clean string) error {
	move := r.Method == "MOVE"
	dst, err := h.destination(r)
	if err != nil {
		return err
	}
	// §10.6: "If the Overwrite header is not included in a COPY or MOVE
	// request, then the resource MUST treat the request as if it has an
	// overwrite header of value "T"." (x/net/webdav assumes "F" for MOVE,
	// golang/go#66059.)
	overwrite := true
	switch r.Header.Get("Overwrite") {
	case "", "T":
	case "F":
		overwrite = false
	default:
		return httperr.New(http.StatusBadRequest, "invalid Overwrite header: want T or F")
	}
	shallow := false
	switch d := r.Header.Get("Depth"); {
	case d == "" || d == "infinity":
	case d == "0" && !move:
		shallow = true // §9.8.3: COPY accepts 0 or infinity
	default:
		return httperr.New(http.StatusBadRequest, "invalid Depth for "+r.Method)
	}
	if clean == "." {
		return httperr.New(http.StatusForbidden, "cannot "+strings.ToLower(r.Method)+" the root collection")
	}
	if dst == clean {
		return errSameResource
	}
	sfi, err := h.store.Stat(clean)
	if err != nil {
		return err
	}
	if strings.HasPrefix(dst, clean+"/") || strings.HasPrefix(clean, dst+"/") || dst == "." {
		return httperr.New(http.StatusConflict, "source and destination overlap")
	}
	if err := h.needParent(dst); err != nil {
		return err
	}
	dfi, statErr := h.store.Stat(dst)
	exists := statErr == nil
	if exists && !overwrite {
		// §9.8.5/§9.9.4: 412 "the Overwrite header is "F" and the
		// destination URL is already mapped to a resource".
		return httperr.New(http.StatusPreconditionFailed, "destination exists and Overwrite is F")
	}
	targets := []target{{clean: dst, deep: sfi.IsDir() || (exists && dfi.IsDir()), member: !exists}}
	if move {
		targets = append(targets, target{clean: clean, deep: sfi.IsDir(), member: true})
	}
	release, err := h.authorize(r, clean, targets...)
	if err != nil {
		return err
	}
	defer release()
	if move {
		_, err = h.store.Move(r.Context(), clean, dst, storage.MoveOptions{Overwrite: overwrite, Replace: true})
	} else {
		_, err = h.store.Copy(r.Context(), clean, dst, storage.CopyOptions{Overwrite: overwrite, Shallow: shallow})
	}
	if errors.Is(err, storage.ErrExists) {
		return httperr.New(http.StatusPreconditionFailed, "destination exists and Overwrite is F")
	}
	if err != nil {
		return err
	}
	if move {
		// §9.9: a lock does not move with its resource.
		h.locks.Release(lockName(clean))
	}
	// rclone's owncloud mode sends the source's time with a server-side
	// COPY or MOVE too.
	if t, ok := ocMtime(r.Header.Get("X-OC-Mtime")); ok {
		if err := h.store.SetModTime(dst, t); err == nil {
			w.Header().Set("X-OC-Mtime", "accepted")
		}
	}
	w.Header().Set("Content-Length", "0")
	if exists {
		w.WriteHeader(http.StatusNoContent)
	} else {
		w.Header().Set("Location", (&url.URL{Path: h.prefix + lockName(dst)}).EscapedPath())
		w.WriteHeader(http.StatusCreated)
	}
	return nil
}

// destination parses the Destination header into a cleaned name. Hosts are
// not compared (behind a reverse proxy the client's host is the proxy's);
// a path outside the WebDAV prefix is on "another server" (502, §9.8.5).
func (h *Handler) destination(r *http.Request) (string, error) {
	hdr := r.Header.Get("Destination")
	if hdr == "" {
		return "", httperr.New(http.StatusBadRequest, "missing Destination header")
	}
	u, err := url.Parse(hdr)
	if err != nil || u.Path == "" {
		return "", httperr.New(http.StatusBadRequest, "invalid Destination header")
	}
	name, ok := h.strip(u.Path)
	if !ok {
		return "", httperr.New(http.StatusBadGateway, "Destination is outside this server's WebDAV tree")
	}
	return storage.Clean(name)
}

// unlock is UNLOCK (§9.11).
func (h *Handler) unlock(w http.ResponseWriter, r *http.Request, clean string) error {
	// A Coded-URL, "<token>" (§10.5); Windows sometimes drops the angle
	// brackets, which is unambiguous enough to accept.
	token := strings.TrimSpace(r.Header.Get("Lock-Token"))
	if len(token) >= 2 && token[0] == '<' && token[len(token)-1] == '>' {
		token = token[1 : len(token)-1]
	}
	if token == "" || strings.ContainsAny(token, "<> \t") {
		return httperr.New(http.StatusBadRequest, "invalid Lock-Token header")
	}
	// §9.11.1: 409 with lock-token-matches-request-uri when the
	// Request-URI is not within the scope of the lock.
	if !h.locks.Covers(token, lockName(clean)) {
		return httperr.New(http.StatusConflict, "no such lock on this resource")
	}
	if err := h.locks.Unlock(token); err != nil {
		return httperr.New(http.StatusConflict, "no such lock on this resource")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// hasBytes reports whether a body of unknown length (chunked) holds at
// least one byte; an empty chunked body is no body.
func hasBytes(body io.Reader) bool {
	var b [1]byte
	n, _ := io.ReadFull(body, b[:])
	return n > 0
}
