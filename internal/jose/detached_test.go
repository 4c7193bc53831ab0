package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	obTAN = "openbanking.org.uk"
	obISS = "0015800001041REAAY/b1yW0i9ktU0z5eaTHDAfk5"
)

var testBody = []byte(`{"Data":{"Initiation":{"InstructionIdentification":"ACME412","InstructedAmount":{"Amount":"165.88","Currency":"GBP"}}},"Risk":{}}`)

// detachedHeaderJSON is an OB header for the form, with iat = t0 - 1 min, as an ordered
// JSON literal so that the vectors can vary single members.
func obHeader(alg, kid string, unencoded bool) map[string]any {
	h := map[string]any{
		"alg": alg, "kid": kid,
		OBHeaderIAT: t0.Add(-time.Minute).Unix(), OBHeaderISS: obISS, OBHeaderTAN: obTAN,
		"crit": []string{OBHeaderIAT, OBHeaderISS, OBHeaderTAN},
	}
	if unencoded {
		h["b64"] = false
		h["crit"] = []string{"b64", OBHeaderIAT, OBHeaderISS, OBHeaderTAN}
	}
	return h
}

// craftDetached builds "header..signature" over body in the given form, signed by sign.
func craftDetached(header string, body []byte, unencoded bool, sign func([]byte) []byte) string {
	eh := b64([]byte(header))
	form := DetachedEncoded
	if unencoded {
		form = DetachedUnencoded
	}
	return eh + ".." + b64(sign(detachedInput(eh, form, body)))
}

