package server

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/handlers"

	"github.com/davnas/davnas/internal/httperr"
)

// limitRequests caps the requests in flight (--max-connections): beyond
// it, 503 with Retry-After, so a burst degrades into retries instead of
// exhausting memory or file descriptors. Probes are never refused.
func (s *Server) limitRequests(next http.Handler) http.Handler {
	if s.cfg.MaxConnections <= 0 {
		return next
	}
	slots := make(chan struct{}, s.cfg.MaxConnections)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			httperr.Record(r, errors.New("--max-connections reached"))
			w.Header().Set("Retry-After", "1")
			httperr.Write(w, http.StatusServiceUnavailable, "server busy: try again")
		}
	})
}

// limitBodies applies the body limits to every request that sends one,
// through both APIs: --max-upload-size (413 before anything is written when
// Content-Length says so, a cut-off while streaming otherwise; the store
// then discards the partial upload), --min-free-space for an announced
// size (507 before reading), and --stall-timeout.
func (s *Server) limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || readMethods[r.Method] && r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if max := s.cfg.MaxUploadSize; max > 0 {
			if r.ContentLength > max {
				httperr.Record(r, errors.New("Content-Length over --max-upload-size"))
				w.Header().Set("Connection", "close")
				httperr.Write(w, http.StatusRequestEntityTooLarge, "request body too large")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		if r.ContentLength > 0 && (r.Method == http.MethodPut || r.Method == http.MethodPost) {
			if err := s.store.CheckFree(r.ContentLength); err != nil {
				httperr.Respond(w, r, err)
				return
			}
		}
		if s.cfg.StallTimeout > 0 {
			r.Body = newStallReader(r.Body, deadlinesOf(w), s.cfg.StallTimeout)
		}
		next.ServeHTTP(w, r)
	})
}

// minRate is the slowest body transfer accepted over a --stall-timeout
// window: far below any honest link, far above a slowloris trickle.
const minRate = 1 << 10 // bytes per second

// errTrickle is a body that moved, but too slowly to be honest.
var errTrickle = &trickleError{}

type trickleError struct{}

func (*trickleError) Error() string { return "request body slower than 1 KiB/s" }
func (*trickleError) Timeout() bool { return true }

// stallReader drops a body that stalls or trickles: each read has a
// deadline of one window (the connection's read deadline, so a read that
// waits for ever is cut by the kernel), and each window must bring at least
// minRate bytes per second. An honest multi-GiB upload is never capped.
type stallReader struct {
	r      io.ReadCloser
	rc     deadliner
	window time.Duration
	start  time.Time // of the current window
	n      int64     // bytes in the current window
}

func newStallReader(r io.ReadCloser, rc deadliner, window time.Duration) *stallReader {
	return &stallReader{r: r, rc: rc, window: window, start: time.Now()}
}

func (s *stallReader) Read(p []byte) (int, error) {
	now := time.Now()
	if el := now.Sub(s.start); el >= s.window {
		if s.n < int64(el.Seconds()*minRate) {
			return 0, errTrickle
		}
		s.start, s.n = now, 0
	}
	s.rc.SetReadDeadline(now.Add(s.window))
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}

func (s *stallReader) Close() error { return s.r.Close() }

// cors answers cross-origin requests for the configured origins
// (gorilla/handlers CORS), with the WebDAV methods and headers. Only
// requests that carry an Origin header reach it: gorilla answers any other
// OPTIONS itself with an empty 200, which would hide the DAV headers from
// davfs2 and Windows.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	opts := []handlers.CORSOption{
		handlers.AllowedOrigins(s.cfg.CORSOrigins),
		handlers.AllowedMethods([]string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
			"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"}),
		handlers.AllowedHeaders([]string{"Authorization", "Content-Type", "Depth", "Destination", "Overwrite",
			"If", "If-Match", "If-None-Match", "If-Modified-Since", "Lock-Token", "Timeout", "Range",
			"X-Expected-Entity-Length", "X-OC-Mtime", "OC-Checksum", "X-Request-Id"}),
		handlers.ExposedHeaders([]string{"ETag", "DAV", "Lock-Token", "Content-Range", "Content-Length",
			"Last-Modified", "X-Request-Id", "X-OC-Mtime", "WWW-Authenticate"}),
		handlers.MaxAge(600),
	}
	if !containsStar(s.cfg.CORSOrigins) {
		opts = append(opts, handlers.AllowCredentials())
	}
	c := handlers.CORS(opts...)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if r.Header.Get("Origin") == "" || (r.Method == http.MethodOptions && !preflight) {
			next.ServeHTTP(w, r)
			return
		}
		c.ServeHTTP(w, r)
	})
}

func containsStar(list []string) bool {
	for _, o := range list {
		if strings.TrimSpace(o) == "*" {
			return true
		}
	}
	return false
}
