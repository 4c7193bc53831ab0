package authz_test

import (
	"context"
	"crypto/tls"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/token"
)

// descriptionCharset is the RFC 6749 §5.2 error_description character set.
var descriptionCharset = regexp.MustCompile(`^[\x20\x21\x23-\x5B\x5D-\x7E]*$`)

// checkError asserts an RFC 6749 §5.2 error response: status, error code, JSON content
// type, no-store, the description charset, and an x-fapi-interaction-id.
func checkError(t *testing.T, r *response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Errorf("error = %v, want %s (body %s)", m["error"], code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if d, _ := m["error_description"].(string); !descriptionCharset.MatchString(d) {
		t.Errorf("error_description %q outside the RFC 6749 charset", d)
	}
	for k := range m {
		if k != "error" && k != "error_description" {
			t.Errorf("unexpected member %q in error body", k)
		}
	}
	if r.header.Get(obs.HeaderInteractionID) == "" {
		t.Error("no x-fapi-interaction-id on the error response")
	}
}

// checkToken asserts a successful client_credentials response for c with scope, and
// returns the access token.
func checkToken(t *testing.T, as *testAS, r *response, c *testClient, scope string) string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, body %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	m := r.json(t)
	raw, _ := m["access_token"].(string)
	got := map[string]any{"token_type": m["token_type"], "expires_in": m["expires_in"], "scope": m["scope"]}
	want := map[string]any{"token_type": "Bearer", "expires_in": float64(300), "scope": scope}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token response (-want +got):\n%s", diff)
	}
	for _, k := range []string{"refresh_token", "id_token"} {
		if _, ok := m[k]; ok {
			t.Errorf("client_credentials response carries %s", k)
		}
	}
	if hdr := jwtPart(t, raw, 0); hdr["typ"] != token.AccessTokenType {
		t.Errorf("typ = %v", hdr["typ"])
	}
	claims := jwtPart(t, raw, 1)
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["x5t#S256"] != c.thumbprint() {
		t.Errorf("cnf.x5t#S256 = %v, want the presented certificate's %s", cnf["x5t#S256"], c.thumbprint())
	}
	for k, v := range map[string]any{"iss": as.issuer, "sub": c.id, "client_id": c.id, "aut": "APPLICATION", "scope": scope} {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	at, err := as.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("issued token does not verify: %v", err)
	}
	if err := token.CheckBinding(at, c.thumbprint()); err != nil {
		t.Errorf("binding: %v", err)
	}
	return raw
}

