package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestDevGatewayFirstCall is the newcomer's first protected call in dev mode: a
// client-credentials token bound to a PISP QWAC reaches the sandbox bank through the
// gateway; the same token at a customer-token route, and a certificate without the PISP
// role, are refused with 403 and nothing reaches the bank.
func TestDevGatewayFirstCall(t *testing.T) {
	a := startApp(t, nil)
	ctx := context.Background()
	base := "https://" + a.HTTPSAddr().String()

	register := func(id string, roles string) (*sandbox.Issued, *http.Client) {
		t.Helper()
		cert, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-" + id, Roles: mustRoles(t, roles)})
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := dn.Render(cert.Certificate.RawSubject)
		if _, err := a.Clients.Add(ctx, &client.Client{
			ID: "tpp-" + id, TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
			GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"accounts", "payments"},
		}); err != nil {
			t.Fatal(err)
		}
		return cert, mtlsClient(t, a.Sandbox.RootCertificate(), cert)
	}
	tokenFor := func(hc *http.Client, id, scope string) string {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"tpp-" + id}, "scope": {scope}}
		resp, err := hc.Post(base+"/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("token: %d %v", resp.StatusCode, err)
		}
		return body.AccessToken
	}
	call := func(hc *http.Client, method, path, tok string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
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

	_, pisp := register("100001", "PISP")
	tok := tokenFor(pisp, "100001", "payments")
	// Application-token route: proxied to the bank, which answers its own 404 for an
	// unknown payment (an OBIE body from the bank proves the request got through).
	code, body := call(pisp, http.MethodGet, "/open-banking/v3.1/pisp/domestic-payments/p-unknown", tok)
	if errs, _ := body["Errors"].([]any); code != http.StatusNotFound || len(errs) != 1 ||
		errs[0].(map[string]any)["Message"] != "No such payment" {
		t.Fatalf("payment status via gateway: %d %v, want the bank's 404", code, body)
	}
	// Customer-token route with an application token: 403 from the gateway.
	if code, body := call(pisp, http.MethodGet, "/open-banking/v3.1/aisp/accounts", tok); code != http.StatusForbidden {
		t.Errorf("accounts with an application token: %d %v, want 403", code, body)
	}

	// A certificate without the PISP role.
	_, aisp := register("100002", "AISP")
	tok2 := tokenFor(aisp, "100002", "payments")
	if code, body := call(aisp, http.MethodGet, "/open-banking/v3.1/pisp/domestic-payments/p-unknown", tok2); code != http.StatusForbidden {
		t.Errorf("PISP route with an AISP-only certificate: %d %v, want 403", code, body)
	}
	// The PISP token presented with the AISP client's certificate: not bound to it.
	if code, _ := call(aisp, http.MethodGet, "/open-banking/v3.1/pisp/domestic-payments/p-unknown", tok); code != http.StatusUnauthorized {
		t.Errorf("token presented with another certificate: %d, want 401", code)
	}
	// Unknown paths are 404 and never proxied.
	if code, _ := call(pisp, http.MethodGet, "/open-banking/v3.1/nope", tok); code != http.StatusNotFound {
		t.Errorf("unknown route: %d, want 404", code)
	}
}
