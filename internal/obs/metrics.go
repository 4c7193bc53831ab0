package obs

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Route labels that are not ServeMux patterns.
const (
	// RouteUnmatched labels requests no pattern matched (404, 405, redirects).
	RouteUnmatched = "unmatched"
	// RouteOther labels requests once maxRoutes distinct patterns have been seen, a
	// guard against an unexpected source of label values.
	RouteOther = "other"
)

// maxRoutes bounds the distinct route label values.
const maxRoutes = 256

// Metrics holds Portcullis's Prometheus collectors on a registry of its own (never the
// global one), so tests and several servers in one process do not collide. It is safe
// for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu     sync.Mutex
	routes map[string]bool
}

// NewMetrics returns a registry with the Go runtime and process collectors and the
// HTTP request metrics:
//
//	portcullis_http_requests_total{route,method,code}
//	portcullis_http_request_duration_seconds{route,outcome}
//
// route is the ServeMux pattern that handled the request ("POST /token") or
// "unmatched"; method is the request method if it is a standard one, "OTHER" if not;
// code is the status code and outcome its class (2xx, 4xx...).
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern and status class.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "outcome"}),
		routes: make(map[string]bool),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests,
		m.duration,
	)
	return m
}

// Registry is where other packages register their collectors (revocation checks, DCR
// results, ...). Metric names start with "portcullis_".
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observe records one served request.
func (m *Metrics) observe(pattern, method string, code int, d time.Duration) {
	route := m.routeLabel(pattern)
	m.requests.WithLabelValues(route, methodLabel(method), codeLabel(code)).Inc()
	m.duration.WithLabelValues(route, outcome(code)).Observe(d.Seconds())
}

func (m *Metrics) routeLabel(pattern string) string {
	if pattern == "" {
		return RouteUnmatched
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes[pattern] {
		return pattern
	}
	if len(m.routes) >= maxRoutes {
		return RouteOther
	}
	m.routes[pattern] = true
	return pattern
}

// methodLabel keeps the method label bounded: the method is chosen by the client.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// codeLabels are the code label values of the statuses 100 to 599, made once so
// that recording a request allocates no label string.
var codeLabels = func() (l [500]string) {
	for i := range l {
		l[i] = strconv.Itoa(100 + i)
	}
	return l
}()

// codeLabel is the code label: the status code in decimal.
func codeLabel(code int) string {
	if code >= 100 && code < 600 {
		return codeLabels[code-100]
	}
	return strconv.Itoa(code)
}

// outcomes are the status class labels, by code/100.
var outcomes = [...]string{1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}

// outcome is the status class label: "1xx" to "5xx".
func outcome(code int) string {
	if code >= 100 && code < 600 {
		return outcomes[code/100]
	}
	return "other"
}
