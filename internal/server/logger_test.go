package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/config"
)

// sameAsSlog checks that the hand-written request line is byte for byte
// what slog's own handler writes for the same record.
func sameAsSlog(t *testing.T, format string, tm time.Time, level slog.Level, msg string, f *requestFields) {
	t.Helper()
	var fast, want bytes.Buffer
	log := NewLogger(config.Config{LogFormat: format, LogLevel: "debug"}, &fast)
	h, ok := requestLog(log, level)
	if !ok {
		t.Fatalf("%s: no fast path at level %v", format, level)
	}
	h.writeRequest(tm, level, msg, f, nil)

	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	var ref slog.Handler = slog.NewTextHandler(&want, opts)
	if format == "json" {
		ref = slog.NewJSONHandler(&want, opts)
	}
	rec := slog.NewRecord(tm, level, msg, 0)
	rec.AddAttrs(f.attrs()...)
	if err := ref.Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if fast.String() != want.String() {
		t.Errorf("%s line differs from slog's\n got: %q\nwant: %q", format, fast.String(), want.String())
	}
}

var hostileStrings = []string{
	"", "plain", "with space", "a=b", `quo"te`, `back\slash`, "tab\there", "nl\nx", "cr\rx",
	"\x00\x01\x1f", "\x7f", "é ü 日本", "\xff\xfe", "bad\xc3(", "\u2028\u2029", "\u00a0nbsp",
	"\u200bzero-width", "<script>&", "/file/a%20b?c=d#e", "[::1]:5555", "{\"json\":1}",
	"\U0001F600", "\u0085", "a\u0300",
}

func TestRequestLineMatchesSlog(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 25, 18, 50, 6, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 5*3600+1800)),
		time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.FixedZone("Y", -7*3600)),
	}
	floats := []float64{0, 0.1, 1, 1234.5, 1e6, 1e21, 1.5e-7, 123456789.1, math.MaxFloat64}
	durs := []time.Duration{0, time.Microsecond, 1500 * time.Microsecond, 3*time.Hour + 7*time.Second, -time.Second}
	for _, format := range []string{"text", "json"} {
		for i, s := range hostileStrings {
			f := &requestFields{api: "file", method: "GET", path: s, in: int64(i), out: -1 << 40,
				remote: hostileStrings[(i+1)%len(hostileStrings)], id: s, status: 200 + i,
				dur: durs[i%len(durs)], rate: floats[i%len(floats)], hasRate: i%2 == 0,
				user: hostileStrings[(i+2)%len(hostileStrings)], err: hostileStrings[(i+3)%len(hostileStrings)]}
			level := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}[i%4]
			sameAsSlog(t, format, times[i%len(times)], level, "request", f)
		}
		for _, fl := range floats {
			sameAsSlog(t, format, times[0], slog.LevelInfo, "transfer progress",
				&requestFields{api: "dav", method: "PUT", path: "/dav/x", dur: time.Second, rate: fl, hasRate: true})
		}
	}
}

// The request line below the logger's level is not written, and a logger
// of another kind (here one derived with With) takes slog's path.
func TestRequestLineLevelsAndFallback(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(config.Config{LogFormat: "text", LogLevel: "warn"}, &buf)
	if _, ok := requestLog(log, slog.LevelInfo); ok {
		t.Fatal("info request line enabled at level warn")
	}
	if _, ok := requestLog(log, slog.LevelWarn); !ok {
		t.Fatal("warn request line not enabled at level warn")
	}
	if _, ok := requestLog(log.With("k", "v"), slog.LevelWarn); ok {
		t.Fatal("derived logger took the fast path")
	}
	s := &Server{log: log.With("k", "v")}
	s.logRequest(context.Background(), slog.LevelWarn, "request", &requestFields{api: "file", method: "GET", path: "/file/x", status: 500})
	s.logRequest(context.Background(), slog.LevelInfo, "request", &requestFields{api: "file", method: "GET", path: "/file/y", status: 200})
	out := buf.String()
	if !strings.Contains(out, "level=WARN msg=request k=v api=file method=GET path=/file/x") || strings.Contains(out, "/file/y") {
		t.Fatalf("fallback log: %q", out)
	}
}

// TestLogTimeCache: the text time kept for a second gives the same bytes
// as formatting it afresh, for lines that change second, zone or location
// between them, in any order.
func TestLogTimeCache(t *testing.T) {
	base := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	locs := []*time.Location{time.UTC, time.Local, time.FixedZone("A", 5*3600+1800), time.FixedZone("B", -7*3600), time.FixedZone("C", 0)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		ns := rng.Int64N(3e9) // three seconds around the new year
		if i%500 == 0 {
			ns = rng.Int64N(math.MaxInt64)
		}
		tm := base.Add(time.Duration(ns)).In(locs[rng.IntN(len(locs))])
		got := string(appendRFC3339Millis([]byte("x"), tm))
		want := string(appendRFC3339MillisFull([]byte("x"), tm))
		if got != want {
			t.Fatalf("%v: cached %q, formatted %q", tm, got, want)
		}
	}
	// Year 10000 has another shape: formatted, never kept.
	far := time.Date(10000, 1, 1, 0, 0, 0, 5e6, time.UTC)
	for range 2 {
		if got, want := string(appendRFC3339Millis(nil, far)), string(appendRFC3339MillisFull(nil, far)); got != want {
			t.Fatalf("year 10000: %q, want %q", got, want)
		}
	}
}

