package obsig

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/idempotency"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

const (
	tan     = "openbanking.org.uk"
	bankISS = "0015800000jf7AeAAI"
	orgID   = pkitest.DefaultEIDASOrg
	swID    = "sw-1"
	tppISS  = orgID + "/" + swID
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tppKey is one of the TPP's signing keys, with the x5c it publishes (nil: none).
type tppKey struct {
	key   *rsa.PrivateKey
	kid   string
	chain []*x509.Certificate
}

type fixture struct {
	clk       *clock.Fake
	ca        *pkitest.CA
	validator *pki.Validator
	client    *client.Client
	keys      map[string]*tppKey
	bank      *jose.KeyStore
	bankSet   *jose.JWKSet
	subject   string // RFC 4514 subject of the good QSealC
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clk: clock.NewFake(t0), keys: map[string]*tppKey{}}
	f.ca = pkitest.NewCA(t, pkitest.CAOptions{Clock: f.clk, Intermediate: true, OCSP: true})
	var err error
	f.validator, err = pki.NewValidator(pki.Options{
		Anchors:    []pki.Anchor{{Name: "qtsp", Cert: f.ca.Root, Profile: pki.ProfileEIDAS}},
		Revocation: revocation.New(revocation.Options{Clock: f.clk}),
		Clock:      f.clk,
		CacheTTL:   -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f.keys["plain"] = &tppKey{key: plain, kid: "plain"}
	issue := func(name string, o pkitest.LeafOptions) *pkitest.Leaf {
		o.KeyType = "rsa"
		leaf := f.ca.Issue(t, o)
		f.keys[name] = &tppKey{key: leaf.Key.(*rsa.PrivateKey), kid: name, chain: leaf.Chain}
		return leaf
	}
	good := issue("qsealc", pkitest.QSealCOptions())
	revoked := issue("revoked", pkitest.QSealCOptions())
	f.ca.Revoke(t, revoked.Cert.SerialNumber, 1)
	issue("qwac", pkitest.QWACOptions())
	other := pkitest.QSealCOptions()
	other.OrganizationIdentifier = "PSDGB-FCA-999999"
	issue("other-org", other)
	id, err := f.validator.Validate(context.Background(), good.Chain, pki.PurposeSigning)
	if err != nil {
		t.Fatal(err)
	}
	f.subject = id.Subject

	var jwks []map[string]any
	for _, k := range f.keys {
		jwk := map[string]any{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": "PS256",
			"n": b64(k.key.N.Bytes()), "e": b64(big.NewInt(int64(k.key.E)).Bytes())}
		if k.chain != nil {
			var x5c []string
			for _, c := range k.chain {
				x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
			}
			jwk["x5c"] = x5c
		}
		jwks = append(jwks, jwk)
	}
	doc, _ := json.Marshal(map[string]any{"keys": jwks})
	f.client = &client.Client{ID: "tpp-1", OrgID: orgID, SoftwareID: swID, JWKS: doc}

	tokenKey, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	f.bank, err = jose.NewKeyStore(jose.KeyStoreOptions{Clock: f.clk}, tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	seal, err := jose.GenerateSigningKey(jose.PS256)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.bank.SetSealKey(seal); err != nil {
		t.Fatal(err)
	}
	if f.bankSet, err = jose.ParseJWKS(f.bank.JWKS()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) verifier(t *testing.T, certs CertificateValidator) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierOptions{Keys: clientauth.NewKeyResolver(nil), Certificates: certs, TrustAnchors: []string{tan}, Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// header is the OB header for kid with iss, iat = t0 - 1 min.
func header(kid, iss string, unencoded bool) map[string]any {
	h := map[string]any{"alg": "PS256", "kid": kid, jose.OBHeaderIAT: t0.Add(-time.Minute).Unix(),
		jose.OBHeaderISS: iss, jose.OBHeaderTAN: tan,
		"crit": []string{jose.OBHeaderIAT, jose.OBHeaderISS, jose.OBHeaderTAN}}
	if unencoded {
		h["b64"] = false
		h["crit"] = []string{"b64", jose.OBHeaderIAT, jose.OBHeaderISS, jose.OBHeaderTAN}
	}
	return h
}

// sign makes a detached signature of body with key k and header h.
func sign(t *testing.T, k *tppKey, h map[string]any, body []byte) string {
	t.Helper()
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	eh := b64(hj)
	input := eh + "."
	if h["b64"] == false {
		input += string(body)
	} else {
		input += b64(body)
	}
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, k.key, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	return eh + ".." + b64(sig)
}

var paymentBody = []byte(`{"Data":{"Initiation":{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20","InstructedAmount":{"Amount":"165.88","Currency":"GBP"}}},"Risk":{}}`)

// TestRequire is the middleware's table: every accepted and refused request, its status,
// OBIE ErrorCode and Path, whether the handler ran, and that every answer is signed by the
// bank's message-signing key.
func TestRequire(t *testing.T) {
	f := newFixture(t)
	k := f.keys
	with := func(h map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for a, b := range h {
			out[a] = b
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
			} else {
				out[kv[i].(string)] = kv[i+1]
			}
		}
		return out
	}
	tests := []struct {
		name     string
		sigs     []string
		body     []byte
		noClient bool
		noCerts  bool
		status   int
		code     string
		path     string
	}{
		{name: "v3.1.4+ plain key", sigs: []string{sign(t, k["plain"], header("plain", tppISS, false), paymentBody)}, status: 201},
		{name: "v3.1.3 b64=false", sigs: []string{sign(t, k["plain"], header("plain", tppISS, true), paymentBody)}, status: 201},
		{name: "QSealC, iss org/software", sigs: []string{sign(t, k["qsealc"], header("qsealc", tppISS, false), paymentBody)}, status: 201},
		{name: "QSealC, iss organizationIdentifier", sigs: []string{sign(t, k["qsealc"], header("qsealc", orgID, false), paymentBody)}, status: 201},
		{name: "QSealC, iss subject DN", sigs: []string{sign(t, k["qsealc"], header("qsealc", f.subject, true), paymentBody)}, status: 201},

		{name: "missing", status: 400, code: obie.CodeSignatureMissing, path: "x-jws-signature"},
		{name: "two headers", sigs: []string{sign(t, k["plain"], header("plain", tppISS, false), paymentBody), "x..y"}, status: 400, code: obie.CodeSignatureMalformed, path: "x-jws-signature"},
		{name: "not a JWS", sigs: []string{"garbage"}, status: 400, code: obie.CodeSignatureMalformed, path: "x-jws-signature"},
		{name: "attached payload", sigs: []string{strings.Replace(sign(t, k["plain"], header("plain", tppISS, false), paymentBody), "..", "."+b64(paymentBody)+".", 1)}, status: 400, code: obie.CodeSignatureMalformed, path: "x-jws-signature"},
		{name: "tan missing", sigs: []string{sign(t, k["plain"], with(header("plain", tppISS, false), jose.OBHeaderTAN, nil), paymentBody)}, status: 400, code: obie.CodeSignatureMissingClaim, path: jose.OBHeaderTAN},
		{name: "tan untrusted", sigs: []string{sign(t, k["plain"], with(header("plain", tppISS, false), jose.OBHeaderTAN, "evil.example"), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: jose.OBHeaderTAN},
		{name: "crit extra", sigs: []string{sign(t, k["plain"], with(header("plain", tppISS, false), "crit", []string{jose.OBHeaderIAT, jose.OBHeaderISS, jose.OBHeaderTAN, "kid"}), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: "crit"},
		{name: "unknown header parameter", sigs: []string{sign(t, k["plain"], with(header("plain", tppISS, false), "x5u", "https://evil.example/c.pem"), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: "x5u"},
		{name: "iat in the future", sigs: []string{sign(t, k["plain"], with(header("plain", tppISS, false), jose.OBHeaderIAT, t0.Add(time.Hour).Unix()), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: jose.OBHeaderIAT},
		{name: "ES256 not allowed", sigs: []string{sign(t, k["plain"], with(header("plain", tppISS, false), "alg", "ES256"), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: "alg"},
		{name: "unknown kid", sigs: []string{sign(t, k["plain"], header("nope", tppISS, false), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "signature over another body", sigs: []string{sign(t, k["plain"], header("plain", tppISS, false), []byte(`{"Data":{}}`))}, status: 400, code: obie.CodeSignatureInvalid},
		{name: "iss of another TPP", sigs: []string{sign(t, k["plain"], header("plain", "PSDGB-FCA-999999/sw-9", false), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: jose.OBHeaderISS},
		{name: "iss organizationIdentifier without certificate", sigs: []string{sign(t, k["plain"], header("plain", orgID, false), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: jose.OBHeaderISS},
		{name: "revoked QSealC", sigs: []string{sign(t, k["revoked"], header("revoked", tppISS, false), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "QWAC, not eSeal", sigs: []string{sign(t, k["qwac"], header("qwac", tppISS, false), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "QSealC of another organisation", sigs: []string{sign(t, k["other-org"], header("other-org", tppISS, false), paymentBody)}, status: 400, code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "QSealC without a certificate validator", sigs: []string{sign(t, k["qsealc"], header("qsealc", tppISS, false), paymentBody)}, noCerts: true, status: 400, code: obie.CodeSignatureInvalidClaim, path: "kid"},
		{name: "no client", sigs: []string{sign(t, k["plain"], header("plain", tppISS, false), paymentBody)}, noClient: true, status: 401, code: obie.CodeUnexpectedError},
		{name: "body too large", sigs: []string{"x..y"}, body: bytes.Repeat([]byte("a"), 2048), status: 413, code: obie.CodeFieldInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var certs CertificateValidator = f.validator
			if tt.noCerts {
				certs = nil
			}
			calls := 0
			var seen []byte
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				seen, _ = io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"Data":{"ConsentId":"pdc-1"}}`))
			})
			m, err := New(Options{
				Verifier: f.verifier(t, certs), Signer: f.bank, Issuer: bankISS, TrustAnchor: tan, Clock: f.clk, MaxBodyBytes: 1024,
				Client: func(*http.Request) (*client.Client, error) {
					if tt.noClient {
						return nil, errors.New("no token")
					}
					return f.client, nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			body := tt.body
			if body == nil {
				body = paymentBody
			}
			req := httptest.NewRequest(http.MethodPost, "/open-banking/v3.1/pisp/domestic-payment-consents", bytes.NewReader(body))
			req.Header.Set(obie.HeaderInteractionID, "93bac548-d2de-4546-b106-880a5018460d")
			for _, s := range tt.sigs {
				req.Header.Add(Header, s)
			}
			rec := httptest.NewRecorder()
			m.Require(handler).ServeHTTP(rec, req)

			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code == "" {
				if calls != 1 || !bytes.Equal(seen, body) {
					t.Fatalf("handler ran %d times and saw %q", calls, seen)
				}
			} else {
				if calls != 0 {
					t.Fatal("the handler ran for a refused request")
				}
				var eb obie.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || len(eb.Errors) != 1 {
					t.Fatalf("body %s: %v", rec.Body, err)
				}
				if eb.Errors[0].ErrorCode != tt.code || eb.Errors[0].Path != tt.path || eb.ID != "93bac548-d2de-4546-b106-880a5018460d" {
					t.Fatalf("error %+v, want %s at %q", eb, tt.code, tt.path)
				}
			}
			// Every answer, refusals included, is signed by the bank.
			ds, err := jose.VerifyDetached(context.Background(), rec.Header().Get(Header), rec.Body.Bytes(), f.bankSet,
				jose.DetachedOptions{TrustAnchors: []string{tan}, Clock: f.clk})
			if err != nil {
				t.Fatalf("response signature: %v", err)
			}
			if ds.Issuer != bankISS || ds.Form != jose.DetachedEncoded || ds.Cty != "application/json" {
				t.Fatalf("response signature %+v", ds)
			}
		})
	}
}

// TestVerifyCertificateCauses: the QSealC refusals carry pki's reason.
func TestVerifyCertificateCauses(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t, f.validator)
	for name, want := range map[string]error{"revoked": revocation.ErrRevoked, "qwac": pki.ErrQcTypeMismatch} {
		_, err := v.Verify(context.Background(), f.client, sign(t, f.keys[name], header(name, tppISS, false), paymentBody), paymentBody)
		if !errors.Is(err, ErrCertificate) || !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	// Without a revocation checker nothing is accepted, and the answer is 503.
	noRev, err := pki.NewValidator(pki.Options{Anchors: []pki.Anchor{{Name: "qtsp", Cert: f.ca.Root, Profile: pki.ProfileEIDAS}}, Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.verifier(t, noRev).Verify(context.Background(), f.client, sign(t, f.keys["qsealc"], header("qsealc", tppISS, false), paymentBody), paymentBody)
	if we := WireError(err); !errors.Is(err, pki.ErrNoRevocationChecker) || we.Status != 503 {
		t.Fatalf("no revocation checker: %v (%d)", err, we.Status)
	}
}

// TestSignResponses: Sign signs every response of the wrapped handler in the configured
// form, replaces an unsignable (oversize) one by a signed 500, and drops a signature header
// the handler set itself.
func TestSignResponses(t *testing.T) {
	f := newFixture(t)
	for _, form := range []jose.DetachedForm{jose.DetachedEncoded, jose.DetachedUnencoded} {
		m, err := New(Options{Signer: f.bank, Issuer: bankISS, TrustAnchor: tan, Clock: f.clk, ResponseForm: form})
		if err != nil {
			t.Fatal(err)
		}
		for name, h := range map[string]http.HandlerFunc{
			"get": func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(Header, "forged..sig")
				_, _ = w.Write([]byte(`{"Data":{"Status":"AwaitingAuthorisation"}}`))
			},
			"empty 204": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			"oversize": func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(make([]byte, MaxResponseBytes))
				_, _ = w.Write([]byte("x"))
			},
		} {
			t.Run(form.String()+"/"+name, func(t *testing.T) {
				rec := httptest.NewRecorder()
				m.Sign(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
				if name == "oversize" && rec.Code != 500 {
					t.Fatalf("oversize response: %d", rec.Code)
				}
				ds, err := jose.VerifyDetached(context.Background(), rec.Header().Get(Header), rec.Body.Bytes(), f.bankSet,
					jose.DetachedOptions{TrustAnchors: []string{tan}, Clock: f.clk})
				if err != nil || ds.Form != form {
					t.Fatalf("response signature: %v %+v", err, ds)
				}
			})
		}
	}
	if _, err := New(Options{Signer: f.bank, Issuer: bankISS}); err == nil {
		t.Fatal("New without a trust anchor succeeded")
	}
}

// TestOnRoutes: payment POSTs need a signature, their GETs are signed, other routes pass
// through untouched.
func TestOnRoutes(t *testing.T) {
	f := newFixture(t)
	m, err := New(Options{Verifier: f.verifier(t, f.validator), Signer: f.bank, Issuer: bankISS, TrustAnchor: tan, Clock: f.clk,
		Client: func(*http.Request) (*client.Client, error) { return f.client, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) })
	h, err := m.OnRoutes(ok, PaymentRoutes, []string{"GET /open-banking/v3.1/pisp/domestic-payment-consents/{ConsentId}"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, path string
		status       int
		signed       bool
	}{
		{"POST", "/open-banking/v3.1/pisp/domestic-payments", 400, true},
		{"POST", "/open-banking/v3.1/vrp/domestic-vrp-consents", 400, true},
		{"POST", "/open-banking/v3.1/pisp/domestic-vrps", 400, true},
		{"GET", "/open-banking/v3.1/pisp/domestic-payment-consents/pdc-1", 200, true},
		{"GET", "/open-banking/v3.1/aisp/accounts", 200, false},
		{"POST", "/open-banking/v3.1/aisp/account-access-consents", 200, false},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{}`)))
		if rec.Code != tt.status || (rec.Header().Get(Header) != "") != tt.signed {
			t.Errorf("%s %s: %d signed=%v", tt.method, tt.path, rec.Code, rec.Header().Get(Header) != "")
		}
	}
	if _, err := m.OnRoutes(ok, []string{"POST /x", "POST /x"}, nil); err == nil {
		t.Fatal("conflicting patterns accepted")
	}
}

// TestWithIdempotency: signature outside idempotency — a repeat with its own signature gets
// the first answer, signed afresh; a repeat with a bad signature is refused before the
// idempotency key is looked at; the handler runs once.
func TestWithIdempotency(t *testing.T) {
	f := newFixture(t)
	st := storetest.OpenSQLiteClock(t, f.clk)
	runs := 0
	create := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"Data":{"ConsentId":"pdc-` + strconv.Itoa(runs) + `"}}`))
	})
	idem, err := idempotency.New(idempotency.Options{Store: st, Clock: f.clk, ClientID: func(*http.Request) (string, error) { return f.client.ID, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Verifier: f.verifier(t, f.validator), Signer: f.bank, Issuer: bankISS, TrustAnchor: tan, Clock: f.clk,
		Client: func(*http.Request) (*client.Client, error) { return f.client, nil }})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Require(idem.Wrap(create))
	send := func(sig string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/open-banking/v3.1/pisp/domestic-payment-consents", bytes.NewReader(paymentBody))
		req.Header.Set(Header, sig)
		req.Header.Set(idempotency.HeaderKey, "idem-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	first := send(sign(t, f.keys["plain"], header("plain", tppISS, false), paymentBody))
	f.clk.Advance(time.Second)
	again := send(sign(t, f.keys["qsealc"], header("qsealc", tppISS, true), paymentBody))
	bad := send(sign(t, f.keys["plain"], header("plain", tppISS, false), []byte("other")))
	if first.Code != 201 || again.Code != 201 || again.Body.String() != first.Body.String() || runs != 1 {
		t.Fatalf("first %d %s, repeat %d %s, runs %d", first.Code, first.Body, again.Code, again.Body, runs)
	}
	if bad.Code != 400 || runs != 1 {
		t.Fatalf("bad signature: %d, runs %d", bad.Code, runs)
	}
	for _, rec := range []*httptest.ResponseRecorder{first, again, bad} {
		if _, err := jose.VerifyDetached(context.Background(), rec.Header().Get(Header), rec.Body.Bytes(), f.bankSet,
			jose.DetachedOptions{TrustAnchors: []string{tan}, Clock: f.clk}); err != nil {
			t.Fatalf("answer not signed: %v", err)
		}
	}
	if first.Header().Get(Header) == again.Header().Get(Header) {
		t.Fatal("the replay carries the first answer's signature, not a fresh one")
	}
}
