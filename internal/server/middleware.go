package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/handlers"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/transfer"
)

// progressEvery is how often a long transfer logs how far it got (a
// variable so tests need not wait ten seconds).
var progressEvery = 10 * time.Second

// middleware wraps the router, outermost first: proxy headers (when
// trusted), the request log, panic recovery, CORS, the in-flight request
// limit, access (authentication, roles), body limits.
func (s *Server) middleware(next http.Handler) http.Handler {
	h := s.limitBodies(next)
	h = s.access(h)
	h = s.limitRequests(h)
	h = s.cors(h)
	h = handlers.RecoveryHandler(
		handlers.RecoveryLogger(recoveryLogger{s.log}),
		handlers.PrintRecoveryStack(true),
	)(h)
	h = s.accessLog(h)
	if s.cfg.TrustProxyHeaders {
		h = handlers.ProxyHeaders(h)
	}
	return h
}

// apiLabel names the API a request is for: file, dav or other (probes,
// metrics, the root).
func (s *Server) apiLabel(r *http.Request) string {
	esc := r.URL.EscapedPath()
	if esc == "/file" || strings.HasPrefix(esc, "/file/") {
		return "file"
	}
	prefix := strings.TrimRight(s.cfg.DAVPrefix, "/")
	p := r.URL.Path
	if p != "/healthz" && p != "/readyz" && p != "/metrics" && (prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")) {
		return "dav"
	}
	return "other"
}

// accessWriter writes the combined access log to stdout (or, in tests, to
// Server.accessOut), decided at each write.
type accessWriter struct{ s *Server }

func (a accessWriter) Write(p []byte) (int, error) {
	if a.s.accessOut != nil {
		return a.s.accessOut.Write(p)
	}
	return os.Stdout.Write(p)
}

// recoveryLogger sends a recovered panic, with its stack, to the log only;
// the client gets a bare 500.
type recoveryLogger struct{ log *slog.Logger }

func (l recoveryLogger) Println(v ...any) {
	l.log.Error("panic serving request", "panic", fmt.Sprint(v...))
}

// accessLog writes one line per request with stable keys (method, path,
// status, bytes_in, bytes_out, dur, remote, req_id, and err when the request
// failed), and a progress line every 10 s while a transfer runs: the
// traceability of every transfer that http-nas promised and NFS never gave.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.Add(1)
		defer s.inflight.Done()
		lw := lineWriter(s.log)
		lw.begin()
		ended := false
		defer func() {
			if !ended { // a panic got through: count the request out
				lw.end(nil)
			}
		}()
		// Everything the request needs is one allocation.
		st := &reqState{start: time.Now(), r: r}
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = newRequestID()
		}
		st.id = id
		w.Header()["X-Request-Id"] = []string{id} // canonical already

		st.api = s.apiLabel(r)
		series := s.metrics.API(st.api)
		series.Begin()
		r = r.WithContext(httperr.WithHolder(r.Context(), &st.holder))
		st.r = r
		st.body.rc = r.Body
		r.Body = &st.body
		cw := &st.cw
		cw.ResponseWriter, cw.stall = w, s.cfg.StallTimeout
		cw.raw, _ = r.Context().Value(rawConnKey{}).(syscall.RawConn)
		cw.dl = deadlinesOf(w)

		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug // probes every few seconds would drown the log
		}
		s.progress.add(s, st)

		next.ServeHTTP(cw, r)

		if r.ContentLength != 0 && !st.body.eof.Load() {
			// net/http reads what the handler left of the body before it
			// answers (so that a client still sending sees the answer) and
			// again before it closes: a client that sent the headers and
			// never the body would get no answer and hold the connection
			// for ever. Bound that read; past it, net/http answers with
			// Connection: close and closes.
			cw.dl.SetReadDeadline(time.Now().Add(drainWindow(cw.stall)))
		}
		s.progress.remove(st)
		if cw.stall > 0 {
			cw.dl.SetWriteDeadline(time.Time{}) // the connection may serve another request
		}
		dur := time.Since(st.start)
		status := cw.status
		if status == 0 {
			status = http.StatusOK
		}
		f := st.fields()
		series.Done(r.Method, status, f.in, f.out, dur)
		f.status = status
		f.dur = dur.Round(time.Microsecond)
		if moved := f.in + f.out; moved >= 1<<20 {
			f.rate, f.hasRate = mbps(moved, dur), true
		}
		f.user = st.holder.User
		if st.holder.Err != nil {
			f.err = st.holder.Err.Error()
		}
		if status >= 500 && level < slog.LevelWarn {
			level = slog.LevelWarn
		}
		ended = true
		s.logRequestEnd(r.Context(), level, "request", &f, lw)
		if s.cfg.AccessLog == "combined" {
			writeCombined(accessWriter{s}, r, st.start, st.holder.User, status, cw.n.Load())
		}
	})
}

