package gateway

import (
	"testing"
)

// checkCount is the value of portcullis_gateway_checks_total{mode,stage,outcome} in reg (0
// when the series does not exist).
func checkCount(t *testing.T, f *fixture, mode, stage, outcome string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "portcullis_gateway_checks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["mode"] == mode && l["stage"] == stage && l["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestChainMetrics: every check of the chain is counted by mode, stage and outcome — pass,
// or the refusal's error code at the stage that refused — and the stages after a refusal
// are not run, so not counted. Direct (proxy) and ext-authz (nginx auth_request) modes are
// labelled apart.
func TestChainMetrics(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	bearer := func(tok string) string { return "Bearer " + tok }
	pay := bearer(f.appToken(t, "A", "payments"))
	paymentPath := paymentsPath + "/p-unknown"

	// Passes every stage: the bank answers.
	if r := f.do(t, modeDirect, call{cert: "A", method: "GET", path: paymentPath, auth: pay}); r.status != 404 || f.bank.n.Load() != 1 {
		t.Fatalf("payment status: %d (bank saw %d), want the bank's 404", r.status, f.bank.n.Load())
	}
	// No certificate: refused at the certificate stage.
	if r := f.do(t, modeDirect, call{cert: "none", method: "GET", path: paymentPath, auth: pay}); r.status != 401 {
		t.Fatalf("no certificate: %d, want 401", r.status)
	}
	// A token without the route's scope: refused at the scope stage.
	if r := f.do(t, modeDirect, call{cert: "A", method: "GET", path: paymentPath, auth: bearer(f.appToken(t, "A", "accounts"))}); r.status != 403 {
		t.Fatalf("wrong scope: %d, want 403", r.status)
	}
	// The same refusal through nginx's auth_request (ext-authz mode).
	if r := f.do(t, modeNginx, call{cert: "A", method: "GET", path: paymentPath, auth: bearer(f.appToken(t, "A", "accounts"))}); r.status != 403 {
		t.Fatalf("wrong scope (ext-authz): %d, want 403", r.status)
	}

	for _, c := range []struct {
		mode, stage, outcome string
		want                 float64
	}{
		{"proxy", stageCertificate, outcomePass, 2},
		{"proxy", stageCertificate, CodeCertificateRequired, 1},
		{"proxy", stageToken, outcomePass, 2},
		{"proxy", stageTokenUse, outcomePass, 2},
		{"proxy", stageScope, outcomePass, 1},
		{"proxy", stageScope, CodeInsufficientScope, 1},
		{"proxy", stageBinding, outcomePass, 1},
		{"proxy", stageRole, outcomePass, 1},
		{"proxy", stageAuthorisation, outcomePass, 1},
		{"proxy", stageConsent, outcomePass, 1},
		{"proxy", stageCustomer, outcomePass, 1},
		{"ext-authz", stageScope, CodeInsufficientScope, 1},
		{"ext-authz", stageBinding, outcomePass, 0},
	} {
		if got := checkCount(t, f, c.mode, c.stage, c.outcome); got != c.want {
			t.Errorf("checks{mode=%s,stage=%s,outcome=%s} = %v, want %v", c.mode, c.stage, c.outcome, got, c.want)
		}
	}
}
