package fileapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/transfer"
)

// create is POST: create or replace name from the body, atomically, creating
// missing parent directories.
func (h *Handler) create(w http.ResponseWriter, r *http.Request, name string) error {
	if strings.HasSuffix(name, "/") {
		return errDirName
	}
	expected, ok := transfer.ExpectedLength(r)
	if !ok {
		return httperr.New(http.StatusBadRequest, "invalid X-Expected-Entity-Length")
	}
	release, err := h.lock(name, false, true)
	if err != nil {
		return err
	}
	defer release()
	opt := storage.CreateOptions{MakeParents: true, ExpectedSize: expected}
	if transfer.HasPreconditions(r) {
		// Checked before the body too (serve); again here, at commit,
		// where no other upload of the name can pass.
		opt.Check = func(cur fs.FileInfo) error { return transfer.CheckPreconditions(r, cur) }
	}
	res, err := h.store.Create(r.Context(), name, r.Body, opt)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", storage.ETag(res.Info))
	httperr.OK(w)
	return nil
}

// errDirName refuses a write to a name ending in /, a directory's name
// (storage.Clean would drop the slash and write the file without it).
var errDirName = httperr.New(http.StatusBadRequest, "a file name cannot end in /")

// maxMoveBody bounds the JSON body of a move.
const maxMoveBody = 64 << 10

// put is PUT: append the body to an existing file. http-nas's README also
// shows a move written as PUT /file/NAME with a JSON body {"path": "NEW"};
// a JSON body that is exactly one object with the one key "path" is taken as
// that move, anything else is appended.
func (h *Handler) put(w http.ResponseWriter, r *http.Request, name string) error {
	body := io.Reader(r.Body)
	if isJSON(r.Header.Get("Content-Type")) {
		head, err := io.ReadAll(io.LimitReader(r.Body, maxMoveBody+1))
		if err != nil {
			// The client went away before the body ended: nothing to append.
			return storageIncomplete(err)
		}
		if len(head) <= maxMoveBody {
			if target, ok := moveTarget(head); ok {
				return h.move(w, r, name, target)
			}
		}
		body = io.MultiReader(bytes.NewReader(head), r.Body)
	}
	if strings.HasSuffix(name, "/") {
		return errDirName
	}
	release, err := h.lock(name, false, false)
	if err != nil {
		return err
	}
	defer release()
	res, err := h.store.Append(r.Context(), name, body)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", storage.ETag(res.Info))
	httperr.OK(w)
	return nil
}

// moveFromBody is PUT NAME/mv (or ?op=mv) with the body {"path": "NEW"}.
func (h *Handler) moveFromBody(w http.ResponseWriter, r *http.Request, name string) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMoveBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return httperr.New(http.StatusRequestEntityTooLarge, "move body too large")
		}
		return storageIncomplete(err)
	}
	var body struct {
		Path *string `json:"path"`
	}
	if err := json.Unmarshal(data, &body); err != nil || body.Path == nil || *body.Path == "" {
		return httperr.New(http.StatusBadRequest, `invalid JSON body: want {"path": "NEW"}`)
	}
	return h.move(w, r, name, *body.Path)
}

// move renames name to target. Like http-nas, target may be %2F-encoded (it
// is percent-decoded once); missing parents are created; an existing file at
// the target is replaced, an existing directory is not.
func (h *Handler) move(w http.ResponseWriter, r *http.Request, name, target string) error {
	dst, err := url.PathUnescape(target)
	if err != nil {
		return httperr.New(http.StatusBadRequest, "invalid percent-encoding in path")
	}
	if _, err := storage.Clean(dst); err != nil {
		return err
	}
	src, err := h.lockedStat(name)
	if err != nil {
		return err
	}
	releaseSrc, err := h.lock(name, src, true)
	if err != nil {
		return err
	}
	defer releaseSrc()
	releaseDst, err := h.lock(dst, src, true)
	if err != nil {
		return err
	}
	defer releaseDst()
	if _, err := h.store.Move(r.Context(), name, dst, storage.MoveOptions{Overwrite: true, MakeParents: true}); err != nil {
		return err
	}
	httperr.OK(w)
	return nil
}

// delete removes a file, or a directory and everything in it.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, name string) error {
	isDir, err := h.lockedStat(name)
	if err != nil {
		return err
	}
	release, err := h.lock(name, isDir, true)
	if err != nil {
		return err
	}
	defer release()
	if err := h.store.Remove(r.Context(), name); err != nil {
		return err
	}
	httperr.OK(w)
	return nil
}

// lockedStat reports whether name is a directory, whose lock must then
// cover everything below it.
func (h *Handler) lockedStat(name string) (bool, error) {
	fi, err := h.store.Stat(name)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

// moveTarget recognises a body that is exactly {"path": "<non-empty>"}.
func moveTarget(data []byte) (string, bool) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil || len(m) != 1 {
		return "", false
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", false // trailing data: not a single object
	}
	raw, ok := m["path"]
	if !ok {
		return "", false
	}
	var p string
	if err := json.Unmarshal(raw, &p); err != nil || p == "" {
		return "", false
	}
	return p, true
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// storageIncomplete reports a body that failed while being read.
func storageIncomplete(err error) error {
	return httperr.Wrap(http.StatusBadRequest, "request body ended before its announced length", err)
}
