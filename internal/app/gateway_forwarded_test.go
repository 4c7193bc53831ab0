package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestGatewayForwardedHost is issue 9 point 4 through the whole server: the
// upstream's X-Forwarded-Host and -Proto are gateway.public_url, or by default the
// issuer's host and scheme, whatever Host header the TPP sends.
func TestGatewayForwardedHost(t *testing.T) {
	for _, tt := range []struct {
		name, publicURL, wantHost string
	}{
		{"default from the issuer", "", "localhost:8443"},
		{"configured", "https://api.bank.example", "api.bank.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen http.Header
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = r.Header.Clone()
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(up.Close)
			a := startApp(t, func(c *config.Config) {
				c.Gateway.PublicURL = tt.publicURL
				c.Gateway.Routes = []config.GatewayRoute{{Name: "echo", Method: "GET", Path: "/echo", Scopes: []string{"payments"},
					TokenUse: "application", AnyRole: true, Upstream: up.URL}}
			})
			cert, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-100009", Roles: mustRoles(t, "PISP")})
			if err != nil {
				t.Fatal(err)
			}
			subject, _ := dn.Render(cert.Certificate.RawSubject)
			if _, err := a.Clients.Add(context.Background(), &client.Client{ID: "tpp-fwd", TokenEndpointAuthMethod: "tls_client_auth",
				TLSClientAuthSubjectDN: subject, GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"payments"}}); err != nil {
				t.Fatal(err)
			}
			hc := mtlsClient(t, a.Sandbox.RootCertificate(), cert)
			base := "https://" + a.HTTPSAddr().String()
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"tpp-fwd"}, "scope": {"payments"}}
			resp, err := hc.Post(base+"/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			err = json.NewDecoder(resp.Body).Decode(&tok)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("token: %d %v", resp.StatusCode, err)
			}

			req, _ := http.NewRequest(http.MethodGet, base+"/echo", nil)
			req.Host = "evil.example"
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("X-Forwarded-Host", "evil.example")
			resp, err = hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d, want the upstream's 204", resp.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			if h, p := seen.Values("X-Forwarded-Host"), seen.Values("X-Forwarded-Proto"); len(h) != 1 || h[0] != tt.wantHost || len(p) != 1 || p[0] != "https" {
				t.Errorf("upstream X-Forwarded-Host %q, -Proto %q; want %q, https", h, p, tt.wantHost)
			}
		})
	}
}
