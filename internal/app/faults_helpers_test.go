package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
)

// upstream is a bank API behind the gateway that counts the requests it receives, so a
// fault test can assert that nothing was forwarded while the fault lasted.
type upstream struct {
	srv   *httptest.Server
	calls atomic.Int64
}

// upstreamBody is what the upstream answers, so that a forwarded call is recognisable.
const upstreamBody = `{"Data":{"Upstream":"faults"}}`

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(upstreamBody))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// Gateway routes to the upstream, for the fault tests.
const (
	// pathAppResource takes an application token with scope accounts (role AISP), no
	// consent.
	pathAppResource = "/open-banking/v3.1/aisp/faults-app/r1"
	// pathConsentResource takes a customer token with scope accounts bound to an
	// account-access consent, checked by the consent webhook.
	pathConsentResource = "/open-banking/v3.1/aisp/faults-consent/r1"
)

// routes are the gateway routes of the fault tests, to u.
func (u *upstream) routes() []config.GatewayRoute {
	return []config.GatewayRoute{
		{Name: "faults-app", Method: http.MethodGet, Path: "/open-banking/v3.1/aisp/faults-app/{Id}",
			Scopes: []string{"accounts"}, TokenUse: "application", Roles: []string{"AISP"}, Upstream: u.srv.URL},
		{Name: "faults-consent", Method: http.MethodGet, Path: "/open-banking/v3.1/aisp/faults-consent/{Id}",
			Scopes: []string{"accounts"}, TokenUse: "user", Roles: []string{"AISP"}, Consent: "account-access",
			ConsentValidator: config.ConsentWebhookValidator, Upstream: u.srv.URL},
	}
}

// eventually polls cond every 50 ms until it holds or within passes; it reports whether
// it held.
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// faultJourney drives one customer journey through the pages step by step, so that a
// fault can be injected between two steps (or the steps spread over two nodes).
type faultJourney struct {
	t        *testing.T
	tpp      *http.Client // the TPP, over mTLS
	browser  *http.Client // the customer's browser: a cookie jar, redirects not followed
	clientID string
	verifier string
	next     string // the absolute URL of the next page
}

// registerJourneyClient registers a tls_client_auth FAPI 2 client for cert's subject,
// with the code grant and journeyRedirect.
func registerJourneyClient(t *testing.T, a *app.App, id, subject string) {
	t.Helper()
	register(t, a, &client.Client{
		ID: id, Name: id, TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes:   []string{"authorization_code", "client_credentials"},
		Scope:        client.ScopeList{"openid", "accounts"},
		RedirectURIs: []string{journeyRedirect}, Profile: client.ProfileFAPI2,
	})
}

// beginJourney pushes an authorization request (scope openid: no account to choose) at
// mtlsBase and opens it in the browser at publicBase; next is the login page.
func beginJourney(t *testing.T, tpp, browser *http.Client, mtlsBase, publicBase, clientID string) *faultJourney {
	t.Helper()
	verifier, challenge := pkcePair(t)
	j := &faultJourney{t: t, tpp: tpp, browser: browser, clientID: clientID, verifier: verifier}
	var par map[string]any
	if code := postJSON(t, tpp, mtlsBase+"/par", url.Values{
		"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {journeyRedirect},
		"scope": {"openid"}, "state": {randomString(t)}, "nonce": {randomString(t)},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}, &par); code != http.StatusCreated {
		t.Fatalf("PAR: %d %v", code, par)
	}
	resp, err := browser.Get(publicBase + "/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {par["request_uri"].(string)}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("/authorize: %d", resp.StatusCode)
	}
	j.next = publicBase + resp.Header.Get("Location")
	return j
}

// moveTo makes the journey continue on another public listener (another node).
func (j *faultJourney) moveTo(publicBase string) {
	u, err := url.Parse(j.next)
	if err != nil {
		j.t.Fatal(err)
	}
	j.next = publicBase + u.RequestURI()
}

func (j *faultJourney) base() string {
	u, err := url.Parse(j.next)
	if err != nil {
		j.t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host
}

// step fills the form of the next page and submits it; the 303 leads on.
func (j *faultJourney) step(form url.Values) {
	j.t.Helper()
	form.Set("csrf", page(j.t, j.browser, j.next))
	to := submit(j.t, j.browser, j.next, form)
	j.next = j.base() + to
}

func (j *faultJourney) login(user, password string) {
	j.t.Helper()
	j.step(url.Values{"username": {user}, "password": {password}})
}

func (j *faultJourney) otp(code string) {
	j.t.Helper()
	j.step(url.Values{"otp": {code}})
}

// approvalForm is the approval page's form, CSRF token included.
func (j *faultJourney) approvalForm() url.Values {
	j.t.Helper()
	return url.Values{"csrf": {page(j.t, j.browser, j.next)}, "action": {"approve"}}
}

// postApproval submits the approval form and returns the status and Location.
func (j *faultJourney) postApproval(form url.Values) (int, string, string) {
	j.t.Helper()
	resp, err := j.browser.PostForm(j.next, form)
	if err != nil {
		j.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// codeFrom is the authorization code of an authorization response to journeyRedirect.
func codeFrom(t *testing.T, location string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, journeyRedirect+"?") || u.Query().Get("code") == "" {
		t.Fatalf("not an authorization response with a code: %q", location)
	}
	return u.Query().Get("code")
}

// approve approves and returns the authorization code.
func (j *faultJourney) approve() string {
	j.t.Helper()
	status, loc, body := j.postApproval(j.approvalForm())
	if status != http.StatusSeeOther {
		j.t.Fatalf("approve: %d %s", status, body)
	}
	return codeFrom(j.t, loc)
}

// exchangeCode redeems code at mtlsBase/token.
func exchangeCode(t *testing.T, tpp *http.Client, mtlsBase, clientID, code, verifier string) tokenResponse {
	t.Helper()
	resp, err := tpp.PostForm(mtlsBase+"/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {code},
		"redirect_uri": {journeyRedirect}, "code_verifier": {verifier},
	})
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
