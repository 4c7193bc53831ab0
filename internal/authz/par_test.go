package authz_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/store"
)

// pkceChallenge returns the S256 challenge of verifier (RFC 7636 §4.2).
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return b64(sum[:])
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy"

// journeyParams returns valid authorization parameters for client id: code + PKCE for
// FAPI 2 clients, code id_token for the hybrid client.
func (as *testAS) journeyParams(id string) map[string]any {
	p := map[string]any{
		"client_id": id, "redirect_uri": testRedirect, "scope": "openid accounts",
		"response_type": "code", "state": "st-" + randomID(), "nonce": "n-" + randomID(),
		"code_challenge": pkceChallenge(testVerifier), "code_challenge_method": "S256",
	}
	if id == clientHybrid {
		p["response_type"] = "code id_token"
	}
	return p
}

// requestObject returns the claims of a valid request object of client id carrying params.
func (as *testAS) requestObject(id string, params map[string]any) map[string]any {
	now := as.f.now()
	claims := map[string]any{
		"iss": id, "aud": as.issuer, "exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Unix(),
		"iat": now.Unix(), "jti": randomID(),
	}
	for k, v := range params {
		claims[k] = v
	}
	return claims
}

// parForm builds a PAR form for client c: client authentication (an assertion for
// private_key_jwt clients, client_id otherwise), then either the signed request object
// (ro non-nil) or params as form fields.
func (as *testAS) parForm(t testing.TB, c *testClient, params map[string]any, ro map[string]any) url.Values {
	t.Helper()
	form := url.Values{}
	if c.method == client.AuthPrivateKeyJWT {
		form.Set("client_assertion_type", clientauth.AssertionType)
		form.Set("client_assertion", signJWT(t, "ES256", c.key, c.kid, as.assertion(c.id, as.issuer)))
	} else {
		form.Set("client_id", c.id)
	}
	if ro != nil {
		form.Set("request", signJWT(t, "ES256", c.key, c.kid, ro))
		form.Set("client_id", c.id)
		return form
	}
	for k, v := range params {
		switch v := v.(type) {
		case string:
			form.Set(k, v)
		default:
			b, _ := json.Marshal(v)
			form.Set(k, string(b))
		}
	}
	return form
}

