package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/store"
)

// mtlsClient is an HTTP client presenting cert, trusting the dev server's sandbox CA.
func mtlsClient(t *testing.T, root *x509.Certificate, cert *sandbox.Issued) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(root)
	tc := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

// TestDevTokenEndpointOverSandboxPKI runs the dev server as a newcomer would use it: a QWAC
// minted by the sandbox CA, a tls_client_auth client registered for its subject DN, a
// client_credentials token bound to the certificate — then the same certificate revoked at
// the sandbox CA is refused with 401 invalid_client, because the server checks its own OCSP
// responder on every new validation.
func TestDevTokenEndpointOverSandboxPKI(t *testing.T) {
	a := startApp(t, nil)
	ctx := context.Background()
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-123456", Roles: mustRoles(t, "AISP,PISP")})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := dn.Render(qwac.Certificate.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Clients.Add(ctx, &client.Client{
		ID: "tpp-1", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"accounts", "payments"},
	}); err != nil {
		t.Fatal(err)
	}
	tokenURL := "https://" + a.HTTPSAddr().String() + "/token"
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"tpp-1"}, "scope": {"accounts"}}

	post := func(c *http.Client) (int, map[string]any) {
		t.Helper()
		resp, err := c.Post(tokenURL, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatalf("POST /token: %v", err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("X-Fapi-Interaction-Id") == "" {
			t.Error("no x-fapi-interaction-id on the token response")
		}
		var body map[string]any
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("token response %d %q: %v", resp.StatusCode, b, err)
		}
		return resp.StatusCode, body
	}

	code, body := post(mtlsClient(t, a.Sandbox.RootCertificate(), qwac))
	if code != http.StatusOK {
		t.Fatalf("token: %d %v", code, body)
	}
	claims := jwtClaims(t, body["access_token"].(string))
	cnf, _ := claims["cnf"].(map[string]any)
	if got, want := cnf["x5t#S256"], pki.Thumbprint(qwac.Certificate); got != want {
		t.Errorf("cnf.x5t#S256 = %v, want %v", got, want)
	}
	if claims["aut"] != "APPLICATION" || claims["client_id"] != "tpp-1" {
		t.Errorf("claims = %v", claims)
	}

	// No certificate: no token (FAPI1-AS-50).
	if code, body := post(mtlsClient(t, a.Sandbox.RootCertificate(), nil)); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("without certificate: %d %v, want 401 invalid_client", code, body)
	}

	// Revoked at the sandbox CA: a certificate the server has not validated yet is
	// checked against the OCSP responder and refused.
	revoked, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-123456", Roles: mustRoles(t, "AISP")})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Sandbox.Revoke(revoked.Certificate.SerialNumber, sandbox.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if code, body := post(mtlsClient(t, a.Sandbox.RootCertificate(), revoked)); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("revoked certificate: %d %v, want 401 invalid_client", code, body)
	}

	// Both the issuance and the refused certificate are in the audit trail (written in
	// batches: Flush waits for what was recorded).
	if err := a.AuditStore.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{audit.TypeTokenIssued, audit.TypeCertificateRejected} {
		events, err := a.Store.ListAudit(ctx, store.AuditFilter{Type: typ})
		if err != nil || len(events) == 0 {
			t.Errorf("audit %s: %d events, err %v", typ, len(events), err)
		}
	}
}

func mustRoles(t *testing.T, s string) []eidas.Role {
	t.Helper()
	r, err := sandbox.ParseRoles(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
