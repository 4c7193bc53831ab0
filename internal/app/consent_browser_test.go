package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/web"
	"github.com/portcullis/portcullis/internal/web/webtest"
)

// pathBeneficiaries is an account-information route whose permission
// (ReadBeneficiaries*) the test's consent does not grant. The sandbox bank serves no
// beneficiaries, so the test adds the route to the dev route table: a 403 from the
// gateway's consent stage is the answer, never the bank's 404.
const pathBeneficiaries = bank.BasePath + "/aisp/accounts/{AccountId}/beneficiaries"

// TestBrowserConsentDashboard is issue 11's first acceptance bullet, account part, in a
// real browser (chromium, JavaScript off) against the full dev server on loopback TLS: a
// TPP creates an account-access consent over mTLS with a client_credentials token,
// pushes a signed request object naming it (openbanking_intent_id, PAR), the customer
// logs in, passes SCA and approves two of three accounts; the code is exchanged; through
// the gateway the accounts, balances and transactions of the chosen accounts are served,
// the third account and a permission not granted are refused with 403. Then the customer
// opens the consent dashboard directly (a new session: log in and SCA again), finds the
// consent under the TPP's name in plain words, revokes it after the confirmation step,
// and the TPP's next gateway call is refused within the deny-list bound while its refresh
// token is refused at once. Screenshots: test-output/screenshots/dashboard-*.png.
func TestBrowserConsentDashboard(t *testing.T) {
	webtest.Chromium(t) // skip before starting anything
	bankSrv := httptest.NewServer(bank.New(clock.Real{}))
	t.Cleanup(bankSrv.Close)
	a := startApp(t, func(c *config.Config) {
		c.Gateway.Routes = append(bank.Routes(bankSrv.URL), config.GatewayRoute{
			Name: "aisp-account-beneficiaries", Method: http.MethodGet, Path: pathBeneficiaries,
			Scopes: []string{"accounts"}, TokenUse: "user", Roles: []string{"PSP_AI"},
			Consent: consent.KindAccountAccess, Upstream: bankSrv.URL,
		})
	})
	root := a.Sandbox.RootCertificate()
	qwac, subject := tppCert(t, a, "PSDGB-FCA-777777")
	tpp := tppSide{qwac: qwac, subject: subject, http: mtlsClient(t, root, qwac)}
	cb := newTPPCallback(t)
	b := newJourneyBrowser(t, webtest.SPKIHash(serverLeaf(t, a.PublicAddr().String(), root)), cb.spki)
	rig := &browserRig{a: a, tpp2: tpp, mtlsBase: "https://" + a.HTTPSAddr().String(),
		publicBase: "https://" + a.PublicAddr().String(), cb: cb, b: b, codes: demoTOTP(t, a)}
	demo := a.DemoCustomer
	const clientID, clientName = "tpp-dash", "Moneywise Budgeting"
	roKey := newSigningKey(t, "ro-dash")
	register(t, a, &client.Client{
		ID: clientID, Name: clientName, TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"},
		Scope:      client.ScopeList{"openid", "accounts"}, JWKS: roKey.jwks(t), RequestObjectSigningAlg: "ES256",
		RedirectURIs: []string{cb.url()}, Profile: client.ProfileFAPI2,
	})

	// call is one request of the TPP over mTLS with a bearer token.
	call := func(t *testing.T, method, path, tok, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, rig.mtlsBase+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := tpp.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, m
	}

	// 1. The account-access consent, created with a client_credentials token.
	var cc map[string]any
	if status := postJSON(t, tpp.http, rig.mtlsBase+"/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {"accounts"},
	}, &cc); status != http.StatusOK {
		t.Fatalf("client_credentials token: %d %v", status, cc)
	}
	status, created := call(t, http.MethodPost, consent.PathAccountAccessConsents, cc["access_token"].(string),
		`{"Data":{"Permissions":["ReadAccountsBasic","ReadAccountsDetail","ReadBalances","ReadTransactionsBasic","ReadTransactionsCredits","ReadTransactionsDebits"],`+
			`"ExpirationDateTime":"`+time.Now().Add(90*24*time.Hour).UTC().Format(time.RFC3339)+`"},"Risk":{}}`)
	if status != http.StatusCreated {
		t.Fatalf("create consent: %d %v", status, created)
	}
	consentID, _ := created["Data"].(map[string]any)["ConsentId"].(string)
	if consentID == "" {
		t.Fatalf("no ConsentId: %v", created)
	}

	// 2. PAR with a signed request object naming the consent.
	verifier, challenge := pkcePair(t)
	state, nonce := randomString(t), randomString(t)
	now := time.Now()
	ro := roKey.sign(t, "oauth-authz-req+jwt", map[string]any{
		"iss": clientID, "aud": "https://localhost:8443", "client_id": clientID,
		"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": randomString(t),
		"response_type": "code", "redirect_uri": cb.url(), "scope": "openid accounts",
		"state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
		"claims": map[string]any{"id_token": map[string]any{
			"openbanking_intent_id": map[string]any{"value": consentID, "essential": true},
			"acr":                   map[string]any{"essential": true, "values": []string{"urn:openbanking:psd2:sca"}},
		}},
	})
	var par map[string]any
	if status := postJSON(t, tpp.http, rig.mtlsBase+"/par", url.Values{"client_id": {clientID}, "request": {ro}}, &par); status != http.StatusCreated {
		t.Fatalf("PAR: %d %v", status, par)
	}
	authURL := rig.publicBase + "/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {par["request_uri"].(string)}}.Encode()

	// 3. The customer approves two of the three accounts.
	b.Run(t, "open the authorization URL", chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS("#username")))
	b.login(t, demo.ID, demo.Password)
	b.otp(t, rig.codes.next(t))
	b.Run(t, "approval page", chromedp.WaitVisible(chromedp.CSS("#approve")))
	if got := b.Text(t, "#consent-title"); got != "Access to your account information" {
		t.Errorf("approval page shows the consent as %q", got)
	}
	b.Run(t, "choose two accounts and approve",
		chromedp.Click(chromedp.CSS(`input[name="account"][value="22289"]`)),
		chromedp.Click(chromedp.CSS(`input[name="account"][value="31820"]`)),
		chromedp.Click(chromedp.CSS("#approve")),
		chromedp.WaitVisible(chromedp.CSS("#tpp-done")))
	b.wantSeeOthers(t)
	loc, err := url.Parse(b.Location(t))
	if err != nil {
		t.Fatal(err)
	}
	if q := loc.Query(); q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("back at the TPP with %s", loc.Redacted())
	}
	tok := rig.exchange(t, tpp, clientID, loc.Query().Get("code"), verifier, nonce)
	at := tok["access_token"].(string)
	if got := jwtClaims(t, at)["consent_id"]; got != consentID {
		t.Fatalf("access token bound to consent %v, want %s", got, consentID)
	}
	if got := jwtClaims(t, tok["id_token"].(string))["openbanking_intent_id"]; got != consentID {
		t.Errorf("ID token openbanking_intent_id %v, want %s", got, consentID)
	}

	// 4. Through the gateway: the chosen accounts yes, the third and a permission not
	// granted no.
	account := func(id, sub string) string {
		return strings.Replace(bank.PathAccount, "{AccountId}", id, 1) + sub
	}
	for _, id := range []string{"22289", "31820"} {
		for _, sub := range []string{"", "/balances", "/transactions"} {
			if status, body := call(t, http.MethodGet, account(id, sub), at, ""); status != http.StatusOK || body["Data"] == nil {
				t.Errorf("GET %s: %d %v, want 200 with Data", account(id, sub), status, body)
			}
		}
	}
	wantRefused := func(t *testing.T, path string) {
		t.Helper()
		status, body := call(t, http.MethodGet, path, at, "")
		errs, _ := body["Errors"].([]any)
		if status != http.StatusForbidden || len(errs) != 1 || body["Code"] == nil {
			t.Errorf("GET %s: %d %v, want 403 with an OBIE error", path, status, body)
			return
		}
		if code := errs[0].(map[string]any)["ErrorCode"]; code != "UK.OBIE.Resource.ConsentMismatch" {
			t.Errorf("GET %s: ErrorCode %v, want UK.OBIE.Resource.ConsentMismatch", path, code)
		}
	}
	for _, sub := range []string{"", "/balances", "/transactions"} {
		wantRefused(t, account("57013", sub))
	}
	wantRefused(t, account("22289", "/beneficiaries"))

	// 5. The dashboard, opened directly: its own login and SCA.
	b.Run(t, "open the dashboard", chromedp.Navigate(rig.publicBase+web.ConsentsPath), chromedp.WaitVisible(chromedp.CSS("#username")))
	if loc := b.Location(t); loc != rig.publicBase+web.LoginPath {
		t.Errorf("the dashboard sent a new browser to %s, want the login page", loc)
	}
	if got := b.Text(t, "h1"); got != web.English["dash.login_title"] {
		t.Errorf("dashboard login page title %q", got)
	}
	b.Shot(t, "dashboard-login")
	b.login(t, demo.ID, demo.Password)
	b.Run(t, "otp page", chromedp.WaitVisible(chromedp.CSS("#otp")))
	b.Shot(t, "dashboard-otp")
	b.otp(t, rig.codes.next(t))
	card := `article[id="consent-` + consentID + `"]`
	b.Run(t, "the dashboard lists the consent", chromedp.WaitVisible(chromedp.CSS(card)))
	b.wantSeeOthers(t)
	if loc := b.Location(t); loc != rig.publicBase+web.ConsentsPath {
		t.Errorf("after SCA the browser is at %s, want the dashboard", loc)
	}
	if got := b.Text(t, ".tpp-group .tpp-name"); got != clientName {
		t.Errorf("the consent is listed under %q, want %q", got, clientName)
	}
	text := b.Text(t, card)
	for _, want := range []string{"Access to your account information", "Your account balances", "Bills", "Rainy day",
		web.English["status.Authorised"], time.Now().UTC().Format("2 January 2006")} {
		if !strings.Contains(text, want) {
			t.Errorf("the consent's card lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Holidays") {
		t.Errorf("the consent's card names the account not chosen:\n%s", text)
	}
	b.Shot(t, "dashboard-list")

	// 6. Revoke, with the confirmation step.
	b.Run(t, "revoke", chromedp.Click(chromedp.CSS(card+" .revoke")), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if got := b.Text(t, "h1"); !strings.Contains(got, clientName) {
		t.Errorf("confirmation page title %q does not name the TPP", got)
	}
	if status, _ := call(t, http.MethodGet, account("22289", ""), at, ""); status != http.StatusOK {
		t.Errorf("before the confirmation the consent still works: got %d", status)
	}
	b.Shot(t, "dashboard-confirm")
	b.Run(t, "confirm", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#notice")))
	b.wantSeeOthers(t)
	if got := b.Text(t, card+" .status"); got != web.English["status.Revoked"] {
		t.Errorf("after revocation the consent's status reads %q", got)
	}
	if strings.Contains(b.Text(t, card), web.English["dash.revoke"]) {
		t.Errorf("a revoked consent still has a revoke button")
	}
	b.Shot(t, "dashboard-revoked")
	b.WantNoProblems(t)

	// 7. The refresh token is refused at once; the access token within the bound.
	var rt map[string]any
	if status := postJSON(t, tpp.http, rig.mtlsBase+"/token", url.Values{
		"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {tok["refresh_token"].(string)},
	}, &rt); status != http.StatusBadRequest || rt["error"] != "invalid_grant" {
		t.Errorf("refresh after revocation: %d %v, want 400 invalid_grant", status, rt)
	}
	deadline := time.Now().Add(10 * time.Second)
	var last int
	for i := 0; i < 100; i++ {
		if last, _ = call(t, http.MethodGet, account("22289", "/balances"), at, ""); last != http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !slices.Contains([]int{http.StatusUnauthorized, http.StatusForbidden}, last) {
		t.Errorf("the TPP's call after the revocation: %d, want refused within 10 s", last)
	}
}
