// Package metrics exposes davnas's Prometheus metrics: requests by API,
// method and status class, bytes moved, durations, requests in flight,
// appends, locks held, the volume's space and the build. Names follow the
// Prometheus conventions (davnas_..._total, _bytes, _seconds); a test runs
// promlint over them.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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

	apis  []*API // file, dav, other: made at start
	mu    sync.Mutex
	extra map[string]*API // any other API name
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
	for _, name := range []string{"file", "dav", "other"} {
		m.apis = append(m.apis, m.newAPISeries(name))
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

// methodNames bounds the method label: anything else is "other".
var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"}

// methodIndex is the method's place in methodNames, or len(methodNames)
// for "other".
func methodIndex(method string) int {
	for i, n := range methodNames {
		if n == method {
			return i
		}
	}
	return len(methodNames)
}

func methodLabelAt(i int) string {
	if i < len(methodNames) {
		return methodNames[i]
	}
	return "other"
}

// API returns the series of the API name (file, dav, other) for a request
// to count itself in: Begin when it starts, Done when it ends.
func (m *Metrics) API(name string) *API { return m.api(name) }

// Begin counts a request in flight.
func (a *API) Begin() { a.inflight.Inc() }

// Done records a request as answered.
func (a *API) Done(method string, status int, in, out int64, dur time.Duration) {
	a.inflight.Dec()
	mi := methodIndex(method)
	a.m.requestCounter(a, mi, status).Inc()
	a.received.Add(float64(in))
	a.sent.Add(float64(out))
	a.m.durationObserver(a, mi).Observe(dur.Seconds())
}

// AuthFailure counts a refused request.
func (m *Metrics) AuthFailure() { m.authFail.Inc() }

// The series a request touches are looked up once and kept: WithLabelValues
// hashes its labels and takes the vector's lock on every call, 2% of the
// CPU of a small GET. The per-API series (in flight, bytes) of file, dav
// and other exist from the start, at 0; those by method and status class
// are made on first use, so /metrics lists only the combinations seen.

// API is one API's series.
type API struct {
	m              *Metrics
	name           string
	inflight       prometheus.Gauge
	received, sent prometheus.Counter
	// by method index, then status/100
	requests [len(methodNames) + 1][10]atomic.Pointer[prometheus.Counter]
	duration [len(methodNames) + 1]atomic.Pointer[prometheus.Observer]
}

func (m *Metrics) newAPISeries(name string) *API {
	return &API{m: m, name: name, inflight: m.inflight.WithLabelValues(name),
		received: m.received.WithLabelValues(name), sent: m.sent.WithLabelValues(name)}
}

// api returns the series of the API name: file, dav and other are made at
// start, any other name on first use.
func (m *Metrics) api(name string) *API {
	for _, a := range m.apis {
		if a.name == name {
			return a
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.extra[name]; a != nil {
		return a
	}
	if m.extra == nil {
		m.extra = map[string]*API{}
	}
	a := m.newAPISeries(name)
	m.extra[name] = a
	return a
}

func (m *Metrics) requestCounter(a *API, mi, status int) prometheus.Counter {
	class := status / 100
	if class < 0 || class > 9 {
		return m.requests.WithLabelValues(a.name, methodLabelAt(mi), strconv.Itoa(class)+"xx")
	}
	p := &a.requests[mi][class]
	if c := p.Load(); c != nil {
		return *c
	}
	c := m.requests.WithLabelValues(a.name, methodLabelAt(mi), strconv.Itoa(class)+"xx")
	p.Store(&c)
	return c
}

func (m *Metrics) durationObserver(a *API, mi int) prometheus.Observer {
	p := &a.duration[mi]
	if o := p.Load(); o != nil {
		return *o
	}
	o := m.duration.WithLabelValues(a.name, methodLabelAt(mi))
	p.Store(&o)
	return o
}
