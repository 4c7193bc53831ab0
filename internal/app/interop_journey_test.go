package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
)

// Acceptance "Independent client" of the customer journey (issue 10): openid-client (npm,
// test/interop/journey.mjs) discovers a dev-mode Portcullis and runs the TPP's side of the
// journey with its own checks — PAR, request objects, PKCE, private_key_jwt over mTLS, the
// authorization response (iss; the hybrid ID token's signature, c_hash, s_hash and nonce;
// the JARM response), the code exchange and the ID token, refresh, /userinfo — while this
// test plays the customer through the bank's pages (login, TOTP, approval).

// interopTPP is a TPP as openid-client sees it: files for node and its certificate.
type interopTPP struct {
	id   string
	auth string // token_endpoint_auth_method
	qwac *sandbox.Issued
	dir  string // client.crt, client.key, ca.crt, client.jwk
}

func newInteropTPP(t *testing.T, a *app.App, id, org string, c *client.Client) *interopTPP {
	t.Helper()
	qwac, subject := tppCert(t, a, org)
	k := newSigningKey(t, id+"-key")
	c.ID, c.JWKS = id, k.jwks(t)
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = "private_key_jwt"
	}
	if c.TokenEndpointAuthMethod == "tls_client_auth" {
		c.TLSClientAuthSubjectDN = subject
	}
	register(t, a, c)
	jwk, err := json.Marshal(k.jwk(true))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"client.crt": qwac.CertPEM, "client.key": qwac.KeyPEM, "client.jwk": jwk,
		"ca.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Sandbox.RootCertificate().Raw}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &interopTPP{id: id, auth: c.TokenEndpointAuthMethod, qwac: qwac, dir: dir}
}

// interopResult is what journey.mjs reports.
type interopResult struct {
	Mode                 string         `json:"mode"`
	TokenType            string         `json:"token_type"`
	AccessToken          string         `json:"access_token"`
	IDTokenClaims        map[string]any `json:"id_token_claims"`
	FrontIDTokenClaims   map[string]any `json:"front_channel_id_token_claims"`
	RefreshTokenRotated  bool           `json:"refresh_token_rotated"`
	RefreshedAccessToken string         `json:"refreshed_access_token"`
	Userinfo             map[string]any `json:"userinfo"`
	Resource             *struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	} `json:"resource"`
}

