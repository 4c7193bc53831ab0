package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// webhookMode is how the fake consent service answers.
type webhookMode int32

const (
	webhookValid   webhookMode = iota // 200 {"valid": true}
	webhookSlow                       // holds the call until the caller gives up (or 20 s)
	webhookFailing                    // 500
	webhookGarbage                    // 200 with a body that is not a decision
)

// consentService is the bank's consent-validation service as the webhook calls it.
type consentService struct {
	srv  *httptest.Server
	mode atomic.Int32
	// abandoned counts slow calls whose caller gave up (the request context ended)
	// before the service answered.
	abandoned atomic.Int64
	calls     atomic.Int64
}

func newConsentService(t *testing.T) *consentService {
	t.Helper()
	s := &consentService{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		// The whole body is read first: net/http notices the caller hanging up (and
		// ends r.Context()) only once the request body is consumed.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		switch webhookMode(s.mode.Load()) {
		case webhookSlow:
			select {
			case <-r.Context().Done():
				s.abandoned.Add(1)
				return
			case <-time.After(20 * time.Second):
				// Never reached while the gateway bounds the call: if it is, the late
				// "valid" below must still not let the request through.
			}
		case webhookFailing:
			http.Error(w, "consent service failing on purpose", http.StatusInternalServerError)
			return
		case webhookGarbage:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`["not a decision"]`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"valid": true})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// TestFaultConsentWebhook: the consent webhook slow (past consent.webhook_timeout), failing
// (500) and answering garbage: the gateway answers 503 with the OBIE body
// (UK.OBIE.UnexpectedError) and Retry-After, gives up on the slow call (the service sees
// its request cancelled: the wait is bounded by the timeout), and forwards nothing
// upstream; when the service answers again, the same request is forwarded.
func TestFaultConsentWebhook(t *testing.T) {
	bank := newUpstream(t)
	svc := newConsentService(t)
	const webhookTimeout = 300 * time.Millisecond
	a := startApp(t, func(cfg *config.Config) {
		cfg.Gateway.Routes = bank.routes()
		cfg.Consent.WebhookURL = svc.srv.URL
		cfg.Consent.WebhookTimeout = webhookTimeout
	})
	ctx := context.Background()
	qwac, _ := tppCert(t, a, "PSDGB-FCA-700001")
	registerTLSClient(t, a, "tpp-faults-webhook", qwac.Certificate)
	if err := a.Store.CreateConsent(ctx, store.Consent{
		ID: "aac-faults-webhook", Kind: consent.KindAccountAccess, ClientID: "tpp-faults-webhook",
		Status: "Authorised", UserID: "demo", Data: json.RawMessage(`{}`),
	}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Tokens.Issue(ctx, token.Claims{
		ClientID: "tpp-faults-webhook", Use: token.UseUser, UserID: "demo", Scopes: []string{"accounts"},
		ConsentID: "aac-faults-webhook", CertThumbprint: pki.Thumbprint(qwac.Certificate),
		AuthTime: time.Now(), ACR: "urn:openbanking:psd2:sca",
	})
	if err != nil {
		t.Fatal(err)
	}
	hc := mtlsClient(t, a.Sandbox.RootCertificate(), qwac)
	hc.Timeout = 60 * time.Second // longer than the slow service's own 20 s

	forwarded := func(phase string) {
		t.Helper()
		n := bank.calls.Load()
		if g := gatewayGet(t, a, hc, pathConsentResource, tok); g.status != http.StatusOK || bank.calls.Load() != n+1 {
			t.Fatalf("%s: gateway %d %v, want 200 from the upstream", phase, g.status, g.body)
		}
	}
	refused := func(phase string) {
		t.Helper()
		n, calls := bank.calls.Load(), svc.calls.Load()
		start := time.Now()
		g := gatewayGet(t, a, hc, pathConsentResource, tok)
		t.Logf("%s: gateway %d after %v (webhook_timeout %v)", phase, g.status, time.Since(start), webhookTimeout)
		if g.status != http.StatusServiceUnavailable || g.obieErrorCode() != "UK.OBIE.UnexpectedError" || g.retryAfter == "" {
			t.Errorf("%s: gateway %d %v (Retry-After %q), want 503 with the OBIE body and Retry-After", phase, g.status, g.body, g.retryAfter)
		}
		if svc.calls.Load() == calls {
			t.Errorf("%s: the consent service was not called", phase)
		}
		if d := bank.calls.Load() - n; d != 0 {
			t.Errorf("%s: %d requests forwarded upstream, want none", phase, d)
		}
	}

	forwarded("webhook valid")

	svc.mode.Store(int32(webhookSlow))
	abandoned := svc.abandoned.Load()
	refused("webhook slow")
	// The gateway gave up on the call (its context ended), rather than the service
	// answering: the wait was bounded by the webhook timeout, not by the service.
	if !eventually(10*time.Second, func() bool { return svc.abandoned.Load() > abandoned }) {
		t.Error("webhook slow: the consent service never saw the gateway give up on the call")
	}

	svc.mode.Store(int32(webhookFailing))
	refused("webhook failing")

	svc.mode.Store(int32(webhookGarbage))
	refused("webhook answering garbage")

	svc.mode.Store(int32(webhookValid))
	forwarded("webhook recovered")
}
