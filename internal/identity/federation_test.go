package identity_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/jose"
)

// testProvider is a small OpenID provider on loopback TLS for the rule-by-rule rows: its
// discovery, its JWK Set, and a token endpoint that checks the client's authentication and
// the PKCE verifier and answers with the ID token the row mints. (The real provider,
// oidc-provider, is driven by internal/app's TestFederatedLogin.)
type testProvider struct {
	t      testing.TB
	srv    *httptest.Server
	keys   *jose.KeyStore
	secret string
	// clientKey, when set, is the private_key_jwt key the token endpoint expects.
	clientKey *jose.SigningKey

	mu        sync.Mutex
	challenge string // code_challenge of the last authorization request
	idToken   string // what the token endpoint answers
	status    int    // token endpoint status; 0 means 200
	body      string // token endpoint body when status is set
	down      bool   // the token endpoint closes the connection
	exchanges int
}

func newTestProvider(t testing.TB) *testProvider {
	t.Helper()
	k, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := jose.NewKeyStore(jose.KeyStoreOptions{}, k)
	if err != nil {
		t.Fatal(err)
	}
	p := &testProvider{t: t, keys: keys, secret: "s3cret/with+reserved chars"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.issuer(), "authorization_endpoint": p.issuer() + "/auth?tenant=bank",
			"token_endpoint": p.issuer() + "/token", "jwks_uri": p.issuer() + "/jwks",
			"code_challenge_methods_supported": []string{"S256"}, "authorization_response_iss_parameter_supported": true,
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(p.keys.JWKS()) })
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testProvider) issuer() string { return p.srv.URL }

func (p *testProvider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.exchanges++
	if p.down {
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close()
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	authOK := false
	if p.clientKey != nil {
		v, err := jose.VerifyJWT(r.Context(), r.PostForm.Get("client_assertion"), mustJWKS(p.t, p.clientKey), jose.VerifyOptions{})
		var c struct{ Iss, Sub, Aud string }
		authOK = err == nil && json.Unmarshal(v.Payload, &c) == nil && c.Iss == "portcullis" && c.Sub == "portcullis" && c.Aud == p.issuer() &&
			r.PostForm.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	} else {
		id, secret, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		authOK = ok && id == "portcullis" && secret == p.secret
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case !authOK:
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
	case r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("code") != "the-code" ||
		r.PostForm.Get("redirect_uri") != "https://bank.example/customer/federated/callback" ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != p.challenge:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
	case p.status != 0:
		w.WriteHeader(p.status)
		_, _ = w.Write([]byte(p.body))
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "id_token": p.idToken})
	}
}

