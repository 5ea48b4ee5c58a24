// Package httperr is the one map from errors to HTTP status codes and the
// one writer of error responses. Bodies are a short plain-text sentence; the
// error itself (which may carry a name or a system message) goes to the
// request's log line, never to the client.
package httperr

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/davnas/davnas/internal/storage"
)

// StatusInsufficientStorage is RFC 4918's 507.
const StatusInsufficientStorage = http.StatusInsufficientStorage

// mapping is consulted in order; the first sentinel the error matches wins.
var mapping = []struct {
	err    error
	status int
	msg    string
}{
	{storage.ErrChecksum, http.StatusBadRequest, "checksum mismatch"},
	{storage.ErrNotFound, http.StatusNotFound, "Not Found"},
	{storage.ErrInvalidName, http.StatusBadRequest, "invalid name"},
	{storage.ErrControlChar, http.StatusBadRequest, "control characters are not allowed in names"},
	{storage.ErrNameTooLong, http.StatusBadRequest, "name too long"},
	{storage.ErrReserved, http.StatusBadRequest, "name is reserved for the server"},
	{storage.ErrOutsideRoot, http.StatusForbidden, "path leads outside the storage root"},
	{storage.ErrIsRoot, http.StatusForbidden, "not allowed on the storage root"},
	{storage.ErrPermission, http.StatusForbidden, "permission denied"},
	{storage.ErrExists, http.StatusConflict, "destination already exists"},
	{storage.ErrIsDir, http.StatusConflict, "is a directory"},
	{storage.ErrNotRegular, http.StatusForbidden, "not a regular file"},
	{storage.ErrBusy, http.StatusServiceUnavailable, "file is held by another program; try again"},
	{storage.ErrNotDir, http.StatusConflict, "a parent is not a directory"},
	{storage.ErrNotEmpty, http.StatusConflict, "directory not empty"},
	{storage.ErrIntoItself, http.StatusConflict, "source and destination overlap"},
	{storage.ErrNoSpace, StatusInsufficientStorage, "insufficient storage"},
	{storage.ErrReadOnly, http.StatusServiceUnavailable, "storage is read-only"},
	{storage.ErrIncomplete, http.StatusBadRequest, "request body ended before its announced length"},
	{storage.ErrTooLarge, http.StatusBadRequest, "request body longer than its announced length"},
	{context.Canceled, http.StatusBadRequest, "request canceled"},
	{net.ErrClosed, http.StatusServiceUnavailable, "connection closed"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "request timed out"},
}

// Status maps err to a status code and a client-safe message.
func Status(err error) (int, string) {
	if err == nil {
		return http.StatusOK, "OK"
	}
	var he *Error
	if errors.As(err, &he) {
		return he.Code, he.Msg
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "request body too large"
	}
	for _, m := range mapping {
		if errors.Is(err, m.err) {
			return m.status, m.msg
		}
	}
	// A read deadline passed: the client stopped sending (--stall-timeout).
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusRequestTimeout, "request body stalled"
	}
	return http.StatusInternalServerError, "Internal Server Error"
}

// Respond writes err as its mapped status and records it for the request log.
func Respond(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := Status(err)
	Record(r, err)
	Write(w, status, msg)
}

// Write writes a plain-text response: the status and one line of text.
func Write(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}

// OK writes http-nas's success answer: 200 with the body "OK" (what
// Express's res.sendStatus(200) sends), byte for byte.
func OK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("OK"))
}

type recordKey struct{}

// Holder carries a request's error (and authenticated user) from where
// they are known to the request log line written by the server's
// middleware.
type Holder struct {
	Err  error
	User string
}

// WithHolder returns a context in which Record stores errors into h.
func WithHolder(ctx context.Context, h *Holder) context.Context {
	return context.WithValue(ctx, recordKey{}, h)
}

// Record notes err as the cause of the request's failure, for the log.
func Record(r *http.Request, err error) {
	if h, ok := r.Context().Value(recordKey{}).(*Holder); ok && err != nil {
		h.Err = err
	}
}

// Error is an error that carries its own status and client message, for the
// cases a handler decides itself (bad JSON, wrong method, a held lock).
type Error struct {
	Code int
	Msg  string
	Err  error // optional cause, for the log
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with the given status and message.
func New(code int, msg string) error { return &Error{Code: code, Msg: msg} }

// Wrap returns an *Error with the given status and message that keeps cause
// for the log.
func Wrap(code int, msg string, cause error) error { return &Error{Code: code, Msg: msg, Err: cause} }

// SetUser notes the authenticated user of the request, for the log.
func SetUser(r *http.Request, user string) {
	if h, ok := r.Context().Value(recordKey{}).(*Holder); ok {
		h.User = user
	}
}
