package app_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

const journeyRedirect = "https://tpp.example.com/cb"

// browser is an HTTP client as a customer's browser is one: a cookie jar, no client
// certificate, redirects not followed (each 303 is checked).
func browser(t *testing.T, root *x509.Certificate) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(root)
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Timeout: 10 * time.Second, Jar: jar,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// page GETs u and returns the CSRF token of its form.
func page(t *testing.T, b *http.Client, u string) string {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field on %s:\n%s", u, body)
	}
	return string(m[1])
}

// submit POSTs a form and returns the 303's Location.
func submit(t *testing.T, b *http.Client, u string, form url.Values) string {
	t.Helper()
	resp, err := b.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// TestJourneyEndToEnd runs the customer journey on a dev server over real TLS: PAR over mTLS
// with private_key_jwt, /authorize on the public listener, login, TOTP and approval through
// the pages, the code exchanged for certificate-bound tokens, userinfo.
func TestJourneyEndToEnd(t *testing.T) {
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
		ID: "tpp-journey", Name: "Moneywise", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes:   []string{"authorization_code", "refresh_token", "client_credentials"},
		Scope:        client.ScopeList{"openid", "accounts"},
		RedirectURIs: []string{journeyRedirect}, Profile: client.ProfileFAPI2,
	}); err != nil {
		t.Fatal(err)
	}
	root := a.Sandbox.RootCertificate()
	tpp := mtlsClient(t, root, qwac)
	mtlsBase := "https://" + a.HTTPSAddr().String()
	publicBase := "https://" + a.PublicAddr().String()

	// Discovery names the public authorization endpoint.
	var meta map[string]any
	getJSON(t, tpp, mtlsBase+"/.well-known/openid-configuration", &meta)
	if ae, _ := meta["authorization_endpoint"].(string); !strings.HasSuffix(ae, "/authorize") || !strings.Contains(ae, strings.TrimPrefix(publicBase, "https://127.0.0.1")) {
		t.Errorf("authorization_endpoint %v, public listener %s", meta["authorization_endpoint"], publicBase)
	}

	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	par := url.Values{
		"client_id": {"tpp-journey"}, "response_type": {"code"}, "redirect_uri": {journeyRedirect},
		"scope": {"openid accounts"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	var parResp map[string]any
	if code := postJSON(t, tpp, mtlsBase+"/par", par, &parResp); code != http.StatusCreated {
		t.Fatalf("PAR: %d %v", code, parResp)
	}

	b := browser(t, root)
	resp, err := b.Get(publicBase + "/authorize?" + url.Values{"client_id": {"tpp-journey"}, "request_uri": {parResp["request_uri"].(string)}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("/authorize security headers: %v", resp.Header)
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("/authorize: %d, CORS %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	login := publicBase + resp.Header.Get("Location")
	demo := a.DemoCustomer
	next := submit(t, b, login, url.Values{"csrf": {page(t, b, login)}, "username": {demo.ID}, "password": {demo.Password}})
	secret, err := identity.ParseTOTPSecret(demo.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	otp, _ := identity.TOTPCode(secret, time.Now())
	next = submit(t, b, publicBase+next, url.Values{"csrf": {page(t, b, publicBase+next)}, "otp": {otp}})
	back := submit(t, b, publicBase+next, url.Values{"csrf": {page(t, b, publicBase+next)}, "account": {"22289"}, "action": {"approve"}})

	cb, err := url.Parse(back)
	if err != nil || !strings.HasPrefix(back, journeyRedirect+"?") {
		t.Fatalf("back to the TPP at %q", back)
	}
	q := cb.Query()
	if q.Get("state") != "st-1" || q.Get("iss") != "https://localhost:8443" || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}

	var tok map[string]any
	if code := postJSON(t, tpp, mtlsBase+"/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {"tpp-journey"}, "code": {q.Get("code")},
		"redirect_uri": {journeyRedirect}, "code_verifier": {verifier},
	}, &tok); code != http.StatusOK {
		t.Fatalf("token: %d %v", code, tok)
	}
	at := jwtClaims(t, tok["access_token"].(string))
	if at["aut"] != "APPLICATION_USER" || at["acr"] != "urn:openbanking:psd2:sca" || at["sub"] == "demo" {
		t.Errorf("access token claims %v", at)
	}
	if cnf, _ := at["cnf"].(map[string]any); cnf["x5t#S256"] != pki.Thumbprint(qwac.Certificate) {
		t.Errorf("cnf %v", at["cnf"])
	}
	grant, err := a.Store.GetConsent(ctx, at["consent_id"].(string))
	if err != nil || grant.UserID != "demo" || grant.Status != "Authorised" || !strings.Contains(string(grant.Data), "22289") {
		t.Errorf("grant %+v, %v", grant, err)
	}
	idt := jwtClaims(t, tok["id_token"].(string))
	if idt["nonce"] != "n-1" || idt["sub"] != at["sub"] || idt["acr"] != "urn:openbanking:psd2:sca" {
		t.Errorf("ID token claims %v", idt)
	}

	req, _ := http.NewRequest(http.MethodGet, mtlsBase+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	ui, err := tpp.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer ui.Body.Close()
	var info map[string]any
	_ = json.NewDecoder(ui.Body).Decode(&info)
	if ui.StatusCode != http.StatusOK || info["sub"] != idt["sub"] {
		t.Errorf("userinfo %d %v", ui.StatusCode, info)
	}
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func postJSON(t *testing.T, c *http.Client, u string, form url.Values, v any) int {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("POST %s (%d): %v", u, resp.StatusCode, err)
	}
	return resp.StatusCode
}

// TestDevCallback: in dev mode the public listener shows what a TPP's redirect_uri would
// receive, HTML-escaped.
func TestDevCallback(t *testing.T) {
	a := startApp(t, nil)
	b := browser(t, a.Sandbox.RootCertificate())
	resp, err := b.Get("https://" + a.PublicAddr().String() + "/dev/callback?code=abc&state=%3Cscript%3E")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<code>abc</code>") ||
		strings.Contains(string(body), "<script>") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("dev callback: %d %s", resp.StatusCode, body)
	}
}
