package authz_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/token"
)

// accessToken obtains a client_credentials token for c.
func (as *testAS) accessToken(t *testing.T, c *testClient) string {
	t.Helper()
	r := as.postForm(t, c.tlsCert(), authz.PathToken, as.clientCredentials(t, c, nil), nil)
	if r.status != http.StatusOK {
		t.Fatalf("token for %s: %d %s", c.id, r.status, r.body)
	}
	return r.json(t)["access_token"].(string)
}

// call posts tok to an introspection or revocation endpoint authenticated as c; hint, when
// set, is the token_type_hint.
func (as *testAS) call(t *testing.T, c *testClient, path, tok, hint string) *response {
	t.Helper()
	form := withToken(as.clientCredentials(t, c, nil), tok)
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return as.postForm(t, c.tlsCert(), path, form, nil)
}

var inactive = `{"active":false}` + "\n"

func TestIntrospect(t *testing.T) {
	as := newTestAS(t)
	f := as.f
	owner, other, pkj := f.clients[clientTLS], f.clients[clientTLSOther], f.clients[clientPKJ]
	tok := as.accessToken(t, owner)
	claims := jwtPart(t, tok, 1)

	t.Run("own token is active, with cnf", func(t *testing.T) {
		r := as.call(t, owner, authz.PathIntrospect, tok, "")
		if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d, Cache-Control %q", r.status, r.header.Get("Cache-Control"))
		}
		want := map[string]any{
			"active": true, "scope": "accounts payments", "client_id": clientTLS, "token_type": "Bearer",
			"exp": claims["exp"], "iat": claims["iat"], "nbf": claims["nbf"], "sub": clientTLS, "aud": as.issuer,
			"iss": as.issuer, "jti": claims["jti"], "cnf": map[string]any{"x5t#S256": owner.thumbprint()},
			"aut": "APPLICATION",
		}
		if diff := cmp.Diff(want, r.json(t)); diff != "" {
			t.Errorf("introspection (-want +got):\n%s", diff)
		}
	})
	t.Run("token_type_hint is accepted", func(t *testing.T) {
		for _, hint := range []string{"access_token", "refresh_token", "urn:example:unknown"} {
			if r := as.call(t, owner, authz.PathIntrospect, tok, hint); r.json(t)["active"] != true {
				t.Errorf("hint %s: %s", hint, r.body)
			}
		}
	})

	inactiveRows := []struct {
		name   string
		caller *testClient
		token  string
	}{
		{name: "another client's token", caller: other, token: tok},
		{name: "another client's token, private_key_jwt caller", caller: pkj, token: tok},
		{name: "garbage", caller: owner, token: "not-a-token"},
		{name: "a client assertion", caller: owner, token: as.clientCredentials(t, pkj, nil).Get("client_assertion")},
		{name: "signature altered", caller: owner, token: tok[:len(tok)-4] + "AAAA"},
	}
	for _, tt := range inactiveRows {
		t.Run(tt.name, func(t *testing.T) {
			r := as.call(t, tt.caller, authz.PathIntrospect, tt.token, "")
			if r.status != http.StatusOK || string(r.body) != inactive {
				t.Errorf("got %d %q, want 200 %q", r.status, r.body, inactive)
			}
		})
	}

	errorRows := []struct {
		name   string
		certs  bool
		form   url.Values
		status int
		code   string
	}{
		{name: "token missing", certs: true, form: url.Values{"client_id": {clientTLS}}, status: 400, code: "invalid_request"},
		{name: "client not authenticated", certs: false, form: url.Values{"client_id": {clientTLS}, "token": {tok}}, status: 401, code: "invalid_client"},
		{name: "no client", certs: true, form: url.Values{"token": {tok}}, status: 401, code: "invalid_client"},
	}
	for _, tt := range errorRows {
		t.Run(tt.name, func(t *testing.T) {
			certs := owner.tlsCert()
			if !tt.certs {
				certs = nil
			}
			checkError(t, as.postForm(t, certs, authz.PathIntrospect, tt.form, nil), tt.status, tt.code)
		})
	}
}