// TestInteropJourneyOpenIDClient runs openid-client 6.9.0 through the FAPI 2.0 journey (PAR
// + PKCE + private_key_jwt over mTLS, then refresh without rotation, /userinfo and a gateway
// route with the refreshed certificate-bound token) and the two FAPI 1.0 Advanced variants
// (a signed request object by value with code id_token; a pushed signed request object
// with JARM), each approved by the demo customer through the pages.
func TestInteropJourneyOpenIDClient(t *testing.T) {
	node, dir := interopNode(t)

	a := startApp(t, nil)
	codes := demoTOTP(t, a)
	const redirect = "https://tpp.example.com/cb"
	fapi2 := newInteropTPP(t, a, "oidc-fapi2", "PSDGB-FCA-333333", &client.Client{
		Name: "Moneywise Budgeting", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scope: client.ScopeList{"openid", "accounts"}, RedirectURIs: []string{redirect}, Profile: client.ProfileFAPI2,
	})
	fapi1 := newInteropTPP(t, a, "oidc-fapi1", "PSDGB-FCA-444444", &client.Client{
		Name: "Ledgerly Accounts", GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{client.ResponseTypeCodeIDToken, client.ResponseTypeCode},
		Scope:         client.ScopeList{"openid", "accounts"}, RedirectURIs: []string{redirect}, Profile: client.ProfileFAPI1,
	})
	// FAPI 2.0 Message Signing (signed request objects, JARM), and tls_client_auth.
	fapi2MS := newInteropTPP(t, a, "oidc-fapi2-ms", "PSDGB-FCA-555555", &client.Client{
		Name: "Tally Insights", GrantTypes: []string{"authorization_code", "refresh_token"}, RequestObjectSigningAlg: "ES256",
		Scope: client.ScopeList{"openid", "accounts"}, RedirectURIs: []string{redirect}, Profile: client.ProfileFAPI2,
	})
	fapi2TLS := newInteropTPP(t, a, "oidc-fapi2-tls", "PSDGB-FCA-666666", &client.Client{
		Name: "Pennywise", TokenEndpointAuthMethod: "tls_client_auth", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scope: client.ScopeList{"openid", "accounts"}, RedirectURIs: []string{redirect}, Profile: client.ProfileFAPI2,
	})
	gatewayRoute := "https://localhost:8443" + bank.PathAccounts

	for _, tc := range []struct {
		name, mode string
		tpp        *interopTPP
		// own: the journey is approved by a customer of its own, without accounts (the
		// demo customer's TOTP steps last for two journeys), and calls no gateway route.
		own bool
	}{
		{"fapi2", "fapi2", fapi2, false},
		{"fapi1-hybrid", "fapi1-hybrid", fapi1, false},
		{"fapi1-jarm", "fapi1-jarm", fapi1, true},
		{"fapi2 message signing", "fapi2-jarm", fapi2MS, true},
		{"fapi2 tls_client_auth", "fapi2", fapi2TLS, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			customer, password, account, resource, own := a.DemoCustomer.ID, a.DemoCustomer.Password, "22289", gatewayRoute, codes
			if tc.own {
				customer, account, resource = tc.tpp.id+"-customer", "", ""
				password, own = newCustomer(t, a, customer)
			}
			res, err := runJourneyScript(t, node, dir, a, tc.mode, tc.tpp, redirect, resource, func(authURL string) string {
				return customerApproves(t, a, authURL, customer, password, own.next(t), account)
			})
			if err != nil {
				t.Fatal(err)
			}
			checkInteropJourney(t, a, tc.tpp, customer, res, resource != "")
		})
	}

	// openid-client's own checks are in force: a response altered on its way back is
	// refused before any token is asked for. Each of these journeys is approved by a
	// customer of its own (the demo customer's TOTP steps are used up above).
	for i, tc := range []struct {
		name, mode string
		tpp        *interopTPP
		alter      func(t *testing.T, callback *url.URL) string
		want       string // in openid-client's error
	}{
		{"fapi2 iss of another server", "fapi2", fapi2, func(t *testing.T, cb *url.URL) string {
			q := cb.Query()
			q.Set("iss", "https://attacker.example")
			cb.RawQuery = q.Encode()
			return cb.String()
		}, `"iss"`},
		{"fapi1-hybrid code swapped under the ID token", "fapi1-hybrid", fapi1, func(t *testing.T, cb *url.URL) string {
			f, err := url.ParseQuery(cb.Fragment)
			if err != nil {
				t.Fatal(err)
			}
			f.Set("code", "swapped-"+randomString(t))
			cb.Fragment = ""
			return cb.String() + "#" + f.Encode()
		}, "c_hash"},
		{"fapi1-jarm response signature broken", "fapi1-jarm", fapi1, func(t *testing.T, cb *url.URL) string {
			q := cb.Query()
			jwt := q.Get("response")
			i := strings.LastIndexByte(jwt, '.') + 2
			flipped := byte('A')
			if jwt[i] == 'A' {
				flipped = 'B'
			}
			q.Set("response", jwt[:i]+string(flipped)+jwt[i+1:])
			cb.RawQuery = q.Encode()
			return cb.String()
		}, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("customer-%d", i)
			password, own := newCustomer(t, a, id)
			_, err := runJourneyScript(t, node, dir, a, tc.mode, tc.tpp, redirect, "", func(authURL string) string {
				cb, err := url.Parse(customerApproves(t, a, authURL, id, password, own.next(t), ""))
				if err != nil {
					t.Fatal(err)
				}
				return tc.alter(t, cb)
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("openid-client accepted an altered response, or refused it for another reason (want %q): %v", tc.want, err)
			}
			if err != nil {
				msg, _, _ := strings.Cut(err.Error(), "[cause]")
				t.Logf("refused as it should be: %s", strings.TrimSpace(msg))
			}
		})
	}
}