// drainWindow is how long net/http may wait for the rest of a body the
// handler did not read: the stall window, at most maxDrain.
func drainWindow(stall time.Duration) time.Duration {
	if stall > 0 && stall < maxDrain {
		return stall
	}
	return maxDrain
}

// maxDrain bounds the wait for an unread body's rest (net/http reads at
// most 256 KiB of it): time for any client that is sending.
const maxDrain = 5 * time.Second

// reqState is what the request log keeps of one request.
type reqState struct {
	start  time.Time
	r      *http.Request
	api    string
	id     string
	holder httperr.Holder
	body   countingBody
	cw     countingWriter

	// Progress lines (see progressReporter), under mu; finished stops a
	// line racing with the end of the request.
	mu       sync.Mutex
	finished bool
	lastLog  time.Time

	prev, next *reqState // the progress reporter's list, under its mu
}

// fields are the request line's fields known so far.
func (st *reqState) fields() requestFields {
	return requestFields{api: st.api, method: st.r.Method, path: st.r.URL.Path,
		in: st.body.n.Load(), out: st.cw.n.Load(), remote: st.r.RemoteAddr, id: st.id}
}

// progressReporter logs "transfer progress" for every request running
// longer than progressEvery, every progressEvery. One goroutine serves all
// requests, and only while there are any: a timer per request cost more
// than the rest of the request log. The requests in flight are a list
// linked through reqState, so adding and removing one neither hashes nor
// allocates.
type progressReporter struct {
	mu      sync.Mutex
	head    *reqState // the requests in flight, newest first
	running bool
	every   time.Duration // progressEvery, unless a test set another
}

func (p *progressReporter) add(s *Server, st *reqState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st.prev, st.next = nil, p.head
	if p.head != nil {
		p.head.prev = st
	}
	p.head = st
	if !p.running {
		p.running = true
		go p.run(s)
	}
}

func (p *progressReporter) remove(st *reqState) {
	st.mu.Lock()
	st.finished = true
	st.mu.Unlock()
	p.mu.Lock()
	if st.prev != nil {
		st.prev.next = st.next
	} else {
		p.head = st.next
	}
	if st.next != nil {
		st.next.prev = st.prev
	}
	st.prev, st.next = nil, nil
	p.mu.Unlock()
}

// run wakes up ten times per interval and logs the requests that are due;
// it returns once no request is left.
func (p *progressReporter) run(s *Server) {
	p.mu.Lock()
	every := cmp.Or(p.every, progressEvery)
	p.mu.Unlock()
	tick := time.NewTicker(max(every/10, time.Millisecond))
	defer tick.Stop()
	var due []*reqState
	for now := range tick.C {
		p.mu.Lock()
		if p.head == nil {
			p.running = false
			p.mu.Unlock()
			return
		}
		due = due[:0]
		for st := p.head; st != nil; st = st.next {
			last := st.start
			if !st.lastLog.IsZero() {
				last = st.lastLog
			}
			if now.Sub(last) >= every {
				due = append(due, st)
			}
		}
		p.mu.Unlock()
		for _, st := range due {
			st.mu.Lock()
			if !st.finished {
				st.lastLog = now
				el := now.Sub(st.start)
				f := st.fields()
				f.dur = el.Round(time.Millisecond)
				f.rate, f.hasRate = mbps(f.in+f.out, el), true
				s.logRequest(st.r.Context(), slog.LevelInfo, "transfer progress", &f)
			}
			st.mu.Unlock()
		}
	}
}

// writeCombined writes one Apache combined log line, as gorilla/handlers'
// CombinedLoggingHandler formats it. (That handler counts only Write calls,
// so every download sent by sendfile would be logged as 0 bytes; the byte
// count here is the real one.)
func writeCombined(w io.Writer, r *http.Request, start time.Time, user string, status int, size int64) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if user == "" {
		user = "-"
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	line := fmt.Sprintf("%s - %s [%s] %s %d %d %s %s\n",
		host, user, start.Format("02/Jan/2006:15:04:05 -0700"),
		strconv.Quote(r.Method+" "+uri+" "+r.Proto), status, size,
		strconv.Quote(r.Referer()), strconv.Quote(r.UserAgent()))
	io.WriteString(w, line)
}

