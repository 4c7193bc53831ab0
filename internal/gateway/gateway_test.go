package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki/revocation"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/internal/upstream"
)

const (
	testInteractionID = "6f0d7a52-1c38-4f7e-9a55-3e0c2d9b7a10"
	accountsPath      = bank.PathAccounts
	paymentsPath      = bank.PathDomesticPayments
	validPaymentBody  = `{"Data":{"ConsentId":"pdc-ok","Initiation":{"InstructionIdentification":"ACME412","EndToEndIdentification":"E2E-1",` +
		`"InstructedAmount":{"Amount":"10.00","Currency":"GBP"},"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"}}},"Risk":{}}`
)

// mode is how a request reaches the gateway.
type mode string

const (
	modeDirect  mode = "proxy"   // the TPP calls the gateway over mTLS; it forwards
	modeEnvoy   mode = "envoy"   // Envoy HTTP ext_authz: path prefix + XFCC
	modeNginx   mode = "nginx"   // nginx auth_request: X-Original-* + URL-encoded PEM
	modeTraefik mode = "traefik" // Traefik ForwardAuth: X-Forwarded-Method/-Uri + URL-encoded PEM
)

var allModes = []mode{modeDirect, modeEnvoy, modeNginx, modeTraefik}

// call is one request of a table row.
type call struct {
	cert   string // client certificate: A, B, C, R or none
	method string
	path   string // path and query
	auth   string // Authorization header; "" for none
	body   string
	// headers are further headers of the original request (names sent as
	// written, underscores included).
	headers map[string]string
}

