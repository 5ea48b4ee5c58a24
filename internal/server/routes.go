package server

import (
	"net/http"
	"strings"

	"github.com/davnas/davnas/internal/fileapi"
	"github.com/davnas/davnas/internal/httperr"
)

// routes dispatches on the path, to the handlers confined to the
// principal's root. It is a plain switch rather than an http.ServeMux: the
// mux would clean paths and redirect (turning /file/a/../b into a 301), and
// /file/ must see the escaped path to tell dir%2Fa.txt from its literal /wc
// and /mv suffixes.
func (s *Server) routes() http.Handler {
	prefix := strings.TrimRight(s.cfg.DAVPrefix, "/")
	inDAV := func(p string) bool {
		return prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		esc := r.URL.EscapedPath()
		switch p {
		case "/healthz", "/readyz", "/metrics":
			if r.Method != http.MethodGet && r.Method != http.MethodHead && (p != "/metrics" || s.metricsSrv == nil) {
				w.Header().Set("Allow", "GET, HEAD")
				httperr.Write(w, http.StatusMethodNotAllowed, "method not allowed")
				return
			}
		}
		switch p {
		case "/healthz":
			s.healthz(w, r)
			return
		case "/readyz":
			s.readyz(w, r)
			return
		case "/metrics":
			if s.metricsSrv == nil {
				s.metrics.Handler().ServeHTTP(w, r)
				return
			}
		}
		api, err := s.apiFor(principalOf(r).Root)
		if err != nil {
			httperr.Record(r, err)
			httperr.Write(w, http.StatusServiceUnavailable, "your root directory is not available")
			return
		}
		switch {
		case esc == fileapi.Prefix || strings.HasPrefix(esc, fileapi.Prefix+"/"):
			api.files.ServeHTTP(w, r)
		case inDAV(p):
			api.dav.ServeHTTP(w, r)
		case p == "/" && r.Method == "PROPFIND":
			api.dav.ServeServerRoot(w, r)
		case p == "/":
			s.root(w, r, prefix+"/")
		default:
			httperr.Write(w, http.StatusNotFound, "Not Found")
		}
	})
}

// root answers the server root when WebDAV lives under a prefix. Windows
// probes OPTIONS / before it touches the share, and gives up on a 404;
// browsers are sent to the WebDAV listing.
func (s *Server) root(w http.ResponseWriter, r *http.Request, davPath string) {
	switch r.Method {
	case http.MethodOptions:
		h := w.Header()
		h.Set("DAV", "1, 2")
		h.Set("MS-Author-Via", "DAV")
		h.Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	case http.MethodGet, http.MethodHead:
		http.Redirect(w, r, davPath, http.StatusFound)
	default:
		w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
		httperr.Write(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

// healthz is the liveness probe: the process answers.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz is the readiness probe: the root is a readable, writable directory.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ReadOnly {
		// A read-only server may sit on a read-only volume: readable is ready.
		if !s.store.Readable() {
			httperr.Write(w, http.StatusServiceUnavailable, "not ready: storage is not readable")
			return
		}
	} else if err := s.store.Ready(); err != nil {
		httperr.Record(r, err)
		httperr.Write(w, http.StatusServiceUnavailable, "not ready: storage is not writable")
		return
	}
	if s.store.BelowMinFree() {
		httperr.Write(w, http.StatusServiceUnavailable, "not ready: free space below --min-free-space")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ready\n"))
}