// interopNode returns the node binary and test/interop, where openid-client is installed;
// it skips the test when PORTCULLIS_TEST_NODE=skip.
func interopNode(t *testing.T) (node, dir string) {
	t.Helper()
	if os.Getenv("PORTCULLIS_TEST_NODE") == "skip" {
		t.Skip("PORTCULLIS_TEST_NODE=skip")
	}
	dir = filepath.Join(repoRoot(t), "test", "interop")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err != nil {
		t.Fatalf("openid-client is not installed in %s (%v): run scripts/deps.sh, or set PORTCULLIS_TEST_NODE=skip", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): run scripts/deps.sh, or set PORTCULLIS_TEST_NODE=skip", err)
	}
	return node, dir
}

// startInteropScript starts cmd, a script of test/interop, with its stdin and stdout piped
// (stdout read line by line) and its stderr collected. The caller ends the process.
func startInteropScript(t *testing.T, cmd *exec.Cmd) (io.WriteCloser, *bufio.Scanner, *strings.Builder) {
	t.Helper()
	cmd.WaitDelay = 5 * time.Second
	stderr := new(strings.Builder)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	return stdin, lines, stderr
}

// runJourneyScript runs journey.mjs, answering its authorization URL with approve's callback
// URL. It returns the script's result, or an error with the script's stderr when the script
// failed (openid-client refused something).
func runJourneyScript(t *testing.T, node, dir string, a *app.App, mode string, tpp *interopTPP, redirect, resource string,
	approve func(authURL string) string) (interopResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "journey.mjs"), mode,
		"https://localhost:8443", "https://"+a.HTTPSAddr().String(), tpp.id,
		filepath.Join(tpp.dir, "client.crt"), filepath.Join(tpp.dir, "client.key"), filepath.Join(tpp.dir, "ca.crt"),
		filepath.Join(tpp.dir, "client.jwk"), redirect, resource)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "JOURNEY_AUTH="+tpp.auth)
	stdin, lines, stderr := startInteropScript(t, cmd)
	defer func() { cancel(); _ = cmd.Wait() }() // after a t.Fatal below the process is ended
	failed := func(what string) error {
		_ = cmd.Wait()
		return fmt.Errorf("openid-client (%s) ended before printing the %s: %v\nstderr:\n%s", mode, what, lines.Err(), stderr.String())
	}
	if !lines.Scan() {
		return interopResult{}, failed("authorization URL")
	}
	var first struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	if err := json.Unmarshal(lines.Bytes(), &first); err != nil {
		t.Fatalf("openid-client first line: %v", err)
	}
	callback := approve(first.AuthorizationURL)
	if _, err := io.WriteString(stdin, callback+"\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if !lines.Scan() {
		return interopResult{}, failed("result")
	}
	var res interopResult
	if err := json.Unmarshal(lines.Bytes(), &res); err != nil {
		t.Fatalf("openid-client result: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		return res, fmt.Errorf("openid-client: %v\nstderr:\n%s", err, stderr.String())
	}
	return res, nil
}

// customerApproves plays the customer for an authorization URL of the public listener: an
// HTTP client with a cookie jar logs in as the demo customer, enters otp, chooses an
// account (when not empty) and approves. It returns where the bank sent the browser back to.
func customerApproves(t *testing.T, a *app.App, authURL, username, password, otp, account string) string {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || u.Path != "/authorize" || u.Scheme != "https" {
		t.Fatalf("authorization URL %q", authURL)
	}
	publicBase := "https://" + a.PublicAddr().String()
	u.Host = a.PublicAddr().String() // the public listener, as "localhost" resolves
	b := browser(t, a.Sandbox.RootCertificate())
	resp, err := b.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("/authorize: %d %s", resp.StatusCode, body)
	}
	login := publicBase + resp.Header.Get("Location")
	next := submit(t, b, login, url.Values{"csrf": {page(t, b, login)}, "username": {username}, "password": {password}})
	next = submit(t, b, publicBase+next, url.Values{"csrf": {page(t, b, publicBase+next)}, "otp": {otp}})
	form := url.Values{"csrf": {page(t, b, publicBase+next)}, "action": {"approve"}}
	if account != "" {
		form.Set("account", account)
	}
	return submit(t, b, publicBase+next, form)
}