func TestPARAccepts(t *testing.T) {
	as := newTestAS(t)
	cases := []struct {
		name   string
		client string
		signed bool
		edit   func(ro map[string]any)
	}{
		{name: "FAPI 2 plain parameters", client: clientJourney2},
		{name: "FAPI 2 signed request object", client: clientJourney2, signed: true},
		{name: "FAPI 2 message signing", client: clientJourney2MS, signed: true},
		{name: "FAPI 1 hybrid, tls_client_auth", client: clientHybrid, signed: true},
		{name: "FAPI 1 code + JARM", client: clientHybrid, signed: true, edit: func(ro map[string]any) {
			ro["response_type"], ro["response_mode"] = "code", "jwt"
		}},
		{name: "aud array containing the issuer", client: clientHybrid, signed: true, edit: func(ro map[string]any) {
			ro["aud"] = []string{"https://other.example", as.issuer}
		}},
		{name: "64-character nonce and 1500-character state", client: clientJourney2, signed: true, edit: func(ro map[string]any) {
			ro["nonce"], ro["state"] = strings.Repeat("n", 64), strings.Repeat("s", 1500)
		}},
		{name: "essential acr and intent id", client: clientHybrid, signed: true, edit: func(ro map[string]any) {
			ro["claims"] = map[string]any{"id_token": map[string]any{
				"acr":                   map[string]any{"essential": true, "values": []string{authz.ACRSCA}},
				"openbanking_intent_id": map[string]any{"essential": true, "value": "aac-123"},
			}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := as.f.clients[tc.client]
			params := as.journeyParams(tc.client)
			var ro map[string]any
			if tc.signed {
				ro = as.requestObject(tc.client, params)
				if tc.edit != nil {
					tc.edit(ro)
				}
			}
			resp := as.postForm(t, c.tlsCert(), authz.PathPAR, as.parForm(t, c, params, ro), nil)
			if resp.status != http.StatusCreated {
				t.Fatalf("status %d, body %s", resp.status, resp.body)
			}
			if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			body := resp.json(t)
			uri, _ := body["request_uri"].(string)
			if !strings.HasPrefix(uri, authz.RequestURIPrefix) || len(uri) < len(authz.RequestURIPrefix)+43 {
				t.Fatalf("request_uri %q", uri)
			}
			if exp, _ := body["expires_in"].(float64); exp <= 0 || exp >= 600 {
				t.Errorf("expires_in %v", body["expires_in"])
			}
			pr, err := as.store.GetPushedRequest(context.Background(), store.HashSecret(uri))
			if err != nil {
				t.Fatalf("stored request: %v", err)
			}
			if pr.ClientID != tc.client {
				t.Errorf("bound to %q", pr.ClientID)
			}
			var ar authz.AuthorizationRequest
			if err := json.Unmarshal(pr.Data, &ar); err != nil {
				t.Fatal(err)
			}
			want := params
			if ro != nil {
				want = ro
			}
			if ar.State != want["state"] || ar.Nonce != want["nonce"] || ar.RedirectURI != testRedirect {
				t.Errorf("stored request %+v, want state/nonce of %v", ar, want)
			}
			if ar.Signed != tc.signed {
				t.Errorf("Signed = %v", ar.Signed)
			}
		})
	}
}

// TestPARRefuses is the negative table of fapi.md §1 for the PAR endpoint: each row asserts
// the status and the error code, and that nothing was stored.
func TestPARRefuses(t *testing.T) {
	as := newTestAS(t)
	other := as.f.clients[clientJourney2]
	type row struct {
		name   string
		client string
		signed bool
		edit   func(params, ro map[string]any, form url.Values)
		// sign overrides the request object's signature: alg and key.
		signAlg string
		signKey any
		status  int
		code    string
	}
	rows := []row{
		{name: "request_uri in the form", client: clientJourney2, edit: func(p, _ map[string]any, f url.Values) {
			f.Set("request_uri", authz.RequestURIPrefix+"abc")
		}, status: 400, code: "invalid_request"},
		{name: "request_uri inside the request object", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["request_uri"] = authz.RequestURIPrefix + "abc"
		}, status: 400, code: "invalid_request"},
		{name: "no client authentication", client: clientJourney2, edit: func(_, _ map[string]any, f url.Values) {
			f.Del("client_assertion")
			f.Del("client_assertion_type")
			f.Set("client_id", clientJourney2)
		}, status: 401, code: "invalid_client"},
		{name: "FAPI 1 without a request object", client: clientHybrid, status: 400, code: "invalid_request"},
		{name: "FAPI 2 message signing without a request object", client: clientJourney2MS, status: 400, code: "invalid_request"},
		{name: "PKCE missing", client: clientJourney2, edit: func(p, _ map[string]any, f url.Values) {
			f.Del("code_challenge")
			f.Del("code_challenge_method")
		}, status: 400, code: "invalid_request"},
		{name: "PKCE plain", client: clientJourney2, edit: func(p, _ map[string]any, f url.Values) {
			f.Set("code_challenge_method", "plain")
		}, status: 400, code: "invalid_request"},
		{name: "PKCE missing in the request object", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			delete(ro, "code_challenge")
			delete(ro, "code_challenge_method")
		}, status: 400, code: "invalid_request"},
		{name: "redirect_uri not registered", client: clientJourney2, edit: func(_, _ map[string]any, f url.Values) {
			f.Set("redirect_uri", "https://tpp.example.com/cb/other")
		}, status: 400, code: "invalid_request"},
		{name: "redirect_uri missing", client: clientJourney2, edit: func(_, _ map[string]any, f url.Values) {
			f.Del("redirect_uri")
		}, status: 400, code: "invalid_request"},
		{name: "response_type token", client: clientJourney2, edit: func(_, _ map[string]any, f url.Values) {
			f.Set("response_type", "token")
		}, status: 400, code: "unsupported_response_type"},
		{name: "FAPI 2 code id_token", client: clientJourney2, edit: func(_, _ map[string]any, f url.Values) {
			f.Set("response_type", "code id_token")
		}, status: 400, code: "unsupported_response_type"},
		{name: "FAPI 1 code without JARM", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["response_type"] = "code"
		}, status: 400, code: "unsupported_response_type"},
		{name: "hybrid with response_mode query", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["response_mode"] = "query"
		}, status: 400, code: "invalid_request"},
		{name: "hybrid without nonce", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			delete(ro, "nonce")
		}, status: 400, code: "invalid_request"},
		{name: "scope not registered", client: clientJourney2, edit: func(_, _ map[string]any, f url.Values) {
			f.Set("scope", "openid fundsconfirmations")
		}, status: 400, code: "invalid_scope"},
		{name: "client without the authorization_code grant", client: clientPKJ, status: 400, code: "unauthorized_client"},
		{name: "intent id outside a signed request object", client: clientJourney2, edit: func(_, _ map[string]any, f url.Values) {
			f.Set("claims", `{"id_token":{"openbanking_intent_id":{"value":"aac-1","essential":true}}}`)
		}, status: 400, code: "invalid_request"},
		{name: "request object signed by another client's key", client: clientHybrid, signed: true,
			signAlg: "ES256", signKey: other.key, status: 400, code: "invalid_request_object"},
		{name: "request object RS256", client: clientHybrid, signed: true,
			signAlg: "RS256", signKey: as.f.rsaKey, status: 400, code: "invalid_request_object"},
		{name: "request object alg none", client: clientHybrid, signed: true,
			signAlg: "none", status: 400, code: "invalid_request_object"},
		{name: "request object without exp", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			delete(ro, "exp")
		}, status: 400, code: "invalid_request_object"},
		{name: "request object without nbf", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			delete(ro, "nbf")
		}, status: 400, code: "invalid_request_object"},
		{name: "request object expired", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["exp"] = as.f.now().Add(-time.Minute).Unix()
		}, status: 400, code: "invalid_request_object"},
		{name: "request object exp - nbf over 60 minutes", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["exp"] = as.f.now().Add(61 * time.Minute).Unix()
		}, status: 400, code: "invalid_request_object"},
		{name: "request object nbf over 60 minutes old", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["nbf"] = as.f.now().Add(-61 * time.Minute).Unix()
			ro["exp"] = as.f.now().Add(-61*time.Minute + 50*time.Minute).Unix()
		}, status: 400, code: "invalid_request_object"},
		{name: "request object nbf in the future", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["nbf"] = as.f.now().Add(2 * time.Minute).Unix()
		}, status: 400, code: "invalid_request_object"},
		{name: "request object aud is the PAR endpoint", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["aud"] = as.issuer + authz.PathPAR
		}, status: 400, code: "invalid_request_object"},
		{name: "request object aud missing", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			delete(ro, "aud")
		}, status: 400, code: "invalid_request_object"},
		{name: "request object iss is another client", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["iss"] = clientJourney2
		}, status: 400, code: "invalid_request_object"},
		{name: "request object client_id is another client", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["client_id"] = clientJourney2
		}, status: 400, code: "invalid_request_object"},
		{name: "request object encrypted", client: clientHybrid, signed: true, edit: func(_, _ map[string]any, f url.Values) {
			f.Set("request", "a.b.c.d.e")
		}, status: 400, code: "invalid_request_object"},
		{name: "request object scope of the wrong type", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["scope"] = []string{"openid"}
		}, status: 400, code: "invalid_request_object"},
		{name: "nonce over the limit", client: clientJourney2, edit: func(_, _ map[string]any, f url.Values) {
			f.Set("nonce", strings.Repeat("n", 600))
		}, status: 400, code: "invalid_request"},
		{name: "intent of another client", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["claims"] = map[string]any{"id_token": map[string]any{"openbanking_intent_id": map[string]any{"value": "aac-other", "essential": true}}}
		}, status: 400, code: "invalid_request"},
		{name: "unknown intent", client: clientHybrid, signed: true, edit: func(_, ro map[string]any, _ url.Values) {
			ro["claims"] = map[string]any{"id_token": map[string]any{"openbanking_intent_id": map[string]any{"value": "aac-nope", "essential": true}}}
		}, status: 400, code: "invalid_request"},
		{name: "prompt none", client: clientJourney2, edit: func(_, _ map[string]any, f url.Values) {
			f.Set("prompt", "none")
		}, status: 400, code: "consent_required"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			c := as.f.clients[tc.client]
			params := as.journeyParams(tc.client)
			var ro map[string]any
			if tc.signed {
				ro = as.requestObject(tc.client, params)
			}
			form := url.Values{}
			if !tc.signed {
				form = as.parForm(t, c, params, nil)
			}
			if tc.edit != nil {
				tc.edit(params, ro, form)
			}
			if tc.signed {
				f := as.parForm(t, c, params, ro)
				if tc.signAlg != "" {
					f.Set("request", signJWT(t, tc.signAlg, tc.signKey, c.kid, ro))
				}
				if r := form.Get("request"); r != "" {
					f.Set("request", r)
				}
				form = f
			}
			before := countPushed(t, as)
			resp := as.postForm(t, c.tlsCert(), authz.PathPAR, form, nil)
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.status, tc.status, resp.body)
			}
			if got := resp.json(t)["error"]; got != tc.code {
				t.Fatalf("error %v, want %s; body %s", got, tc.code, resp.body)
			}
			if after := countPushed(t, as); after != before {
				t.Errorf("a refused request was stored (%d -> %d)", before, after)
			}
		})
	}
}