// do sends c to the gateway in mode m and returns the answer.
func (f *fixture) do(t *testing.T, m mode, c call) response {
	t.Helper()
	var req *http.Request
	var err error
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	client := f.clients["none"] // the proxy in front has no client certificate
	switch m {
	case modeDirect:
		req, err = http.NewRequest(c.method, f.proxySrv.URL+c.path, body)
		client = f.clients[c.cert]
	case modeEnvoy:
		req, err = http.NewRequest(c.method, f.envoySrv.URL+ExtAuthzPath+c.path, body)
		if err == nil && c.cert != "none" {
			req.Header.Set("X-Forwarded-Client-Cert", xfcc(f.certs[c.cert]))
		}
	case modeNginx, modeTraefik:
		req, err = http.NewRequest(http.MethodGet, f.nginxSrv.URL+ExtAuthzPath, nil)
		if err == nil {
			if m == modeNginx {
				req.Header.Set("X-Original-Method", c.method)
				req.Header.Set("X-Original-Uri", c.path)
			} else {
				req.Header.Set("X-Forwarded-Method", c.method)
				req.Header.Set("X-Forwarded-Uri", c.path)
			}
			if c.cert != "none" {
				req.Header.Set("X-SSL-Client-Cert", percentEncode(string(f.certs[c.cert].CertPEM)))
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("X-Fapi-Interaction-Id", testInteractionID)
	for k, v := range c.headers {
		req.Header[k] = []string{v}
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Idempotency-Key", fmt.Sprintf("idem-%d", time.Now().UnixNano()))
	}
	resp, err := client.Do(req)
	return readResponse(t, resp, err)
}

// want is the expected verdict of a row, the same in every mode.
type want struct {
	ok        bool   // allowed: proxied (direct) / 200 with identity (ext-authz)
	status    int    // allowed: the upstream's status in direct mode; refused: the status in every mode
	code      string // body Code (refusals with a body)
	obCode    string // body Errors[0].ErrorCode
	challenge string // exact WWW-Authenticate
	err       error  // the gateway domain error (audit event)
	cause     error  // a deeper cause the domain error must wrap
	psu       string // allowed: expected X-Portcullis-Psu-Id ("" for application tokens)
}

// TestVerdicts is acceptance criteria 1 and 3: one table of requests, each run in
// proxy mode and in the three ext-authz dialects, with the same verdict
// (status, error code, challenge, domain error) everywhere; refused requests never
// reach the upstream, ext-authz requests never do.
func TestVerdicts(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	bearer := func(tok string) string { return "Bearer " + tok }

	// A payment to read back with a client-credentials token.
	created := f.do(t, modeDirect, call{cert: "A", method: "POST", path: paymentsPath,
		auth: bearer(f.userToken(t, "A", "pdc-ok", "payments")), body: validPaymentBody})
	if created.status != http.StatusCreated {
		t.Fatalf("creating the payment: %d %s", created.status, created.body)
	}
	var payment struct {
		Data struct{ DomesticPaymentId string }
	}
	if err := json.Unmarshal(created.body, &payment); err != nil {
		t.Fatal(err)
	}
	paymentPath := paymentsPath + "/" + payment.Data.DomesticPaymentId

	past := clock.NewFake(f.clk.Now().Add(-2 * time.Hour))
	otherKey, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	otherKeys, err := jose.NewKeyStore(jose.KeyStoreOptions{Clock: f.clk}, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	invalidToken := func(desc string) string { return `Bearer error="invalid_token", error_description="` + desc + `"` }

	tests := []struct {
		name string
		call func() call
		want want
	}{
		// Accepted.
		{name: "client-credentials token at an application route",
			call: func() call {
				return call{cert: "A", method: "GET", path: paymentPath, auth: bearer(f.appToken(t, "A", "payments"))}
			},
			want: want{ok: true, status: 200}},
		{name: "customer token reads accounts",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "A", "aac-ok", "accounts"))}
			},
			want: want{ok: true, status: 200, psu: "demo"}},
		{name: "scheme is case-insensitive",
			call: func() call {
				return call{cert: "A", method: "GET", path: bank.BasePath + "/aisp/accounts/22289/balances", auth: "bEARER " + f.userToken(t, "A", "aac-ok", "accounts")}
			},
			want: want{ok: true, status: 200, psu: "demo"}},
		{name: "customer token submits a payment",
			call: func() call {
				return call{cert: "A", method: "POST", path: paymentsPath, auth: bearer(f.userToken(t, "A", "pdc-ok", "payments")), body: validPaymentBody}
			},
			want: want{ok: true, status: 201, psu: "demo"}},

		// Token type, scope, role, consent: 403.
		{name: "client-credentials token at a customer route",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.appToken(t, "A", "accounts"))}
			},
			want: want{status: 403, code: CodeTokenUse, obCode: "UK.OBIE.Resource.ConsentMismatch", err: ErrTokenUse}},
		{name: "customer token at an application route",
			call: func() call {
				return call{cert: "A", method: "GET", path: paymentPath, auth: bearer(f.userToken(t, "A", "pdc-ok", "payments"))}
			},
			want: want{status: 403, code: CodeTokenUse, obCode: "UK.OBIE.Resource.ConsentMismatch", err: ErrTokenUse}},
		{name: "insufficient scope",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "A", "aac-ok", "payments"))}
			},
			want: want{status: 403, code: CodeInsufficientScope, obCode: "UK.OBIE.Resource.ConsentMismatch",
				challenge: `Bearer error="insufficient_scope", scope="accounts"`, err: ErrInsufficientScope}},
		{name: "certificate without the route's PSD2 role",
			call: func() call {
				return call{cert: "C", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "C", "aac-ok", "accounts"))}
			},
			want: want{status: 403, code: CodeRoleNotAllowed, obCode: "UK.OBIE.Resource.ConsentMismatch", err: ErrRoleNotAllowed}},
		{name: "consent refused by the validator",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "A", "aac-revoked", "accounts"))}
			},
			want: want{status: 403, code: CodeConsentInvalid, obCode: "UK.OBIE.Resource.InvalidConsentStatus", err: ErrConsentRejected}},
		{name: "consent refused with the validator's status",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "A", "aac-400", "accounts"))}
			},
			want: want{status: 400, code: CodeConsentInvalid, obCode: "UK.OBIE.Field.Invalid", err: ErrConsentRejected}},
		{name: "customer token without consent on a consent route",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "A", "", "accounts"))}
			},
			want: want{status: 403, code: CodeConsentInvalid, obCode: "UK.OBIE.Resource.ConsentMismatch", err: ErrConsentRejected}},
		{name: "consent validator unavailable",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "A", "aac-down", "accounts"))}
			},
			want: want{status: 503, code: CodeConsentUnavailable, obCode: "UK.OBIE.UnexpectedError", err: ErrConsentUnavailable}},
		{name: "unusable consent decision",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "A", "aac-bad", "accounts"))}
			},
			want: want{status: 503, code: CodeConsentUnavailable, obCode: "UK.OBIE.UnexpectedError", err: ErrConsentUnavailable}},

		// Bad or unbound tokens: 401 invalid_token.
		{name: "token presented with another certificate",
			call: func() call {
				return call{cert: "B", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "A", "aac-ok", "accounts"))}
			},
			want: want{status: 401, challenge: invalidToken("The access token is bound to another certificate"), err: ErrBindingMismatch, cause: token.ErrCertificateMismatch}},
		{name: "expired token",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.otherIssuerToken(t, past, testIssuer, nil))}
			},
			want: want{status: 401, challenge: invalidToken("The access token expired"), err: ErrInvalidToken, cause: token.ErrExpired}},
		{name: "tampered token",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(tampered(t, f.userToken(t, "A", "aac-ok", "accounts")))}
			},
			want: want{status: 401, challenge: invalidToken("The access token is not valid"), err: ErrInvalidToken, cause: token.ErrBadSignature}},
		{name: "wrong issuer",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.otherIssuerToken(t, f.clk, "https://evil.example", nil))}
			},
			want: want{status: 401, challenge: invalidToken("The access token is not valid"), err: ErrInvalidToken, cause: token.ErrWrongIssuer}},
		{name: "signed by a key that is not the authorization server's",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.otherIssuerToken(t, f.clk, testIssuer, otherKeys))}
			},
			want: want{status: 401, challenge: invalidToken("The access token is not valid"), err: ErrInvalidToken, cause: jose.ErrUnknownKey}},
		{name: "alg none",
			call: func() call { return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.algNone(t))} },
			want: want{status: 401, challenge: invalidToken("The access token is not valid"), err: ErrInvalidToken, cause: jose.ErrAlgNotAllowed}},
		{name: "revoked token",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.revokedToken(t))}
			},
			want: want{status: 401, challenge: invalidToken("The access token is not valid"), err: ErrInvalidToken, cause: token.ErrRevoked}},
		{name: "unbound token (no cnf)",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.signed(t, "at+jwt", func(c map[string]any) { delete(c, "cnf") }))}
			},
			want: want{status: 401, challenge: invalidToken("The access token is not valid"), err: ErrInvalidToken, cause: token.ErrUnbound}},
		{name: "not an access token (typ JWT)",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.signed(t, "JWT", func(map[string]any) {}))}
			},
			want: want{status: 401, challenge: invalidToken("The access token is not valid"), err: ErrInvalidToken, cause: token.ErrWrongType}},
		{name: "wrong audience",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath, auth: bearer(f.signed(t, "at+jwt", func(c map[string]any) { c["aud"] = "https://other-rs.example" }))}
			},
			want: want{status: 401, challenge: invalidToken("The access token is not valid"), err: ErrInvalidToken, cause: token.ErrWrongAudience}},
		{name: "malformed token",
			call: func() call { return call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer not a token"} },
			want: want{status: 401, challenge: invalidToken("The access token is not valid"), err: ErrInvalidToken}},

		// The certificate.
		{name: "revoked client certificate",
			call: func() call {
				return call{cert: "R", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "R", "aac-ok", "accounts"))}
			},
			want: want{status: 401, code: CodeCertificateInvalid, obCode: "UK.OBIE.Header.Invalid", challenge: invalidToken("The client certificate is not accepted"), err: ErrCertificateInvalid, cause: revocation.ErrRevoked}},
		{name: "no client certificate",
			call: func() call {
				return call{cert: "none", method: "GET", path: accountsPath, auth: bearer(f.userToken(t, "A", "aac-ok", "accounts"))}
			},
			want: want{status: 401, code: CodeCertificateRequired, obCode: "UK.OBIE.Header.Missing", challenge: invalidToken("A client certificate is required"), err: ErrNoCertificate}},

		// Where the token is.
		{name: "no token",
			call: func() call { return call{cert: "A", method: "GET", path: accountsPath} },
			want: want{status: 401, challenge: "Bearer", err: ErrNoToken}},
		{name: "another authentication scheme",
			call: func() call { return call{cert: "A", method: "GET", path: accountsPath, auth: "Basic dHBwLTE6c2VjcmV0"} },
			want: want{status: 401, challenge: "Bearer", err: ErrNoToken}},
		{name: "token in the query string",
			call: func() call {
				tok := f.userToken(t, "A", "aac-ok", "accounts")
				return call{cert: "A", method: "GET", path: accountsPath + "?access_token=" + tok, auth: bearer(tok)}
			},
			want: want{status: 400, code: CodeInvalidRequest, obCode: "UK.OBIE.Field.Unexpected", challenge: `Bearer error="invalid_request"`, err: ErrTokenInQuery}},

		// Routing.
		{name: "unknown route",
			call: func() call {
				return call{cert: "A", method: "GET", path: bank.BasePath + "/aisp/beneficiaries", auth: bearer(f.userToken(t, "A", "aac-ok", "accounts"))}
			},
			want: want{status: 404, code: CodeRouteNotFound, obCode: "UK.OBIE.Resource.NotFound", err: ErrRouteNotFound}},
		{name: "known path, other method",
			call: func() call {
				return call{cert: "A", method: "DELETE", path: accountsPath, auth: bearer(f.userToken(t, "A", "aac-ok", "accounts"))}
			},
			want: want{status: 404, code: CodeRouteNotFound, obCode: "UK.OBIE.Resource.NotFound", err: ErrRouteNotFound}},
		{name: "encoded slash in a path parameter",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath + "/22289%2Fbalances", auth: bearer(f.userToken(t, "A", "aac-ok", "accounts"))}
			},
			want: want{status: 400, code: CodeInvalidPath, obCode: "UK.OBIE.Field.Invalid", err: ErrInvalidPath}},
		{name: "encoded dot segments",
			call: func() call {
				return call{cert: "A", method: "GET", path: accountsPath + "/22289/%2E%2E/40507", auth: bearer(f.userToken(t, "A", "aac-ok", "accounts"))}
			},
			want: want{status: 400, code: CodeInvalidPath, obCode: "UK.OBIE.Field.Invalid", err: ErrInvalidPath}},
	}
	// Path parameters and double encoding (issue 9 point 3): each of these matched a
	// route and reached the upstream as is, where Tomcat/Spring read it as another
	// path. Every one is 400 invalid_path in every mode, and none is forwarded.
	for _, p := range []string{
		paymentsPath + "/..;",
		paymentsPath + "/%2e%2e;",
		paymentsPath + "/..%3b",
		paymentsPath + "/..%3B",
		paymentsPath + "/%252e%252e",
		paymentsPath + "/%252e%252e%253b",
		paymentsPath + "/p1;jsessionid=x",
		paymentsPath + "/p1%25",
		paymentsPath + "/p1%5C..%5C",
		paymentsPath + "/p1%00",
		accountsPath + ";/22289",
		accountsPath + "/22289%2fbalances",
		accountsPath + "/%2e",
	} {
		tests = append(tests, struct {
			name string
			call func() call
			want want
		}{name: "non-canonical path " + p[len(bank.BasePath):],
			call: func() call {
				return call{cert: "A", method: "GET", path: p, auth: bearer(f.appToken(t, "A", "payments"))}
			},
			want: want{status: 400, code: CodeInvalidPath, obCode: "UK.OBIE.Field.Invalid", err: ErrInvalidPath}})
	}
	for _, tt := range tests {
		for _, m := range allModes {
			t.Run(tt.name+"/"+string(m), func(t *testing.T) {
				c := tt.call()
				before, events := f.bank.n.Load(), f.audit.count()
				got := f.do(t, m, c)
				forwarded := f.bank.n.Load() - before
				evs := f.audit.since(events)

				if ids := got.header.Values("X-Fapi-Interaction-Id"); len(ids) != 1 || ids[0] != testInteractionID {
					t.Errorf("x-fapi-interaction-id = %q, want the caller's", ids)
				}
				if tt.want.ok {
					checkAllowed(t, m, tt.want, got, forwarded, evs)
					return
				}
				checkRefused(t, tt.want, got, forwarded, evs)
			})
		}
	}
}

