package authz_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"testing"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/store"
)

// tokensFor runs a journey for client id to the token response.
func (as *testAS) tokensFor(t *testing.T, id string) map[string]any {
	t.Helper()
	ctx := context.Background()
	params := as.journeyParams(id)
	var p *authz.Pending
	if id == clientHybrid {
		params["response_type"], params["response_mode"] = "code", "jwt"
		p = as.pushAndBegin(t, id, params, true)
	} else {
		p = as.pushAndBegin(t, id, params, false)
	}
	redirect, err := as.server.Complete(ctx, p, as.approval())
	if err != nil {
		t.Fatal(err)
	}
	resp := responseParams(t, redirect, false)
	code := resp.Get("code")
	if r := resp.Get("response"); r != "" {
		code = jwtPart(t, r, 1)["code"].(string)
	}
	tok := as.exchange(t, as.f.clients[id], code, testRedirect, testVerifier)
	if tok.status != http.StatusOK {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
	return tok.json(t)
}

// refresh posts a refresh_token grant for c, presenting certs.
func (as *testAS) refresh(t *testing.T, c *testClient, certs []tls.Certificate, rt string, extra url.Values) *response {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, v := range extra {
		form[k] = v
	}
	if c.method == client.AuthPrivateKeyJWT {
		form.Set("client_assertion_type", clientauth.AssertionType)
		form.Set("client_assertion", signJWT(t, "ES256", c.key, c.kid, as.assertion(c.id, as.issuer)))
	} else {
		form.Set("client_id", c.id)
	}
	return as.postForm(t, certs, authz.PathToken, form, nil)
}

func TestRefreshFAPI2DoesNotRotate(t *testing.T) {
	as := newTestAS(t)
	c := as.f.clients[clientJourney2]
	rt := as.tokensFor(t, clientJourney2)["refresh_token"].(string)
	for i := 0; i < 2; i++ {
		resp := as.refresh(t, c, c.tlsCert(), rt, nil)
		if resp.status != http.StatusOK {
			t.Fatalf("refresh %d: %d %s", i, resp.status, resp.body)
		}
		body := resp.json(t)
		if _, ok := body["refresh_token"]; ok {
			t.Fatalf("FAPI 2.0 refresh rotated the refresh token: %s", resp.body)
		}
		at := jwtPart(t, body["access_token"].(string), 1)
		if at["consent_id"] != "consent-1" || at["grant_id"] == nil || at["sub"] != testSubjects.Public("cust-1") {
			t.Errorf("refreshed access token claims %v", at)
		}
	}
	if resp := as.refresh(t, c, c.tlsCert(), rt, url.Values{"scope": {"accounts"}}); resp.status != http.StatusOK || resp.json(t)["scope"] != "accounts" {
		t.Errorf("narrowed scope: %d %s", resp.status, resp.body)
	}
}

func TestRefreshFAPI1RotatesAndDetectsReuse(t *testing.T) {
	as := newTestAS(t)
	ctx := context.Background()
	c := as.f.clients[clientHybrid]
	first := as.tokensFor(t, clientHybrid)["refresh_token"].(string)
	resp := as.refresh(t, c, c.tlsCert(), first, nil)
	if resp.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", resp.status, resp.body)
	}
	second, _ := resp.json(t)["refresh_token"].(string)
	if second == "" || second == first {
		t.Fatalf("no rotation: %s", resp.body)
	}
	at := resp.json(t)["access_token"].(string)
	// The first token again: invalid_grant, and the whole family dies.
	if r := as.refresh(t, c, c.tlsCert(), first, nil); r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %s", r.status, r.body)
	}
	if r := as.refresh(t, c, c.tlsCert(), second, nil); r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("successor after reuse: %d %s", r.status, r.body)
	}
	if _, err := as.verifier.Verify(ctx, at); err == nil {
		t.Error("the access token of a reused family still verifies")
	}
}

func TestRefreshRefuses(t *testing.T) {
	as := newTestAS(t)
	ctx := context.Background()
	own := as.f.clients[clientJourney2]
	rows := []struct {
		name   string
		client *testClient
		certs  func() []tls.Certificate
		extra  url.Values
		before func(rt string)
		status int
		code   string
	}{
		{name: "another client", client: as.f.clients[clientJourney2MS], status: 400, code: "invalid_grant"},
		{name: "another certificate", client: own, certs: func() []tls.Certificate { return []tls.Certificate{as.f.stranger.TLS} }, status: 400, code: "invalid_grant"},
		{name: "wider scope", client: own, extra: url.Values{"scope": {"openid accounts payments"}}, status: 400, code: "invalid_scope"},
		{name: "unknown token", client: own, before: func(string) {}, extra: url.Values{"refresh_token": {"nope"}}, status: 400, code: "invalid_grant"},
		{name: "consent revoked", client: own, before: func(string) {
			if _, _, err := as.store.RevokeConsent(ctx, "consent-1", []string{"Authorised"}, "Revoked"); err != nil {
				t.Fatal(err)
			}
		}, status: 400, code: "invalid_grant"},
	}
	if err := as.store.CreateConsent(ctx, store.Consent{ID: "consent-1", Kind: "generic", ClientID: clientJourney2, Status: "Authorised", UserID: "cust-1"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			rt := as.tokensFor(t, clientJourney2)["refresh_token"].(string)
			if tc.before != nil {
				tc.before(rt)
			}
			certs := tc.client.tlsCert()
			if tc.certs != nil {
				certs = tc.certs()
			}
			resp := as.refresh(t, tc.client, certs, rt, tc.extra)
			if resp.status != tc.status || resp.json(t)["error"] != tc.code {
				t.Fatalf("%d %s, want %d %s", resp.status, resp.body, tc.status, tc.code)
			}
		})
	}
}