func TestPARMethodNotAllowed(t *testing.T) {
	as := newTestAS(t)
	for _, m := range []string{http.MethodGet, http.MethodPut} {
		req, err := http.NewRequest(m, as.base+authz.PathPAR, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp := do(t, as.httpClient(t, as.f.clients[clientHybrid].tlsCert()), req)
		if resp.status != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d", m, resp.status)
		}
	}
}

// TestPARRequestURIBoundAndExpiring checks the stored request's client binding and expiry:
// the request_uri expires after the PAR lifetime (store.ErrExpired).
func TestPARRequestURIExpires(t *testing.T) {
	as := newTestAS(t)
	c := as.f.clients[clientJourney2]
	resp := as.postForm(t, c.tlsCert(), authz.PathPAR, as.parForm(t, c, as.journeyParams(clientJourney2), nil), nil)
	if resp.status != http.StatusCreated {
		t.Fatalf("status %d %s", resp.status, resp.body)
	}
	uri := resp.json(t)["request_uri"].(string)
	as.f.fake.Advance(authz.DefaultPARLifetime)
	if _, err := as.store.GetPushedRequest(context.Background(), store.HashSecret(uri)); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("after the lifetime: %v, want ErrExpired", err)
	}
}

func countPushed(t testing.TB, as *testAS) int64 {
	t.Helper()
	return as.pushed.puts.Load()
}

