package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// registerTLSClient registers a tls_client_auth client for cert's subject DN.
func registerTLSClient(t *testing.T, a *app.App, id string, cert *x509.Certificate) {
	t.Helper()
	subject, err := dn.Render(cert.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Clients.Add(context.Background(), &client.Client{
		ID: id, TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"accounts"},
	}); err != nil {
		t.Fatal(err)
	}
}

// tokenResponse is one POST /token answer.
type tokenResponse struct {
	status     int
	retryAfter string
	body       map[string]any
}

func postToken(t *testing.T, a *app.App, c *http.Client, clientID string) tokenResponse {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {"accounts"}}
	resp, err := c.Post("https://"+a.HTTPSAddr().String()+"/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("POST /token: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("token response %d %q: %v", resp.StatusCode, b, err)
	}
	return tokenResponse{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: body}
}

// TestDevSandboxRevocationRefusesConnectionInUse is the README tour's "revoke the
// certificate at the sandbox CA: the next validation is refused", for a certificate
// already in use: a QWAC gets a token (its good status now cached by the validator and the
// revocation checker), is revoked through a second sandbox CA value opened on the same
// directory — what `portcullis pki revoke` does in its own process — and the next /token on
// the same keep-alive connection is refused with 401 invalid_client — the very next one, not
// after the cached OCSP answer's lifetime.
func TestDevSandboxRevocationRefusesConnectionInUse(t *testing.T) {
	a := startApp(t, nil)
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-123456", Roles: mustRoles(t, "AISP")})
	if err != nil {
		t.Fatal(err)
	}
	registerTLSClient(t, a, "tpp-revoked-in-use", qwac.Certificate)

	c := mtlsClient(t, a.Sandbox.RootCertificate(), qwac)
	var conns atomic.Int32
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			conns.Add(1)
		}
	}}
	c.Transport = traced{c.Transport, trace}

	for i := range 2 { // the second answer comes from the caches
		if r := postToken(t, a, c, "tpp-revoked-in-use"); r.status != http.StatusOK {
			t.Fatalf("token %d: %d %v", i+1, r.status, r.body)
		}
	}

	cli, err := sandbox.Open(a.Sandbox.Dir(), clock.Real{}) // the CLI's CA value
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(qwac.Certificate.SerialNumber, sandbox.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}

	// The very next request: the server polls the sandbox CA's issuance database before
	// each validation, so no timing window is left.
	if r := postToken(t, a, c, "tpp-revoked-in-use"); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
		t.Fatalf("next /token after the revocation: %d %v, want 401 invalid_client", r.status, r.body)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d TLS connections, want 1 (the revoked certificate's keep-alive connection)", n)
	}
}

// traced adds an httptrace.ClientTrace to every request.
type traced struct {
	next  http.RoundTripper
	trace *httptrace.ClientTrace
}

func (t traced) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), t.trace)))
}

// TestTokenRevocationStatusUnavailable: at /token, a certificate whose revocation status
// cannot be established — its CA's OCSP responder and CRL server both down — is not the
// client's fault: 503 temporarily_unavailable with Retry-After, as at the gateway; while a
// certificate its CA says is revoked is 401 invalid_client. Over real TLS, with a QTSP
// (pkitest, loopback OCSP and CRL) configured as a trust anchor beside the sandbox CA.
func TestTokenRevocationStatusUnavailable(t *testing.T) {
	qtsp := pkitest.NewCA(t, pkitest.CAOptions{Intermediate: true, OCSP: true, CRL: true})
	anchorFile := filepath.Join(t.TempDir(), "qtsp.pem")
	if err := os.WriteFile(anchorFile, qtsp.RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startApp(t, func(cfg *config.Config) {
		cfg.Trust.Anchors = append(cfg.Trust.Anchors, config.Anchor{Name: "qtsp", File: anchorFile, Profile: pki.ProfileEIDAS})
	})
	qwac := func(cn string) *pkitest.Leaf {
		o := pkitest.QWACOptions()
		o.Subject.CommonName = cn
		return qtsp.Issue(t, o)
	}
	revoked, unreachable := qwac("Revoked TPP"), qwac("Unreachable-CA TPP")
	registerTLSClient(t, a, "tpp-revoked", revoked.Cert)
	registerTLSClient(t, a, "tpp-unreachable", unreachable.Cert)
	client := func(l *pkitest.Leaf) *http.Client {
		c := mtlsClient(t, a.Sandbox.RootCertificate(), nil)
		c.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{l.TLS}
		return c
	}

	qtsp.Revoke(t, revoked.Cert.SerialNumber, 1)
	if r := postToken(t, a, client(revoked), "tpp-revoked"); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
		t.Errorf("revoked certificate: %d %v, want 401 invalid_client", r.status, r.body)
	}

	qtsp.OCSP.Close()
	qtsp.CRL.Close()
	r := postToken(t, a, client(unreachable), "tpp-unreachable")
	if r.status != http.StatusServiceUnavailable || r.body["error"] != "temporarily_unavailable" || r.retryAfter == "" {
		t.Errorf("OCSP and CRL down: %d %v (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
			r.status, r.body, r.retryAfter)
	}
}