func mustJWKS(t testing.TB, k *jose.SigningKey) *jose.JWKSet {
	t.Helper()
	ks, err := jose.NewKeyStore(jose.KeyStoreOptions{}, k)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jose.ParseJWKS(ks.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// sign mints an ID token with the provider's key.
func (p *testProvider) sign(claims map[string]any) string {
	p.t.Helper()
	b, _ := json.Marshal(claims)
	tok, err := p.keys.Sign(b, "")
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

var fedNow = time.Date(2026, 12, 7, 22, 0, 0, 0, time.UTC)

func newFederated(t testing.TB, p *testProvider, clk clock.Clock, mod ...func(*identity.FederationOptions)) *identity.Federated {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.srv.Certificate())
	o := identity.FederationOptions{
		Issuer: p.issuer(), ClientID: "portcullis", ClientSecret: p.secret,
		RedirectURI:   "https://bank.example/customer/federated/callback",
		CustomerClaim: "bank_customer_id",
		ACRMap:        map[string]string{"loa-high": identity.ACRSCA, "loa-low": identity.ACRCA},
		Scopes:        []string{"openid", "profile"},
		Remote:        jose.NewRemoteJWKS(jose.RemoteJWKSOptions{Clock: clk, RootCAs: roots, AllowPrivateNetworks: true}),
		Clock:         clk,
	}
	for _, m := range mod {
		m(&o)
	}
	f, err := identity.NewFederated(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// begin runs Begin and records the challenge at the provider; it returns the pending
// value and the authorization request's parameters.
func begin(t testing.TB, f *identity.Federated, p *testProvider) (string, url.Values) {
	t.Helper()
	authURL, pending, err := f.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(authURL)
	if err != nil || !strings.HasPrefix(authURL, p.issuer()+"/auth?") {
		t.Fatalf("authorization URL %q", authURL)
	}
	q := u.Query()
	p.mu.Lock()
	p.challenge = q.Get("code_challenge")
	p.mu.Unlock()
	if len(pending) > identity.MaxPendingLogin {
		t.Fatalf("pending value of %d bytes", len(pending))
	}
	return pending, q
}

// TestFederatedBegin: the authorization request carries what RFC 6749, RFC 7636 (S256) and
// OIDC Core ask for, keeps the endpoint's own query, and fresh state, nonce and challenge.
func TestFederatedBegin(t *testing.T) {
	p := newTestProvider(t)
	f := newFederated(t, p, clock.NewFake(fedNow))
	_, q1 := begin(t, f, p)
	_, q2 := begin(t, f, p)
	want := map[string]string{
		"response_type": "code", "client_id": "portcullis", "scope": "openid profile", "tenant": "bank",
		"redirect_uri": "https://bank.example/customer/federated/callback", "code_challenge_method": "S256",
	}
	for k, v := range want {
		if q1.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q1.Get(k), v)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q1.Get(k)) < 43 || q1.Get(k) == q2.Get(k) {
			t.Errorf("%s %q then %q: want 256 random bits each time", k, q1.Get(k), q2.Get(k))
		}
	}
}

// TestFederatedFinish: one row per rule of Finish, each asserting the error kind.
func TestFederatedFinish(t *testing.T) {
	good := func(p *testProvider, nonce string) map[string]any {
		return map[string]any{
			"iss": p.issuer(), "aud": "portcullis", "sub": "pairwise-123", "bank_customer_id": "cust-42",
			"exp": fedNow.Add(5 * time.Minute).Unix(), "iat": fedNow.Unix(), "nonce": nonce,
			"auth_time": fedNow.Add(-30 * time.Second).Unix(), "acr": "loa-high", "amr": []string{"pwd", "otp"},
		}
	}
	type row struct {
		name string
		// claims edits the ID token's claims (nil: the good token).
		claims func(p *testProvider, c map[string]any)
		// token replaces the minted ID token.
		token func(p *testProvider, c map[string]any) string
		// callback edits the callback query.
		callback func(q url.Values)
		// provider edits the provider's behaviour.
		provider func(p *testProvider)
		advance  time.Duration
		want     error // nil: success
		acr      string
	}
	rows := []row{
		{name: "good, acr mapped to SCA", acr: identity.ACRSCA},
		{name: "acr mapped to CA, amr one factor", claims: func(_ *testProvider, c map[string]any) { c["acr"], c["amr"] = "loa-low", []string{"pwd"} }, acr: identity.ACRCA},
		{name: "acr mapped to CA, amr knowledge and possession", claims: func(_ *testProvider, c map[string]any) { c["acr"], c["amr"] = "loa-low", []string{"pwd", "hwk"} }, acr: identity.ACRSCA},
		{name: "amr possession and inherence", claims: func(_ *testProvider, c map[string]any) { c["acr"], c["amr"] = "x", []string{"swk", "face"} }, acr: identity.ACRSCA},
		{name: "amr mfa alone is not SCA", claims: func(_ *testProvider, c map[string]any) { delete(c, "acr"); c["amr"] = []string{"mfa"} }, acr: identity.ACRCA},
		{name: "unmapped acr, no amr", claims: func(_ *testProvider, c map[string]any) { c["acr"] = "urn:unknown"; delete(c, "amr") }, acr: identity.ACRCA},
		{name: "aud array with azp", claims: func(_ *testProvider, c map[string]any) {
			c["aud"], c["azp"] = []string{"portcullis", "api"}, "portcullis"
		}, acr: identity.ACRSCA},

		{name: "state of another login", callback: func(q url.Values) { q.Set("state", "forged") }, want: identity.ErrFederationRejected},
		{name: "no state", callback: func(q url.Values) { q.Del("state") }, want: identity.ErrFederationRejected},
		{name: "state twice", callback: func(q url.Values) { q.Add("state", q.Get("state")) }, want: identity.ErrFederationRejected},
		{name: "access_denied", callback: func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, want: identity.ErrFederationDenied},
		{name: "other error response", callback: func(q url.Values) { q.Del("code"); q.Set("error", "server_error") }, want: identity.ErrFederationRejected},
		{name: "iss of another server", callback: func(q url.Values) { q.Set("iss", "https://evil.example") }, want: identity.ErrFederationRejected},
		{name: "no iss though the provider sends it", callback: func(q url.Values) { q.Del("iss") }, want: identity.ErrFederationRejected},
		{name: "no code", callback: func(q url.Values) { q.Del("code") }, want: identity.ErrFederationRejected},
		{name: "code refused", callback: func(q url.Values) { q.Set("code", "other-code") }, want: identity.ErrFederationRejected},
		{name: "pending login expired", advance: 16 * time.Minute, want: identity.ErrFederationRejected},

		{name: "token endpoint 500", provider: func(p *testProvider) { p.status, p.body = 500, `{"error":"server_error"}` }, want: identity.ErrFederationUnavailable},
		{name: "token endpoint drops the connection", provider: func(p *testProvider) { p.down = true }, want: identity.ErrFederationUnavailable},
		{name: "token response without id_token", provider: func(p *testProvider) { p.status, p.body = 200, `{"access_token":"at"}` }, want: identity.ErrFederationRejected},
		{name: "client secret wrong", provider: func(p *testProvider) { p.secret = "other" }, want: identity.ErrFederationRejected},

		{name: "signed by another key", token: func(p *testProvider, c map[string]any) string {
			other := newTestProvider(p.t)
			return other.sign(c)
		}, want: identity.ErrFederationRejected},
		{name: "alg none", token: func(p *testProvider, c map[string]any) string {
			b, _ := json.Marshal(c)
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString(b) + "."
		}, want: identity.ErrFederationRejected},
		{name: "signature altered", token: func(p *testProvider, c map[string]any) string {
			tok := p.sign(c)
			return tok[:len(tok)-4] + "AAAA"
		}, want: identity.ErrFederationRejected},
		{name: "iss of another provider", claims: func(_ *testProvider, c map[string]any) { c["iss"] = "https://evil.example" }, want: identity.ErrFederationRejected},
		{name: "another audience", claims: func(_ *testProvider, c map[string]any) { c["aud"] = "another-rp" }, want: identity.ErrFederationRejected},
		{name: "no aud", claims: func(_ *testProvider, c map[string]any) { delete(c, "aud") }, want: identity.ErrFederationRejected},
		{name: "aud array without azp", claims: func(_ *testProvider, c map[string]any) { c["aud"] = []string{"portcullis", "api"} }, want: identity.ErrFederationRejected},
		{name: "azp another client", claims: func(_ *testProvider, c map[string]any) { c["azp"] = "another-rp" }, want: identity.ErrFederationRejected},
		{name: "expired", claims: func(_ *testProvider, c map[string]any) { c["exp"] = fedNow.Add(-2 * time.Minute).Unix() }, want: identity.ErrFederationRejected},
		{name: "no exp", claims: func(_ *testProvider, c map[string]any) { delete(c, "exp") }, want: identity.ErrFederationRejected},
		{name: "iat in the future", claims: func(_ *testProvider, c map[string]any) { c["iat"] = fedNow.Add(5 * time.Minute).Unix() }, want: identity.ErrFederationRejected},
		{name: "auth_time in the future", claims: func(_ *testProvider, c map[string]any) { c["auth_time"] = fedNow.Add(5 * time.Minute).Unix() }, want: identity.ErrFederationRejected},
		{name: "nonce of another login", claims: func(_ *testProvider, c map[string]any) { c["nonce"] = "other" }, want: identity.ErrFederationRejected},
		{name: "no nonce", claims: func(_ *testProvider, c map[string]any) { delete(c, "nonce") }, want: identity.ErrFederationRejected},
		{name: "no customer claim", claims: func(_ *testProvider, c map[string]any) { delete(c, "bank_customer_id") }, want: identity.ErrFederationRejected},
		{name: "customer claim a number", claims: func(_ *testProvider, c map[string]any) { c["bank_customer_id"] = 42 }, want: identity.ErrFederationRejected},
		{name: "customer claim empty", claims: func(_ *testProvider, c map[string]any) { c["bank_customer_id"] = "" }, want: identity.ErrFederationRejected},
		{name: "customer claim too long", claims: func(_ *testProvider, c map[string]any) {
			c["bank_customer_id"] = strings.Repeat("c", identity.MaxUsernameLen+1)
		}, want: identity.ErrFederationRejected},
		{name: "amr value too long", claims: func(_ *testProvider, c map[string]any) { c["amr"] = []string{"pwd", strings.Repeat("o", 257)} }, want: identity.ErrFederationRejected},
		{name: "amr value with spaces", claims: func(_ *testProvider, c map[string]any) { c["amr"] = []string{"p w d"} }, want: identity.ErrFederationRejected},
		{name: "acr too long", claims: func(_ *testProvider, c map[string]any) { c["acr"] = strings.Repeat("a", 257) }, want: identity.ErrFederationRejected},
		{name: "amr of the wrong type", claims: func(_ *testProvider, c map[string]any) { c["amr"] = "pwd" }, want: identity.ErrFederationRejected},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t)
			clk := clock.NewFake(fedNow)
			f := newFederated(t, p, clk)
			pending, q := begin(t, f, p)
			c := good(p, q.Get("nonce"))
			if tc.claims != nil {
				tc.claims(p, c)
			}
			if tc.token != nil {
				p.idToken = tc.token(p, c)
			} else {
				p.idToken = p.sign(c)
			}
			if tc.provider != nil {
				tc.provider(p)
			}
			cb := url.Values{"state": {q.Get("state")}, "code": {"the-code"}, "iss": {p.issuer()}}
			if tc.callback != nil {
				tc.callback(cb)
			}
			clk.Advance(tc.advance)
			au, err := f.Finish(context.Background(), pending, cb)
			if tc.want != nil {
				var fe *identity.FederationError
				if !errors.Is(err, tc.want) || !errors.As(err, &fe) {
					t.Fatalf("Finish: %v, want %v", err, tc.want)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if au.CustomerID != "cust-42" || au.ACR != tc.acr || !au.AuthTime.Equal(time.Unix(c["auth_time"].(int64), 0)) {
				t.Fatalf("Authentication %+v, want customer cust-42, acr %s", au, tc.acr)
			}
		})
	}
}

// TestFederatedAcrossNodes: what Finish needs travels in the pending value, so a login
// begun on one node finishes on another (a separate Federated, nothing shared) — with
// private_key_jwt client authentication this time.
func TestFederatedAcrossNodes(t *testing.T) {
	p := newTestProvider(t)
	k, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = k
	clk := clock.NewFake(fedNow)
	pkjwt := func(o *identity.FederationOptions) { o.ClientSecret, o.ClientKey = "", k }
	nodeA, nodeB := newFederated(t, p, clk, pkjwt), newFederated(t, p, clk, pkjwt)
	pending, q := begin(t, nodeA, p)
	p.idToken = p.sign(map[string]any{
		"iss": p.issuer(), "aud": "portcullis", "sub": "s", "bank_customer_id": "cust-9",
		"exp": fedNow.Add(time.Minute).Unix(), "iat": fedNow.Unix(), "nonce": q.Get("nonce"), "acr": "loa-low", "amr": []string{"pwd"},
	})
	au, err := nodeB.Finish(context.Background(), pending, url.Values{"state": {q.Get("state")}, "code": {"the-code"}, "iss": {p.issuer()}})
	if err != nil {
		t.Fatal(err)
	}
	if au.CustomerID != "cust-9" || au.ACR != identity.ACRCA || !au.AuthTime.Equal(fedNow) {
		t.Fatalf("Authentication %+v", au)
	}
	// A pending value that is not one of Begin's is refused before the provider is asked.
	for _, bad := range []string{"", "{}", "not json", strings.Repeat("x", identity.MaxPendingLogin+1)} {
		if _, err := nodeB.Finish(context.Background(), bad, url.Values{"state": {""}, "code": {"the-code"}}); !errors.Is(err, identity.ErrFederationRejected) {
			t.Errorf("pending %.20q: %v", bad, err)
		}
	}
	if p.exchanges != 1 {
		t.Errorf("token endpoint called %d times, want 1", p.exchanges)
	}
}

// TestFederatedProviderDown: discovery that cannot be fetched, or names another issuer, is
// "could not check".
func TestFederatedProviderDown(t *testing.T) {
	p := newTestProvider(t)
	f := newFederated(t, p, clock.NewFake(fedNow), func(o *identity.FederationOptions) { o.Issuer = p.issuer() + "/other" })
	if _, _, err := f.Begin(context.Background()); !errors.Is(err, identity.ErrFederationUnavailable) {
		t.Errorf("discovery of another issuer: %v", err)
	}
	p.srv.Close()
	f = newFederated(t, p, clock.NewFake(fedNow))
	if _, _, err := f.Begin(context.Background()); !errors.Is(err, identity.ErrFederationUnavailable) {
		t.Errorf("provider down: %v", err)
	}
}

// TestNewFederatedOptions: misconfigurations are refused at start.
func TestNewFederatedOptions(t *testing.T) {
	remote := jose.NewRemoteJWKS(jose.RemoteJWKSOptions{})
	k, _ := jose.GenerateSigningKey(jose.ES256)
	base := identity.FederationOptions{Issuer: "https://idp.example", ClientID: "c", ClientSecret: "s", RedirectURI: "https://bank.example/cb", Remote: remote}
	for name, edit := range map[string]func(o *identity.FederationOptions){
		"no remote":         func(o *identity.FederationOptions) { o.Remote = nil },
		"no client_id":      func(o *identity.FederationOptions) { o.ClientID = "" },
		"secret and key":    func(o *identity.FederationOptions) { o.ClientKey = k },
		"neither":           func(o *identity.FederationOptions) { o.ClientSecret = "" },
		"http issuer":       func(o *identity.FederationOptions) { o.Issuer = "http://idp.example" },
		"relative redirect": func(o *identity.FederationOptions) { o.RedirectURI = "/cb" },
		"acr_map to other":  func(o *identity.FederationOptions) { o.ACRMap = map[string]string{"x": "urn:other"} },
	} {
		o := base
		edit(&o)
		if _, err := identity.NewFederated(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := identity.NewFederated(base); err != nil {
		t.Errorf("base options: %v", err)
	}
}

func TestSCAFromAMR(t *testing.T) {
	for _, tc := range []struct {
		amr  []string
		want bool
	}{
		{nil, false}, {[]string{"pwd"}, false}, {[]string{"pwd", "pin"}, false}, {[]string{"mfa"}, false},
		{[]string{"pwd", "otp"}, true}, {[]string{"pin", "hwk"}, true}, {[]string{"fpt", "swk"}, true}, {[]string{"kba", "face"}, true},
	} {
		if got := identity.SCAFromAMR(tc.amr); got != tc.want {
			t.Errorf("SCAFromAMR(%v) = %v, want %v", tc.amr, got, tc.want)
		}
	}
}

// FuzzFederatedIDToken: whatever claims set the provider signs, Finish does not panic, and
// what it accepts names a bounded customer and one of the two Open Banking levels.
func FuzzFederatedIDToken(f *testing.F) {
	f.Add([]byte(`{"iss":"ISS","aud":"portcullis","exp":4102444800,"iat":1796680000,"nonce":"NONCE","bank_customer_id":"c","acr":"loa-high","amr":["pwd","otp"]}`))
	f.Add([]byte(`{"iss":"ISS","aud":["portcullis","x"],"azp":"portcullis","exp":4102444800,"iat":1,"nonce":"NONCE","bank_customer_id":"c","auth_time":1e300}`))
	f.Add([]byte(`{"iss":"ISS","aud":"portcullis","exp":"soon","nonce":null,"bank_customer_id":{"a":1},"amr":[1,2]}`))
	p := newTestProvider(f)
	fed := newFederated(f, p, clock.NewFake(fedNow))
	pending, q := begin(f, fed, p)
	f.Fuzz(func(t *testing.T, claims []byte) {
		payload := strings.NewReplacer("ISS", p.issuer(), "NONCE", q.Get("nonce")).Replace(string(claims))
		tok, err := p.keys.Sign([]byte(payload), "")
		if err != nil {
			t.Skip("not a claims set the key store signs")
		}
		p.mu.Lock()
		p.idToken = tok
		p.mu.Unlock()
		au, err := fed.Finish(context.Background(), pending, url.Values{"state": {q.Get("state")}, "code": {"the-code"}, "iss": {p.issuer()}})
		if err != nil {
			var fe *identity.FederationError
			if !errors.As(err, &fe) {
				t.Fatalf("error of another type: %v", err)
			}
			return
		}
		if au.CustomerID == "" || len(au.CustomerID) > identity.MaxUsernameLen || (au.ACR != identity.ACRSCA && au.ACR != identity.ACRCA) {
			t.Fatalf("accepted %+v from %s", au, payload)
		}
	})
}
