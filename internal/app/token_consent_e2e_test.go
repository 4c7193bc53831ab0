package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/internal/consent"
)

// TestDevCodeExchangeRechecksConsent: a customer approves a generic FAPI client's request
// (the approval creates and authorises its consent); the consent is revoked by the bank
// before the TPP redeems the code; the code exchange is then invalid_grant, no token. A
// second journey whose consent stays in force redeems its code.
func TestDevCodeExchangeRechecksConsent(t *testing.T) {
	a := startApp(t, nil)
	ctx := context.Background()
	qwac, subject := tppCert(t, a, "PSDGB-FCA-246810")
	registerJourneyClient(t, a, "tpp-recheck", subject)
	password, codes := newCustomer(t, a, "recheck-cust")
	tpp := mtlsClient(t, a.Sandbox.RootCertificate(), qwac)
	mtlsBase, publicBase := "https://"+a.HTTPSAddr().String(), "https://"+a.PublicAddr().String()

	journey := func() (code, verifier, consentID string) {
		t.Helper()
		before, err := a.Consents.List(ctx, consent.Filter{ClientID: "tpp-recheck"})
		if err != nil {
			t.Fatal(err)
		}
		j := beginJourney(t, tpp, browser(t, a.Sandbox.RootCertificate()), mtlsBase, publicBase, "tpp-recheck")
		j.login("recheck-cust", password)
		j.otp(codes.next(t))
		code = j.approve()
		after, err := a.Consents.List(ctx, consent.Filter{ClientID: "tpp-recheck"})
		if err != nil || len(after) != len(before)+1 {
			t.Fatalf("consents after the approval: %d (before %d), %v", len(after), len(before), err)
		}
		known := map[string]bool{}
		for _, c := range before {
			known[c.ID] = true
		}
		for _, c := range after {
			if !known[c.ID] {
				consentID = c.ID
			}
		}
		return code, j.verifier, consentID
	}

	code, verifier, consentID := journey()
	if _, err := a.Consents.Revoke(ctx, consentID, "admin"); err != nil {
		t.Fatal(err)
	}
	r := exchangeCode(t, tpp, mtlsBase, "tpp-recheck", code, verifier)
	if r.status != http.StatusBadRequest || r.body["error"] != "invalid_grant" || r.body["access_token"] != nil {
		t.Fatalf("code of a revoked consent: %d %v, want 400 invalid_grant", r.status, r.body)
	}

	code, verifier, _ = journey()
	if r := exchangeCode(t, tpp, mtlsBase, "tpp-recheck", code, verifier); r.status != http.StatusOK || r.body["access_token"] == nil {
		t.Fatalf("code of a consent in force: %d %v", r.status, r.body)
	}
}
