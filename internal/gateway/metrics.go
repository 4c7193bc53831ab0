package gateway

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stage names: the stage label of the chain's metrics, one per check in chain order.
const (
	stageCertificate   = "certificate"
	stageToken         = "token"
	stageTokenUse      = "token_use"
	stageScope         = "scope"
	stageBinding       = "binding"
	stageRole          = "role"
	stageAuthorisation = "authorisation"
	stageConsent       = "consent"
	stageCustomer      = "customer"
)

// outcomePass is the outcome label of a check that passed; a refusal's outcome is its
// gateway error code (errors.go), a fixed set.
const outcomePass = "pass"

// metrics are the validation chain's collectors. Labels: mode (proxy, ext-authz), stage
// (the names above), outcome (pass or a gateway error code): all from fixed sets, never a
// client id or a path.
type metrics struct {
	checks   *prometheus.CounterVec   // mode, stage, outcome
	duration *prometheus.HistogramVec // stage
}

// stageBuckets: a check is a map lookup, a signature verification or a database or
// consent-service round trip.
var stageBuckets = []float64{0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// newMetrics builds the collectors and registers them on reg (nil: unregistered); a
// collector already registered under the same name is reused.
func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		checks: registerMetric(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_checks_total",
			Help: "Checks of the gateway's validation chain, by mode, stage and outcome (pass, or the gateway error code of the refusal).",
		}, []string{"mode", "stage", "outcome"})),
		duration: registerMetric(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_gateway_check_duration_seconds",
			Help:    "Time spent in each check of the gateway's validation chain, by stage.",
			Buckets: stageBuckets,
		}, []string{"stage"})),
	}
}

func registerMetric[C prometheus.Collector](reg prometheus.Registerer, c C) C {
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
	}
	return c
}

// observe records one check: its outcome (nil error: pass) and how long it took.
func (m *metrics) observe(mode, stage string, d time.Duration, err error) {
	outcome := outcomePass
	if err != nil {
		outcome = problemFor(err).code
	}
	m.checks.WithLabelValues(mode, stage, outcome).Inc()
	m.duration.WithLabelValues(stage).Observe(d.Seconds())
}
