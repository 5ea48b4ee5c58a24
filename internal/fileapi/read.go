package fileapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/transfer"
)

// get streams a file, or lists a directory.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, name string) error {
	f, fi, err := h.store.Open(name)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		f.Close()
		return h.list(w, r, name)
	}
	defer f.Close()
	transfer.ServeFile(w, r, f, fi)
	return nil
}

// list answers a directory: one name per line, sorted, each ending in "\n"
// (http-nas's format), or with Accept: application/json an array of
// {name, size, modTime, isDir}.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, name string) error {
	entries, err := h.store.List(r.Context(), name)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache")
	if wantsJSON(r) {
		hdr.Set("Content-Type", "application/json")
		if entries == nil {
			entries = []storage.Entry{}
		}
		return json.NewEncoder(w).Encode(entries)
	}
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Name)
		b.WriteByte('\n')
	}
	hdr.Set("Content-Length", strconv.Itoa(b.Len()))
	// A failed write means the client went away: nobody is left to answer.
	w.Write([]byte(b.String()))
	return nil
}

// wc answers the line count of a file as text (http-nas: "3").
func (h *Handler) wc(w http.ResponseWriter, r *http.Request, name string) error {
	n, err := h.store.Lines(r.Context(), name)
	if err != nil {
		return err
	}
	body := strconv.FormatInt(n, 10)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write([]byte(body))
	return nil
}

func wantsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(strings.TrimSpace(mt), "application/json") {
				return true
			}
		}
	}
	return false
}
