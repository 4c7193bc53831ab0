package app_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// The clients of the negative journey table.
const (
	negFAPI2  = "neg-fapi2"  // FAPI 2.0, tls_client_auth, plain parameters at PAR
	negHybrid = "neg-hybrid" // FAPI 1.0 Advanced, tls_client_auth, signed request objects, code id_token
	negOther  = "neg-other"  // another FAPI 1.0 client, its own certificate and key
	negPKJ    = "neg-pkj"    // FAPI 2.0, private_key_jwt (ES256 assertions), plain parameters at PAR
)

// negVerifier is the PKCE verifier of every request of the table; negChallenge its S256.
var negVerifier = strings.Repeat("v", 50)

func negChallenge() string {
	sum := sha256.Sum256([]byte(negVerifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// journeyEnv is a dev server with the table's clients and customers, driven over real TLS:
// the TPP side over mTLS with each client's QWAC, the customer side as a browser on the
// public listener.
type journeyEnv struct {
	t                            *testing.T
	a                            *app.App
	root                         *x509.Certificate
	mtlsBase, publicBase, issuer string
	tpp                          map[string]*http.Client // per client id, with its QWAC
	renewed                      *http.Client            // negFAPI2 with a second QWAC of the same subject DN
	hybridKey, otherKey, pkjKey  *ecdsa.PrivateKey
	rsaKey                       *rsa.PrivateKey // registered for negHybrid: RS256 is refused for its alg only
	customers                    []*negCustomer
	next                         int
}

// negCustomer is an embedded customer with a known TOTP key. A one-time code is accepted
// once per customer (the server keeps the last step used), so each login takes a step
// after the last one, within the one step of skew either side the server accepts.
type negCustomer struct {
	id, password string
	secret       []byte
	lastStep     int64
}

func (c *negCustomer) otp(t *testing.T, now time.Time) (string, bool) {
	t.Helper()
	cur := now.Unix() / 30
	s := max(c.lastStep+1, cur-1)
	if s > cur+1 {
		return "", false
	}
	c.lastStep = s
	code, err := identity.TOTPCode(c.secret, time.Unix(s*30, 0))
	if err != nil {
		t.Fatal(err)
	}
	return code, true
}

func newJourneyEnv(t *testing.T, a *app.App) *journeyEnv {
	t.Helper()
	ctx := context.Background()
	e := &journeyEnv{
		t: t, a: a, root: a.Sandbox.RootCertificate(),
		mtlsBase: "https://" + a.HTTPSAddr().String(), publicBase: "https://" + a.PublicAddr().String(),
		issuer: "https://localhost:8443", tpp: map[string]*http.Client{},
		hybridKey: negECKey(t), otherKey: negECKey(t), pkjKey: negECKey(t),
	}
	var err error
	if e.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	hybridJWKS := negJWKS(t, negECJWK(t, e.hybridKey, "h-ec"), negRSAJWK(e.rsaKey, "h-rsa"))
	otherJWKS := negJWKS(t, negECJWK(t, e.otherKey, "o-ec"))
	pkjJWKS := negJWKS(t, negECJWK(t, e.pkjKey, "p-ec"), negRSAJWK(e.rsaKey, "p-rsa"))
	grants := []string{"authorization_code", "refresh_token"}
	for i, c := range []*client.Client{
		{ID: negFAPI2, Profile: client.ProfileFAPI2, GrantTypes: grants, Scope: client.ScopeList{"openid", "accounts"}},
		{ID: negHybrid, Profile: client.ProfileFAPI1, GrantTypes: grants, Scope: client.ScopeList{"openid", "accounts"},
			JWKS: hybridJWKS, ResponseTypes: []string{client.ResponseTypeCodeIDToken, client.ResponseTypeCode}},
		{ID: negOther, Profile: client.ProfileFAPI1, GrantTypes: grants, Scope: client.ScopeList{"openid", "accounts"},
			JWKS: otherJWKS, ResponseTypes: []string{client.ResponseTypeCodeIDToken, client.ResponseTypeCode}},
		{ID: negPKJ, Profile: client.ProfileFAPI2, GrantTypes: grants, Scope: client.ScopeList{"openid", "accounts"},
			TokenEndpointAuthMethod: "private_key_jwt", JWKS: pkjJWKS},
	} {
		qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-20000" + string(rune('1'+i)), Roles: mustRoles(t, "AISP,PISP")})
		if err != nil {
			t.Fatal(err)
		}
		subject, err := dn.Render(qwac.Certificate.RawSubject)
		if err != nil {
			t.Fatal(err)
		}
		c.Name = "Negative " + c.ID
		if c.TokenEndpointAuthMethod == "" {
			c.TokenEndpointAuthMethod, c.TLSClientAuthSubjectDN = "tls_client_auth", subject
		}
		c.RedirectURIs = []string{journeyRedirect}
		if _, err := a.Clients.Add(ctx, c); err != nil {
			t.Fatalf("register %s: %v", c.ID, err)
		}
		e.tpp[c.ID] = mtlsClient(t, e.root, qwac)
	}
	// A renewed certificate of negFAPI2: the same subject DN (it authenticates as the
	// client), another key (tokens bound to the first one are not its own).
	renewed, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-200001", Roles: mustRoles(t, "AISP,PISP")})
	if err != nil {
		t.Fatal(err)
	}
	e.renewed = mtlsClient(t, e.root, renewed)
	for i := range 6 {
		secret := make([]byte, 20)
		_, _ = rand.Read(secret)
		c := &negCustomer{id: "neg-customer-" + string(rune('a'+i)), password: "negative-password-1", secret: secret}
		if _, err := a.Customers.Add(ctx, identity.NewCustomer{ID: c.id, Password: c.password, TOTPSecret: secret}); err != nil {
			t.Fatal(err)
		}
		e.customers = append(e.customers, c)
	}
	return e
}

// ---- the TPP side ----

// call POSTs form (or sends method with no body) to an mTLS endpoint as client id (nil
// client: no certificate) and returns the status, the decoded JSON body and the headers.
func (e *journeyEnv) call(c *http.Client, method, path string, form url.Values) (int, map[string]any, http.Header) {
	e.t.Helper()
	if c == nil {
		c = mtlsClient(e.t, e.root, nil)
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.mtlsBase+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, resp.Header
}

// fapi2PAR is a valid PAR form of negFAPI2.
func fapi2PAR() url.Values {
	return url.Values{
		"client_id": {negFAPI2}, "response_type": {"code"}, "redirect_uri": {journeyRedirect},
		"scope": {"openid"}, "state": {"st-2"}, "nonce": {"n-2"},
		"code_challenge": {negChallenge()}, "code_challenge_method": {"S256"},
	}
}

// hybridRO are the claims of a valid request object of negHybrid (code id_token, PKCE).
func (e *journeyEnv) hybridRO() map[string]any {
	now := time.Now().Unix()
	return map[string]any{
		"iss": negHybrid, "aud": e.issuer, "client_id": negHybrid, "iat": now, "nbf": now - 5, "exp": now + 300,
		"jti": randomHex(), "response_type": "code id_token", "redirect_uri": journeyRedirect, "scope": "openid",
		"state": "st-h", "nonce": "n-h", "code_challenge": negChallenge(), "code_challenge_method": "S256",
	}
}

// signedForm is the PAR or /authorize form carrying ro signed by negHybrid's EC key.
func (e *journeyEnv) signedForm(ro map[string]any) url.Values {
	return url.Values{"client_id": {negHybrid}, "request": {negSign(e.t, "ES256", e.hybridKey, "h-ec", ro)}}
}

// assertion returns a private_key_jwt client assertion of negPKJ for the issuer, edited.
func (e *journeyEnv) assertion(alg string, key any, kid string, edit func(map[string]any)) string {
	now := time.Now().Unix()
	c := map[string]any{"iss": negPKJ, "sub": negPKJ, "aud": e.issuer, "jti": randomHex(), "iat": now, "exp": now + 60}
	if edit != nil {
		edit(c)
	}
	return negSignTyp(e.t, "JWT", alg, key, kid, c)
}

// pkjPAR is a PAR form of negPKJ authenticated with assertion a.
func pkjPAR(a string) url.Values {
	f := withForm(fapi2PAR(), "client_id", negPKJ)
	f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	f.Set("client_assertion", a)
	return f
}

// push pushes form for client id and returns the request_uri (201 expected).
func (e *journeyEnv) push(id string, form url.Values) string {
	e.t.Helper()
	status, body, _ := e.call(e.tpp[id], http.MethodPost, "/par", form)
	uri, _ := body["request_uri"].(string)
	if status != http.StatusCreated || uri == "" {
		e.t.Fatalf("PAR %s: %d %v", id, status, body)
	}
	return uri
}

// exchange redeems code at /token for client id.
func (e *journeyEnv) exchange(id, code string, edit func(url.Values)) (int, map[string]any) {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code},
		"redirect_uri": {journeyRedirect}, "code_verifier": {negVerifier}}
	if edit != nil {
		edit(form)
	}
	status, body, h := e.call(e.tpp[id], http.MethodPost, "/token", form)
	checkTokenError(e.t, status, body, h)
	return status, body
}

// checkTokenError checks the fapi.md §1 shape of a token endpoint error: 400 (401 only for
// invalid_client), JSON, error_description in the RFC 6749 charset.
func checkTokenError(t *testing.T, status int, body map[string]any, h http.Header) {
	t.Helper()
	if status == http.StatusOK {
		return
	}
	code, _ := body["error"].(string)
	if status == http.StatusUnauthorized && code != "invalid_client" || status != http.StatusUnauthorized && status != http.StatusBadRequest {
		t.Errorf("token error %q with status %d", code, status)
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("token error Content-Type %q", h.Get("Content-Type"))
	}
	d, _ := body["error_description"].(string)
	for _, r := range d {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			t.Errorf("error_description %q outside the RFC 6749 charset", d)
			break
		}
	}
}

func (e *journeyEnv) userinfo(c *http.Client, at string) (int, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.mtlsBase+"/userinfo", nil)
	if at != "" {
		req.Header.Set("Authorization", "Bearer "+at)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func (e *journeyEnv) introspect(id, at string) bool {
	e.t.Helper()
	status, body, _ := e.call(e.tpp[id], http.MethodPost, "/introspect", url.Values{"client_id": {id}, "token": {at}})
	if status != http.StatusOK {
		e.t.Fatalf("introspect: %d %v", status, body)
	}
	active, _ := body["active"].(bool)
	return active
}

// ---- the customer side ----

// authorize sends the browser to /authorize with q and returns the response, unread
// redirects not followed.
func (e *journeyEnv) authorize(b *http.Client, method string, q url.Values) (int, string, string) {
	e.t.Helper()
	var resp *http.Response
	var err error
	switch method {
	case http.MethodGet:
		resp, err = b.Get(e.publicBase + "/authorize?" + q.Encode())
	case http.MethodPost:
		resp, err = b.PostForm(e.publicBase+"/authorize", q)
	default:
		req, _ := http.NewRequest(method, e.publicBase+"/authorize?"+q.Encode(), nil)
		resp, err = b.Do(req)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// customer returns a customer with an unused one-time code now.
func (e *journeyEnv) customer() (*negCustomer, string) {
	e.t.Helper()
	for range len(e.customers) {
		c := e.customers[e.next%len(e.customers)]
		e.next++
		if otp, ok := c.otp(e.t, time.Now()); ok {
			return c, otp
		}
	}
	e.t.Fatal("every customer of the table used its one-time codes: add customers")
	return nil, ""
}

// journey runs a customer through /authorize?q, login, TOTP and the approval page, ending
// with action (approve or deny), and returns where the browser is sent back to the client.
func (e *journeyEnv) journey(q url.Values, action string) string {
	e.t.Helper()
	b := browser(e.t, e.root)
	status, loc, body := e.authorize(b, http.MethodGet, q)
	if status != http.StatusSeeOther {
		e.t.Fatalf("/authorize: %d %s", status, body)
	}
	c, otp := e.customer()
	login := e.publicBase + loc
	next := submit(e.t, b, login, url.Values{"csrf": {page(e.t, b, login)}, "username": {c.id}, "password": {c.password}})
	next = submit(e.t, b, e.publicBase+next, url.Values{"csrf": {page(e.t, b, e.publicBase+next)}, "otp": {otp}})
	return submit(e.t, b, e.publicBase+next, url.Values{"csrf": {page(e.t, b, e.publicBase+next)}, "action": {action}})
}

// response returns the authorization response parameters of a redirect to the client: the
// query, or the fragment.
func response(t *testing.T, back string) url.Values {
	t.Helper()
	if !strings.HasPrefix(back, journeyRedirect) {
		t.Fatalf("redirected to %q, not the client's redirect_uri", back)
	}
	u, err := url.Parse(back)
	if err != nil {
		t.Fatal(err)
	}
	if u.Fragment != "" {
		f, err := url.ParseQuery(u.Fragment)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	return u.Query()
}

// codeOf runs a negFAPI2 journey (PAR, approve) and returns the code.
func (e *journeyEnv) codeOf(form url.Values) string {
	e.t.Helper()
	uri := e.push(negFAPI2, form)
	q := response(e.t, e.journey(url.Values{"client_id": {negFAPI2}, "request_uri": {uri}}, "approve"))
	if q.Get("code") == "" {
		e.t.Fatalf("no code: %v", q)
	}
	return q.Get("code")
}

// TestJourneyNegativeTable runs every error row of fapi.md §1 and §6 that applies to PAR,
// /authorize, /token (code and refresh grants) and /userinfo against the dev server over
// real TLS, asserting the status, the error code and, for redirects to the client, state
// and iss.
func TestJourneyNegativeTable(t *testing.T) {
	// Every browser of the table is a fresh client with its own connections: more than the
	// default per-address connection cap from one loopback address.
	a := startApp(t, func(cfg *config.Config) { cfg.HTTP.MaxConnectionsPerAddress = 1024 })
	e := newJourneyEnv(t, a)

	t.Run("PAR", func(t *testing.T) {
		e.t = t
		ro := func(edit func(map[string]any)) url.Values {
			c := e.hybridRO()
			edit(c)
			return e.signedForm(c)
		}
		now := time.Now().Unix()
		rows := []struct {
			name   string
			client string // whose certificate
			method string // POST unless set
			form   url.Values
			status int
			code   string // "" for 405 and 201
		}{
			{name: "GET", client: negFAPI2, method: http.MethodGet, status: 405},
			{name: "PUT", client: negFAPI2, method: http.MethodPut, form: fapi2PAR(), status: 405},
			{name: "request_uri in the form", client: negFAPI2, form: withForm(fapi2PAR(), "request_uri", "urn:ietf:params:oauth:request_uri:x"), status: 400, code: "invalid_request"},
			{name: "request_uri inside the request object", client: negHybrid, form: ro(func(c map[string]any) { c["request_uri"] = "urn:ietf:params:oauth:request_uri:x" }), status: 400, code: "invalid_request"},
			{name: "PKCE missing", client: negFAPI2, form: withoutForm(fapi2PAR(), "code_challenge", "code_challenge_method"), status: 400, code: "invalid_request"},
			{name: "PKCE plain", client: negFAPI2, form: withForm(withForm(fapi2PAR(), "code_challenge_method", "plain"), "code_challenge", negVerifier), status: 400, code: "invalid_request"},
			{name: "PKCE missing in the request object", client: negHybrid, form: ro(func(c map[string]any) { delete(c, "code_challenge"); delete(c, "code_challenge_method") }), status: 400, code: "invalid_request"},
			{name: "redirect_uri not registered", client: negFAPI2, form: withForm(fapi2PAR(), "redirect_uri", "https://attacker.example/cb"), status: 400, code: "invalid_request"},
			{name: "redirect_uri mismatched (prefix)", client: negFAPI2, form: withForm(fapi2PAR(), "redirect_uri", journeyRedirect+"/x"), status: 400, code: "invalid_request"},
			{name: "response_type token", client: negFAPI2, form: withForm(fapi2PAR(), "response_type", "token"), status: 400, code: "unsupported_response_type"},
			{name: "FAPI 2 code id_token", client: negFAPI2, form: withForm(fapi2PAR(), "response_type", "code id_token"), status: 400, code: "unsupported_response_type"},
			{name: "hybrid with response_mode query", client: negHybrid, form: ro(func(c map[string]any) { c["response_mode"] = "query" }), status: 400, code: "invalid_request"},
			{name: "FAPI 1 code without JARM", client: negHybrid, form: ro(func(c map[string]any) { c["response_type"] = "code" }), status: 400, code: "unsupported_response_type"},
			{name: "FAPI 1 without a request object", client: negHybrid, form: withForm(withForm(fapi2PAR(), "client_id", negHybrid), "response_type", "code id_token"), status: 400, code: "invalid_request"},
			{name: "RO without exp", client: negHybrid, form: ro(func(c map[string]any) { delete(c, "exp") }), status: 400, code: "invalid_request_object"},
			{name: "RO without nbf", client: negHybrid, form: ro(func(c map[string]any) { delete(c, "nbf") }), status: 400, code: "invalid_request_object"},
			{name: "RO exp - nbf over 60 minutes", client: negHybrid, form: ro(func(c map[string]any) { c["nbf"] = now - 10; c["exp"] = now - 10 + 3601 }), status: 400, code: "invalid_request_object"},
			{name: "RO nbf over 60 minutes old", client: negHybrid, form: ro(func(c map[string]any) { c["nbf"] = now - 3660; c["exp"] = now + 60 }), status: 400, code: "invalid_request_object"},
			{name: "RO expired", client: negHybrid, form: ro(func(c map[string]any) { c["nbf"] = now - 600; c["exp"] = now - 60 }), status: 400, code: "invalid_request_object"},
			{name: "RO nbf in the future", client: negHybrid, form: ro(func(c map[string]any) { c["nbf"] = now + 120; c["exp"] = now + 600 }), status: 400, code: "invalid_request_object"},
			{name: "RO nbf 10 s ahead (client clock skew)", client: negHybrid, form: ro(func(c map[string]any) { c["nbf"] = now + 10; c["iat"] = now + 10 }), status: 201},
			{name: "RO aud is the PAR URL only", client: negHybrid, form: ro(func(c map[string]any) { c["aud"] = e.issuer + "/par" }), status: 400, code: "invalid_request_object"},
			{name: "RO aud missing", client: negHybrid, form: ro(func(c map[string]any) { delete(c, "aud") }), status: 400, code: "invalid_request_object"},
			{name: "RO aud array containing the issuer", client: negHybrid, form: ro(func(c map[string]any) { c["aud"] = []string{"https://other.example", e.issuer} }), status: 201},
			{name: "RO iss is another client", client: negHybrid, form: ro(func(c map[string]any) { c["iss"] = negOther }), status: 400, code: "invalid_request_object"},
			{name: "RO client_id is another client", client: negHybrid, form: ro(func(c map[string]any) { c["client_id"] = negOther }), status: 400, code: "invalid_request_object"},
			{name: "RO signed with another client's key", client: negHybrid, form: url.Values{"client_id": {negHybrid}, "request": {negSign(t, "ES256", e.otherKey, "o-ec", e.hybridRO())}}, status: 400, code: "invalid_request_object"},
			{name: "RO signed with another client's key under this client's kid", client: negHybrid, form: url.Values{"client_id": {negHybrid}, "request": {negSign(t, "ES256", e.otherKey, "h-ec", e.hybridRO())}}, status: 400, code: "invalid_request_object"},
			{name: "RO RS256 with a registered RSA key", client: negHybrid, form: url.Values{"client_id": {negHybrid}, "request": {negSign(t, "RS256", e.rsaKey, "h-rsa", e.hybridRO())}}, status: 400, code: "invalid_request_object"},
			{name: "RO PS256 with the registered RSA key", client: negHybrid, form: url.Values{"client_id": {negHybrid}, "request": {negSign(t, "PS256", e.rsaKey, "h-rsa", e.hybridRO())}}, status: 201},
			{name: "RO alg none", client: negHybrid, form: url.Values{"client_id": {negHybrid}, "request": {negSign(t, "none", nil, "", e.hybridRO())}}, status: 400, code: "invalid_request_object"},
			{name: "form client_id is another client than the certificate's", client: negFAPI2, form: withForm(fapi2PAR(), "client_id", negOther), status: 401, code: "invalid_client"},
			{name: "no client certificate", client: "", form: fapi2PAR(), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: a valid assertion", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", nil)), status: 201},
			{name: "private_key_jwt: no assertion", client: negPKJ, form: withoutForm(pkjPAR(""), "client_assertion", "client_assertion_type"), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: aud is the token endpoint (FAPI 2: the issuer only)", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", func(c map[string]any) { c["aud"] = e.issuer + "/token" })), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: aud is the PAR endpoint (FAPI 2: the issuer only)", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", func(c map[string]any) { c["aud"] = e.issuer + "/par" })), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: aud an array containing the issuer (FAPI 2: a string)", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", func(c map[string]any) { c["aud"] = []string{e.issuer} })), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: sub missing", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", func(c map[string]any) { delete(c, "sub") })), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: iss another client", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", func(c map[string]any) { c["iss"] = negOther })), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: expired", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", func(c map[string]any) { c["iat"], c["exp"] = now-300, now-120 })), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: iat and nbf 10 s ahead (client clock skew)", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", func(c map[string]any) { c["iat"], c["nbf"] = now+10, now+10 })), status: 201},
			{name: "private_key_jwt: nbf 120 s ahead", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", func(c map[string]any) { c["nbf"], c["exp"] = now+120, now+180 })), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: RS256 with a registered RSA key", client: negPKJ, form: pkjPAR(e.assertion("RS256", e.rsaKey, "p-rsa", nil)), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: assertion typed as a request object", client: negPKJ, form: pkjPAR(negSign(t, "ES256", e.pkjKey, "p-ec", map[string]any{"iss": negPKJ, "sub": negPKJ, "aud": e.issuer, "jti": randomHex(), "iat": now, "exp": now + 60})), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: signed with another client's key", client: negPKJ, form: pkjPAR(e.assertion("ES256", e.otherKey, "p-ec", nil)), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: client_id is another client than the assertion's", client: negPKJ, form: withForm(pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", nil)), "client_id", negFAPI2), status: 401, code: "invalid_client"},
			{name: "private_key_jwt: over another client's certificate", client: negFAPI2, form: pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", nil)), status: 201},
			{name: "nonce of 64 characters", client: negFAPI2, form: withForm(fapi2PAR(), "nonce", strings.Repeat("n", 64)), status: 201},
			{name: "nonce over the limit", client: negFAPI2, form: withForm(fapi2PAR(), "nonce", strings.Repeat("n", 513)), status: 400, code: "invalid_request"},
			{name: "prompt none", client: negFAPI2, form: withForm(fapi2PAR(), "prompt", "none"), status: 400, code: "consent_required"},
			{name: "scope not registered", client: negFAPI2, form: withForm(fapi2PAR(), "scope", "openid payments"), status: 400, code: "invalid_scope"},
		}
		for _, r := range rows {
			t.Run(r.name, func(t *testing.T) {
				e.t = t
				method := r.method
				if method == "" {
					method = http.MethodPost
				}
				status, body, h := e.call(e.tpp[r.client], method, "/par", r.form)
				if status != r.status || r.code != "" && body["error"] != r.code {
					t.Fatalf("got %d %v, want %d %s", status, body, r.status, r.code)
				}
				if r.status == 201 && !strings.HasPrefix(body["request_uri"].(string), "urn:ietf:params:oauth:request_uri:") {
					t.Errorf("request_uri %v", body["request_uri"])
				}
				if r.code != "" {
					checkTokenError(t, status, body, h)
				}
			})
		}
	})

	// The browser-facing listener asks for no certificate: the TPP endpoints are not there,
	// and the authorization endpoint is not on the mTLS listener (a browser would be asked
	// for a certificate).
	t.Run("listeners", func(t *testing.T) {
		e.t = t
		b := browser(t, e.root)
		for _, path := range []string{"/par", "/token", "/userinfo", "/introspect", "/revoke"} {
			resp, err := b.PostForm(e.publicBase+path, fapi2PAR())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("POST %s on the public listener: %d", path, resp.StatusCode)
			}
		}
		resp, err := e.tpp[negFAPI2].Get(e.mtlsBase + "/authorize?client_id=" + negFAPI2)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /authorize on the mTLS listener: %d", resp.StatusCode)
		}
	})

	t.Run("PAR: private_key_jwt assertion replayed", func(t *testing.T) {
		e.t = t
		form := pkjPAR(e.assertion("ES256", e.pkjKey, "p-ec", nil))
		if status, body, _ := e.call(e.tpp[negPKJ], http.MethodPost, "/par", form); status != http.StatusCreated {
			t.Fatalf("first use: %d %v", status, body)
		}
		status, body, h := e.call(e.tpp[negPKJ], http.MethodPost, "/par", form)
		checkTokenError(t, status, body, h)
		if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("replayed assertion: %d %v", status, body)
		}
	})

	t.Run("authorize: JARM error response", func(t *testing.T) {
		e.t = t
		c := e.hybridRO()
		delete(c, "code_challenge")
		delete(c, "code_challenge_method")
		c["response_type"], c["response_mode"], c["scope"] = "code", "jwt", "openid payments"
		status, loc, body := e.authorize(browser(t, e.root), http.MethodGet, e.signedForm(c))
		if status != http.StatusSeeOther {
			t.Fatalf("%d %s", status, body)
		}
		q := response(t, loc)
		if len(q) != 1 || q.Get("response") == "" || strings.Contains(loc, "#") {
			t.Fatalf("JARM response: the parameters must be inside one JWT in the query: %s", loc)
		}
		jc := jwtClaims(t, q.Get("response"))
		if jc["error"] != "invalid_scope" || jc["state"] != "st-h" || jc["iss"] != e.issuer || jc["aud"] != negHybrid || jc["exp"] == nil {
			t.Errorf("JARM claims %v", jc)
		}
	})

	t.Run("authorize", func(t *testing.T) {
		e.t = t
		// A pushed request of negFAPI2, and one of negOther for the cross-client row.
		uri := e.push(negFAPI2, fapi2PAR())
		byValue := func(edit func(map[string]any)) url.Values {
			c := e.hybridRO()
			delete(c, "code_challenge")
			delete(c, "code_challenge_method")
			if edit != nil {
				edit(c)
			}
			return e.signedForm(c)
		}
		type want struct {
			status int    // 400 error page, 303 redirect to the client, 405
			code   string // the error in the page's detail or the redirect
			state  string // for redirects: the state expected back ("" = none)
		}
		rows := []struct {
			name   string
			method string
			q      url.Values
			want   want
		}{
			{"unknown request_uri", "GET", url.Values{"client_id": {negFAPI2}, "request_uri": {"urn:ietf:params:oauth:request_uri:nope"}}, want{400, "invalid_request_uri", ""}},
			{"request_uri not ours", "GET", url.Values{"client_id": {negFAPI2}, "request_uri": {"https://attacker.example/ro"}}, want{400, "invalid_request_uri", ""}},
			{"request_uri issued to another client", "GET", url.Values{"client_id": {negOther}, "request_uri": {uri}}, want{400, "invalid_request_uri", ""}},
			{"unknown client", "GET", url.Values{"client_id": {"nobody"}, "request_uri": {uri}}, want{400, "invalid_request", ""}},
			{"FAPI 2 plain parameters without PAR", "GET", fapi2PAR(), want{400, "invalid_request", ""}},
			{"FAPI 2 request by value", "GET", url.Values{"client_id": {negFAPI2}, "request": {negSign(t, "ES256", e.hybridKey, "h-ec", e.hybridRO())}}, want{400, "invalid_request", ""}},
			{"FAPI 1 plain parameters", "GET", url.Values{"client_id": {negHybrid}, "response_type": {"code id_token"}, "redirect_uri": {journeyRedirect}, "scope": {"openid"}, "nonce": {"n"}, "state": {"s"}}, want{400, "invalid_request", ""}},
			{"by value, redirect_uri unregistered", "GET", byValue(func(c map[string]any) { c["redirect_uri"] = "https://attacker.example/cb" }), want{400, "invalid_request", ""}},
			{"by value, redirect_uri mismatched (prefix)", "GET", byValue(func(c map[string]any) { c["redirect_uri"] = journeyRedirect + "/x" }), want{400, "invalid_request", ""}},
			{"by value, RO without exp", "GET", byValue(func(c map[string]any) { delete(c, "exp") }), want{400, "invalid_request_object", ""}},
			{"by value, RO RS256", "GET", url.Values{"client_id": {negHybrid}, "request": {negSign(t, "RS256", e.rsaKey, "h-rsa", e.hybridRO())}}, want{400, "invalid_request_object", ""}},
			{"by value, RO of another client's key", "GET", url.Values{"client_id": {negHybrid}, "request": {negSign(t, "ES256", e.otherKey, "o-ec", e.hybridRO())}}, want{400, "invalid_request_object", ""}},
			{"by value, hybrid with response_mode query", "GET", byValue(func(c map[string]any) { c["response_mode"] = "query" }), want{303, "invalid_request", "st-h"}},
			{"by value, hybrid with response_mode query, no state", "GET", byValue(func(c map[string]any) { c["response_mode"] = "query"; delete(c, "state") }), want{303, "invalid_request", ""}},
			{"by value, scope not registered", "POST", byValue(func(c map[string]any) { c["scope"] = "openid payments" }), want{303, "invalid_scope", "st-h"}},
			{"by value, prompt none", "GET", byValue(func(c map[string]any) { c["prompt"] = "none" }), want{303, "consent_required", "st-h"}},
			{"by value, hybrid without nonce", "GET", byValue(func(c map[string]any) { delete(c, "nonce") }), want{303, "invalid_request", "st-h"}},
			{"by value, response_type token", "GET", byValue(func(c map[string]any) { c["response_type"] = "token" }), want{303, "unsupported_response_type", "st-h"}},
			{"by value, response_type code token", "GET", byValue(func(c map[string]any) { c["response_type"] = "code token" }), want{303, "unsupported_response_type", "st-h"}},
			{"PUT", "PUT", url.Values{"client_id": {negFAPI2}, "request_uri": {uri}}, want{405, "", ""}},
			{"DELETE", "DELETE", url.Values{"client_id": {negFAPI2}, "request_uri": {uri}}, want{405, "", ""}},
			{"parameter repeated", "GET", url.Values{"client_id": {negFAPI2, negFAPI2}, "request_uri": {uri}}, want{400, "invalid_request", ""}},
		}
		for _, r := range rows {
			t.Run(r.name, func(t *testing.T) {
				e.t = t
				status, loc, body := e.authorize(browser(t, e.root), r.method, r.q)
				if status != r.want.status {
					t.Fatalf("status %d (Location %q), want %d: %s", status, loc, r.want.status, body)
				}
				switch status {
				case http.StatusSeeOther:
					q := response(t, loc)
					if q.Get("error") != r.want.code || q.Get("iss") != e.issuer || q.Get("state") != r.want.state || q.Has("state") != (r.want.state != "") {
						t.Errorf("redirect %v, want error %s state %q iss %s", q, r.want.code, r.want.state, e.issuer)
					}
					if !strings.Contains(loc, "#") {
						t.Errorf("error response for a hybrid or implicit request not in the fragment (RFC 6749 §4.2.2.1): %s", loc)
					}
				default:
					if loc != "" {
						t.Errorf("an error page must not redirect: Location %q", loc)
					}
					if !strings.Contains(body, "<html") || !strings.Contains(body, r.want.code) {
						t.Errorf("error page without %q:\n%s", r.want.code, body)
					}
				}
			})
		}
	})

	t.Run("journeys", func(t *testing.T) {
		e.t = t
		// request_uri: not consumed when the page loads, consumed at completion; reuse is
		// an error page.
		t.Run("request_uri reuse", func(t *testing.T) {
			e.t = t
			uri := e.push(negFAPI2, fapi2PAR())
			q := url.Values{"client_id": {negFAPI2}, "request_uri": {uri}}
			if status, _, body := e.authorize(browser(t, e.root), http.MethodGet, q); status != http.StatusSeeOther {
				t.Fatalf("first page load: %d %s", status, body)
			}
			back := response(t, e.journey(q, "approve"))
			if back.Get("code") == "" || back.Get("state") != "st-2" || back.Get("iss") != e.issuer {
				t.Fatalf("response %v", back)
			}
			status, loc, body := e.authorize(browser(t, e.root), http.MethodGet, q)
			if status != http.StatusBadRequest || loc != "" || !strings.Contains(body, "invalid_request_uri") {
				t.Errorf("reused request_uri: %d %q %s", status, loc, body)
			}
		})
		t.Run("customer denies", func(t *testing.T) {
			e.t = t
			uri := e.push(negFAPI2, fapi2PAR())
			back := e.journey(url.Values{"client_id": {negFAPI2}, "request_uri": {uri}}, "deny")
			q := response(t, back)
			if q.Get("error") != "access_denied" || q.Get("state") != "st-2" || q.Get("iss") != e.issuer || q.Has("code") {
				t.Errorf("deny: %v", q)
			}
		})
		t.Run("essential acr not met", func(t *testing.T) {
			e.t = t
			c := e.hybridRO()
			c["claims"] = map[string]any{"id_token": map[string]any{"acr": map[string]any{"essential": true, "values": []string{"urn:example:loa:4"}}}}
			uri := e.push(negHybrid, e.signedForm(c))
			q := response(t, e.journey(url.Values{"client_id": {negHybrid}, "request_uri": {uri}}, "approve"))
			if q.Get("error") != "access_denied" || q.Get("state") != "st-h" || q.Get("iss") != e.issuer || q.Has("code") || q.Has("id_token") {
				t.Errorf("essential acr: %v", q)
			}
		})
		t.Run("no state: no state and no s_hash; 64-character nonce intact", func(t *testing.T) {
			e.t = t
			c := e.hybridRO()
			delete(c, "state")
			nonce := strings.Repeat("N", 64)
			c["nonce"] = nonce
			uri := e.push(negHybrid, e.signedForm(c))
			back := e.journey(url.Values{"client_id": {negHybrid}, "request_uri": {uri}}, "approve")
			q := response(t, back)
			if q.Has("state") || q.Get("code") == "" || q.Get("iss") != e.issuer || !strings.Contains(back, "#") {
				t.Fatalf("response %v", q)
			}
			idt := jwtClaims(t, q.Get("id_token"))
			if _, ok := idt["s_hash"]; ok || idt["nonce"] != nonce || idt["c_hash"] == nil {
				t.Errorf("front-channel ID token %v", idt)
			}
			status, tok := e.exchange(negHybrid, q.Get("code"), nil)
			if status != http.StatusOK || jwtClaims(t, tok["id_token"].(string))["nonce"] != nonce {
				t.Errorf("token: %d %v", status, tok)
			}
		})
		t.Run("nonce of 300 characters returned intact", func(t *testing.T) {
			e.t = t
			nonce := strings.Repeat("x", 300)
			code := e.codeOf(withForm(fapi2PAR(), "nonce", nonce))
			status, tok := e.exchange(negFAPI2, code, nil)
			if status != http.StatusOK || jwtClaims(t, tok["id_token"].(string))["nonce"] != nonce {
				t.Errorf("token: %d %v", status, tok)
			}
		})
	})

	t.Run("token", func(t *testing.T) {
		e.t = t
		type row struct {
			name   string
			id     string // the client (and certificate) redeeming the code
			edit   func(url.Values)
			status int
			code   string
		}
		for _, r := range []row{
			{"PKCE verifier missing", negFAPI2, func(f url.Values) { f.Del("code_verifier") }, 400, "invalid_grant"},
			{"PKCE verifier wrong", negFAPI2, func(f url.Values) { f.Set("code_verifier", strings.Repeat("w", 50)) }, 400, "invalid_grant"},
			{"PKCE verifier is the challenge (plain)", negFAPI2, func(f url.Values) { f.Set("code_verifier", negChallenge()) }, 400, "invalid_grant"},
			{"code of another client", negOther, nil, 400, "invalid_grant"},
			{"redirect_uri mismatched", negFAPI2, func(f url.Values) { f.Set("redirect_uri", journeyRedirect+"/x") }, 400, "invalid_grant"},
			{"client_id of another client than the certificate's", negFAPI2, func(f url.Values) { f.Set("client_id", negOther) }, 401, "invalid_client"},
		} {
			t.Run(r.name, func(t *testing.T) {
				e.t = t
				code := e.codeOf(fapi2PAR())
				status, body := e.exchange(r.id, code, r.edit)
				if status != r.status || body["error"] != r.code {
					t.Fatalf("got %d %v, want %d %s", status, body, r.status, r.code)
				}
			})
		}
		t.Run("unknown code", func(t *testing.T) {
			e.t = t
			if status, body := e.exchange(negFAPI2, "not-a-code", nil); status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("got %d %v", status, body)
			}
		})
		t.Run("no client certificate", func(t *testing.T) {
			e.t = t
			code := e.codeOf(fapi2PAR())
			status, body, h := e.call(nil, http.MethodPost, "/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {negFAPI2},
				"code": {code}, "redirect_uri": {journeyRedirect}, "code_verifier": {negVerifier}})
			checkTokenError(t, status, body, h)
			if status != 401 || body["error"] != "invalid_client" {
				t.Errorf("got %d %v", status, body)
			}
		})

		// A code used twice: invalid_grant, and every token issued from it is revoked —
		// the first access token is refused at /userinfo and inactive at introspection,
		// the refresh token is dead.
		t.Run("code reuse revokes the tokens", func(t *testing.T) {
			e.t = t
			code := e.codeOf(fapi2PAR())
			status, tok := e.exchange(negFAPI2, code, nil)
			if status != http.StatusOK {
				t.Fatalf("first exchange: %d %v", status, tok)
			}
			at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
			if s, _ := e.userinfo(e.tpp[negFAPI2], at); s != http.StatusOK || !e.introspect(negFAPI2, at) {
				t.Fatalf("before the replay: userinfo %d", s)
			}
			if status, body := e.exchange(negFAPI2, code, nil); status != 400 || body["error"] != "invalid_grant" {
				t.Fatalf("replay: %d %v", status, body)
			}
			s, h := e.userinfo(e.tpp[negFAPI2], at)
			if s != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("userinfo after the replay: %d %q", s, h.Get("WWW-Authenticate"))
			}
			if e.introspect(negFAPI2, at) {
				t.Error("the first access token is still active after the replay")
			}
			status, body, h2 := e.call(e.tpp[negFAPI2], http.MethodPost, "/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {negFAPI2}, "refresh_token": {rt}})
			checkTokenError(t, status, body, h2)
			if status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("refresh after the replay: %d %v", status, body)
			}
		})

		t.Run("refresh", func(t *testing.T) {
			e.t = t
			code := e.codeOf(fapi2PAR())
			status, tok := e.exchange(negFAPI2, code, nil)
			if status != http.StatusOK {
				t.Fatalf("exchange: %d %v", status, tok)
			}
			rt := tok["refresh_token"].(string)
			refresh := func(id string, edit func(url.Values)) (int, map[string]any) {
				f := url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {rt}}
				if edit != nil {
					edit(f)
				}
				status, body, h := e.call(e.tpp[id], http.MethodPost, "/token", f)
				checkTokenError(t, status, body, h)
				return status, body
			}
			for _, r := range []struct {
				name   string
				id     string
				edit   func(url.Values)
				status int
				code   string
			}{
				{"of another client", negOther, nil, 400, "invalid_grant"},
				{"client_id of another client than the certificate's", negFAPI2, func(f url.Values) { f.Set("client_id", negOther) }, 401, "invalid_client"},
				{"scope beyond the grant", negFAPI2, func(f url.Values) { f.Set("scope", "openid accounts") }, 400, "invalid_scope"},
				{"unknown refresh token", negFAPI2, func(f url.Values) { f.Set("refresh_token", "nope") }, 400, "invalid_grant"},
				{"refresh_token missing", negFAPI2, func(f url.Values) { f.Del("refresh_token") }, 400, "invalid_request"},
			} {
				if status, body := refresh(r.id, r.edit); status != r.status || body["error"] != r.code {
					t.Errorf("%s: got %d %v, want %d %s", r.name, status, body, r.status, r.code)
				}
			}
			// Unbound use: the client's renewed certificate authenticates it, but the refresh
			// token is bound to the certificate it was issued to.
			status, body, h := e.call(e.renewed, http.MethodPost, "/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {negFAPI2}, "refresh_token": {rt}})
			checkTokenError(t, status, body, h)
			if status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("refresh with another certificate of the client: %d %v", status, body)
			}
			// FAPI 2.0: no rotation; the same refresh token works again (FAPI2 §5.3.2.1).
			for i := range 2 {
				if status, body := refresh(negFAPI2, nil); status != 200 || body["refresh_token"] != nil {
					t.Errorf("FAPI 2 refresh %d: %d %v", i, status, body)
				}
			}
		})

		t.Run("refresh rotation (FAPI 1): the old token is dead and its reuse revokes the family", func(t *testing.T) {
			e.t = t
			uri := e.push(negHybrid, e.signedForm(e.hybridRO()))
			q := response(t, e.journey(url.Values{"client_id": {negHybrid}, "request_uri": {uri}}, "approve"))
			if idt := jwtClaims(t, q.Get("id_token")); idt["s_hash"] == nil || idt["c_hash"] == nil || idt["nonce"] != "n-h" || q.Get("state") != "st-h" {
				t.Errorf("hybrid response with state: %v, ID token %v", q, idt)
			}
			status, tok := e.exchange(negHybrid, q.Get("code"), nil)
			if status != http.StatusOK {
				t.Fatalf("exchange: %d %v", status, tok)
			}
			rt := tok["refresh_token"].(string)
			post := func(rt string) (int, map[string]any) {
				status, body, h := e.call(e.tpp[negHybrid], http.MethodPost, "/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {negHybrid}, "refresh_token": {rt}})
				checkTokenError(t, status, body, h)
				return status, body
			}
			status, next := post(rt)
			rt2, _ := next["refresh_token"].(string)
			if status != 200 || rt2 == "" || rt2 == rt {
				t.Fatalf("rotation: %d %v", status, next)
			}
			if status, body := post(rt); status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("old refresh token: %d %v", status, body)
			}
			if status, body := post(rt2); status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("successor after the reuse (family revoked): %d %v", status, body)
			}
			if e.introspect(negHybrid, next["access_token"].(string)) {
				t.Error("an access token of the revoked family is still active")
			}
		})
	})

	t.Run("userinfo", func(t *testing.T) {
		e.t = t
		code := e.codeOf(fapi2PAR())
		status, tok := e.exchange(negFAPI2, code, nil)
		if status != http.StatusOK {
			t.Fatalf("exchange: %d %v", status, tok)
		}
		at := tok["access_token"].(string)
		req, _ := http.NewRequest(http.MethodGet, e.mtlsBase+"/userinfo", nil)
		req.Header.Set("Authorization", "bEaReR "+at)
		if resp, err := e.tpp[negFAPI2].Do(req); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("scheme in another case: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		for _, r := range []struct {
			name   string
			c      *http.Client
			token  string
			status int
		}{
			{"no token", e.tpp[negFAPI2], "", 401},
			{"another client's certificate (unbound use)", e.tpp[negOther], at, 401},
			{"the client's renewed certificate (unbound use)", e.renewed, at, 401},
			{"no certificate", mtlsClient(t, e.root, nil), at, 401},
			{"garbage token", e.tpp[negFAPI2], "not.a.token", 401},
			{"the bound certificate", e.tpp[negFAPI2], at, 200},
		} {
			s, h := e.userinfo(r.c, r.token)
			if s != r.status {
				t.Errorf("%s: %d, want %d", r.name, s, r.status)
			}
			if s == 401 && !strings.HasPrefix(strings.ToLower(h.Get("WWW-Authenticate")), "bearer") {
				t.Errorf("%s: WWW-Authenticate %q", r.name, h.Get("WWW-Authenticate"))
			}
		}
	})
}

