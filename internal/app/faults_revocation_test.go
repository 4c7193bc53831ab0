package app_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/store"
)

// Fault tests (issue 13 point 4): each injects one fault into a running server over real
// TLS and asserts the documented behaviour during the fault, and recovery after it.

// gatewayAnswer is one answer of the gateway: status, Retry-After and the OBIE body.
type gatewayAnswer struct {
	status     int
	retryAfter string
	body       map[string]any
}

// obieErrorCode is the first Errors[].ErrorCode of an OBIE error body.
func (g gatewayAnswer) obieErrorCode() string {
	errs, _ := g.body["Errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	s, _ := e["ErrorCode"].(string)
	return s
}

// gatewayGet calls the gateway at path with the bearer token tok.
func gatewayGet(t *testing.T, a *app.App, c *http.Client, path, tok string) gatewayAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+a.HTTPSAddr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	return gatewayAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: body}
}

// countAudit is the number of audit events of type typ, after the batch writer has flushed.
func countAudit(t *testing.T, a *app.App, typ string) int {
	t.Helper()
	ctx := context.Background()
	if err := a.AuditStore.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := a.Store.ListAudit(ctx, store.AuditFilter{Type: typ, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// TestFaultRevocationServices: a QTSP's OCSP responder slow, then down; its CRL server
// down; both down; both back. With revocation.max_good_age 0 every request checks the
// certificate again, so each phase is seen by the very next request.
//
//   - OCSP slow (stalls past revocation.ocsp_timeout) or down: the CRL answers, /token 200
//     and the gateway forwards;
//   - CRL down, OCSP up: OCSP answers, as normal;
//   - both down (OCSP stalling, CRL refusing), then both slow (both stalling, each wait
//     ended by the checker's revocation.ocsp_timeout / crl_timeout): /token 503
//     temporarily_unavailable with Retry-After, the gateway 503 with the OBIE body
//     (UK.OBIE.UnexpectedError) and Retry-After, nothing forwarded, no token issued;
//   - both back: 200 again, without a restart.
func TestFaultRevocationServices(t *testing.T) {
	qtsp := pkitest.NewCA(t, pkitest.CAOptions{OCSP: true, CRL: true})
	anchorFile := filepath.Join(t.TempDir(), "qtsp.pem")
	if err := os.WriteFile(anchorFile, qtsp.RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	const ocspTimeout, crlTimeout = 500 * time.Millisecond, time.Second
	bank := newUpstream(t)
	a := startApp(t, func(cfg *config.Config) {
		cfg.Gateway.Routes = bank.routes()
		cfg.Trust.Anchors = append(cfg.Trust.Anchors, config.Anchor{Name: "qtsp", File: anchorFile, Profile: pki.ProfileEIDAS})
		cfg.Revocation.MaxGoodAge = 0 // every request checks again: each phase shows at once
		cfg.Revocation.OCSPTimeout = ocspTimeout
		cfg.Revocation.CRLTimeout = crlTimeout
	})
	leaf := qtsp.Issue(t, pkitest.QWACOptions())
	registerTLSClient(t, a, "tpp-faults-revocation", leaf.Cert)
	hc := mtlsClient(t, a.Sandbox.RootCertificate(), nil)
	hc.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{leaf.TLS}
	hc.Timeout = 30 * time.Second // the client must not give up before the server's bounds

	issued := 0
	tokenOK := func(phase string) string {
		t.Helper()
		r := postToken(t, a, hc, "tpp-faults-revocation")
		if r.status != http.StatusOK {
			t.Fatalf("%s: /token %d %v, want 200", phase, r.status, r.body)
		}
		issued++
		return r.body["access_token"].(string)
	}
	forwarded := func(phase, tok string) {
		t.Helper()
		n := bank.calls.Load()
		g := gatewayGet(t, a, hc, pathAppResource, tok)
		if g.status != http.StatusOK || bank.calls.Load() != n+1 {
			t.Fatalf("%s: gateway %d %v, want 200 from the upstream", phase, g.status, g.body)
		}
	}
	type counts struct{ ocsp, crl int }
	served := func() counts { return counts{qtsp.OCSP.Requests(), qtsp.CRL.Requests()} }

	// Normal: OCSP answers.
	before := served()
	tok := tokenOK("normal")
	forwarded("normal", tok)
	if after := served(); after.ocsp == before.ocsp {
		t.Fatalf("normal: the OCSP responder was not asked (%+v → %+v)", before, after)
	}

	// OCSP slow: it holds every request past ocsp_timeout; the CRL answers.
	qtsp.OCSP.SetMode(pkitest.ModeStall)
	before = served()
	start := time.Now()
	tok = tokenOK("OCSP slow")
	forwarded("OCSP slow", tok)
	after := served()
	if after.ocsp == before.ocsp || after.crl == before.crl {
		t.Fatalf("OCSP slow: want both asked, %+v → %+v", before, after)
	}
	t.Logf("OCSP slow: token and gateway call answered through the CRL in %v (ocsp_timeout %v)", time.Since(start), ocspTimeout)

	// OCSP down (connections dropped): the CRL answers.
	qtsp.OCSP.SetMode(pkitest.ModeDrop)
	before = served()
	tok = tokenOK("OCSP down")
	forwarded("OCSP down", tok)
	if after := served(); after.crl == before.crl {
		t.Fatalf("OCSP down: the CRL was not fetched (%+v → %+v)", before, after)
	}

	// CRL down, OCSP up: fine.
	qtsp.OCSP.SetMode(pkitest.ModeOK)
	qtsp.CRL.SetMode(pkitest.ModeDrop)
	before = served()
	tok = tokenOK("CRL down")
	forwarded("CRL down", tok)
	if after := served(); after.ocsp == before.ocsp {
		t.Fatalf("CRL down: OCSP was not asked (%+v → %+v)", before, after)
	}

	// Both down (OCSP slow, CRL dropping): hard fail, 503 at both.
	qtsp.OCSP.SetMode(pkitest.ModeStall)
	tokenIssuedBefore := countAudit(t, a, audit.TypeTokenIssued)
	bankCallsBefore := bank.calls.Load()
	start = time.Now()
	r := postToken(t, a, hc, "tpp-faults-revocation")
	if r.status != http.StatusServiceUnavailable || r.body["error"] != "temporarily_unavailable" || r.retryAfter == "" {
		t.Errorf("OCSP and CRL down: /token %d %v (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
			r.status, r.body, r.retryAfter)
	}
	if _, ok := r.body["access_token"]; ok {
		t.Error("OCSP and CRL down: an access token was issued")
	}
	t.Logf("both down: /token answered %d in %v (ocsp_timeout %v + crl_timeout %v)", r.status, time.Since(start), ocspTimeout, crlTimeout)
	g := gatewayGet(t, a, hc, pathAppResource, tok)
	if g.status != http.StatusServiceUnavailable || g.obieErrorCode() != "UK.OBIE.UnexpectedError" || g.retryAfter == "" {
		t.Errorf("OCSP and CRL down: gateway %d %v (Retry-After %q), want 503 with the OBIE body and Retry-After", g.status, g.body, g.retryAfter)
	}
	if n := countAudit(t, a, audit.TypeTokenIssued); n != tokenIssuedBefore {
		t.Errorf("OCSP and CRL down: %d token.issued audit events recorded, want none", n-tokenIssuedBefore)
	}
	if n := bank.calls.Load(); n != bankCallsBefore {
		t.Errorf("OCSP and CRL down: %d requests forwarded to the bank, want none", n-bankCallsBefore)
	}

	// Both slow (each stalls every request): the checker's own timeouts end the wait —
	// revocation.ocsp_timeout for the OCSP attempt, then revocation.crl_timeout for the CRL
	// download — and the answer is the same 503, not a hang until the client gives up.
	qtsp.CRL.SetMode(pkitest.ModeStall)
	start = time.Now()
	r = postToken(t, a, hc, "tpp-faults-revocation")
	if r.status != http.StatusServiceUnavailable || r.body["error"] != "temporarily_unavailable" || r.retryAfter == "" {
		t.Errorf("OCSP and CRL slow: /token %d %v (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
			r.status, r.body, r.retryAfter)
	}
	t.Logf("both slow: /token answered %d in %v (ocsp_timeout %v + crl_timeout %v)", r.status, time.Since(start), ocspTimeout, crlTimeout)
	if g := gatewayGet(t, a, hc, pathAppResource, tok); g.status != http.StatusServiceUnavailable || g.obieErrorCode() != "UK.OBIE.UnexpectedError" {
		t.Errorf("OCSP and CRL slow: gateway %d %v, want 503 with the OBIE body", g.status, g.body)
	}
	if n := bank.calls.Load(); n != bankCallsBefore {
		t.Errorf("OCSP and CRL slow: %d requests forwarded to the bank, want none", n-bankCallsBefore)
	}

	// Both back: recovery without a restart.
	qtsp.OCSP.SetMode(pkitest.ModeOK)
	qtsp.CRL.SetMode(pkitest.ModeOK)
	tok = tokenOK("recovered")
	forwarded("recovered", tok)
	if n := countAudit(t, a, audit.TypeTokenIssued); n != issued {
		t.Errorf("%d token.issued audit events, want %d (one per 200)", n, issued)
	}
}

// TestFaultRevocationPastWriteTimeout: the OCSP and CRL timeouts of a chain add up past the
// listener's write timeout (here 1.5 s + 1.5 s against 2 s) and both services stall. The
// request's certificate validation is bounded by certificateValidationBudget (half the write
// timeout here), so /token and the gateway answer their 503s in time — without the bound the
// handler finished after the write deadline and the client saw its connection cut, no answer.
func TestFaultRevocationPastWriteTimeout(t *testing.T) {
	qtsp := pkitest.NewCA(t, pkitest.CAOptions{OCSP: true, CRL: true})
	anchorFile := filepath.Join(t.TempDir(), "qtsp.pem")
	if err := os.WriteFile(anchorFile, qtsp.RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	bank := newUpstream(t)
	a := startApp(t, func(cfg *config.Config) {
		cfg.Gateway.Routes = bank.routes()
		cfg.Trust.Anchors = append(cfg.Trust.Anchors, config.Anchor{Name: "qtsp", File: anchorFile, Profile: pki.ProfileEIDAS})
		cfg.Revocation.MaxGoodAge = 0
		cfg.Revocation.OCSPTimeout = 1500 * time.Millisecond
		cfg.Revocation.CRLTimeout = 1500 * time.Millisecond
		cfg.HTTP.WriteTimeout = 2 * time.Second
	})
	leaf := qtsp.Issue(t, pkitest.QWACOptions())
	registerTLSClient(t, a, "tpp-faults-budget", leaf.Cert)
	hc := mtlsClient(t, a.Sandbox.RootCertificate(), nil)
	hc.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{leaf.TLS}
	hc.Timeout = 30 * time.Second

	r := postToken(t, a, hc, "tpp-faults-budget") // a 200: both services answer
	if r.status != http.StatusOK {
		t.Fatalf("normal: /token %d %v, want 200", r.status, r.body)
	}
	tok := r.body["access_token"].(string)

	qtsp.OCSP.SetMode(pkitest.ModeStall)
	qtsp.CRL.SetMode(pkitest.ModeStall)
	bankCalls := bank.calls.Load()
	start := time.Now()
	r = postToken(t, a, hc, "tpp-faults-budget") // fails the test on a cut connection
	if r.status != http.StatusServiceUnavailable || r.body["error"] != "temporarily_unavailable" || r.retryAfter == "" {
		t.Errorf("OCSP and CRL stalling: /token %d %v (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
			r.status, r.body, r.retryAfter)
	}
	t.Logf("/token answered %d after %v (write timeout 2 s, validation budget %v)", r.status, time.Since(start), time.Second)
	g := gatewayGet(t, a, hc, pathAppResource, tok)
	if g.status != http.StatusServiceUnavailable || g.obieErrorCode() != "UK.OBIE.UnexpectedError" || g.retryAfter == "" {
		t.Errorf("OCSP and CRL stalling: gateway %d %v (Retry-After %q), want 503 with the OBIE body and Retry-After", g.status, g.body, g.retryAfter)
	}
	if n := bank.calls.Load(); n != bankCalls {
		t.Errorf("%d requests forwarded to the bank while the certificate could not be checked, want none", n-bankCalls)
	}
}