func with(h map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func detachedOpts() DetachedOptions {
	return DetachedOptions{TrustAnchors: []string{obTAN}, Clock: fakeClock()}
}

// TestVerifyDetachedVectors is the accepted and refused vector table of x-jws-signature
// (dcr-consent.md §2.5): both forms, every header rule, the key and the signature.
func TestVerifyDetachedVectors(t *testing.T) {
	c := newClientKeys(t)
	ps := signWith(t, "PS256", c.ps)
	es := signWith(t, "ES256", c.es)
	h := func(m map[string]any) string { return hdrJSON(t, m) }
	enc := obHeader("PS256", "c-ps", false)
	old := obHeader("PS256", "c-ps", true)
	both := DetachedOptions{Algorithms: []Alg{PS256, ES256}, TrustAnchors: []string{obTAN}, Clock: fakeClock()}
	dotted := []byte("a.b.c ünïcödé {\"x\":1}")

	tests := []struct {
		name      string
		sig       string
		body      []byte
		opts      DetachedOptions
		wantErr   error
		wantParam string
		wantForm  DetachedForm
	}{
		// Accepted.
		{name: "v3.1.4+ encoded PS256", sig: craftDetached(h(enc), testBody, false, ps), wantForm: DetachedEncoded},
		{name: "v3.1.3 b64=false PS256", sig: craftDetached(h(old), testBody, true, ps), wantForm: DetachedUnencoded},
		{name: "ES256 when configured", sig: craftDetached(h(obHeader("ES256", "c-es", false)), testBody, false, es), opts: both, wantForm: DetachedEncoded},
		{name: "crit in another order", sig: craftDetached(h(with(enc, "crit", []string{OBHeaderTAN, OBHeaderIAT, OBHeaderISS})), testBody, false, ps), wantForm: DetachedEncoded},
		{name: "b64 last in crit", sig: craftDetached(h(with(old, "crit", []string{OBHeaderIAT, OBHeaderISS, OBHeaderTAN, "b64"})), testBody, true, ps), wantForm: DetachedUnencoded},
		{name: "typ JOSE and cty json", sig: craftDetached(h(with(enc, "typ", "JOSE", "cty", "application/json")), testBody, false, ps), wantForm: DetachedEncoded},
		{name: "cty json", sig: craftDetached(h(with(enc, "cty", "json")), testBody, false, ps), wantForm: DetachedEncoded},
		{name: "iat within the skew", sig: craftDetached(h(with(enc, OBHeaderIAT, t0.Add(10*time.Second).Unix())), testBody, false, ps), wantForm: DetachedEncoded},
		{name: "iat with a fraction", sig: craftDetached(h(with(enc, OBHeaderIAT, 1772366000.5)), testBody, false, ps), wantForm: DetachedEncoded},
		{name: "empty body", sig: craftDetached(h(enc), nil, false, ps), body: []byte{}, wantForm: DetachedEncoded},
		{name: "unencoded body with dots", sig: craftDetached(h(old), dotted, true, ps), body: dotted, wantForm: DetachedUnencoded},
		{name: "tan case-insensitive", sig: craftDetached(h(with(enc, OBHeaderTAN, "OpenBanking.org.uk")), testBody, false, ps), wantForm: DetachedEncoded},

		// Refused: shape.
		{name: "empty", sig: "", wantErr: ErrMalformed},
		{name: "attached payload", sig: strings.Replace(craftDetached(h(enc), testBody, false, ps), "..", "."+b64(testBody)+".", 1), wantErr: ErrMalformed},
		{name: "four segments", sig: craftDetached(h(enc), testBody, false, ps) + ".x", wantErr: ErrMalformed},
		{name: "JWE", sig: "a.b.c.d.e", wantErr: ErrMalformed},
		{name: "no signature", sig: b64([]byte(h(enc))) + "..", wantErr: ErrMalformed},
		{name: "header not base64url", sig: "e30=..AAAA", wantErr: ErrMalformed},
		{name: "header not JSON", sig: b64([]byte("nope")) + "..AAAA", wantErr: ErrMalformed},
		{name: "duplicate member", sig: craftDetached(`{"alg":"PS256","alg":"PS256"}`, testBody, false, ps), wantErr: ErrMalformed},
		{name: "oversize", sig: strings.Repeat("A", maxDetachedSize+1), wantErr: ErrTooLarge},

		// Refused: algorithm, before anything else.
		{name: "ES256 not configured", sig: craftDetached(h(obHeader("ES256", "c-es", false)), testBody, false, es), wantErr: ErrAlgNotAllowed, wantParam: "alg"},
		{name: "alg none", sig: craftDetached(h(with(enc, "alg", "none")), testBody, false, func([]byte) []byte { return []byte{0} }), wantErr: ErrAlgNotAllowed, wantParam: "alg"},
		{name: "alg HS256", sig: craftDetached(h(with(enc, "alg", "HS256")), testBody, false, signWith(t, "HS256", []byte("k"))), wantErr: ErrAlgNotAllowed, wantParam: "alg"},
		{name: "alg RS256", sig: craftDetached(h(with(enc, "alg", "RS256")), testBody, false, signWith(t, "RS256", c.ps)), wantErr: ErrAlgNotAllowed, wantParam: "alg"},
		{name: "EdDSA even if configured", sig: craftDetached(h(with(enc, "alg", "EdDSA")), testBody, false, signWith(t, "EdDSA", c.ed)), opts: DetachedOptions{Algorithms: []Alg{EdDSA}, TrustAnchors: []string{obTAN}}, wantErr: ErrAlgNotAllowed, wantParam: "alg"},
		{name: "alg missing", sig: craftDetached(h(with(enc, "alg", nil)), testBody, false, ps), wantErr: ErrMissingClaim, wantParam: "alg"},

		// Refused: header parameters.
		{name: "kid missing", sig: craftDetached(h(with(enc, "kid", nil)), testBody, false, ps), wantErr: ErrMissingClaim, wantParam: "kid"},
		{name: "kid empty", sig: craftDetached(h(with(enc, "kid", "")), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "kid"},
		{name: "iat missing", sig: craftDetached(h(with(enc, OBHeaderIAT, nil)), testBody, false, ps), wantErr: ErrMissingClaim, wantParam: OBHeaderIAT},
		{name: "iss missing", sig: craftDetached(h(with(enc, OBHeaderISS, nil)), testBody, false, ps), wantErr: ErrMissingClaim, wantParam: OBHeaderISS},
		{name: "tan missing", sig: craftDetached(h(with(enc, OBHeaderTAN, nil)), testBody, false, ps), wantErr: ErrMissingClaim, wantParam: OBHeaderTAN},
		{name: "crit missing", sig: craftDetached(h(with(enc, "crit", nil)), testBody, false, ps), wantErr: ErrMissingClaim, wantParam: "crit"},
		{name: "crit extra entry", sig: craftDetached(h(with(enc, "crit", []string{OBHeaderIAT, OBHeaderISS, OBHeaderTAN, "x"}, "x", 1)), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "x"},
		{name: "crit extra known entry", sig: craftDetached(h(with(enc, "crit", []string{OBHeaderIAT, OBHeaderISS, OBHeaderTAN, "kid"})), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "crit"},
		{name: "crit lacks tan", sig: craftDetached(h(with(enc, "crit", []string{OBHeaderIAT, OBHeaderISS})), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "crit"},
		{name: "crit duplicate", sig: craftDetached(h(with(enc, "crit", []string{OBHeaderIAT, OBHeaderISS, OBHeaderISS})), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "crit"},
		{name: "crit not an array", sig: craftDetached(h(with(enc, "crit", OBHeaderIAT)), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "crit"},
		{name: "b64 in crit without b64", sig: craftDetached(h(with(enc, "crit", []string{"b64", OBHeaderIAT, OBHeaderISS, OBHeaderTAN})), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "crit"},
		{name: "b64=false not in crit", sig: craftDetached(h(with(old, "crit", []string{OBHeaderIAT, OBHeaderISS, OBHeaderTAN})), testBody, true, ps), wantErr: ErrInvalidClaim, wantParam: "crit"},
		{name: "b64 true", sig: craftDetached(h(with(old, "b64", true)), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "b64"},
		{name: "b64 string", sig: craftDetached(h(with(old, "b64", "false")), testBody, true, ps), wantErr: ErrInvalidClaim, wantParam: "b64"},
		{name: "unknown parameter", sig: craftDetached(h(with(enc, "foo", "bar")), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "foo"},
		{name: "x5c in the header", sig: craftDetached(h(with(enc, "x5c", []string{"MIIB"})), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "x5c"},
		{name: "jku in the header", sig: craftDetached(h(with(enc, "jku", "https://evil.example/jwks")), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "jku"},
		{name: "typ JWT", sig: craftDetached(h(with(enc, "typ", "JWT")), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "typ"},
		{name: "cty text", sig: craftDetached(h(with(enc, "cty", "text/plain")), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: "cty"},
		{name: "iat a string", sig: craftDetached(h(with(enc, OBHeaderIAT, strconv.FormatInt(t0.Unix(), 10))), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: OBHeaderIAT},
		{name: "iat negative", sig: craftDetached(h(with(enc, OBHeaderIAT, -1)), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: OBHeaderIAT},
		{name: "iat huge", sig: craftDetached(h(with(enc, OBHeaderIAT, 1e300)), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: OBHeaderIAT},
		{name: "iat in the future", sig: craftDetached(h(with(enc, OBHeaderIAT, t0.Add(time.Minute).Unix())), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: OBHeaderIAT},
		{name: "iat too old under MaxAge", sig: craftDetached(h(enc), testBody, false, ps), opts: DetachedOptions{TrustAnchors: []string{obTAN}, Clock: fakeClock(), MaxAge: 30 * time.Second}, wantErr: ErrInvalidClaim, wantParam: OBHeaderIAT},
		{name: "iss a number", sig: craftDetached(h(with(enc, OBHeaderISS, 7)), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: OBHeaderISS},
		{name: "iss empty", sig: craftDetached(h(with(enc, OBHeaderISS, "")), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: OBHeaderISS},
		{name: "tan untrusted", sig: craftDetached(h(with(enc, OBHeaderTAN, "evil.example")), testBody, false, ps), wantErr: ErrInvalidClaim, wantParam: OBHeaderTAN},
		{name: "no trust anchor configured", sig: craftDetached(h(enc), testBody, false, ps), opts: DetachedOptions{Clock: fakeClock()}, wantErr: ErrInvalidClaim, wantParam: OBHeaderTAN},

		// Refused: key and signature.
		{name: "unknown kid", sig: craftDetached(h(with(enc, "kid", "nope")), testBody, false, ps), wantErr: ErrUnknownKey},
		{name: "kid of an EC key under PS256", sig: craftDetached(h(with(enc, "kid", "c-es")), testBody, false, ps), wantErr: ErrUnknownKey},
		{name: "other body", sig: craftDetached(h(enc), []byte(`{"Data":{}}`), false, ps), wantErr: ErrBadSignature},
		{name: "encoded header, unencoded input", sig: craftDetached(h(enc), testBody, true, ps), wantErr: ErrBadSignature},
		{name: "b64=false header, encoded input", sig: craftDetached(h(old), testBody, false, ps), wantErr: ErrBadSignature},
		{name: "signature bytes flipped", sig: flipLast(craftDetached(h(enc), testBody, false, ps)), wantErr: ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if opts.TrustAnchors == nil && opts.Clock == nil && opts.Algorithms == nil {
				opts = detachedOpts()
			}
			body := tt.body
			if body == nil {
				body = testBody
			}
			got, err := VerifyDetached(context.Background(), tt.sig, body, c.set, opts)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.Form != tt.wantForm || got.Issuer != obISS && tt.name != "iat with a fraction" || got.Key == nil {
					t.Fatalf("got %+v", got)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if got != nil {
				t.Fatal("a refused signature returned a result")
			}
			if tt.wantParam != "" {
				var he *HeaderError
				if !errors.As(err, &he) || he.Param != tt.wantParam {
					t.Fatalf("error %v: param %q, want %q", err, paramOf(err), tt.wantParam)
				}
			}
		})
	}
}

func paramOf(err error) string {
	var he *HeaderError
	if errors.As(err, &he) {
		return he.Param
	}
	return ""
}

func flipLast(sig string) string {
	i := strings.LastIndexByte(sig, '.') + 1
	b, _ := b64decode(sig[i:])
	b[len(b)/2] ^= 1
	return sig[:i] + b64(b)
}

// TestSignDetachedRoundTrip: both forms signed by SigningKey.SignDetached verify, and a
// signature of one form does not verify as the other.
func TestSignDetachedRoundTrip(t *testing.T) {
	for _, name := range []string{"ps256.pem", "es256.pem"} {
		k := testKey(t, name)
		set, err := ParseJWKS(clientSet(t, k.KeyID(), k.Public().Public()))
		if err != nil {
			t.Fatal(err)
		}
		opts := DetachedOptions{Algorithms: []Alg{PS256, ES256}, TrustAnchors: []string{obTAN}, Clock: fakeClock()}
		for _, form := range []DetachedForm{DetachedEncoded, DetachedUnencoded} {
			t.Run(name+"/"+form.String(), func(t *testing.T) {
				sig, err := k.SignDetached(testBody, form, DetachedClaims{Issuer: "0015800001041REAAY", TrustAnchor: obTAN, IssuedAt: t0, ContentType: "application/json"})
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(sig, "..") {
					t.Fatalf("not detached: %s", sig)
				}
				got, err := VerifyDetached(context.Background(), sig, testBody, set, opts)
				if err != nil {
					t.Fatal(err)
				}
				if got.Form != form || got.Issuer != "0015800001041REAAY" || !got.IssuedAt.Equal(t0) || got.Typ != "JOSE" || got.Cty != "application/json" {
					t.Fatalf("got %+v", got)
				}
				if _, err := VerifyDetached(context.Background(), sig, append([]byte(" "), testBody...), set, opts); !errors.Is(err, ErrBadSignature) {
					t.Fatalf("other body: %v", err)
				}
			})
		}
	}
	if _, err := testKey(t, "eddsa.pem").SignDetached(testBody, 0, DetachedClaims{Issuer: "x", TrustAnchor: obTAN, IssuedAt: t0}); !errors.Is(err, ErrAlgNotAllowed) {
		t.Fatalf("EdDSA message signature: %v", err)
	}
	if _, err := testKey(t, "ps256.pem").SignDetached(testBody, 0, DetachedClaims{Issuer: "x", IssuedAt: t0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("without tan: %v", err)
	}
}

// selfSigned returns a self-signed certificate for k.
func selfSigned(t testing.TB, k *SigningKey, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public().Public(), k.signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestSealKeyJWKS: the message-signing key is published with its x5c, parses back (the
// certificate reachable through PublicKey.Certificates), signs detached signatures, and
// never verifies tokens.
func TestSealKeyJWKS(t *testing.T) {
	store := newStore(t, KeyStoreOptions{Clock: fakeClock()}, testKey(t, "es256.pem"))
	seal := testKey(t, "ps256.pem")
	cert := selfSigned(t, seal, "bank seal")
	if _, err := seal.WithCertificates([]*x509.Certificate{selfSigned(t, testKey(t, "es256.pem"), "other")}); !errors.Is(err, ErrKeyConfig) {
		t.Fatalf("certificate of another key: %v", err)
	}
	sealed, err := seal.WithCertificates([]*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SignDetached(testBody, 0, DetachedClaims{Issuer: "bank", TrustAnchor: obTAN, IssuedAt: t0}); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("without a seal key: %v", err)
	}
	if err := store.SetSealKey(testKey(t, "es256.pem")); !errors.Is(err, ErrKeyConfig) {
		t.Fatalf("token key as seal key: %v", err)
	}
	if err := store.SetSealKey(sealed); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(store.JWKS(), &doc); err != nil || len(doc.Keys) != 2 {
		t.Fatalf("JWKS %s: %v", store.JWKS(), err)
	}
	x5c, _ := doc.Keys[1]["x5c"].([]any)
	if doc.Keys[1]["kid"] != seal.KeyID() || len(x5c) != 1 || x5c[0] != base64.StdEncoding.EncodeToString(cert.Raw) {
		t.Fatalf("seal JWK %v", doc.Keys[1])
	}
	if _, ok := doc.Keys[0]["x5c"]; ok {
		t.Fatal("token key published with x5c")
	}
	set, err := ParseJWKS(store.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := store.SignDetached(testBody, DetachedEncoded, DetachedClaims{Issuer: "bank", TrustAnchor: obTAN, IssuedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyDetached(context.Background(), sig, testBody, set, detachedOpts())
	if err != nil {
		t.Fatal(err)
	}
	if certs := got.Key.Certificates(); len(certs) != 1 || !certs[0].Equal(cert) {
		t.Fatalf("certificates %v", certs)
	}
	// The seal key is not a token key.
	claimsTok := craft(`{"alg":"PS256","kid":"`+seal.KeyID()+`"}`, claims, signWith(t, "PS256", rawPrivate(t, "ps256.pem")))
	if _, err := store.Verify(claimsTok, VerifyOptions{}); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("token signed by the seal key: %v", err)
	}
}

// TestParseJWKSX5C: an x5c whose certificate holds another key, or that is not base64 DER,
// refuses the set.
func TestParseJWKSX5C(t *testing.T) {
	k := testKey(t, "ps256.pem")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ok, _ := k.WithCertificates([]*x509.Certificate{selfSigned(t, k, "tpp")})
	j, err := publicJWK(ok.pub)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(j, &m)
		f(m)
		b, _ := json.Marshal(map[string]any{"keys": []any{m}})
		return b
	}
	if set, err := ParseJWKS(mutate(func(map[string]any) {})); err != nil || len(set.Keys()[0].Certificates()) != 1 {
		t.Fatalf("valid x5c: %v", err)
	}
	otherKey, _ := NewSigningKey(other)
	for name, doc := range map[string][]byte{
		"other key": mutate(func(m map[string]any) {
			m["x5c"] = []string{base64.StdEncoding.EncodeToString(selfSigned(t, otherKey, "x").Raw)}
		}),
		"not base64": mutate(func(m map[string]any) { m["x5c"] = []string{"%%%"} }),
		"not DER":    mutate(func(m map[string]any) { m["x5c"] = []string{"AAAA"} }),
		"empty":      mutate(func(m map[string]any) { m["x5c"] = []string{} }),
		"a string":   mutate(func(m map[string]any) { m["x5c"] = "AAAA" }),
	} {
		if _, err := ParseJWKS(doc); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// FuzzParseDetachedHeader: the detached-signature header parser never panics, and what it
// accepts satisfies the OB header rules.
func FuzzParseDetachedHeader(f *testing.F) {
	k := testKey(f, "ps256.pem")
	for _, form := range []DetachedForm{DetachedEncoded, DetachedUnencoded} {
		sig, err := k.SignDetached(testBody, form, DetachedClaims{Issuer: obISS, TrustAnchor: obTAN, IssuedAt: t0})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sig)
	}
	for _, s := range []string{"", "..", "e30..AAAA", "a.b.c", "a.b.c.d.e",
		b64([]byte(`{"alg":"PS256","kid":"k","b64":false,"crit":["b64"]}`)) + "..AAAA",
		b64([]byte(`{"alg":"PS256","kid":"k","http://openbanking.org.uk/iat":1e309}`)) + "..AAAA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sig string) {
		hdr, form, err := ParseDetachedHeader(sig, []Alg{PS256, ES256})
		if err != nil {
			var he *HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("error is not a *HeaderError: %v", err)
			}
			return
		}
		if hdr.Alg != PS256 && hdr.Alg != ES256 || hdr.KeyID == "" {
			t.Fatalf("accepted header %+v", hdr)
		}
		wantCrit := 3
		if form == DetachedUnencoded {
			wantCrit = 4
		}
		if len(hdr.Crit) != wantCrit {
			t.Fatalf("accepted crit %v for form %v", hdr.Crit, form)
		}
		if !json.Valid(hdr.Raw) {
			t.Fatal("accepted a header that is not JSON")
		}
	})
}
