// Package metrics exposes davnas's Prometheus metrics: requests by API,
// method and status class, bytes moved, durations, requests in flight,
// appends, locks held, the volume's space and the build. Names follow the
// Prometheus conventions (davnas_..._total, _bytes, _seconds); a test runs
// promlint over them.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are what the metrics read at scrape time.
type Sources struct {
	// Usage reports the volume's total, used and free bytes.
	Usage func() (total, used, free uint64, err error)
	// Appends reports the appends committed and their bytes.
	Appends func() (count, bytes uint64)
	// Locks reports the WebDAV locks held.
	Locks func() int
	// Version, Commit and GoVersion label davnas_build_info.
	Version, Commit, GoVersion string
}

// Metrics records requests and serves /metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	received *prometheus.CounterVec
	sent     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight *prometheus.GaugeVec
	authFail prometheus.Counter
}

// New registers davnas's metrics and the Go and process collectors.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "davnas_http_requests_total",
			Help: "HTTP requests answered, by API (file, dav, other), method and status class.",
		}, []string{"api", "method", "code"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "davnas_http_received_bytes_total",
			Help: "Request body bytes received, by API.",
		}, []string{"api"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "davnas_http_sent_bytes_total",
			Help: "Response body bytes sent, by API.",
		}, []string{"api"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "davnas_http_request_duration_seconds",
			Help: "Time from request to the end of the response, by API and method.",
			// 1 ms to about 70 minutes: small requests and multi-GiB transfers.
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12),
		}, []string{"api", "method"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "davnas_http_requests_in_flight",
			Help: "Requests (transfers) being served now, by API.",
		}, []string{"api"}),
		authFail: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "davnas_auth_failures_total",
			Help: "Requests refused for missing or wrong credentials.",
		}),
	}
	reg.MustRegister(m.requests, m.received, m.sent, m.duration, m.inflight, m.authFail,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "davnas_build_info",
		Help: "Always 1; the labels say which davnas runs.",
	}, []string{"version", "commit", "goversion"})
	build.WithLabelValues(src.Version, src.Commit, src.GoVersion).Set(1)
	reg.MustRegister(build)
	if src.Usage != nil {
		usage := func(pick int) func() float64 {
			return func() float64 {
				total, used, free, err := src.Usage()
				if err != nil {
					return 0
				}
				return float64([]uint64{total, used, free}[pick])
			}
		}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "davnas_storage_size_bytes", Help: "Size of the volume holding the root."}, usage(0)),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "davnas_storage_used_bytes", Help: "Space used on the volume."}, usage(1)),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "davnas_storage_free_bytes", Help: "Space free on the volume for davnas (unprivileged)."}, usage(2)),
		)
	}
	if src.Appends != nil {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "davnas_appends_total", Help: "Appends committed (PUT /file/NAME)."},
				func() float64 { n, _ := src.Appends(); return float64(n) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "davnas_appended_bytes_total", Help: "Bytes committed by appends."},
				func() float64 { _, b := src.Appends(); return float64(b) }),
		)
	}
	if src.Locks != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "davnas_locks_held", Help: "WebDAV locks held."},
			func() float64 { return float64(src.Locks()) }))
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the registry, for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// methods bounds the method label: anything else is "other".
var methods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "OPTIONS": true,
	"PROPFIND": true, "PROPPATCH": true, "MKCOL": true, "COPY": true, "MOVE": true, "LOCK": true, "UNLOCK": true,
}

func methodLabel(m string) string {
	if methods[m] {
		return m
	}
	return "other"
}

// Begin counts a request in flight; the returned func records it as done.
func (m *Metrics) Begin(api string) func(method string, status int, in, out int64, dur time.Duration) {
	g := m.inflight.WithLabelValues(api)
	g.Inc()
	return func(method string, status int, in, out int64, dur time.Duration) {
		g.Dec()
		method = methodLabel(method)
		m.requests.WithLabelValues(api, method, strconv.Itoa(status/100)+"xx").Inc()
		m.received.WithLabelValues(api).Add(float64(in))
		m.sent.WithLabelValues(api).Add(float64(out))
		m.duration.WithLabelValues(api, method).Observe(dur.Seconds())
	}
}

// AuthFailure counts a refused request.
func (m *Metrics) AuthFailure() { m.authFail.Inc() }