// requestFields are the values of a request or progress line, in the
// order they are written.
type requestFields struct {
	api, method, path string
	in, out           int64 // bytes_in, bytes_out
	remote, id        string
	status            int // 0 on a progress line
	dur               time.Duration
	rate              float64 // mb_per_s, when hasRate
	hasRate           bool
	user, err         string // written when not empty
}

// logRequest writes one request or progress line: through the hand-written
// encoder when the logger is NewLogger's, else through slog.
func (s *Server) logRequest(ctx context.Context, level slog.Level, msg string, f *requestFields) {
	s.logRequestEnd(ctx, level, msg, f, nil)
}

// logRequestEnd writes a request's last line and ends the request done
// counted (see lockedWriter), which may hold the line for a moment.
func (s *Server) logRequestEnd(ctx context.Context, level slog.Level, msg string, f *requestFields, done *lockedWriter) {
	if h, ok := requestLog(s.log, level); ok {
		h.writeRequest(time.Now(), level, msg, f, done)
		return
	}
	done.end(nil)
	if !s.log.Enabled(ctx, level) {
		return
	}
	s.log.LogAttrs(ctx, level, msg, f.attrs()...)
}

// writeRequest encodes the fields in the order attrs lists them.
func (h *logHandler) writeRequest(t time.Time, level slog.Level, msg string, f *requestFields, done *lockedWriter) {
	l := h.begin(t, level, msg)
	l.str("api", f.api)
	l.str("method", f.method)
	l.str("path", f.path)
	l.int("bytes_in", f.in)
	l.int("bytes_out", f.out)
	l.str("remote", f.remote)
	l.str("req_id", f.id)
	if f.status != 0 {
		l.int("status", int64(f.status))
	}
	l.dur("dur", f.dur)
	if f.hasRate {
		l.float("mb_per_s", f.rate)
	}
	if f.user != "" {
		l.str("user", f.user)
	}
	if f.err != "" {
		l.str("err", f.err)
	}
	h.end(l, done)
}

// attrs are the fields as slog attributes, for a logger of another kind.
func (f *requestFields) attrs() []slog.Attr {
	a := make([]slog.Attr, 0, 12)
	a = append(a,
		slog.String("api", f.api),
		slog.String("method", f.method),
		slog.String("path", f.path),
		slog.Int64("bytes_in", f.in),
		slog.Int64("bytes_out", f.out),
		slog.String("remote", f.remote),
		slog.String("req_id", f.id))
	if f.status != 0 {
		a = append(a, slog.Int("status", f.status))
	}
	a = append(a, slog.Duration("dur", f.dur))
	if f.hasRate {
		a = append(a, slog.Float64("mb_per_s", f.rate))
	}
	if f.user != "" {
		a = append(a, slog.String("user", f.user))
	}
	if f.err != "" {
		a = append(a, slog.String("err", f.err))
	}
	return a
}

func mbps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	v := float64(n) / 1e6 / d.Seconds()
	return float64(int64(v*10)) / 10
}

// newRequestID returns 16 random hex digits. An ID only has to be unique
// enough to find a request's lines, not secret, so it comes from
// math/rand/v2's per-thread generator: crypto/rand cost a tenth of the
// request log.
func newRequestID() string {
	var b [16]byte
	v := rand.Uint64()
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// countingBody counts the request bytes the handler read.
type countingBody struct {
	rc  io.ReadCloser
	n   atomic.Int64
	eof atomic.Bool // the handler read the body to its end
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	if err == io.EOF {
		b.eof.Store(true)
	} else if err != nil && malformed(err) {
		err = httperr.Wrap(http.StatusBadRequest, "malformed chunked request body", err)
	}
	return n, err
}

// malformed reports whether err, from reading a request body, is the body's
// framing (a bad chunk size, a chunk longer than announced), the client's
// fault, rather than the connection failing (a reset, a deadline, a body
// cut short), which has its own answer.
func malformed(err error) bool {
	var ne net.Error
	return !errors.As(err, &ne) &&
		!errors.Is(err, io.ErrUnexpectedEOF) &&
		!errors.Is(err, net.ErrClosed) &&
		!errors.Is(err, http.ErrBodyReadAfterClose) &&
		!errors.Is(err, context.Canceled) &&
		!errors.Is(err, context.DeadlineExceeded)
}

func (b *countingBody) Close() error { return b.rc.Close() }

// countingWriter records the status and counts the response bytes. It
// keeps the ResponseWriter's fast paths: ReadFrom (so http.ServeContent's
// *os.File still reaches sendfile), Flush, and Unwrap for
// http.ResponseController. With a stall timeout, every write must finish
// within the window, so a client that stops reading is dropped.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      atomic.Int64
	dl     deadliner
	stall  time.Duration
	chunk  int64            // current sendfile chunk, adapted to the client's pace
	raw    syscall.RawConn  // a plain TCP connection's, for TCP_CORK; nil with TLS
	lr     io.LimitedReader // ReadFrom's chunk
}

