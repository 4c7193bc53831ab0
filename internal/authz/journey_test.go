package authz_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/store"
)

// approval is the journey outcome the tests complete requests with.
func (as *testAS) approval() authz.Approval {
	return authz.Approval{CustomerID: "cust-1", AuthTime: as.f.now(), ACR: authz.ACRSCA,
		AMR: []string{"pwd", "otp"}, ConsentID: "consent-1"}
}

// pushAndBegin pushes params for client id (signed when ro is true) and starts the journey
// from the request_uri, as the authorization endpoint does.
func (as *testAS) pushAndBegin(t *testing.T, id string, params map[string]any, signed bool) *authz.Pending {
	t.Helper()
	c := as.f.clients[id]
	var ro map[string]any
	if signed {
		ro = as.requestObject(id, params)
	}
	resp := as.postForm(t, c.tlsCert(), authz.PathPAR, as.parForm(t, c, params, ro), nil)
	if resp.status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", resp.status, resp.body)
	}
	p, err := as.server.Begin(context.Background(), url.Values{
		"client_id": {id}, "request_uri": {resp.json(t)["request_uri"].(string)},
		// Parameters outside the pushed request are ignored (FAPI1-AS-11).
		"state": {"outside"},
	})
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return p
}

// responseParams splits a redirect URL into its query or fragment parameters.
func responseParams(t *testing.T, redirect string, fragment bool) url.Values {
	t.Helper()
	u, err := url.Parse(redirect)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(redirect, testRedirect) {
		t.Fatalf("redirect %q is not to the registered redirect_uri", redirect)
	}
	raw := u.RawQuery
	if fragment {
		if u.RawQuery != "" {
			t.Errorf("hybrid response in the query: %q", u.RawQuery)
		}
		raw = u.Fragment
	} else if u.Fragment != "" {
		t.Errorf("unexpected fragment %q", u.Fragment)
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// exchange posts an authorization_code token request for c.
func (as *testAS) exchange(t *testing.T, c *testClient, code, redirect, verifier string) *response {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	if c.method == client.AuthPrivateKeyJWT {
		form.Set("client_assertion_type", clientauth.AssertionType)
		form.Set("client_assertion", signJWT(t, "ES256", c.key, c.kid, as.assertion(c.id, as.issuer)))
	} else {
		form.Set("client_id", c.id)
	}
	return as.postForm(t, c.tlsCert(), authz.PathToken, form, nil)
}

func halfHash(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// verifyOwn verifies a JWT the server signed and returns its claims.
func (as *testAS) verifyOwn(t *testing.T, raw string) map[string]any {
	t.Helper()
	if _, err := as.keys.Verify(raw, jose.VerifyOptions{Types: []string{"", "JWT"}}); err != nil {
		t.Fatalf("verify %q: %v", raw, err)
	}
	return jwtPart(t, raw, 1)
}

func TestCodeFlowFAPI2(t *testing.T) {
	as := newTestAS(t)
	ctx := context.Background()
	params := as.journeyParams(clientJourney2)
	p := as.pushAndBegin(t, clientJourney2, params, false)
	if p.Request.State != params["state"] {
		t.Fatalf("state %q: parameters outside the pushed request were merged", p.Request.State)
	}
	redirect, err := as.server.Complete(ctx, p, as.approval())
	if err != nil {
		t.Fatal(err)
	}
	resp := responseParams(t, redirect, false)
	if resp.Get("iss") != as.issuer || resp.Get("state") != params["state"] || resp.Get("code") == "" {
		t.Fatalf("authorization response %v", resp)
	}
	if len(resp.Get("code")) < 43 {
		t.Errorf("code %q has less than 256 bits", resp.Get("code"))
	}
	// The request_uri is consumed: the same journey cannot complete twice.
	if again, err := as.server.Complete(ctx, p, as.approval()); !errors.Is(err, authz.ErrJourneyGone) {
		t.Fatalf("second completion: %q, %v; want ErrJourneyGone", again, err)
	}
	if _, err := as.server.Journey(ctx, p.RequestURIHash); !errors.Is(err, authz.ErrJourneyGone) {
		t.Fatalf("Journey after completion: %v", err)
	}

	c := as.f.clients[clientJourney2]
	tok := as.exchange(t, c, resp.Get("code"), testRedirect, testVerifier)
	if tok.status != http.StatusOK {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
	body := tok.json(t)
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if s, _ := body[k].(string); s == "" {
			t.Fatalf("no %s in %s", k, tok.body)
		}
	}
	if body["token_type"] != "Bearer" || body["scope"] != "openid accounts" {
		t.Errorf("token response %s", tok.body)
	}
	at := jwtPart(t, body["access_token"].(string), 1)
	if cnf, _ := at["cnf"].(map[string]any); cnf["x5t#S256"] != c.thumbprint() {
		t.Errorf("access token cnf %v, want the certificate thumbprint", at["cnf"])
	}
	if at["consent_id"] != "consent-1" {
		t.Errorf("access token consent_id %v", at["consent_id"])
	}
	idt := as.verifyOwn(t, body["id_token"].(string))
	sub := testSubjects.Public("cust-1")
	if at["sub"] != sub {
		t.Errorf("access token sub %v, want the ID token's subject", at["sub"])
	}
	if at["grant_id"] == nil {
		t.Error("access token without grant_id")
	}
	if idt["sub"] != sub || idt["aud"] != clientJourney2 || idt["nonce"] != params["nonce"] ||
		idt["acr"] != authz.ACRSCA || idt["at_hash"] != halfHash(body["access_token"].(string)) {
		t.Errorf("ID token claims %v", idt)
	}
	if strings.Contains(body["id_token"].(string), "cust-1") || strings.Contains(string(tok.body), "cust-1") {
		// the ID token is base64: check the decoded claims too
		t.Error("the customer id leaks into the token response")
	}
	for _, claims := range []map[string]any{idt, at} {
		for k, v := range claims {
			if v == "cust-1" {
				t.Errorf("the customer id is the %s claim", k)
			}
		}
	}

	// Replay: invalid_grant, and the refresh token issued from the code is revoked.
	replay := as.exchange(t, c, resp.Get("code"), testRedirect, testVerifier)
	if replay.status != http.StatusBadRequest || replay.json(t)["error"] != "invalid_grant" {
		t.Fatalf("replayed code: %d %s", replay.status, replay.body)
	}
	if _, err := as.store.GetRefreshToken(ctx, store.HashSecret(body["refresh_token"].(string))); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("refresh token after the code replay: %v, want ErrRevoked", err)
	}
	// …and so is the access token, on this node at once (deny-list) and in introspection.
	if _, err := as.verifier.Verify(ctx, body["access_token"].(string)); err == nil {
		t.Error("access token of a replayed code still verifies")
	}
}

func TestCodeFlowHybrid(t *testing.T) {
	as := newTestAS(t)
	ctx := context.Background()
	c := as.f.clients[clientHybrid]
	params := as.journeyParams(clientHybrid)
	ro := as.requestObject(clientHybrid, params)
	p, err := as.server.Begin(ctx, url.Values{"client_id": {clientHybrid}, "request": {signJWT(t, "ES256", c.key, c.kid, ro)},
		"nonce": {"outside"}})
	if err != nil {
		t.Fatal(err)
	}
	redirect, err := as.server.Complete(ctx, p, as.approval())
	if err != nil {
		t.Fatal(err)
	}
	resp := responseParams(t, redirect, true)
	code, idtRaw := resp.Get("code"), resp.Get("id_token")
	if code == "" || idtRaw == "" || resp.Get("iss") != as.issuer || resp.Get("state") != params["state"] {
		t.Fatalf("hybrid response %v", resp)
	}
	idt := as.verifyOwn(t, idtRaw)
	if idt["c_hash"] != halfHash(code) || idt["s_hash"] != halfHash(params["state"].(string)) || idt["nonce"] != params["nonce"] {
		t.Errorf("front-channel ID token %v", idt)
	}
	tok := as.exchange(t, c, code, testRedirect, testVerifier)
	if tok.status != http.StatusOK {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
	back := as.verifyOwn(t, tok.json(t)["id_token"].(string))
	if back["sub"] != idt["sub"] {
		t.Errorf("sub differs between the front and back channel: %v vs %v", idt["sub"], back["sub"])
	}
}

func TestCodeFlowHybridWithoutState(t *testing.T) {
	as := newTestAS(t)
	ctx := context.Background()
	c := as.f.clients[clientHybrid]
	params := as.journeyParams(clientHybrid)
	delete(params, "state")
	p, err := as.server.Begin(ctx, url.Values{"client_id": {clientHybrid}, "request": {signJWT(t, "ES256", c.key, c.kid, as.requestObject(clientHybrid, params))}})
	if err != nil {
		t.Fatal(err)
	}
	redirect, err := as.server.Complete(ctx, p, as.approval())
	if err != nil {
		t.Fatal(err)
	}
	resp := responseParams(t, redirect, true)
	if resp.Has("state") {
		t.Error("state returned though none was sent")
	}
	if _, ok := as.verifyOwn(t, resp.Get("id_token"))["s_hash"]; ok {
		t.Error("s_hash present though no state was sent")
	}
}

func TestCodeFlowJARM(t *testing.T) {
	as := newTestAS(t)
	ctx := context.Background()
	params := as.journeyParams(clientHybrid)
	params["response_type"], params["response_mode"] = "code", "jwt"
	p := as.pushAndBegin(t, clientHybrid, params, true)
	redirect, err := as.server.Complete(ctx, p, as.approval())
	if err != nil {
		t.Fatal(err)
	}
	resp := responseParams(t, redirect, false)
	if len(resp) != 1 || resp.Get("response") == "" {
		t.Fatalf("JARM response must be the response parameter alone: %v", resp)
	}
	j := as.verifyOwn(t, resp.Get("response"))
	if j["iss"] != as.issuer || j["aud"] != clientHybrid || j["state"] != params["state"] || j["code"] == nil {
		t.Fatalf("JARM claims %v", j)
	}
	if exp, _ := j["exp"].(float64); exp <= float64(as.f.now().Unix()) || exp > float64(as.f.now().Add(10*time.Minute).Unix()) {
		t.Errorf("JARM exp %v", j["exp"])
	}
	if tok := as.exchange(t, as.f.clients[clientHybrid], j["code"].(string), testRedirect, testVerifier); tok.status != http.StatusOK {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
}

func TestDenyAndUnmetACR(t *testing.T) {
	as := newTestAS(t)
	ctx := context.Background()
	params := as.journeyParams(clientJourney2)
	redirect, err := as.server.Deny(ctx, as.pushAndBegin(t, clientJourney2, params, false))
	if err != nil {
		t.Fatal(err)
	}
	resp := responseParams(t, redirect, false)
	if resp.Get("error") != "access_denied" || resp.Get("state") != params["state"] || resp.Get("iss") != as.issuer {
		t.Fatalf("deny: %v", resp)
	}

	params = as.journeyParams(clientHybrid)
	ro := as.requestObject(clientHybrid, params)
	ro["claims"] = map[string]any{"id_token": map[string]any{"acr": map[string]any{"essential": true, "value": authz.ACRSCA}}}
	c := as.f.clients[clientHybrid]
	p, err := as.server.Begin(ctx, url.Values{"client_id": {clientHybrid}, "request": {signJWT(t, "ES256", c.key, c.kid, ro)}})
	if err != nil {
		t.Fatal(err)
	}
	ap := as.approval()
	ap.ACR, ap.AMR = authz.ACRCA, []string{"pwd"}
	redirect, err = as.server.Complete(ctx, p, ap)
	if err != nil {
		t.Fatal(err)
	}
	if e := responseParams(t, redirect, true).Get("error"); e != "access_denied" {
		t.Fatalf("essential SCA not performed: error %q, want access_denied", e)
	}
}

// TestCodeGrantRefuses: each row asserts 400 invalid_grant (fapi.md §1).
func TestCodeGrantRefuses(t *testing.T) {
	as := newTestAS(t)
	ctx := context.Background()
	code := func() string {
		redirect, err := as.server.Complete(ctx, as.pushAndBegin(t, clientJourney2, as.journeyParams(clientJourney2), false), as.approval())
		if err != nil {
			t.Fatal(err)
		}
		return responseParams(t, redirect, false).Get("code")
	}
	own := as.f.clients[clientJourney2]
	rows := []struct {
		name     string
		client   *testClient
		code     string
		redirect string
		verifier string
		advance  time.Duration
	}{
		{name: "wrong verifier", client: own, redirect: testRedirect, verifier: strings.Repeat("a", 43)},
		{name: "missing verifier", client: own, redirect: testRedirect},
		{name: "malformed verifier", client: own, redirect: testRedirect, verifier: "short"},
		{name: "another client", client: as.f.clients[clientJourney2MS], redirect: testRedirect, verifier: testVerifier},
		{name: "redirect_uri mismatch", client: own, redirect: testRedirect + "/x", verifier: testVerifier},
		{name: "expired", client: own, redirect: testRedirect, verifier: testVerifier, advance: authz.DefaultCodeLifetime},
		{name: "unknown code", client: own, code: "not-a-code", redirect: testRedirect, verifier: testVerifier},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.code
			if c == "" {
				c = code()
			}
			as.f.fake.Advance(tc.advance)
			resp := as.exchange(t, tc.client, c, tc.redirect, tc.verifier)
			if resp.status != http.StatusBadRequest || resp.json(t)["error"] != "invalid_grant" {
				t.Fatalf("%d %s, want 400 invalid_grant", resp.status, resp.body)
			}
		})
	}
}

// TestBeginRefuses: refusals at the authorization endpoint before the client and its
// redirect_uri are trusted end on an error page (no redirect), with the fapi.md §1 code.
func TestBeginRefuses(t *testing.T) {
	as := newTestAS(t)
	ctx := context.Background()
	hybrid := as.f.clients[clientHybrid]
	pushed := func(id string) string {
		c := as.f.clients[id]
		resp := as.postForm(t, c.tlsCert(), authz.PathPAR, as.parForm(t, c, as.journeyParams(id), nil), nil)
		if resp.status != http.StatusCreated {
			t.Fatalf("PAR %d %s", resp.status, resp.body)
		}
		return resp.json(t)["request_uri"].(string)
	}
	used := pushed(clientJourney2)
	p, err := as.server.Begin(ctx, url.Values{"client_id": {clientJourney2}, "request_uri": {used}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := as.server.Complete(ctx, p, as.approval()); err != nil {
		t.Fatal(err)
	}
	badRedirect := as.journeyParams(clientHybrid)
	badRedirect["redirect_uri"] = "https://attacker.example/cb"
	rows := []struct {
		name   string
		params url.Values
		code   string
	}{
		{"no client_id", url.Values{"request_uri": {pushed(clientJourney2)}}, "invalid_request"},
		{"unknown client", url.Values{"client_id": {"nobody"}, "request_uri": {pushed(clientJourney2)}}, "invalid_request"},
		{"request_uri of another client", url.Values{"client_id": {clientJourney2MS}, "request_uri": {pushed(clientJourney2)}}, "invalid_request_uri"},
		{"request_uri unknown", url.Values{"client_id": {clientJourney2}, "request_uri": {authz.RequestURIPrefix + "nope"}}, "invalid_request_uri"},
		{"request_uri not ours", url.Values{"client_id": {clientJourney2}, "request_uri": {"https://tpp.example.com/ro.jwt"}}, "invalid_request_uri"},
		{"request_uri already used", url.Values{"client_id": {clientJourney2}, "request_uri": {used}}, "invalid_request_uri"},
		{"FAPI 2 without PAR", url.Values{"client_id": {clientJourney2}, "response_type": {"code"}, "redirect_uri": {testRedirect}}, "invalid_request"},
		{"FAPI 2 request by value", url.Values{"client_id": {clientJourney2}, "request": {signJWT(t, "ES256", as.f.clients[clientJourney2].key, as.f.clients[clientJourney2].kid, as.requestObject(clientJourney2, as.journeyParams(clientJourney2)))}}, "invalid_request"},
		{"FAPI 1 without a request object", url.Values{"client_id": {clientHybrid}, "response_type": {"code id_token"}, "redirect_uri": {testRedirect}}, "invalid_request"},
		{"request object with a bad signature", url.Values{"client_id": {clientHybrid}, "request": {signJWT(t, "ES256", as.f.clients[clientJourney2].key, hybrid.kid, as.requestObject(clientHybrid, as.journeyParams(clientHybrid)))}}, "invalid_request_object"},
		{"unregistered redirect_uri", url.Values{"client_id": {clientHybrid}, "request": {signJWT(t, "ES256", hybrid.key, hybrid.kid, as.requestObject(clientHybrid, badRedirect))}}, "invalid_request"},
		{"repeated parameter", url.Values{"client_id": {clientJourney2, clientJourney2}}, "invalid_request"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			_, err := as.server.Begin(ctx, tc.params)
			var ae *authz.AuthorizeError
			if !errors.As(err, &ae) {
				t.Fatalf("Begin: %v, want an AuthorizeError", err)
			}
			if ae.Redirect != "" {
				t.Fatalf("redirected to %s; want an error page", ae.Redirect)
			}
			if !strings.HasPrefix(ae.Err.Error(), tc.code+":") {
				t.Fatalf("error %v, want %s", ae.Err, tc.code)
			}
		})
	}
}

// TestBeginRedirectsVerifiedRequestErrors: a request object that verifies and names a
// registered redirect_uri but breaks a rule is answered at the client, with state and iss.
func TestBeginRedirectsVerifiedRequestErrors(t *testing.T) {
	as := newTestAS(t)
	hybrid := as.f.clients[clientHybrid]
	params := as.journeyParams(clientHybrid)
	delete(params, "nonce")
	_, err := as.server.Begin(context.Background(), url.Values{"client_id": {clientHybrid},
		"request": {signJWT(t, "ES256", hybrid.key, hybrid.kid, as.requestObject(clientHybrid, params))}})
	var ae *authz.AuthorizeError
	if !errors.As(err, &ae) || ae.Redirect == "" {
		t.Fatalf("Begin: %v, want a redirect", err)
	}
	resp := responseParams(t, ae.Redirect, true)
	if resp.Get("error") != "invalid_request" || resp.Get("state") != params["state"] || resp.Get("iss") != as.issuer {
		t.Fatalf("error response %v", resp)
	}
}

// TestBeginRedirectsImplicitErrorsInFragment: an unsupported response type that would return
// a token from the authorization endpoint (token, code token) is refused in the fragment, as
// RFC 6749 §4.2.2.1 puts every implicit error response, never in the query.
func TestBeginRedirectsImplicitErrorsInFragment(t *testing.T) {
	as := newTestAS(t)
	hybrid := as.f.clients[clientHybrid]
	for _, rt := range []string{"token", "code token", "id_token token"} {
		t.Run(rt, func(t *testing.T) {
			params := as.journeyParams(clientHybrid)
			params["response_type"] = rt
			_, err := as.server.Begin(context.Background(), url.Values{"client_id": {clientHybrid},
				"request": {signJWT(t, "ES256", hybrid.key, hybrid.kid, as.requestObject(clientHybrid, params))}})
			var ae *authz.AuthorizeError
			if !errors.As(err, &ae) || ae.Redirect == "" {
				t.Fatalf("Begin: %v, want a redirect", err)
			}
			if strings.Contains(ae.Redirect, "?") || !strings.Contains(ae.Redirect, "#") {
				t.Fatalf("error response not in the fragment: %s", ae.Redirect)
			}
			resp := responseParams(t, ae.Redirect, true)
			if resp.Get("error") != "unsupported_response_type" || resp.Get("state") != params["state"] || resp.Get("iss") != as.issuer {
				t.Fatalf("error response %v", resp)
			}
		})
	}
}
