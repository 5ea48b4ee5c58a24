package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/davnas/davnas/internal/config"
)

// scrape reads /metrics and returns the families by name.
func scrape(t *testing.T, url string, hdr ...string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	body, _ := io.ReadAll(resp.Body)
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "davnas_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the value of the series of name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
outer:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue outer
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetricsAfterAKnownWorkload uploads, appends, downloads and locks, and
// checks that each metric moved by exactly what was done.
func TestMetricsAfterAKnownWorkload(t *testing.T) {
	var combined bytes.Buffer
	e := newEnvCfg(t, "", func(c *config.Config) { c.AccessLog = "combined" })
	e.s.accessOut = &syncWriter{w: &combined}
	before := scrape(t, e.srv.URL+"/metrics")
	const n = 123457
	e.do("POST", "/file/data.bin", strings.Repeat("d", n))
	e.do("PUT", "/file/data.bin", "tail\n")
	e.do("GET", "/file/data.bin", "")
	e.do("PUT", "/dav/doc.txt", "hello")
	e.do("LOCK", "/dav/doc.txt", lockXML)
	after := scrape(t, e.srv.URL+"/metrics")

	delta := func(name string, labels map[string]string) float64 {
		b := value(before, name, labels)
		if b < 0 {
			b = 0
		}
		return value(after, name, labels) - b
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"davnas_http_received_bytes_total", map[string]string{"api": "file"}, n + 5},
		{"davnas_http_sent_bytes_total", map[string]string{"api": "file"}, n + 5 + 2 + 2}, // the download + two "OK"
		{"davnas_http_received_bytes_total", map[string]string{"api": "dav"}, 5 + float64(len(lockXML))},
		{"davnas_http_requests_total", map[string]string{"api": "file", "method": "POST", "code": "2xx"}, 1},
		{"davnas_http_requests_total", map[string]string{"api": "file", "method": "PUT", "code": "2xx"}, 1},
		{"davnas_http_requests_total", map[string]string{"api": "dav", "method": "LOCK", "code": "2xx"}, 1},
		{"davnas_http_request_duration_seconds", map[string]string{"api": "file", "method": "GET"}, 1},
		{"davnas_appends_total", nil, 1},
		{"davnas_appended_bytes_total", nil, 5},
		{"davnas_locks_held", nil, 1},
	} {
		if got := delta(c.name, c.labels); got != c.want {
			t.Errorf("%s%v grew by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, g := range []string{"davnas_storage_size_bytes", "davnas_storage_used_bytes", "davnas_storage_free_bytes"} {
		if v := value(after, g, nil); v <= 0 {
			t.Errorf("%s = %v", g, v)
		}
	}
	if value(after, "davnas_build_info", nil) != 1 || value(after, "davnas_http_requests_in_flight", map[string]string{"api": "file"}) != 0 {
		t.Error("build_info or in-flight")
	}
	if value(after, "go_goroutines", nil) <= 0 {
		t.Error("the Go collector is missing")
	}
	// The transfer log names the API; the combined log has the Apache form.
	if !strings.Contains(e.log.String(), "api=file method=POST path=/file/data.bin") {
		t.Errorf("no api key in the request log")
	}
	if !regexp.MustCompile(`127\.0\.0\.1 - - \[[^]]+\] "POST /file/data.bin HTTP/1.1" 200 2 "" "Go-http-client/1.1"`).MatchString(combined.String()) ||
		!regexp.MustCompile(`"GET /file/data.bin HTTP/1.1" 200 123462 `).MatchString(combined.String()) {
		t.Errorf("combined log:\n%s", combined.String())
	}
}

type syncWriter struct {
	mu chanMutex
	w  io.Writer
}

type chanMutex struct{ c chan struct{} }

func (s *syncWriter) Write(p []byte) (int, error) {
	if s.mu.c == nil {
		s.mu.c = make(chan struct{}, 1)
	}
	s.mu.c <- struct{}{}
	defer func() { <-s.mu.c }()
	return s.w.Write(p)
}

// TestMetricsListen: on a separate address /metrics needs no credentials;
// on the main port it is behind authentication like everything else.
func TestMetricsListen(t *testing.T) {
	e, _ := authEnv(t, func(c *config.Config) {})
	if resp, _ := e.do("GET", "/metrics", ""); resp.StatusCode != 401 {
		t.Errorf("/metrics on the main port without credentials = %d", resp.StatusCode)
	}
	scrape(t, e.srv.URL+"/metrics", withAuth("alice", "a-pw")...)

	cfg := config.Default()
	cfg.Root = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.MetricsListen = "127.0.0.1:0"
	s, err := New(cfg, NewLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + s.MetricsAddr().String() + "/metrics")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("--metrics-listen did not serve: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// ... and the main port no longer has it.
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("/metrics on the main port with --metrics-listen = %d", resp.StatusCode)
		}
	}
}