func checkAllowed(t *testing.T, m mode, w want, got response, forwarded int64, evs []AuditEvent) {
	t.Helper()
	if len(evs) != 0 {
		t.Errorf("allowed request produced audit events: %+v", evs)
	}
	if m == modeDirect {
		if got.status != w.status || forwarded != 1 {
			t.Fatalf("status = %d (forwarded %d), want %d forwarded once; body %s", got.status, forwarded, w.status, got.body)
		}
		return
	}
	if got.status != http.StatusOK || forwarded != 0 || len(got.body) != 0 {
		t.Fatalf("ext-authz answer = %d %q (forwarded %d), want 200, empty, nothing forwarded", got.status, got.body, forwarded)
	}
	if got.header.Get(upstream.HeaderClientID) != "tpp-1" || got.header.Get(upstream.HeaderPSUID) != w.psu ||
		got.header.Get(upstream.HeaderInteractionID) != testInteractionID {
		t.Errorf("identity headers: client %q psu %q interaction %q", got.header.Get(upstream.HeaderClientID),
			got.header.Get(upstream.HeaderPSUID), got.header.Get(upstream.HeaderInteractionID))
	}
}

func checkRefused(t *testing.T, w want, got response, forwarded int64, evs []AuditEvent) {
	t.Helper()
	if got.status != w.status {
		t.Fatalf("status = %d, want %d; body %s", got.status, w.status, got.body)
	}
	if forwarded != 0 {
		t.Errorf("refused request reached the upstream %d times", forwarded)
	}
	if c := got.header.Get("WWW-Authenticate"); c != w.challenge {
		t.Errorf("WWW-Authenticate = %q, want %q", c, w.challenge)
	}
	// Token 401s have no body (OB-09); certificate 401s and every other refusal carry
	// the OBIE error body (w.code names the body's Code).
	if w.status == http.StatusUnauthorized && w.code == "" {
		if len(got.body) != 0 {
			t.Errorf("401 with a body: %q", got.body)
		}
	} else {
		if !got.obDecoded {
			t.Fatalf("no OBIE error body: %q", got.body)
		}
		if got.ob.Code != w.code || len(got.ob.Errors) != 1 || got.ob.Errors[0].ErrorCode != w.obCode || got.ob.ID != testInteractionID {
			t.Errorf("body = %+v, want Code %q, ErrorCode %q, Id %q", got.ob, w.code, w.obCode, testInteractionID)
		}
	}
	if len(evs) != 1 {
		t.Fatalf("%d audit events, want 1", len(evs))
	}
	if !errors.Is(evs[0].Err, w.err) {
		t.Errorf("domain error = %v, want %v", evs[0].Err, w.err)
	}
	if w.cause != nil && !errors.Is(evs[0].Err, w.cause) {
		t.Errorf("domain error = %v, want it to wrap %v", evs[0].Err, w.cause)
	}
	if evs[0].Status != w.status {
		t.Errorf("audit status = %d", evs[0].Status)
	}
}