// countingPushed is the real store, counting the pushed requests written through it.
type countingPushed struct {
	*store.Store
	puts atomic.Int64
}

func (c *countingPushed) PutPushedRequest(ctx context.Context, p store.PushedRequest) error {
	err := c.Store.PutPushedRequest(ctx, p)
	if err == nil {
		c.puts.Add(1)
	}
	return err
}

// TestPARRefusesUnsignableAlg: a client registered for ID tokens in an algorithm the
// server has no active key for is refused at PAR, before any customer sees a page.
func TestPARRefusesUnsignableAlg(t *testing.T) {
	f := newFixture(t, false)
	st := openStore(t, f)
	c := f.clients[clientJourney2]
	var meta *client.Client
	for _, m := range f.metadata(t) {
		if m.ID == clientJourney2 {
			meta = m
		}
	}
	meta.ID, meta.IDTokenSignedResponseAlg = "ps256-id-tokens", "PS256"
	if _, err := client.NewRegistry(st, client.RegistryOptions{}).Add(context.Background(), meta); err != nil {
		t.Fatal(err)
	}
	as := newServer(t, f, st, asOptions{}) // ES256 keys only
	other := &testClient{id: meta.ID, cert: c.cert, method: c.method, key: c.key, kid: c.kid}
	params := as.journeyParams(clientJourney2)
	params["client_id"] = meta.ID
	resp := as.postForm(t, c.tlsCert(), authz.PathPAR, as.parForm(t, other, params, nil), nil)
	if resp.status != http.StatusBadRequest || resp.json(t)["error"] != "invalid_request" {
		t.Fatalf("%d %s, want 400 invalid_request", resp.status, resp.body)
	}
}
