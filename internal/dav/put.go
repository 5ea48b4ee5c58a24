package dav

import (
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/transfer"
)

// put replaces or creates a file through the store's one atomic upload
// path. slash: the URL ended in /, a collection's, which PUT cannot make.
func (h *Handler) put(w http.ResponseWriter, r *http.Request, clean string, slash bool) error {
	// RFC 9110 §14.5: "An origin server that allows PUT on a given target
	// resource MUST send a 400 (Bad Request) response to a PUT request that
	// contains a Content-Range header field". x/net/webdav ignores it and
	// would replace the file with the fragment.
	if r.Header.Get("Content-Range") != "" {
		return httperr.New(http.StatusBadRequest, "partial PUT (Content-Range) is not supported")
	}
	expected, ok := transfer.ExpectedLength(r)
	if !ok {
		return httperr.New(http.StatusBadRequest, "invalid X-Expected-Entity-Length")
	}
	opt := storage.CreateOptions{ExpectedSize: expected}
	if transfer.HasPreconditions(r) {
		// Checked again at commit, under the name's lock: of two
		// conditional uploads one wins and the other gets 412.
		opt.Check = func(cur fs.FileInfo) error { return transfer.CheckPreconditions(r, cur) }
	}
	// rclone's owncloud mode: X-OC-Mtime carries the source's modification
	// time, to be answered with "X-OC-Mtime: accepted".
	mtime, hasMtime := ocMtime(r.Header.Get("X-OC-Mtime"))
	if hasMtime {
		opt.ModTime = mtime
	}
	// OC-Checksum ("SHA1:<hex>" or "MD5:<hex>") is verified as the body
	// streams in; a mismatch discards the upload (400).
	if algo, want, ok := ocChecksum(r.Header.Get("OC-Checksum")); ok {
		opt.Verify = func(got storage.Sums) error {
			have := got.SHA1
			if algo == "MD5" {
				have = got.MD5
			}
			if !strings.EqualFold(have, want) {
				return storage.ErrChecksum
			}
			return nil
		}
	}
	a, err := h.store.NewAtomicFile(clean, opt)
	if err != nil {
		switch {
		case errors.Is(err, storage.ErrIsDir):
			w.Header().Set("Allow", h.allow(clean))
			return httperr.New(http.StatusMethodNotAllowed, "cannot PUT a collection")
		case errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrNotDir):
			// RFC 4918 §9.7.1: "A PUT that would result in the creation of a
			// resource without an appropriately scoped parent collection
			// MUST fail with a 409 (Conflict)."
			return httperr.Wrap(http.StatusConflict, "parent collection does not exist", err)
		}
		return err
	}
	if slash {
		// Storage cleaned the slash away; writing the file under the name
		// without it is not what the client asked (nginx answers 409 too).
		a.Abort()
		return httperr.New(http.StatusConflict, "cannot PUT a collection (the URL ends in /)")
	}
	// Checked now, so a doomed upload is refused before its body is read,
	// and again at commit, where no other upload of the name can pass.
	existing := a.Existing()
	if err := transfer.CheckPreconditions(r, existing); err != nil {
		a.Abort()
		return err
	}
	release, err := h.authorize(r, clean, target{clean: clean, member: existing == nil})
	if err != nil {
		a.Abort()
		return err
	}
	defer release()
	res, err := a.Finish(r.Context(), r.Body)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", storage.ETag(res.Info))
	if hasMtime {
		w.Header().Set("X-OC-Mtime", "accepted")
	}
	w.Header().Set("Content-Length", "0")
	if res.Created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// ocMtime parses X-OC-Mtime: signed Unix seconds in decimal, possibly with
// a fraction (rclone sends whole seconds, negative before 1970). Anything
// else (exponents, NaN, hex, a time past ±2^40 s) is ignored, not guessed.
func ocMtime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	neg := strings.HasPrefix(v, "-")
	if neg || strings.HasPrefix(v, "+") {
		v = v[1:]
	}
	whole, frac, _ := strings.Cut(v, ".")
	if whole == "" && frac == "" || !allDigits(whole) || !allDigits(frac) || len(whole) > 13 {
		return time.Time{}, false
	}
	var sec int64
	for _, c := range whole {
		sec = sec*10 + int64(c-'0')
	}
	var nsec int64
	for i := range 9 {
		nsec *= 10
		if i < len(frac) {
			nsec += int64(frac[i] - '0')
		}
	}
	if sec > 1<<40 {
		return time.Time{}, false
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec), true // time.Unix normalises a negative nsec
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ocChecksum parses OC-Checksum. Only SHA1 and MD5 are checked; another
// algorithm (ADLER32) is ignored rather than refused.
func ocChecksum(v string) (algo, sum string, ok bool) {
	for part := range strings.FieldsSeq(v) {
		a, s, found := strings.Cut(part, ":")
		a = strings.ToUpper(a)
		if found && (a == "SHA1" || a == "MD5") && s != "" {
			return a, s, true
		}
	}
	return "", "", false
}
