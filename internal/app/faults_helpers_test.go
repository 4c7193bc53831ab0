package app_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// upstream is a bank API behind the gateway that counts the requests it receives, so a
// fault test can assert that nothing was forwarded while the fault lasted.
type upstream struct {
	srv   *httptest.Server
	calls atomic.Int64
}

// upstreamBody is what the upstream answers, so that a forwarded call is recognisable.
const upstreamBody = `{"Data":{"Upstream":"faults"}}`

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(upstreamBody))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// Gateway routes to the upstream, for the fault tests.
const (
	// pathAppResource takes an application token with scope accounts (role AISP), no
	// consent.
	pathAppResource = "/open-banking/v3.1/aisp/faults-app/r1"
	// pathConsentResource takes a customer token with scope accounts bound to an
	// account-access consent, checked by the consent webhook.
	pathConsentResource = "/open-banking/v3.1/aisp/faults-consent/r1"
)

// routes are the gateway routes of the fault tests, to u.
func (u *upstream) routes() []config.GatewayRoute {
	return []config.GatewayRoute{
		{Name: "faults-app", Method: http.MethodGet, Path: "/open-banking/v3.1/aisp/faults-app/{Id}",
			Scopes: []string{"accounts"}, TokenUse: "application", Roles: []string{"AISP"}, Upstream: u.srv.URL},
		{Name: "faults-consent", Method: http.MethodGet, Path: "/open-banking/v3.1/aisp/faults-consent/{Id}",
			Scopes: []string{"accounts"}, TokenUse: "user", Roles: []string{"AISP"}, Consent: "account-access",
			ConsentValidator: config.ConsentWebhookValidator, Upstream: u.srv.URL},
	}
}

// eventually polls cond every 50 ms until it holds or within passes; it reports whether
// it held.
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
