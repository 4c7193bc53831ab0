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
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestDevConsentAPIs runs the dev server's consent APIs as a TPP would: a
// client_credentials token from /token over the sandbox PKI, an account-access consent
// created and read on the mTLS listener (x-fapi-interaction-id, Links), then found and
// revoked by the bank on the admin listener, and the TPP's GET shows the revocation.
func TestDevConsentAPIs(t *testing.T) {
	a := startApp(t, func(c *config.Config) {
		c.Admin.Token = config.Secret(testAdminToken)
		c.Listen.Admin = "127.0.0.1:0"
	})
	ctx := context.Background()
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-123456", Roles: mustRoles(t, "AISP")})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := dn.Render(qwac.Certificate.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Clients.Add(ctx, &client.Client{
		ID: "tpp-1", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"accounts"},
	}); err != nil {
		t.Fatal(err)
	}
	hc := mtlsClient(t, a.Sandbox.RootCertificate(), qwac)
	base := "https://" + a.HTTPSAddr().String()
	resp, err := hc.PostForm(base+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"tpp-1"}, "scope": {"accounts"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	do := func(method, path, body string) (int, map[string]any, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m, resp.Header
	}
	code, m, h := do("POST", consent.PathAccountAccessConsents, `{"Data":{"Permissions":["ReadAccountsBasic","ReadBalances"]},"Risk":{}}`)
	if code != 201 || h.Get("X-Fapi-Interaction-Id") == "" {
		t.Fatalf("create: %d %v", code, m)
	}
	id := m["Data"].(map[string]any)["ConsentId"].(string)
	if self := m["Links"].(map[string]any)["Self"].(string); !strings.HasSuffix(self, consent.PathAccountAccessConsents+"/"+id) {
		t.Errorf("Links.Self %s", self)
	}
	if code, m, _ := do("POST", consent.PathAccountAccessConsents, `{"Data":{"Permissions":["ReadBalances"]},"Risk":{}}`); code != 400 {
		t.Errorf("bad combination: %d %v", code, m)
	}

	// The bank's admin finds it by client and revokes it.
	admin := adminClient(t, a)
	adminURL := "https://" + a.AdminAddr().String() + "/admin/consents"
	r, body := adminGet(t, admin, adminURL+"?client=tpp-1&status=AwaitingAuthorisation", testAdminToken)
	if r.StatusCode != 200 || !strings.Contains(body, id) {
		t.Fatalf("admin search: %d %s", r.StatusCode, body)
	}
	req, _ := http.NewRequest("POST", adminURL+"/"+id+"/revoke", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err = admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("admin revoke: %d", resp.StatusCode)
	}
	if code, m, _ := do("GET", consent.PathAccountAccessConsents+"/"+id, ""); code != 200 || m["Data"].(map[string]any)["Status"] != "Revoked" {
		t.Fatalf("TPP's GET after the bank's revoke: %d %v", code, m)
	}
}