// deadliner is what http.ResponseController needs of a ResponseWriter to
// set the connection's deadlines. net/http's HTTP/1 and HTTP/2 writers have
// both methods, so a request reaches them without allocating a controller.
type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// deadlinesOf returns w's deadline methods, through a ResponseController
// when w has them only by unwrapping.
func deadlinesOf(w http.ResponseWriter) deadliner {
	if d, ok := w.(deadliner); ok {
		return d
	}
	return http.NewResponseController(w)
}

// SetReadDeadline and SetWriteDeadline pass through to the connection, so
// that the handlers' ResponseControllers (and stallReader) reach it.
func (w *countingWriter) SetReadDeadline(t time.Time) error  { return w.dl.SetReadDeadline(t) }
func (w *countingWriter) SetWriteDeadline(t time.Time) error { return w.dl.SetWriteDeadline(t) }

// deadline gives the next write one stall window.
func (w *countingWriter) deadline() {
	if w.stall > 0 {
		w.dl.SetWriteDeadline(time.Now().Add(w.stall))
	}
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.deadline()
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// Sendfile chunks: how much one sendfile call may move before the byte
// count (and so the progress log) is updated and, with a stall timeout, the
// write deadline moves on. Chunks grow while the client keeps up (a chunk
// done in under an eighth of the window) and shrink when it does not, so a
// slow but steady reader is never cut and a fast one costs few calls.
const (
	minSendfileChunk = 256 << 10
	maxSendfileChunk = 16 << 20
)

// ReadFrom hands the source to the underlying writer's ReadFrom. A file
// body (http.ServeContent passes an *io.LimitedReader around the
// transfer.SizedFile it was given, which yields its *os.File) is fed in
// chunks of the same shape, so the kernel still does the copy while the
// progress log sees the bytes move.
func (w *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		w.deadline()
		n, err := io.Copy(writerOnly{w.ResponseWriter}, src)
		w.n.Add(n)
		return n, err
	}
	lr, ok := src.(*io.LimitedReader)
	if !ok {
		n, err := rf.ReadFrom(src)
		w.n.Add(n)
		return n, err
	}
	if sf, ok := lr.R.(*transfer.SizedFile); ok {
		// A download (transfer.ServeFile): the *os.File itself, at the
		// position ServeContent sought, so that sendfile can take it.
		f, err := sf.File()
		if err != nil {
			return 0, err
		}
		lr.R = f
	}
	if _, isFile := lr.R.(*os.File); !isFile {
		n, err := rf.ReadFrom(src)
		w.n.Add(n)
		return n, err
	}
	// net/http writes the headers with the file's first 512 bytes, then
	// sendfile sends the rest: two segments, and the client woken twice.
	// Corked, they leave together when the last chunk is sent (nginx's
	// tcp_nopush): 4 KiB GETs went 8-10% faster. The cork comes off
	// however ReadFrom ends, and the kernel lifts it after 200 ms anyway.
	if w.raw != nil {
		setCork(w.raw, true)
		defer setCork(w.raw, false)
	}
	var total int64
	if w.chunk == 0 {
		w.chunk = maxSendfileChunk
		if w.stall > 0 {
			w.chunk = minSendfileChunk
		}
	}
	for lr.N > 0 {
		chunk := &w.lr
		*chunk = io.LimitedReader{R: lr.R, N: min(lr.N, w.chunk)}
		start := time.Now()
		w.deadline()
		n, err := rf.ReadFrom(chunk)
		lr.N -= n
		total += n
		w.n.Add(n)
		if err != nil {
			return total, err
		}
		if n == 0 {
			break // the file is shorter than announced
		}
		if w.stall > 0 {
			if time.Since(start) < w.stall/8 {
				w.chunk = min(2*w.chunk, maxSendfileChunk)
			} else {
				w.chunk = max(w.chunk/2, minSendfileChunk)
			}
		}
	}
	return total, nil
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type writerOnly struct{ io.Writer }