func TestIntrospectExpiredAndStale(t *testing.T) {
	as := newTestASWith(t, asOptions{manualDenyList: true})
	owner := as.f.clients[clientTLS]
	tok := as.accessToken(t, owner)

	// The deny-list older than its MaxStaleness: no statement about the token (503), not
	// "active".
	as.f.fake.Advance(token.DefaultMaxStaleness + time.Second)
	checkError(t, as.call(t, owner, authz.PathIntrospect, tok, ""), 503, "temporarily_unavailable")
	checkError(t, as.call(t, owner, authz.PathRevoke, tok, ""), 503, "temporarily_unavailable")

	// Expired (5 min lifetime + 30 s verifier skew).
	as.f.fake.Advance(5 * time.Minute)
	if err := as.deny.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := as.call(t, owner, authz.PathIntrospect, tok, ""); string(r.body) != inactive {
		t.Errorf("expired token: %d %s", r.status, r.body)
	}
}

func TestRevoke(t *testing.T) {
	as := newTestAS(t)
	f := as.f
	owner, other := f.clients[clientTLS], f.clients[clientPKJ]
	ctx := context.Background()

	t.Run("another client's token: 200, no effect", func(t *testing.T) {
		tok := as.accessToken(t, owner)
		r := as.call(t, other, authz.PathRevoke, tok, "")
		if r.status != http.StatusOK || len(r.body) != 0 {
			t.Fatalf("got %d %q", r.status, r.body)
		}
		if r := as.call(t, owner, authz.PathIntrospect, tok, ""); r.json(t)["active"] != true {
			t.Errorf("token no longer active after another client revoked it: %s", r.body)
		}
		revoked, err := as.store.IsTokenRevoked(ctx, jwtPart(t, tok, 1)["jti"].(string))
		if err != nil || revoked {
			t.Errorf("IsTokenRevoked = %v, %v", revoked, err)
		}
	})
	for _, hint := range []string{"", "access_token", "refresh_token", "urn:example:unsupported"} {
		t.Run("own token, hint "+hint, func(t *testing.T) {
			tok := as.accessToken(t, owner)
			jti := jwtPart(t, tok, 1)["jti"].(string)
			r := as.call(t, owner, authz.PathRevoke, tok, hint)
			if r.status != http.StatusOK || len(r.body) != 0 {
				t.Fatalf("got %d %q", r.status, r.body)
			}
			if r := as.call(t, owner, authz.PathIntrospect, tok, ""); string(r.body) != inactive {
				t.Errorf("revoked token introspects as %s", r.body)
			}
			if _, err := as.verifier.Verify(ctx, tok); err == nil {
				t.Error("revoked token still verifies on this node")
			}
			if revoked, err := as.store.IsTokenRevoked(ctx, jti); err != nil || !revoked {
				t.Errorf("IsTokenRevoked = %v, %v", revoked, err)
			}
			// Another node's deny-list (the gateway's) learns it from the store.
			gw, err := token.NewDenyList(token.DenyListOptions{Source: as.store, Clock: f.clk})
			if err != nil {
				t.Fatal(err)
			}
			if err := gw.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if !gw.IsRevoked(jti) {
				t.Error("another node's deny-list does not hold the revocation")
			}
			events := as.audit.byJTI(jti)
			if len(events) != 2 || events[1].Type != audit.TypeTokenRevoked || events[1].ClientID != clientTLS ||
				events[1].InteractionID == "" || events[1].Data["x5t#S256"] != owner.thumbprint() {
				t.Errorf("audit events for the token: %+v, want token.issued then token.revoked", events)
			}
			// Revoking again: still 200.
			if r := as.call(t, owner, authz.PathRevoke, tok, hint); r.status != http.StatusOK {
				t.Errorf("second revocation: %d %s", r.status, r.body)
			}
		})
	}
	t.Run("garbage token: 200", func(t *testing.T) {
		if r := as.call(t, owner, authz.PathRevoke, "garbage", ""); r.status != http.StatusOK || len(r.body) != 0 {
			t.Errorf("got %d %q", r.status, r.body)
		}
	})
	t.Run("token missing", func(t *testing.T) {
		checkError(t, as.postForm(t, owner.tlsCert(), authz.PathRevoke, url.Values{"client_id": {clientTLS}}, nil), 400, "invalid_request")
	})
	t.Run("client not authenticated", func(t *testing.T) {
		tok := as.accessToken(t, owner)
		checkError(t, as.postForm(t, nil, authz.PathRevoke, url.Values{"client_id": {clientTLS}, "token": {tok}}, nil), 401, "invalid_client")
		if r := as.call(t, owner, authz.PathIntrospect, tok, ""); r.json(t)["active"] != true {
			t.Error("an unauthenticated revocation had an effect")
		}
	})
}