// TestBindingMismatchIs401 pins the choice the package documentation explains:
// a token used with another certificate is 401 invalid_token (RFC 8705 §3,
// FAPI1-RS-02), not 403.
func TestBindingMismatchIs401(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.userToken(t, "A", "aac-ok", "accounts")
	got := f.do(t, modeDirect, call{cert: "B", method: "GET", path: accountsPath, auth: "Bearer " + tok})
	if got.status != http.StatusUnauthorized || !strings.HasPrefix(got.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
		t.Fatalf("binding mismatch: %d %q, want 401 invalid_token", got.status, got.header.Get("WWW-Authenticate"))
	}
	// The same token with its own certificate passes: the refusal was the binding.
	if got := f.do(t, modeDirect, call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + tok}); got.status != http.StatusOK {
		t.Fatalf("bound certificate: %d %s", got.status, got.body)
	}
}

// TestForwardedRequest: what the bank receives for an allowed request — the
// identity, never the token, and the consent validator saw the documented request.
func TestForwardedRequest(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.userToken(t, "A", "aac-ok", "accounts")
	got := f.do(t, modeDirect, call{cert: "A", method: "GET", path: bank.BasePath + "/aisp/accounts/22289/transactions?fromBookingDateTime=2026-01-01T00:00:00Z", auth: "Bearer " + tok})
	if got.status != 200 {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
	up, _ := f.bank.lastRequest()
	if up.Header.Get("Authorization") != "" {
		t.Error("the bank received the TPP's access token")
	}
	a := f.certs["A"]
	for h, v := range map[string]string{
		upstream.HeaderClientID: "tpp-1", upstream.HeaderPSUID: "demo", upstream.HeaderConsentID: "aac-ok",
		upstream.HeaderRoles: "PSP_AI,PSP_PI", upstream.HeaderScope: "accounts", upstream.HeaderTokenUse: "APPLICATION_USER",
		upstream.HeaderCertThumbprint: thumbprint(a), upstream.HeaderOrgID: "PSDGB-FCA-123456",
		upstream.HeaderRoute: "aisp-account-transactions", upstream.HeaderFAPIInteractionID: testInteractionID,
	} {
		if got := up.Header.Get(h); got != v {
			t.Errorf("upstream %s = %q, want %q", h, got, v)
		}
	}
	if up.URL.RawQuery != "fromBookingDateTime=2026-01-01T00:00:00Z" {
		t.Errorf("upstream query = %q", up.URL.RawQuery)
	}

	req, _ := f.consent.last()
	if req.Kind != consent.KindAccountAccess || req.ConsentID != "aac-ok" || req.ClientID != "tpp-1" || req.UserID != req.TokenClaims["sub"] || req.UserID == testCustomer ||
		req.Method != "GET" || req.Path != bank.BasePath+"/aisp/accounts/22289/transactions" ||
		req.ResourceTemplate != bank.PathAccountTransactions || req.PathParams["AccountId"] != "22289" {
		t.Errorf("consent request = %+v", req)
	}
	if req.Headers.Get("Authorization") != "" || req.Headers.Get("X-Fapi-Interaction-Id") != testInteractionID {
		t.Errorf("consent request headers = %v", req.Headers)
	}
	if req.TokenClaims["client_id"] != "tpp-1" || req.TokenClaims["consent_id"] != "aac-ok" || req.TokenClaims["aut"] != "APPLICATION_USER" {
		t.Errorf("consent request claims = %v", req.TokenClaims)
	}
}

// TestConsentSeesBodyAndModifiesIt: a consent route reads the body for the
// validator, forwards it unchanged, or as the validator rewrote it.
func TestConsentSeesBodyAndModifiesIt(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, consentID := range []string{"pdc-ok", "pdc-rewrite"} {
		t.Run(consentID, func(t *testing.T) {
			body := strings.ReplaceAll(validPaymentBody, "pdc-ok", consentID)
			f.do(t, modeDirect, call{cert: "A", method: "POST", path: paymentsPath, auth: "Bearer " + f.userToken(t, "A", consentID, "payments"), body: body})
			req, _ := f.consent.last()
			if string(req.Body) != body {
				t.Errorf("validator saw body %q", req.Body)
			}
			_, upBody := f.bank.lastRequest()
			want := body
			if consentID == "pdc-rewrite" {
				want = `{"rewritten":true}`
			}
			if string(upBody) != want {
				t.Errorf("upstream body = %q, want %q", upBody, want)
			}
		})
	}
}

func TestConsentBodyLimit(t *testing.T) {
	f := newFixture(t, fixtureOpts{maxBody: 100})
	before := f.bank.n.Load()
	got := f.do(t, modeDirect, call{cert: "A", method: "POST", path: paymentsPath, auth: "Bearer " + f.userToken(t, "A", "pdc-ok", "payments"), body: validPaymentBody})
	if got.status != http.StatusRequestEntityTooLarge || got.ob.Code != CodeBodyTooLarge || f.bank.n.Load() != before {
		t.Fatalf("over-limit body: %d %s", got.status, got.body)
	}
}

// TestRevocationStateUnavailable: a deny-list that cannot refresh makes every
// token fail with 503, cached or not.
func TestRevocationStateUnavailable(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.userToken(t, "A", "aac-ok", "accounts")
	c := call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + tok}
	if got := f.do(t, modeDirect, c); got.status != 200 {
		t.Fatalf("fresh deny-list: %d", got.status)
	}
	f.clk.Advance(token.DefaultMaxStaleness + time.Second) // no refresh since
	for _, m := range allModes {
		before := f.bank.n.Load()
		got := f.do(t, m, c)
		if got.status != http.StatusServiceUnavailable || got.ob.Code != CodeRevocationUnavailable || f.bank.n.Load() != before {
			t.Errorf("%s: stale deny-list: %d %s", m, got.status, got.body)
		}
	}
}

