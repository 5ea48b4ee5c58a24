package server

import (
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/davnas/davnas/internal/config"
)

// NewLogger builds the process logger from the configuration: slog's text
// or JSON handler, wrapped so that the one line written for every request
// can skip slog's generic machinery (see requestLine).
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	switch cfg.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	out := &lockedWriter{w: w}
	opts := &slog.HandlerOptions{Level: level}
	h := &logHandler{out: out, level: level, json: cfg.LogFormat == "json"}
	if h.json {
		h.Handler = slog.NewJSONHandler(out, opts)
	} else {
		h.Handler = slog.NewTextHandler(out, opts)
	}
	return slog.New(h)
}

// lockedWriter serialises the writes of slog's handler and of the request
// line, so that lines never interleave.
//
// It also batches request lines under load. A request line written while
// other requests are still in flight is held, and written with the lines
// that follow it in one write(2): when the last request in flight ends,
// when another kind of line is written (a progress line, a warning: those
// are never held, and what is held goes out before them), when 32 KiB are
// held, or flushDelay after the first held line, whichever comes first. A
// lone request's line is written before its response completes, as always;
// under load one system call carries many lines. The write was the larger
// part of the request log's cost (a 4 KiB GET: about 2.2 µs of 27 µs of
// server CPU to a file on ext4, against 0.6 µs for formatting the line).
type lockedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	active  atomic.Int64 // requests in flight (begin..end); decremented under mu
	pending []byte       // held request lines, whole
	armed   bool         // the flush timer is set for pending
	timer   *time.Timer
}

const (
	// flushDelay is the longest a request line is held.
	flushDelay = time.Millisecond
	// maxPending is how many bytes of held lines are written at once.
	maxPending = 32 << 10
)

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) > 0 {
		l.flushLocked()
	}
	return l.w.Write(p)
}

// begin counts a request in flight; end must follow.
func (l *lockedWriter) begin() {
	if l != nil {
		l.active.Add(1)
	}
}

// end ends a request begin counted, with its line (nil when it has none to
// write): written now when no other request is in flight, else held.
func (l *lockedWriter) end(line []byte) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	busy := l.active.Add(-1) > 0
	switch {
	case busy && len(line) == 0:
		// Nothing to write; what is held waits for its timer or the
		// last request.
	case busy && len(l.pending)+len(line) <= maxPending:
		l.pending = append(l.pending, line...)
		if !l.armed {
			l.armed = true
			if l.timer == nil {
				l.timer = time.AfterFunc(flushDelay, l.Flush)
			} else {
				l.timer.Reset(flushDelay)
			}
		}
	case len(l.pending) == 0:
		if len(line) > 0 {
			l.w.Write(line) // a log that cannot be written has nowhere to report it
		}
	default:
		l.pending = append(l.pending, line...)
		l.flushLocked()
	}
}

