package revocation

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Cache label values of the cache hit/miss counters.
const (
	cacheAnswers = "answer" // per-certificate answers
	cacheCRLs    = "crl"    // parsed CRLs
)

// metrics are the package's Prometheus collectors (pki.md §2.4).
type metrics struct {
	// checks counts answers by source (ocsp, crl, cache, none) and result (good,
	// revoked, unknown, error). A lookup collapsed into another's fetch is not
	// counted again.
	checks        *prometheus.CounterVec
	fetchDuration *prometheus.HistogramVec // by source: ocsp, crl
	softFail      prometheus.Counter
	cacheHits     *prometheus.CounterVec // by cache: answer, crl
	cacheMisses   *prometheus.CounterVec
	refreshes     *prometheus.CounterVec // background refreshes by result: ok, error, skipped
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	return &metrics{
		checks: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_revocation_checks_total",
			Help: "Revocation answers by source (ocsp, crl, cache, none) and result (good, revoked, unknown, error).",
		}, []string{"source", "result"})),
		fetchDuration: register(reg, log, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_revocation_fetch_duration_seconds",
			Help:    "Duration of OCSP and CRL fetches, including parsing and verification.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"source"})),
		softFail: register(reg, log, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_revocation_softfail_total",
			Help: "Certificates allowed without a revocation answer because their trust anchor's policy is soft-fail.",
		})),
		cacheHits: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_revocation_cache_hits_total",
			Help: "Revocation cache hits by cache (answer, crl).",
		}, []string{"cache"})),
		cacheMisses: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_revocation_cache_misses_total",
			Help: "Revocation cache misses by cache (answer, crl).",
		}, []string{"cache"})),
		refreshes: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_revocation_background_refreshes_total",
			Help: "Background refreshes of cached revocation answers and CRLs by result (ok, error, skipped).",
		}, []string{"result"})),
	}
}

// register registers c on reg and returns it, or the collector already registered
// under the same name (so several Checkers can share one registry). Any other
// registration error leaves c unregistered and is logged.
func register[C prometheus.Collector](reg prometheus.Registerer, log *slog.Logger, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		log.Error("revocation metrics not registered", slog.String("error", err.Error()))
	}
	return c
}