func FuzzRequestLine(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s, s+"x", int64(len(s)), 1.5, int64(time.Millisecond))
	}
	f.Fuzz(func(t *testing.T, path, user string, n int64, rate float64, d int64) {
		if math.IsInf(rate, 0) || math.IsNaN(rate) {
			return // json.Marshal refuses them; our rates are finite
		}
		tm := time.Unix(0, n).UTC()
		if y := tm.Year(); y < 0 || y >= 10000 {
			tm = time.Unix(n%1e12, 0).UTC()
		}
		fl := &requestFields{api: "dav", method: path, path: path, in: n, out: -n, remote: user, id: path,
			status: int(n % 600), dur: time.Duration(d), rate: rate, hasRate: n%2 == 0, user: user, err: path}
		for _, format := range []string{"text", "json"} {
			sameAsSlog(t, format, tm, slog.LevelInfo, "request", fl)
		}
	})
}

// writes records every Write as one chunk.
type writes struct {
	mu     sync.Mutex
	chunks []string
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chunks = append(w.chunks, string(p))
	return len(p), nil
}

func (w *writes) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.chunks...)
}

// TestHeldRequestLines: a request line is written at once when no other
// request is in flight, held while others are, and written with the next
// lines in one write, in order, before any other line; the last request
// to end writes what is held.
func TestHeldRequestLines(t *testing.T) {
	var w writes
	l := &lockedWriter{w: &w}

	l.begin()
	l.end([]byte("alone\n"))
	if got := w.get(); len(got) != 1 || got[0] != "alone\n" {
		t.Fatalf("a lone request's line: %q", got)
	}

	l.begin()
	l.begin()
	l.begin()
	l.end([]byte("a\n"))
	l.end([]byte("b\n"))
	if got := w.get(); len(got) != 1 {
		t.Fatalf("lines written while a request is in flight: %q", got)
	}
	l.end(nil) // the last request in flight, with no line of its own
	if got := w.get(); len(got) != 2 || got[1] != "a\nb\n" {
		t.Fatalf("held lines not written in one write by the last request: %q", got)
	}

	// Another kind of line (slog's) goes out after what is held.
	l.begin()
	l.begin()
	l.end([]byte("c\n"))
	l.Write([]byte("warning\n"))
	if got := w.get(); len(got) != 4 || got[2] != "c\n" || got[3] != "warning\n" {
		t.Fatalf("a held line and a warning: %q", got)
	}

	// One request of the pair is still in flight: it does not hold the
	// others' lines for long, the timer writes them.
	l.begin()
	l.end([]byte("d\n"))
	l.begin()
	l.end([]byte("e\n"))
	for range 500 {
		if len(w.get()) == 5 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := w.get(); len(got) != 5 || got[4] != "d\ne\n" {
		t.Fatalf("held lines not flushed by the timer: %q", got)
	}

	// Past maxPending the held lines are written at once.
	long := strings.Repeat("x", 1000) + "\n"
	for range maxPending/len(long) + 2 {
		l.begin()
		l.end([]byte(long))
	}
	if got := w.get(); len(got) < 6 {
		t.Fatalf("%d bytes held", maxPending+2*len(long))
	}
	l.end(nil) // the last of the pair
	total := 0
	for _, c := range w.get() {
		total += strings.Count(c, "\n")
	}
	if want := 7 + maxPending/len(long) + 2; total != want {
		t.Errorf("%d lines written, want %d", total, want)
	}
	if n := l.active.Load(); n != 0 {
		t.Errorf("%d requests still counted in flight", n)
	}
}

// TestRequestLinesUnderLoad: concurrent requests through the server all
// get their line, exactly once, by the time the last response is read; a
// request that panics is counted out too.
func TestRequestLinesUnderLoad(t *testing.T) {
	e := newEnv(t, "")
	e.do("POST", "/file/x.txt", "hello")
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e.do("GET", "/file/x.txt", "", "X-Request-Id", fmt.Sprintf("load-%03d", i))
		})
	}
	wg.Wait()
	log := e.log.String()
	for i := range n {
		if c := strings.Count(log, fmt.Sprintf("req_id=load-%03d ", i)); c != 1 {
			t.Errorf("request load-%03d has %d lines", i, c)
		}
	}
	h := e.s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	if resp, err := http.Get(srv.URL + "/boom"); err == nil {
		resp.Body.Close()
	}
	if n := lineWriter(e.s.log).active.Load(); n != 0 {
		t.Errorf("%d requests still counted in flight", n)
	}
}