// Flush writes the held lines.
func (l *lockedWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

func (l *lockedWriter) flushLocked() {
	l.armed = false // a timer still set finds nothing, or a later batch
	if len(l.pending) == 0 {
		return
	}
	l.w.Write(l.pending)
	l.pending = l.pending[:0]
}

// lineWriter is the writer of log's request lines when log is the one
// NewLogger built, else nil (a foreign logger writes through slog).
func lineWriter(log *slog.Logger) *lockedWriter {
	if h, ok := log.Handler().(*logHandler); ok {
		return h.out
	}
	return nil
}

// FlushLog writes the request lines log holds, if any (before exit).
func FlushLog(log *slog.Logger) {
	if l := lineWriter(log); l != nil {
		l.Flush()
	}
}

// logHandler is slog's own text or JSON handler, plus what the request log
// needs to write the same bytes that handler would, directly.
type logHandler struct {
	slog.Handler
	out   *lockedWriter
	level slog.Level
	json  bool
}

// requestLog returns the fast writer for request lines when log is the one
// NewLogger built (not a derived or foreign logger) and level is enabled.
func requestLog(log *slog.Logger, level slog.Level) (*logHandler, bool) {
	h, ok := log.Handler().(*logHandler)
	if !ok || level < h.level {
		return nil, false
	}
	return h, true
}

// The request line is written for every request, so it is encoded by hand:
// slog's Logger.LogAttrs copies the attributes into a Record, captures the
// caller's PC and formats each value through a generic switch, which costs
// about 8% of a small GET. The bytes are the same as slog's handler would
// write (a differential test holds them to it).

var lines = sync.Pool{New: func() any { return &requestLine{b: make([]byte, 0, 512)} }}

// requestLine is one line being encoded.
type requestLine struct {
	b    []byte
	json bool
}

func (h *logHandler) begin(t time.Time, level slog.Level, msg string) *requestLine {
	l := lines.Get().(*requestLine)
	l.b, l.json = l.b[:0], h.json
	if l.json {
		l.b = append(l.b, `{"time":"`...)
		l.b = t.AppendFormat(l.b, time.RFC3339Nano)
		l.b = append(l.b, `","level":`...)
		l.b = appendJSONString(l.b, level.String())
		l.b = append(l.b, `,"msg":`...)
		l.b = appendJSONString(l.b, msg)
		return l
	}
	l.b = append(l.b, "time="...)
	l.b = appendRFC3339Millis(l.b, t)
	l.b = append(l.b, " level="...)
	l.b = appendTextString(l.b, level.String())
	l.b = append(l.b, " msg="...)
	l.b = appendTextString(l.b, msg)
	return l
}

// key starts a field; keys are constant, plain ASCII.
func (l *requestLine) key(k string) {
	if l.json {
		l.b = append(l.b, ',', '"')
		l.b = append(l.b, k...)
		l.b = append(l.b, '"', ':')
		return
	}
	l.b = append(l.b, ' ')
	l.b = append(l.b, k...)
	l.b = append(l.b, '=')
}

func (l *requestLine) str(k, v string) {
	l.key(k)
	if l.json {
		l.b = appendJSONString(l.b, v)
	} else {
		l.b = appendTextString(l.b, v)
	}
}

func (l *requestLine) int(k string, v int64) {
	l.key(k)
	l.b = strconv.AppendInt(l.b, v, 10)
}

// dur is a time.Duration as slog writes it: its String in text, integer
// nanoseconds in JSON.
func (l *requestLine) dur(k string, d time.Duration) {
	l.key(k)
	if l.json {
		l.b = strconv.AppendInt(l.b, int64(d), 10)
		return
	}
	l.b = append(l.b, d.String()...)
}

// float is a float64 as slog writes it: strconv's shortest 'g' in text,
// encoding/json's form in JSON.
func (l *requestLine) float(k string, f float64) {
	l.key(k)
	if !l.json {
		l.b = strconv.AppendFloat(l.b, f, 'g', -1, 64)
		return
	}
	l.b = appendJSONFloat(l.b, f)
}

// end writes the line in one Write (or, as the end of a request done
// counted, through done.end) and recycles the buffer.
func (h *logHandler) end(l *requestLine, done *lockedWriter) {
	if l.json {
		l.b = append(l.b, '}')
	}
	l.b = append(l.b, '\n')
	if done != nil {
		done.end(l.b)
	} else {
		h.out.Write(l.b) // a log that cannot be written has nowhere to report it
	}
	if cap(l.b) <= 4<<10 {
		lines.Put(l)
	}
}

// appendRFC3339Millis is slog's text time: RFC 3339 with exactly three
// digits of milliseconds. Every request line formats one, and most fall in
// the same second as the line before: the part up to the second and the
// zone are kept for that second, so a line copies them around three digits.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	if c := lastStamp.Load(); c != nil && c.sec == sec && c.loc == loc {
		ms := t.Nanosecond() / 1e6
		b = append(b, c.head...)
		b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		return append(b, c.zone...)
	}
	n := len(b)
	b = appendRFC3339MillisFull(b, t)
	// "2006-01-02T15:04:05." then three digits, then the zone; another
	// shape (a year past 9999) is not kept.
	const head = len("2006-01-02T15:04:05.")
	if len(b)-n > head+3 && b[n+head-1] == '.' {
		lastStamp.Store(&stamp{sec: sec, loc: loc,
			head: append([]byte(nil), b[n:n+head]...),
			zone: append([]byte(nil), b[n+head+3:]...)})
	}
	return b
}

// stamp is the text time of one second in one location, less its
// milliseconds: head ends with the '.', zone is "Z" or "+hh:mm".
type stamp struct {
	sec        int64
	loc        *time.Location
	head, zone []byte
}

var lastStamp atomic.Pointer[stamp]

// appendRFC3339MillisFull formats t through the time package.
func appendRFC3339MillisFull(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// appendTextString writes s bare, or Go-quoted when slog's text handler
// would quote it: empty, a space, '=', '"', a control or non-printing
// character, or invalid UTF-8.
func appendTextString(b []byte, s string) []byte {
	if textNeedsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func textNeedsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

const hexDigits = "0123456789abcdef"

// jsonBadUTF8 is how slog's JSON handler writes a byte of invalid UTF-8:
// escaped as \ufffd, or (with Go's JSON v2 experiment, the default from Go
// 1.27) as the replacement character itself. Asked once, of slog.
var jsonBadUTF8 = func() string {
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey {
				return slog.Attr{}
			}
			return a
		},
	})).Info("", "v", "\xff")
	if strings.Contains(b.String(), `\ufffd`) {
		return `\ufffd`
	}
	return "\ufffd"
}()

// appendJSONString writes s as slog's JSON handler does: quoted, with '"',
// '\\' and control characters escaped, invalid UTF-8 as \ufffd, and U+2028
// and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, jsonBadUTF8...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONFloat is encoding/json's float64: the shortest decimal, in
// exponent form only below 1e-6 or from 1e21, with a one-digit negative
// exponent where it fits.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// json.Marshal refuses these and slog writes the error; our
		// rates are finite, so a plain rendering is enough.
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	n := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if m := len(b) - n; m >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b
}
