package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/davnas/davnas/internal/auth"
	"github.com/davnas/davnas/internal/httperr"
)

type principalKey struct{}

// principalOf is who the access middleware decided r comes from.
func principalOf(r *http.Request) auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(auth.Principal)
	return p
}

// readMethods are the methods that change nothing; every other method
// (POST, PUT, DELETE, MKCOL, COPY, MOVE, PROPPATCH, LOCK, UNLOCK, and any
// method davnas does not know) counts as a write.
var readMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true, "PROPFIND": true,
}

// access is the one place that decides access, for both APIs:
//
//   - the probes and http-nas's health check (GET /file) are open;
//   - OPTIONS without valid credentials gets the server's DAV capabilities
//     and nothing about the path (Windows probes before it authenticates,
//     and must not get 401 there);
//   - with --auth-file or --token-file, everything else needs credentials
//     (401 with the challenges; 429 after too many failures from one
//     address);
//   - a read-only principal (or --read-only) gets 403 for every write;
//   - the principal (with their own root, if any) goes in the context, for
//     the router to pick the handlers confined to that root.
func (s *Server) access(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/healthz" || p == "/readyz" || (p == "/file" && (r.Method == http.MethodGet || r.Method == http.MethodHead)) {
			next.ServeHTTP(w, withPrincipal(r, auth.Principal{ReadOnly: true}))
			return
		}
		principal := auth.Principal{ReadOnly: s.cfg.ReadOnly}
		if s.auth.Enabled() {
			got, err := s.auth.Authenticate(r)
			if err != nil && r.Method == http.MethodOptions {
				davCapabilities(w)
				return
			}
			switch {
			case errors.Is(err, auth.ErrRateLimited):
				httperr.Record(r, err)
				w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfter()))
				httperr.Write(w, http.StatusTooManyRequests, "too many failed attempts: try again later")
				return
			case err != nil:
				httperr.Record(r, err)
				s.metrics.AuthFailure()
				for _, c := range s.auth.Challenges() {
					w.Header().Add("WWW-Authenticate", c)
				}
				httperr.Write(w, http.StatusUnauthorized, "authentication required")
				return
			}
			principal = got
			principal.ReadOnly = principal.ReadOnly || s.cfg.ReadOnly
			httperr.SetUser(r, got.Name)
		}
		if principal.ReadOnly && !readMethods[r.Method] {
			httperr.Record(r, errors.New("write refused: read-only"))
			httperr.Write(w, http.StatusForbidden, "read-only: writes are not allowed")
			return
		}
		next.ServeHTTP(w, withPrincipal(r, principal))
	})
}

// withPrincipal puts p in r's context. The zero Principal (no
// authentication, read-write, the whole volume) is what principalOf
// returns for a context without one, so it costs no copy of the request.
func withPrincipal(r *http.Request, p auth.Principal) *http.Request {
	if p == (auth.Principal{}) {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}

// davCapabilities answers OPTIONS with what the server can do, for any path.
func davCapabilities(w http.ResponseWriter) {
	h := w.Header()
	h.Set("DAV", "1, 2")
	h.Set("MS-Author-Via", "DAV")
	h.Set("Allow", "OPTIONS, GET, HEAD, POST, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
