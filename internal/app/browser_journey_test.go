package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/web"
	"github.com/portcullis/portcullis/internal/web/webtest"
)

// Acceptance "Real browser" of the customer journey (issue 10): Debian's chromium, driven
// through the DevTools protocol with JavaScript switched off in the tab, walks a full
// dev-mode Portcullis over HTTPS on loopback — the TPP's side (PAR, request objects, the code
// exchange) is played over mTLS by the Go test. A screenshot of every page is saved under
// test-output/screenshots/journey-*.png (gitignored).

// serverLeaf returns the certificate the server at addr presents.
func serverLeaf(t *testing.T, addr string, root *x509.Certificate) *x509.Certificate {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(root)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// tppCallback is the TPP's redirect_uri on loopback HTTPS (a self-signed certificate): it
// records the query of every request and answers a plain page.
type tppCallback struct {
	srv  *httptest.Server
	spki string
	mu   sync.Mutex
	hits []url.Values
}

func newTPPCallback(t *testing.T) *tppCallback {
	t.Helper()
	cert, spki := webtest.LoopbackCert(t)
	cb := &tppCallback{spki: spki}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		cb.mu.Lock()
		cb.hits = append(cb.hits, r.URL.Query())
		cb.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><html lang="en"><title>TPP</title><body><h1 id="tpp-done">Back at the TPP</h1></body></html>`)
	})
	cb.srv = httptest.NewUnstartedServer(mux)
	cb.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	cb.srv.StartTLS()
	t.Cleanup(cb.srv.Close)
	return cb
}

func (cb *tppCallback) url() string { return cb.srv.URL + "/cb" }

// journeyBrowser is one chromium tab against the dev server.
type journeyBrowser struct{ *webtest.Browser }

func newJourneyBrowser(t *testing.T, trusted ...string) *journeyBrowser {
	t.Helper()
	return &journeyBrowser{webtest.NewBrowser(t, 4*time.Minute, trusted...)}
}

// shot saves a full-page screenshot as test-output/screenshots/journey-<name>.png.
func (jb *journeyBrowser) shot(t *testing.T, name string) { jb.Shot(t, "journey-"+name) }

// wantSeeOthers asserts that every redirect the browser followed was a 303 (FAPI2-AS-27).
func (jb *journeyBrowser) wantSeeOthers(t *testing.T) {
	t.Helper()
	seen := jb.TakeRedirects()
	if len(seen) == 0 {
		t.Error("no redirect seen")
	}
	for _, r := range seen {
		if r.Status != http.StatusSeeOther {
			t.Errorf("redirect %s → %s: %d, want 303", r.From, r.To, r.Status)
		}
	}
}

// login fills the login form.
func (jb *journeyBrowser) login(t *testing.T, username, password string) {
	t.Helper()
	jb.Run(t, "log in", chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#submit")))
}

// otp fills the one-time code form.
func (jb *journeyBrowser) otp(t *testing.T, code string) {
	t.Helper()
	jb.Run(t, "one-time code", chromedp.WaitVisible(chromedp.CSS("#otp")),
		chromedp.SendKeys(chromedp.CSS("#otp"), code), chromedp.Click(chromedp.CSS("#submit")))
}

// tppSide is a TPP's certificate and its mTLS HTTP client.
type tppSide struct {
	qwac    *sandbox.Issued
	subject string
	http    *http.Client
}

// browserRig is the dev server, two TPPs (their certificates, one callback) and chromium.
type browserRig struct {
	a          *app.App
	tpp1, tpp2 tppSide // the FAPI 1.0 and the FAPI 2.0 client
	mtlsBase   string
	publicBase string
	cb         *tppCallback
	b          *journeyBrowser
	codes      *totpCodes
}

func newBrowserJourneyRig(t *testing.T) *browserRig {
	t.Helper()
	webtest.Chromium(t) // skip before starting anything
	a := startApp(t, nil)
	root := a.Sandbox.RootCertificate()
	side := func(org string) tppSide {
		qwac, subject := tppCert(t, a, org)
		return tppSide{qwac: qwac, subject: subject, http: mtlsClient(t, root, qwac)}
	}
	rig := &browserRig{
		a: a, tpp1: side("PSDGB-FCA-111111"), tpp2: side("PSDGB-FCA-222222"),
		mtlsBase: "https://" + a.HTTPSAddr().String(), publicBase: "https://" + a.PublicAddr().String(),
		cb: newTPPCallback(t), codes: demoTOTP(t, a),
	}
	rig.b = newJourneyBrowser(t, webtest.SPKIHash(serverLeaf(t, a.PublicAddr().String(), root)), rig.cb.spki)
	return rig
}

// exchange redeems code at the token endpoint over mTLS (tls_client_auth) and checks the
// tokens are the customer's, bound to the TPP's certificate and to an authorised grant.
func (rig *browserRig) exchange(t *testing.T, tpp tppSide, clientID, code, verifier, nonce string) map[string]any {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {code}, "redirect_uri": {rig.cb.url()}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	var tok map[string]any
	if status := postJSON(t, tpp.http, rig.mtlsBase+"/token", form, &tok); status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	at := jwtClaims(t, tok["access_token"].(string))
	if at["aut"] != "APPLICATION_USER" || at["acr"] != "urn:openbanking:psd2:sca" || at["client_id"] != clientID {
		t.Errorf("access token claims %v", at)
	}
	if cnf, _ := at["cnf"].(map[string]any); cnf["x5t#S256"] != pki.Thumbprint(tpp.qwac.Certificate) {
		t.Errorf("access token cnf %v, want the TPP certificate's thumbprint", at["cnf"])
	}
	grant, err := rig.a.Store.GetConsent(context.Background(), fmt.Sprint(at["consent_id"]))
	if err != nil || grant.UserID != "demo" || grant.Status != "Authorised" || grant.ClientID != clientID {
		t.Errorf("grant %+v, %v", grant, err)
	}
	idt := jwtClaims(t, tok["id_token"].(string))
	if idt["nonce"] != nonce || idt["sub"] != at["sub"] || idt["aud"] != clientID || idt["iss"] != "https://localhost:8443" ||
		idt["acr"] != "urn:openbanking:psd2:sca" || idt["sub"] == "demo" {
		t.Errorf("ID token claims %v", idt)
	}
	if tok["refresh_token"] == nil || tok["refresh_token"] == "" {
		t.Errorf("no refresh token: %v", tok)
	}
	return tok
}

// TestBrowserJourney is the real-browser acceptance of the customer journey (issue 10):
// chromium logs in, passes SCA with the demo customer's TOTP and approves — for a FAPI 2.0
// client (PAR + PKCE, tls_client_auth over mTLS) and for a FAPI 1.0 Advanced hybrid client
// (a signed request object by value, response_type code id_token, the response in the
// fragment); the code is exchanged over mTLS; the customer denies (access_denied with state
// and iss at the callback); a wrong password and a wrong one-time code are shown as errors;
// an unusable request shows the error page. Every redirect the browser follows is a 303 and
// the browser logs no CSP violation.
func TestBrowserJourney(t *testing.T) {
	rig := newBrowserJourneyRig(t)
	demo := rig.a.DemoCustomer
	register(t, rig.a, &client.Client{
		ID: "tpp-fapi2", Name: "Moneywise Budgeting", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: rig.tpp2.subject,
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scope: client.ScopeList{"openid", "accounts"},
		RedirectURIs: []string{rig.cb.url()}, Profile: client.ProfileFAPI2,
	})
	roKey := newSigningKey(t, "ro-1")
	register(t, rig.a, &client.Client{
		ID: "tpp-fapi1", Name: "Ledgerly Accounts", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: rig.tpp1.subject,
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scope: client.ScopeList{"openid", "accounts"},
		ResponseTypes: []string{client.ResponseTypeCodeIDToken}, JWKS: roKey.jwks(t),
		RedirectURIs: []string{rig.cb.url()}, Profile: client.ProfileFAPI1,
	})

	// pushFAPI2 pushes a FAPI 2.0 request and returns the authorization URL on the public
	// listener, the PKCE verifier and the state.
	pushFAPI2 := func(t *testing.T) (authURL, verifier, state, nonce string) {
		t.Helper()
		verifier, challenge := pkcePair(t)
		state, nonce = randomString(t), randomString(t)
		var par map[string]any
		if status := postJSON(t, rig.tpp2.http, rig.mtlsBase+"/par", url.Values{
			"client_id": {"tpp-fapi2"}, "response_type": {"code"}, "redirect_uri": {rig.cb.url()},
			"scope": {"openid accounts"}, "state": {state}, "nonce": {nonce},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"},
		}, &par); status != http.StatusCreated {
			t.Fatalf("PAR: %d %v", status, par)
		}
		return rig.publicBase + "/authorize?" + url.Values{"client_id": {"tpp-fapi2"}, "request_uri": {par["request_uri"].(string)}}.Encode(),
			verifier, state, nonce
	}

	t.Run("FAPI 2.0 approve", func(t *testing.T) {
		authURL, verifier, state, nonce := pushFAPI2(t)
		rig.b.Run(t, "open the authorization URL", chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS("#username")))
		if got := rig.b.Text(t, "#client-name"); got != "Moneywise Budgeting" {
			t.Errorf("login page names the TPP %q", got)
		}
		rig.b.shot(t, "login")
		rig.b.login(t, demo.ID, demo.Password)
		rig.b.Run(t, "otp page", chromedp.WaitVisible(chromedp.CSS("#otp")))
		rig.b.shot(t, "otp")
		rig.b.otp(t, rig.codes.next(t))
		rig.b.Run(t, "approval page", chromedp.WaitVisible(chromedp.CSS("#approve")))
		if got := rig.b.Text(t, "#client-name"); got != "Moneywise Budgeting" {
			t.Errorf("approval page names the TPP %q", got)
		}
		asks := rig.b.Text(t, ".scopes")
		for _, want := range []string{web.English["scope.openid"], web.English["scope.accounts"]} {
			if !strings.Contains(asks, want) {
				t.Errorf("approval page lists %q, want %q among it", asks, want)
			}
		}
		rig.b.shot(t, "approve")
		rig.b.Run(t, "choose an account and approve",
			chromedp.Click(chromedp.CSS(`input[name="account"][value="22289"]`)),
			chromedp.Click(chromedp.CSS("#approve")),
			chromedp.WaitVisible(chromedp.CSS("#tpp-done")))
		rig.b.wantSeeOthers(t)
		loc, err := url.Parse(rig.b.Location(t))
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		if !strings.HasPrefix(loc.String(), rig.cb.url()+"?") || q.Get("state") != state || q.Get("iss") != "https://localhost:8443" || q.Get("code") == "" {
			t.Fatalf("back at the TPP with %s", loc.Redacted())
		}
		tok := rig.exchange(t, rig.tpp2, "tpp-fapi2", q.Get("code"), verifier, nonce)
		grant, err := rig.a.Store.GetConsent(context.Background(), fmt.Sprint(jwtClaims(t, tok["access_token"].(string))["consent_id"]))
		if err != nil || !strings.Contains(string(grant.Data), "22289") {
			t.Errorf("the grant does not record the chosen account: %+v %v", grant, err)
		}
		rig.b.WantNoProblems(t)
	})

	t.Run("FAPI 1.0 hybrid approve", func(t *testing.T) {
		state, nonce := randomString(t), randomString(t)
		now := time.Now()
		ro := roKey.sign(t, "oauth-authz-req+jwt", map[string]any{
			"iss": "tpp-fapi1", "aud": "https://localhost:8443", "client_id": "tpp-fapi1",
			"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": randomString(t),
			"response_type": "code id_token", "redirect_uri": rig.cb.url(), "scope": "openid accounts",
			"state": state, "nonce": nonce,
			"claims": map[string]any{"id_token": map[string]any{"acr": map[string]any{"essential": true, "values": []string{"urn:openbanking:psd2:sca"}}}},
		})
		authURL := rig.publicBase + "/authorize?" + url.Values{
			"client_id": {"tpp-fapi1"}, "response_type": {"code id_token"}, "scope": {"openid"}, "request": {ro},
		}.Encode()
		rig.b.Run(t, "open the authorization URL", chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS("#username")))
		rig.b.login(t, demo.ID, demo.Password)
		rig.b.otp(t, rig.codes.next(t))
		rig.b.Run(t, "approval page", chromedp.WaitVisible(chromedp.CSS("#approve")))
		if got := rig.b.Text(t, "#client-name"); got != "Ledgerly Accounts" {
			t.Errorf("approval page names the TPP %q", got)
		}
		rig.b.shot(t, "approve-hybrid")
		rig.b.Run(t, "choose an account and approve",
			chromedp.Click(chromedp.CSS(`input[name="account"][value="31820"]`)),
			chromedp.Click(chromedp.CSS("#approve")),
			chromedp.WaitVisible(chromedp.CSS("#tpp-done")))
		rig.b.wantSeeOthers(t)
		loc, err := url.Parse(rig.b.Location(t))
		if err != nil {
			t.Fatal(err)
		}
		// The hybrid response is in the fragment, which never reaches the TPP's server: the
		// TPP reads it from the browser's URL.
		if loc.RawQuery != "" || !strings.HasPrefix(loc.String(), rig.cb.url()+"#") {
			t.Fatalf("back at the TPP with %s, want the response in the fragment", loc.Redacted())
		}
		frag, err := url.ParseQuery(loc.Fragment)
		if err != nil {
			t.Fatal(err)
		}
		code, idt := frag.Get("code"), frag.Get("id_token")
		if code == "" || idt == "" || frag.Get("state") != state || frag.Get("iss") != "https://localhost:8443" {
			t.Fatalf("hybrid response %v", frag)
		}
		front := jwtClaims(t, idt)
		if front["c_hash"] != halfHash(code) || front["s_hash"] != halfHash(state) || front["nonce"] != nonce ||
			front["aud"] != "tpp-fapi1" || front["iss"] != "https://localhost:8443" || front["acr"] != "urn:openbanking:psd2:sca" {
			t.Errorf("front-channel ID token claims %v (c_hash of the code %s, s_hash %s)", front, halfHash(code), halfHash(state))
		}
		tok := rig.exchange(t, rig.tpp1, "tpp-fapi1", code, "", nonce)
		if back := jwtClaims(t, tok["id_token"].(string)); back["sub"] != front["sub"] {
			t.Errorf("ID tokens disagree on sub: front %v, back %v", front["sub"], back["sub"])
		}
		rig.b.WantNoProblems(t)
	})

	t.Run("deny", func(t *testing.T) {
		// A customer of its own: the demo customer's TOTP steps are used up above.
		password, codes := newCustomer(t, rig.a, "second-customer")
		authURL, _, state, _ := pushFAPI2(t)
		rig.b.Run(t, "open the authorization URL", chromedp.Navigate(authURL))
		rig.b.login(t, "second-customer", password)
		rig.b.otp(t, codes.next(t))
		rig.b.Run(t, "deny", chromedp.WaitVisible(chromedp.CSS("#deny")), chromedp.Click(chromedp.CSS("#deny")),
			chromedp.WaitVisible(chromedp.CSS("#tpp-done")))
		rig.b.wantSeeOthers(t)
		loc, err := url.Parse(rig.b.Location(t))
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		if !strings.HasPrefix(loc.String(), rig.cb.url()+"?") || q.Get("error") != "access_denied" || q.Get("state") != state ||
			q.Get("iss") != "https://localhost:8443" || q.Has("code") {
			t.Errorf("back at the TPP with %s, want access_denied with state and iss", loc)
		}
		rig.b.WantNoProblems(t)
	})

	t.Run("wrong password", func(t *testing.T) {
		authURL, _, _, _ := pushFAPI2(t)
		rig.b.Run(t, "open the authorization URL", chromedp.Navigate(authURL))
		rig.b.login(t, demo.ID, "not-the-password")
		rig.b.Run(t, "error shown", chromedp.WaitVisible(chromedp.CSS("#alert")))
		if got := rig.b.Text(t, "#alert"); got != web.English["login.wrong"] {
			t.Errorf("alert %q, want %q", got, web.English["login.wrong"])
		}
		if loc := rig.b.Location(t); loc != rig.publicBase+web.LoginPath {
			t.Errorf("after a wrong password the browser is at %s", loc)
		}
		rig.b.shot(t, "wrong-password")
		rig.b.WantNoProblems(t)
	})

	t.Run("wrong one-time code", func(t *testing.T) {
		authURL, _, _, _ := pushFAPI2(t)
		rig.b.Run(t, "open the authorization URL", chromedp.Navigate(authURL))
		rig.b.login(t, demo.ID, demo.Password)
		rig.b.otp(t, wrongCode(t, rig.codes))
		rig.b.Run(t, "error shown", chromedp.WaitVisible(chromedp.CSS("#alert")))
		if got := rig.b.Text(t, "#alert"); got != web.English["otp.wrong"] {
			t.Errorf("alert %q, want %q", got, web.English["otp.wrong"])
		}
		if loc := rig.b.Location(t); !strings.HasPrefix(loc, rig.publicBase+web.OTPPath) {
			t.Errorf("after a wrong code the browser is at %s", loc)
		}
		rig.b.shot(t, "wrong-otp")
		rig.b.WantNoProblems(t)
	})

	t.Run("error page", func(t *testing.T) {
		// A request_uri that was never issued: the customer sees the error page, the
		// browser is not sent anywhere.
		rig.b.Run(t, "open a bad authorization URL",
			chromedp.Navigate(rig.publicBase+"/authorize?"+url.Values{"client_id": {"tpp-fapi2"}, "request_uri": {"urn:ietf:params:oauth:request_uri:nope"}}.Encode()),
			chromedp.WaitVisible(chromedp.CSS("#alert")))
		if loc := rig.b.Location(t); !strings.HasPrefix(loc, rig.publicBase+"/authorize") {
			t.Errorf("the error page redirected to %s", loc)
		}
		if got := rig.b.Text(t, "#alert"); got != web.English["error.expired"] {
			t.Errorf("alert %q, want %q", got, web.English["error.expired"])
		}
		if detail := rig.b.Text(t, ".detail"); !strings.Contains(detail, "invalid_request_uri") {
			t.Errorf("error detail %q, want invalid_request_uri", detail)
		}
		rig.b.shot(t, "error")
		rig.b.WantNoProblems(t)
	})
	rig.cb.mu.Lock()
	defer rig.cb.mu.Unlock()
	if n := len(rig.cb.hits); n != 3 {
		t.Errorf("the TPP's callback was reached %d times, want 3 (two approvals, one denial)", n)
	}
}

// wrongCode is a six-digit code that is none of the demo customer's accepted codes now.
func wrongCode(t *testing.T, c *totpCodes) string {
	t.Helper()
	now := time.Now()
	valid := map[string]bool{}
	for _, d := range []time.Duration{-60 * time.Second, -30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		code, err := c.code(now.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		valid[code] = true
	}
	for _, cand := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !valid[cand] {
			return cand
		}
	}
	t.Fatal("no wrong code found")
	return ""
}
