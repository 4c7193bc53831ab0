package authz

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/oauth"
)

// metrics are the authorization server's counters. Every label value comes from a fixed
// set: the endpoint names of clientauth, the registered token_endpoint_auth_methods, the
// grant types the server implements and RFC 6749 error codes; never a client id.
type metrics struct {
	clientAuth *prometheus.CounterVec // endpoint, method, outcome
	grants     *prometheus.CounterVec // grant_type, outcome
}

// Metric label values.
const (
	outcomeOK            = "ok"
	outcomeIssued        = "issued"
	grantTypeUnsupported = "unsupported"
	// methodUnknown labels a failed client authentication whose method the request does
	// not show (no client assertion, no Authorization header: a certificate method or none).
	methodUnknown = "unknown"
)

// newMetrics builds the counters and registers them on reg (nil: unregistered). A
// collector already registered there under the same name is reused, so several servers
// can share one registry.
func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		clientAuth: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_client_authentications_total",
			Help: "Client authentications at the authorization server, by endpoint, token_endpoint_auth_method and outcome (ok, or the OAuth error code).",
		}, []string{"endpoint", "method", "outcome"})),
		grants: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_token_requests_total",
			Help: "Token endpoint requests, by grant type and outcome (issued, or the OAuth error code).",
		}, []string{"grant_type", "outcome"})),
	}
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
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
		// Another collector by this name with other labels: this one stays unregistered.
	}
	return c
}

// errorOutcome is the outcome label of a refusal: its RFC 6749 error code, which
// oauth.FromError draws from a fixed set.
func errorOutcome(err error) string {
	return oauth.FromError(err).Code
}