// checkInteropJourney checks what openid-client obtained (it has already validated every
// response itself): tokens for the demo customer bound to the TPP's certificate, the
// subject consistent across ID token and userinfo, rotation per profile, the gateway.
func checkInteropJourney(t *testing.T, a *app.App, tpp *interopTPP, customer string, res interopResult, gateway bool) {
	t.Helper()
	if !strings.EqualFold(res.TokenType, "bearer") {
		t.Errorf("token_type %q", res.TokenType)
	}
	idt := res.IDTokenClaims
	if idt["iss"] != "https://localhost:8443" || idt["aud"] != tpp.id || idt["acr"] != "urn:openbanking:psd2:sca" || idt["sub"] == customer {
		t.Errorf("ID token claims %v", idt)
	}
	if at, ok := idt["auth_time"].(float64); !ok || time.Since(time.Unix(int64(at), 0)) > 10*time.Minute {
		t.Errorf("ID token auth_time %v", idt["auth_time"])
	}
	if res.Mode == "fapi1-hybrid" {
		front := res.FrontIDTokenClaims
		if front["sub"] != idt["sub"] || front["c_hash"] == nil || front["s_hash"] == nil {
			t.Errorf("front-channel ID token %v", front)
		}
	}
	for name, raw := range map[string]string{"access token": res.AccessToken, "refreshed access token": res.RefreshedAccessToken} {
		at := jwtClaims(t, raw)
		if cnf, _ := at["cnf"].(map[string]any); cnf["x5t#S256"] != pki.Thumbprint(tpp.qwac.Certificate) {
			t.Errorf("%s cnf %v, want the TPP certificate's thumbprint", name, at["cnf"])
		}
		if at["sub"] != idt["sub"] || at["client_id"] != tpp.id || at["aut"] != "APPLICATION_USER" {
			t.Errorf("%s claims %v", name, at)
		}
		grant, err := a.Store.GetConsent(context.Background(), at["consent_id"].(string))
		if err != nil || grant.UserID != customer || grant.Status != "Authorised" || grant.ClientID != tpp.id {
			t.Errorf("%s grant %+v, %v", name, grant, err)
		}
	}
	// FAPI 2.0 does not rotate refresh tokens (FAPI2 §5.3.2.1); FAPI 1.0 clients get a new one.
	if want := strings.HasPrefix(res.Mode, "fapi1"); res.RefreshTokenRotated != want {
		t.Errorf("refresh token rotated %v, want %v", res.RefreshTokenRotated, want)
	}
	if res.Userinfo["sub"] != idt["sub"] || res.Userinfo["openbanking_intent_id"] == nil {
		t.Errorf("userinfo %v", res.Userinfo)
	}
	// The accounts route needs the consent service (issue 11); without it the gateway
	// refuses every customer token with 503 consent_validator_unavailable, after the
	// token, its certificate binding, scope and role were checked.
	switch r := res.Resource; {
	case !gateway:
	case r == nil:
		t.Error("the gateway route was not called")
	case r.Status == http.StatusOK:
		if !strings.Contains(r.Body, "22289") {
			t.Errorf("gateway %d %s: the chosen account is missing", r.Status, r.Body)
		}
	case r.Status == http.StatusServiceUnavailable && strings.Contains(r.Body, `"consent_validator_unavailable"`):
		t.Logf("gateway %s: 503 consent_validator_unavailable (no consent service in this build)", bank.PathAccounts)
	default:
		t.Errorf("gateway %s: %d %s", bank.PathAccounts, r.Status, r.Body)
	}
}