// TestVerifiedTokenCache: repeated calls with one token verify its signature
// once; revoking it afterwards still stops it.
func TestVerifiedTokenCache(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	raw, at, err := f.issuer.Issue(context.Background(), token.Claims{
		ClientID: "tpp-1", Use: token.UseUser, UserID: "demo", Scopes: []string{"accounts"}, ConsentID: "aac-ok",
		CertThumbprint: thumbprint(f.certs["A"]),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + raw}
	start := f.verifier.CacheStats()
	for range 5 {
		if got := f.do(t, modeDirect, c); got.status != 200 {
			t.Fatalf("status %d", got.status)
		}
	}
	st := f.verifier.CacheStats()
	if st.Misses-start.Misses != 1 || st.Hits-start.Hits != 4 {
		t.Errorf("cache: %d misses, %d hits, want 1 and 4", st.Misses-start.Misses, st.Hits-start.Hits)
	}
	if err := f.store.RevokeToken(context.Background(), revocationOf(at)); err != nil {
		t.Fatal(err)
	}
	if err := f.deny.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.do(t, modeDirect, c); got.status != http.StatusUnauthorized {
		t.Fatalf("revoked cached token: %d", got.status)
	}
}

// TestUpstreamFailures: 502 when the upstream is down, 504 when it is too slow.
func TestUpstreamFailures(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := newBlockingServer(t, release)
	down := newBlockingServer(t, release)
	downURL := down.URL
	down.Close()
	routeTo := func(name, target string, timeout time.Duration) Route {
		u, _ := url.Parse(target)
		return Route{Name: name, Method: "GET", Pattern: "/" + name, Scopes: []string{"accounts"}, TokenUse: TokenUseAny,
			AnyRole: true, Upstream: u, Timeout: timeout}
	}
	f := newFixture(t, fixtureOpts{routes: func(*url.URL) []Route {
		return []Route{routeTo("slow", slow.URL, 100*time.Millisecond), routeTo("down", downURL, 0)}
	}})
	tok := f.appToken(t, "A", "accounts")
	for _, tt := range []struct {
		path   string
		status int
		code   string
		err    error
	}{
		{"/slow", http.StatusGatewayTimeout, CodeUpstreamTimeout, upstream.ErrTimeout},
		{"/down", http.StatusBadGateway, CodeUpstreamUnavailable, upstream.ErrUnavailable},
	} {
		t.Run(tt.path, func(t *testing.T) {
			n := f.audit.count()
			got := f.do(t, modeDirect, call{cert: "A", method: "GET", path: tt.path, auth: "Bearer " + tok})
			if got.status != tt.status || got.ob.Code != tt.code || got.header.Get("X-Fapi-Interaction-Id") != testInteractionID {
				t.Fatalf("%d %s", got.status, got.body)
			}
			if evs := f.audit.since(n); len(evs) != 1 || !errors.Is(evs[0].Err, tt.err) || evs[0].Route != strings.TrimPrefix(tt.path, "/") ||
				evs[0].ClientID != "tpp-1" {
				t.Errorf("audit = %+v", evs)
			}
		})
	}
}

// TestIdentityJWTMode: in jwt mode the bank gets one signed identity and the
// ext-authz answer carries the same header.
func TestIdentityJWTMode(t *testing.T) {
	f := newFixture(t, fixtureOpts{identity: true})
	c := call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + f.userToken(t, "A", "aac-ok", "accounts")}
	for _, m := range []mode{modeDirect, modeEnvoy} {
		got := f.do(t, m, c)
		h := got.header
		if m == modeDirect {
			// The sandbox bank reads headers only: in jwt mode it refuses (403), which
			// shows the individual headers are gone. Check what it received.
			up, _ := f.bank.lastRequest()
			h = up.Header
		}
		raw := h.Get(upstream.HeaderIdentity)
		if h.Get(upstream.HeaderClientID) != "" || raw == "" {
			t.Fatalf("%s: identity headers %v", m, h)
		}
		v, err := jose.VerifyJWT(context.Background(), raw, f.keys, jose.VerifyOptions{Types: []string{upstream.IdentityJWTType}})
		if err != nil {
			t.Fatalf("%s: identity JWT: %v", m, err)
		}
		var claims map[string]any
		if err := json.Unmarshal(v.Payload, &claims); err != nil {
			t.Fatal(err)
		}
		if claims["client_id"] != "tpp-1" || claims["sub"] != "demo" || claims["htu"] != accountsPath || claims["aud"] != "sandbox-bank" {
			t.Errorf("%s: claims %v", m, claims)
		}
	}
}