func TestTokenClientCredentials(t *testing.T) {
	as := newTestAS(t)
	f := as.f
	tests := []struct {
		name   string
		client string
		edit   func(map[string]any) // assertion claims
		scope  string               // requested; "" = none
		want   string               // granted
	}{
		{name: "tls_client_auth, default scope without openid", client: clientTLS, want: "accounts payments"},
		{name: "tls_client_auth, requested scope", client: clientTLS, scope: "payments", want: "payments"},
		{name: "tls_client_auth, repeated scope token", client: clientTLS, scope: "payments accounts payments", want: "payments accounts"},
		{name: "private_key_jwt FAPI 1, aud issuer", client: clientPKJ, want: "accounts payments"},
		{name: "private_key_jwt FAPI 1, aud token endpoint", client: clientPKJ, want: "accounts payments",
			edit: func(c map[string]any) { c["aud"] = as.issuer + authz.PathToken }},
		{name: "private_key_jwt FAPI 1, aud array with issuer", client: clientPKJ, want: "accounts payments",
			edit: func(c map[string]any) { c["aud"] = []string{"https://other.example", as.issuer} }},
		{name: "private_key_jwt FAPI 1, iat 10 s ahead", client: clientPKJ, want: "accounts payments",
			edit: func(c map[string]any) { c["iat"] = f.now().Add(10 * time.Second).Unix() }},
		{name: "private_key_jwt FAPI 2, aud issuer string", client: clientFAPI2, scope: "accounts", want: "accounts"},
		{name: "self_signed_tls_client_auth", client: clientSelfSigned, want: "accounts payments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.clients[tt.client]
			form := as.clientCredentials(t, c, tt.edit)
			if tt.scope != "" {
				form.Set("scope", tt.scope)
			}
			r := as.postForm(t, c.tlsCert(), authz.PathToken, form, nil)
			raw := checkToken(t, as, r, c, tt.want)
			claims := jwtPart(t, raw, 1)
			events := as.audit.byJTI(claims["jti"])
			if len(events) != 1 {
				t.Fatalf("%d audit events for the token, want 1", len(events))
			}
			want := audit.Event{
				Type: audit.TypeTokenIssued, ClientID: c.id, InteractionID: events[0].InteractionID,
				Data: map[string]any{
					"jti": claims["jti"], "aut": "APPLICATION", "scope": tt.want, "x5t#S256": c.thumbprint(),
					"exp": int64(claims["exp"].(float64)), "grant_type": "client_credentials",
				},
			}
			if diff := cmp.Diff(want, events[0]); diff != "" || events[0].InteractionID == "" {
				t.Errorf("audit event (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenErrors is acceptance 1 of the token-endpoint issue: each row asserts the HTTP
// status and the error code (fapi.md §1: invalid_client is 401, everything else 400).
func TestTokenErrors(t *testing.T) {
	as := newTestAS(t)
	f := as.f
	pkj, pkj2, fapi2, tlsc := f.clients[clientPKJ], f.clients[clientPKJ2], f.clients[clientFAPI2], f.clients[clientTLS]
	now := f.now()

	// assertionForm is a private_key_jwt form for c with edited claims, signed with alg by key.
	assertionForm := func(c *testClient, alg string, key any, kid string, edit func(map[string]any)) func(t *testing.T) url.Values {
		return func(t *testing.T) url.Values {
			claims := as.assertion(c.id, as.issuer)
			if edit != nil {
				edit(claims)
			}
			return url.Values{
				"grant_type":            {"client_credentials"},
				"client_assertion_type": {clientauth.AssertionType},
				"client_assertion":      {signJWT(t, alg, key, kid, claims)},
			}
		}
	}
	pkjForm := func(edit func(map[string]any)) func(t *testing.T) url.Values {
		return assertionForm(pkj, "ES256", pkj.key, pkj.kid, edit)
	}
	replayed := func(t *testing.T) url.Values {
		form := as.clientCredentials(t, pkj, nil)
		if r := as.postForm(t, pkj.tlsCert(), authz.PathToken, form, nil); r.status != http.StatusOK {
			t.Fatalf("first use: %d %s", r.status, r.body)
		}
		return form
	}
	withForm := func(base func(t *testing.T) url.Values, k, v string) func(t *testing.T) url.Values {
		return func(t *testing.T) url.Values {
			form := base(t)
			form.Set(k, v)
			return form
		}
	}
	fixed := func(v url.Values) func(*testing.T) url.Values {
		return func(*testing.T) url.Values { return maps.Clone(v) }
	}
	tlsForm := fixed(url.Values{"grant_type": {"client_credentials"}, "client_id": {clientTLS}})

	tests := []struct {
		name   string
		certs  []tls.Certificate
		form   func(t *testing.T) url.Values
		header http.Header
		status int
		code   string
		reason error // the cause logged for the refusal
	}{
		// Client assertions (FAPI1-AS-03/04/07, FAPI2-AS-07/11).
		{name: "assertion aud wrong (FAPI 1)", certs: pkj.tlsCert(),
			form: pkjForm(func(c map[string]any) { c["aud"] = "https://evil.example" }), status: 401, code: "invalid_client", reason: clientauth.ErrAudience},
		{name: "assertion aud array without issuer (FAPI 1)", certs: pkj.tlsCert(),
			form: pkjForm(func(c map[string]any) { c["aud"] = []string{"https://evil.example"} }), status: 401, code: "invalid_client", reason: clientauth.ErrAudience},
		{name: "assertion aud token endpoint (FAPI 2)", certs: fapi2.tlsCert(),
			form:   assertionForm(fapi2, "ES256", fapi2.key, fapi2.kid, func(c map[string]any) { c["aud"] = as.issuer + authz.PathToken }),
			status: 401, code: "invalid_client", reason: clientauth.ErrAudience},
		{name: "assertion aud array with issuer (FAPI 2)", certs: fapi2.tlsCert(),
			form:   assertionForm(fapi2, "ES256", fapi2.key, fapi2.kid, func(c map[string]any) { c["aud"] = []string{as.issuer} }),
			status: 401, code: "invalid_client", reason: clientauth.ErrAudience},
		{name: "assertion without sub", certs: pkj.tlsCert(),
			form: pkjForm(func(c map[string]any) { delete(c, "sub") }), status: 401, code: "invalid_client", reason: clientauth.ErrAssertionInvalid},
		{name: "assertion iss differs from sub", certs: pkj.tlsCert(),
			form: pkjForm(func(c map[string]any) { c["sub"] = clientPKJ2 }), status: 401, code: "invalid_client", reason: clientauth.ErrClientIDMismatch},
		{name: "assertion expired 5 min ago", certs: pkj.tlsCert(),
			form: pkjForm(func(c map[string]any) {
				c["iat"], c["exp"] = now.Add(-6*time.Minute).Unix(), now.Add(-5*time.Minute).Unix()
			}), status: 401, code: "invalid_client", reason: clientauth.ErrExpired},
		{name: "assertion iat 70 s in the future", certs: pkj.tlsCert(),
			form: pkjForm(func(c map[string]any) { c["iat"] = now.Add(70 * time.Second).Unix() }), status: 401, code: "invalid_client", reason: clientauth.ErrIssuedInFuture},
		{name: "assertion without jti", certs: pkj.tlsCert(),
			form: pkjForm(func(c map[string]any) { delete(c, "jti") }), status: 401, code: "invalid_client", reason: clientauth.ErrAssertionInvalid},
		{name: "assertion jti replayed", certs: pkj.tlsCert(), form: replayed, status: 401, code: "invalid_client", reason: clientauth.ErrReplay},
		{name: "assertion RS256", certs: pkj.tlsCert(),
			form: assertionForm(pkj, "RS256", f.rsaKey, pkj.kid, nil), status: 401, code: "invalid_client", reason: clientauth.ErrAlgNotAllowed},
		{name: "assertion PS256 with a key the client did not register", certs: pkj.tlsCert(),
			form: assertionForm(pkj, "PS256", f.rsaKey, pkj.kid, nil), status: 401, code: "invalid_client", reason: clientauth.ErrUnknownKey},
		{name: "assertion HS256", certs: pkj.tlsCert(),
			form: assertionForm(pkj, "HS256", []byte("0123456789abcdef0123456789abcdef"), pkj.kid, nil), status: 401, code: "invalid_client", reason: clientauth.ErrAlgNotAllowed},
		{name: "assertion alg none", certs: pkj.tlsCert(),
			form: assertionForm(pkj, "none", nil, "", nil), status: 401, code: "invalid_client", reason: clientauth.ErrAlgNotAllowed},
		{name: "assertion signed by another client's key", certs: pkj.tlsCert(),
			form: assertionForm(pkj, "ES256", pkj2.key, pkj2.kid, nil), status: 401, code: "invalid_client", reason: clientauth.ErrUnknownKey},
		{name: "assertion signed by another client's key under our kid", certs: pkj.tlsCert(),
			form: assertionForm(pkj, "ES256", pkj2.key, pkj.kid, nil), status: 401, code: "invalid_client", reason: clientauth.ErrBadSignature},
		{name: "assertion of an unknown client", certs: pkj.tlsCert(),
			form: assertionForm(&testClient{id: "nobody"}, "ES256", pkj.key, pkj.kid, nil), status: 401, code: "invalid_client", reason: clientauth.ErrUnknownClient},
		{name: "client_id in form differs from assertion", certs: pkj.tlsCert(),
			form: withForm(pkjForm(nil), "client_id", clientPKJ2), status: 401, code: "invalid_client", reason: clientauth.ErrClientIDMismatch},
		{name: "assertion with wrong client_assertion_type", certs: pkj.tlsCert(),
			form: withForm(pkjForm(nil), "client_assertion_type", "urn:example:bogus"), status: 401, code: "invalid_client", reason: clientauth.ErrInvalidRequest},
		{name: "private_key_jwt without a certificate (FAPI1-AS-50)", certs: nil, form: pkjForm(nil), status: 401, code: "invalid_client", reason: mtls.ErrNoClientCertificate},
		{name: "private_key_jwt with a revoked certificate", certs: []tls.Certificate{f.revoked.TLS}, form: pkjForm(nil), status: 401, code: "invalid_client", reason: clientauth.ErrCertificateInvalid},

		// tls_client_auth (FAPI1-AS-05, RFC 8705 §2.1).
		{name: "tls_client_auth with another subject's certificate", certs: []tls.Certificate{f.stranger.TLS}, form: tlsForm, status: 401, code: "invalid_client", reason: clientauth.ErrSubjectMismatch},
		{name: "tls_client_auth with another client's certificate", certs: f.clients[clientTLSOther].tlsCert(), form: tlsForm, status: 401, code: "invalid_client", reason: clientauth.ErrSubjectMismatch},
		{name: "tls_client_auth with a revoked certificate", certs: []tls.Certificate{f.revoked.TLS}, form: tlsForm, status: 401, code: "invalid_client", reason: clientauth.ErrCertificateInvalid},
		{name: "tls_client_auth without a certificate", certs: nil, form: tlsForm, status: 401, code: "invalid_client", reason: mtls.ErrNoClientCertificate},
		{name: "tls_client_auth with a self-signed certificate", certs: f.clients[clientSelfSigned].tlsCert(), form: tlsForm, status: 401, code: "invalid_client", reason: clientauth.ErrCertificateInvalid},
		{name: "tls_client_auth client sending an assertion", certs: tlsc.tlsCert(),
			form: assertionForm(tlsc, "ES256", tlsc.key, tlsc.kid, nil), status: 401, code: "invalid_client", reason: clientauth.ErrMethodMismatch},
		{name: "self_signed_tls_client_auth with a CA-issued certificate", certs: tlsc.tlsCert(),
			form: fixed(url.Values{"grant_type": {"client_credentials"}, "client_id": {clientSelfSigned}}), status: 401, code: "invalid_client", reason: clientauth.ErrSubjectMismatch},
		{name: "unknown client_id", certs: tlsc.tlsCert(),
			form: fixed(url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}}), status: 401, code: "invalid_client", reason: clientauth.ErrUnknownClient},
		{name: "no client authentication at all", certs: tlsc.tlsCert(),
			form: fixed(url.Values{"grant_type": {"client_credentials"}}), status: 401, code: "invalid_client", reason: clientauth.ErrNoCredentials},
		{name: "client_secret", certs: tlsc.tlsCert(),
			form: withForm(tlsForm, "client_secret", "hunter2"), status: 401, code: "invalid_client", reason: clientauth.ErrInvalidRequest},
		{name: "Authorization header (client_secret_basic)", certs: tlsc.tlsCert(), form: tlsForm,
			header: http.Header{"Authorization": {"Basic dGxzLWNsaWVudDpodW50ZXIy"}}, status: 401, code: "invalid_client", reason: clientauth.ErrInvalidRequest},

		// Grant and scope rules.
		{name: "grant_type missing", certs: tlsc.tlsCert(), form: fixed(url.Values{"client_id": {clientTLS}}), status: 400, code: "invalid_request"},
		{name: "grant_type password (FAPI2-AS-02)", certs: tlsc.tlsCert(),
			form: fixed(url.Values{"grant_type": {"password"}, "client_id": {clientTLS}, "username": {"u"}, "password": {"p"}}), status: 400, code: "unsupported_grant_type"},
		{name: "grant_type unknown", certs: tlsc.tlsCert(),
			form: fixed(url.Values{"grant_type": {"urn:example:bogus"}, "client_id": {clientTLS}}), status: 400, code: "unsupported_grant_type"},
		{name: "client not registered for client_credentials", certs: f.clients[clientCodeOnly].tlsCert(),
			form: func(t *testing.T) url.Values { return as.clientCredentials(t, f.clients[clientCodeOnly], nil) }, status: 400, code: "unauthorized_client"},
		{name: "scope openid", certs: tlsc.tlsCert(), form: withForm(tlsForm, "scope", "openid accounts"), status: 400, code: "invalid_scope"},
		{name: "scope not registered", certs: tlsc.tlsCert(), form: withForm(tlsForm, "scope", "fundsconfirmations"), status: 400, code: "invalid_scope"},
		{name: "scope malformed", certs: tlsc.tlsCert(), form: withForm(tlsForm, "scope", "accounts  payments"), status: 400, code: "invalid_scope"},
		{name: "scope with a quote", certs: tlsc.tlsCert(), form: withForm(tlsForm, "scope", `acc"ounts`), status: 400, code: "invalid_scope"},
		{name: "no scope and openid is the only registered one", certs: f.clients[clientOpenID].tlsCert(),
			form: fixed(url.Values{"grant_type": {"client_credentials"}, "client_id": {clientOpenID}}), status: 400, code: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(as.audit.ofType(audit.TypeTokenIssued))
			id := newUUID()
			hdr := http.Header{"X-Fapi-Interaction-Id": {id}}
			for k, v := range tt.header {
				hdr[k] = v
			}
			r := as.postForm(t, tt.certs, authz.PathToken, tt.form(t), hdr)
			checkError(t, r, tt.status, tt.code)
			if tt.reason != nil {
				if cause := as.refusalCause(t, id); !strings.Contains(cause, tt.reason.Error()) {
					t.Errorf("logged cause %q, want %q", cause, tt.reason)
				}
			}
			if tt.header.Get("Authorization") != "" && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want the Basic scheme (RFC 6749 §5.2)", r.header.Get("WWW-Authenticate"))
			}
			if n := len(as.audit.ofType(audit.TypeTokenIssued)) - before; n > 1 || n == 1 && tt.name != "assertion jti replayed" {
				t.Errorf("%d tokens issued by a refused request", n)
			}
		})
	}
}

// TestTokenRequestShape covers the RFC 6749 §3.2 request rules that oauth.ParseForm and the
// router enforce on the token endpoint.
func TestTokenRequestShape(t *testing.T) {
	as := newTestAS(t)
	c := as.f.clients[clientTLS]
	hc := as.httpClient(t, c.tlsCert())
	body := "grant_type=client_credentials&client_id=" + clientTLS
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{name: "GET", method: http.MethodGet, path: authz.PathToken, status: 405, code: "invalid_request"},
		{name: "PUT", method: http.MethodPut, path: authz.PathToken, contentType: "application/x-www-form-urlencoded", body: body, status: 405, code: "invalid_request"},
		{name: "GET introspect", method: http.MethodGet, path: authz.PathIntrospect, status: 405, code: "invalid_request"},
		{name: "DELETE revoke", method: http.MethodDelete, path: authz.PathRevoke, status: 405, code: "invalid_request"},
		{name: "POST jwks", method: http.MethodPost, path: authz.PathJWKS, status: 405, code: "invalid_request"},
		{name: "POST discovery", method: http.MethodPost, path: authz.PathOpenIDConfiguration, status: 405, code: "invalid_request"},
		{name: "JSON body", method: http.MethodPost, path: authz.PathToken, contentType: "application/json", body: `{"grant_type":"client_credentials"}`, status: 400, code: "invalid_request"},
		{name: "parameters in the query", method: http.MethodPost, path: authz.PathToken + "?scope=accounts", contentType: "application/x-www-form-urlencoded", body: body, status: 400, code: "invalid_request"},
		{name: "parameter twice", method: http.MethodPost, path: authz.PathToken, contentType: "application/x-www-form-urlencoded", body: body + "&grant_type=client_credentials", status: 400, code: "invalid_request"},
		{name: "body too large", method: http.MethodPost, path: authz.PathToken, contentType: "application/x-www-form-urlencoded", body: body + "&pad=" + strings.Repeat("a", authz.DefaultMaxBodyBytes), status: 413, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, as.base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r := do(t, hc, req)
			checkError(t, r, tt.status, tt.code)
			if tt.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

// TestTokenInteractionID: token errors served through obs.Middleware carry
// x-fapi-interaction-id, echoing a valid one the caller sent (FAPI1-RS-04, OB-09).
func TestTokenInteractionID(t *testing.T) {
	as := newTestAS(t)
	c := as.f.clients[clientTLS]
	const id = "b2b3c0a4-6a0e-4c4e-9d55-0d3a0c6b1f11"
	form := url.Values{"grant_type": {"password"}, "client_id": {clientTLS}}

	r := as.postForm(t, c.tlsCert(), authz.PathToken, form, http.Header{"X-Fapi-Interaction-Id": {id}})
	checkError(t, r, 400, "unsupported_grant_type")
	if got := r.header.Get(obs.HeaderInteractionID); got != id {
		t.Errorf("echoed interaction id = %q, want %q", got, id)
	}
	r = as.postForm(t, c.tlsCert(), authz.PathToken, form, nil)
	if got := r.header.Get(obs.HeaderInteractionID); len(got) != 36 || got == id {
		t.Errorf("generated interaction id = %q", got)
	}
	r = as.postForm(t, nil, authz.PathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientTLS}},
		http.Header{"X-Fapi-Interaction-Id": {id}})
	checkError(t, r, 401, "invalid_client")
	if got := r.header.Get(obs.HeaderInteractionID); got != id {
		t.Errorf("interaction id on 401 = %q, want %q", got, id)
	}
	if !strings.Contains(as.logs.String(), id) {
		t.Error("the refused request's log does not carry its interaction id")
	}
}

// TestNoSecretsInLogs: neither client assertions nor access tokens reach the logs, refused
// or accepted.
func TestNoSecretsInLogs(t *testing.T) {
	as := newTestAS(t)
	c := as.f.clients[clientPKJ]
	form := as.clientCredentials(t, c, nil)
	r := as.postForm(t, c.tlsCert(), authz.PathToken, form, nil)
	at := checkToken(t, as, r, c, "accounts payments")
	replay := as.postForm(t, c.tlsCert(), authz.PathToken, form, nil)
	checkError(t, replay, 401, "invalid_client")
	introspect := as.postForm(t, c.tlsCert(), authz.PathIntrospect, withToken(as.clientCredentials(t, c, nil), at), nil)
	if introspect.status != 200 {
		t.Fatalf("introspect: %d", introspect.status)
	}
	logs := as.logs.String()
	if !strings.Contains(logs, "invalid_client") {
		t.Fatal("the refused request was not logged")
	}
	for name, secret := range map[string]string{"assertion": form.Get("client_assertion"), "access token": at} {
		// Any of the three JWS segments is enough to count as a leak.
		for _, part := range strings.Split(secret, ".") {
			if len(part) > 20 && strings.Contains(logs, part) {
				t.Errorf("a part of the %s appears in the logs", name)
			}
		}
	}
}

// withToken turns a client-authentication form into an introspection or revocation form.
func withToken(form url.Values, tok string) url.Values {
	form.Del("grant_type")
	form.Set("token", tok)
	return form
}
