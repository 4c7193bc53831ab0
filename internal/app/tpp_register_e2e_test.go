package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestDevTPPWithdrawnInRegister is issue 12's acceptance row "a TPP whose authorisation
// is withdrawn in the register file is refused at /token and at the gateway within the
// configured refresh bound, with its certificate still valid", black-box over real TLS
// against the dev server: the sandbox register file (DATA/register.json) lists the TPP's
// authorisation as withdrawn; until the register is refreshed the TPP is served, after
// the refresh (the scheduled one, triggered explicitly here) /token answers 401
// invalid_client and the gateway 403 tpp_not_authorised for the token issued before —
// while the same certificate still passes validation. Then the register file becomes
// unreadable and the clock passes the freshness bound: fail closed, 503.
func TestDevTPPWithdrawnInRegister(t *testing.T) {
	clk := clock.NewFake(time.Now())
	var dataDir string
	a := startAppClock(t, clk, func(cfg *config.Config) { dataDir = cfg.DataDir })
	ctx := context.Background()
	base := "https://" + a.HTTPSAddr().String()

	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-777001", Roles: mustRoles(t, "AISP,PISP")})
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := dn.Render(qwac.Certificate.RawSubject)
	if _, err := a.Clients.Add(ctx, &client.Client{
		ID: "tpp-withdrawn", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"accounts", "payments"},
	}); err != nil {
		t.Fatal(err)
	}
	hc := mtlsClient(t, a.Sandbox.RootCertificate(), qwac)
	token := func() (int, map[string]any) {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"tpp-withdrawn"}, "scope": {"payments"}}
		resp, err := hc.Post(base+"/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	callBank := func(tok string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/open-banking/v3.1/pisp/domestic-payments/p-unknown", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		return resp.StatusCode, body
	}
	writeRegister := func(doc string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dataDir, app.SandboxRegisterFile), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entity := func(aut string) string {
		return `[[], [{"CA_OwnerID": "GB_FCA", "EntityCode": "PSD_PI!GB_FCA!777001", "EntityType": "PSD_PI",
		  "Properties": [{"ENT_NAT_REF_COD": "777001"}, {"ENT_NAM": "Withdrawn TPP Ltd"}, {"ENT_AUT": ` + aut + `}],
		  "Services": [{"GB": ["PS_070", "PS_080"]}]}]]`
	}

	// Authorised (listed, or unlisted in dev): token and gateway call go through.
	writeRegister(entity(`["2019-01-01"]`))
	if err := a.NCARegister.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	code, body := token()
	if code != http.StatusOK {
		t.Fatalf("token while authorised: %d %v", code, body)
	}
	tok := body["access_token"].(string)
	if code, body := callBank(tok); code != http.StatusNotFound {
		t.Fatalf("gateway while authorised: %d %v, want the bank's 404", code, body)
	}

	// Withdrawn in the file: nothing changes before the refresh …
	writeRegister(entity(`["2019-01-01", "2026-01-15"]`))
	if code, body := token(); code != http.StatusOK {
		t.Fatalf("token before the refresh: %d %v", code, body)
	}
	// … and after it the TPP is refused everywhere (the access token issued before is
	// still unexpired: the fake clock has not moved).
	if err := a.NCARegister.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if code, body := token(); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("token after withdrawal: %d %v, want 401 invalid_client", code, body)
	}
	if code, body := callBank(tok); code != http.StatusForbidden || body["Code"] != "tpp_not_authorised" {
		t.Errorf("gateway after withdrawal: %d %v, want 403 tpp_not_authorised", code, body)
	}
	// The certificate itself is still valid.
	if _, err := a.Validator.Validate(ctx, qwac.Chain, pki.PurposeTransport); err != nil {
		t.Errorf("certificate no longer valid: %v", err)
	}

	// Reinstated: served again after the next refresh.
	writeRegister(entity(`["2019-01-01", "2026-01-15", "2026-02-01"]`))
	if err := a.NCARegister.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if code, body := token(); code != http.StatusOK {
		t.Fatalf("token after reinstatement: %d %v", code, body)
	}
	// The register becomes unreadable: the last data decides until the freshness bound
	// (tpp_register.max_age, 26h by default), then every TPP is refused with 503 (fail
	// closed) — at /token and at the gateway.
	writeRegister(`<html>not a register</html>`)
	if err := a.NCARegister.Refresh(ctx); err == nil {
		t.Fatal("refresh of an unreadable register succeeded")
	}
	if code, body := token(); code != http.StatusOK {
		t.Fatalf("token within the freshness bound: %d %v", code, body)
	}
	clk.Advance(27 * time.Hour)
	code, body = token()
	if code != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("token with a stale register: %d %v, want 503 temporarily_unavailable", code, body)
	}
}