// TestExtAuthzRefusesUnknownPeers: only configured proxies may ask.
func TestExtAuthzRefusesUnknownPeers(t *testing.T) {
	f := newFixture(t, fixtureOpts{noPeers: true})
	got := f.do(t, modeNginx, call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + f.userToken(t, "A", "aac-ok", "accounts")})
	if got.status != http.StatusNotFound || got.ob.Code != CodeRouteNotFound {
		t.Fatalf("ext-authz from an unlisted peer: %d %s", got.status, got.body)
	}
}

func TestExtAuthzBadRequests(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.userToken(t, "A", "aac-ok", "accounts")
	tests := []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{name: "no original request", headers: map[string]string{}, status: 400},
		{name: "method only", headers: map[string]string{"X-Original-Method": "GET"}, status: 400},
		{name: "lower-case method", headers: map[string]string{"X-Original-Method": "get", "X-Original-Uri": accountsPath}, status: 400},
		{name: "absolute URI", headers: map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "https://evil.example" + accountsPath}, status: 400},
		{name: "pairs disagree", headers: map[string]string{"X-Original-Method": "GET", "X-Original-Uri": accountsPath, "X-Forwarded-Uri": paymentsPath}, status: 400},
		{name: "unclean path", headers: map[string]string{"X-Original-Method": "GET", "X-Original-Uri": bank.BasePath + "/pisp/../aisp/accounts"}, status: 404},
		{name: "pairs agree", headers: map[string]string{"X-Original-Method": "GET", "X-Forwarded-Method": "GET", "X-Original-Uri": accountsPath, "X-Forwarded-Uri": accountsPath}, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, f.nginxSrv.URL+ExtAuthzPath, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("X-SSL-Client-Cert", percentEncode(string(f.certs["A"].CertPEM)))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := f.clients["none"].Do(req)
			got := readResponse(t, resp, err)
			if got.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", got.status, tt.status, got.body)
			}
		})
	}
}

// newBlockingServer answers only when release is closed or the request ends.
func newBlockingServer(t *testing.T, release <-chan struct{}) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}