// ---- helpers ----

func withForm(f url.Values, k, v string) url.Values {
	out := url.Values{}
	for kk, vv := range f {
		out[kk] = append([]string(nil), vv...)
	}
	out.Set(k, v)
	return out
}

func withoutForm(f url.Values, keys ...string) url.Values {
	out := withForm(f, "", "")
	out.Del("")
	for _, k := range keys {
		out.Del(k)
	}
	return out
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func negECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func negECJWK(t *testing.T, k *ecdsa.PrivateKey, kid string) map[string]any {
	t.Helper()
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b := base64.RawURLEncoding.EncodeToString
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b(pub[1:33]), "y": b(pub[33:]), "kid": kid, "use": "sig"}
}

func negRSAJWK(k *rsa.PrivateKey, kid string) map[string]any {
	b := base64.RawURLEncoding.EncodeToString
	return map[string]any{"kty": "RSA", "n": b(k.N.Bytes()), "e": b(big.NewInt(int64(k.E)).Bytes()), "kid": kid, "use": "sig"}
}

func negJWKS(t *testing.T, keys ...map[string]any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// negSign signs claims as a request object (typ oauth-authz-req+jwt) with the standard
// library (the test does not share the server's JOSE code): ES256, RS256, PS256, or none.
func negSign(t *testing.T, alg string, key any, kid string, claims map[string]any) string {
	t.Helper()
	return negSignTyp(t, "oauth-authz-req+jwt", alg, key, kid, claims)
}

func negSignTyp(t *testing.T, typ, alg string, key any, kid string, claims map[string]any) string {
	t.Helper()
	hdr := map[string]any{"alg": alg, "typ": typ}
	if kid != "" {
		hdr["kid"] = kid
	}
	hb, _ := json.Marshal(hdr)
	cb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64u(hb) + "." + b64u(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "none":
	default:
		t.Fatalf("negSign: alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64u(sig)
}
