package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// clientSet builds a JWK Set JSON document from (kid, public key) pairs.
func clientSet(t testing.TB, keys ...any) []byte {
	t.Helper()
	var raw []json.RawMessage
	for i := 0; i < len(keys); i += 2 {
		pk, err := newPublicKey(keys[i+1], keys[i].(string), "")
		if err != nil {
			t.Fatal(err)
		}
		j, err := publicJWK(pk)
		if err != nil {
			t.Fatal(err)
		}
		if pk.kid == "" { // publicJWK always writes kid; drop an empty one
			var m map[string]any
			json.Unmarshal(j, &m)
			delete(m, "kid")
			j, _ = json.Marshal(m)
		}
		raw = append(raw, j)
	}
	b, err := json.Marshal(map[string]any{"keys": raw})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type clientKeys struct {
	es  *ecdsa.PrivateKey
	ps  *rsa.PrivateKey
	ed  ed25519.PrivateKey
	set *JWKSet
}

func newClientKeys(t testing.TB) *clientKeys {
	t.Helper()
	c := &clientKeys{
		es: rawPrivate(t, "es256.pem").(*ecdsa.PrivateKey),
		ps: rawPrivate(t, "ps256.pem").(*rsa.PrivateKey),
		ed: rawPrivate(t, "eddsa.pem").(ed25519.PrivateKey),
	}
	set, err := ParseJWKS(clientSet(t, "c-es", c.es.Public(), "c-ps", c.ps.Public(), "c-ed", c.ed.Public()))
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 3 {
		t.Fatalf("set has %d keys, want 3", set.Len())
	}
	c.set = set
	return c
}

const claims = `{"iss":"client-1","sub":"client-1","aud":"https://as.example","jti":"abc","exp":1900000000}`

func TestVerifyJWT(t *testing.T) {
	c := newClientKeys(t)
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRSA := rawPrivate(t, "ps256.pem").(*rsa.PrivateKey) // same key, used for RS256
	pubDER, _ := x509.MarshalPKIXPublicKey(c.es.Public())
	jwkJSON, _ := publicJWK(mustPub(t, c.es.Public(), "c-es"))

	es := signWith(t, "ES256", c.es)
	ps := signWith(t, "PS256", c.ps)
	ed := signWith(t, "EdDSA", c.ed)
	h := func(m map[string]any) string { return hdrJSON(t, m) }
	valid := craft(h(map[string]any{"alg": "ES256", "kid": "c-es"}), claims, es)
	parts := strings.Split(valid, ".")

	tests := []struct {
		name    string
		token   string
		opts    VerifyOptions
		wantErr error
	}{
		{"ES256 ok", valid, VerifyOptions{}, nil},
		{"PS256 ok", craft(h(map[string]any{"alg": "PS256", "kid": "c-ps"}), claims, ps), VerifyOptions{}, nil},
		{"EdDSA under FAPI2 ok", craft(h(map[string]any{"alg": "EdDSA", "kid": "c-ed"}), claims, ed), VerifyOptions{Profile: FAPI2}, nil},
		{"EdDSA under FAPI1", craft(h(map[string]any{"alg": "EdDSA", "kid": "c-ed"}), claims, ed), VerifyOptions{}, ErrAlgNotAllowed},
		{"no kid, one compatible key", craft(h(map[string]any{"alg": "ES256"}), claims, es), VerifyOptions{}, nil},
		{"typ JWT ok", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "typ": "JWT"}), claims, es), VerifyOptions{}, nil},
		{"typ application/jwt ok", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "typ": "application/JWT"}), claims, es), VerifyOptions{}, nil},
		{"explicit type ok", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "typ": "oauth-authz-req+jwt"}), claims, es), VerifyOptions{Types: []string{"oauth-authz-req+jwt"}}, nil},
		{"declared crit ok", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "crit": []string{"http://openbanking.org.uk/iat"}, "http://openbanking.org.uk/iat": 1}), claims, es), VerifyOptions{Critical: []string{"http://openbanking.org.uk/iat"}}, nil},

		{"alg none", craft(h(map[string]any{"alg": "none"}), claims, nil), VerifyOptions{}, ErrAlgNotAllowed},
		{"alg none with b64 and crit", craft(`{"alg":"none","b64":false,"crit":["b64","zz"]}`, claims, nil), VerifyOptions{}, ErrAlgNotAllowed},
		{"alg None", craft(h(map[string]any{"alg": "None", "kid": "c-es"}), claims, nil), VerifyOptions{}, ErrAlgNotAllowed},
		{"alg none with signature", craft(h(map[string]any{"alg": "none", "kid": "c-es"}), claims, es), VerifyOptions{Profile: FAPI2}, ErrAlgNotAllowed},
		{"HS256 keyed with public key DER", craft(h(map[string]any{"alg": "HS256", "kid": "c-es"}), claims, signWith(t, "HS256", pubDER)), VerifyOptions{}, ErrAlgNotAllowed},
		{"HS256 keyed with public JWK", craft(h(map[string]any{"alg": "HS256", "kid": "c-es"}), claims, signWith(t, "HS256", []byte(jwkJSON))), VerifyOptions{}, ErrAlgNotAllowed},
		{"RS256", craft(h(map[string]any{"alg": "RS256", "kid": "c-ps"}), claims, signWith(t, "RS256", otherRSA)), VerifyOptions{}, ErrAlgNotAllowed},
		{"ES384", craft(h(map[string]any{"alg": "ES384", "kid": "c-es"}), claims, es), VerifyOptions{}, ErrAlgNotAllowed},
		{"lower-case es256", craft(h(map[string]any{"alg": "es256", "kid": "c-es"}), claims, es), VerifyOptions{}, ErrAlgNotAllowed},
		{"alg not a string", craft(`{"alg":256,"kid":"c-es"}`, claims, es), VerifyOptions{}, ErrMalformed},
		{"missing alg", craft(h(map[string]any{"kid": "c-es"}), claims, es), VerifyOptions{}, ErrMalformed},

		{"tampered payload", parts[0] + "." + b64([]byte(strings.Replace(claims, "client-1", "client-2", 1))) + "." + parts[2], VerifyOptions{}, ErrBadSignature},
		{"signed by another key", craft(h(map[string]any{"alg": "ES256", "kid": "c-es"}), claims, signWith(t, "ES256", attacker)), VerifyOptions{}, ErrBadSignature},
		{"signature truncated", parts[0] + "." + parts[1] + "." + b64(mustB64(t, parts[2])[:63]), VerifyOptions{}, ErrBadSignature},
		{"DER signature", parts[0] + "." + parts[1] + "." + b64(derSig(t, c.es, parts[0]+"."+parts[1])), VerifyOptions{}, ErrBadSignature},
		{"jwk header ignored", craft(h(map[string]any{"alg": "ES256", "jwk": json.RawMessage(attackerJWK(t, attacker))}), claims, signWith(t, "ES256", attacker)), VerifyOptions{}, ErrBadSignature},
		{"jku header ignored", craft(h(map[string]any{"alg": "ES256", "jku": "https://attacker.example/jwks"}), claims, signWith(t, "ES256", attacker)), VerifyOptions{}, ErrBadSignature},
		{"x5c header ignored", craft(h(map[string]any{"alg": "ES256", "x5c": []string{"MIIB"}}), claims, signWith(t, "ES256", attacker)), VerifyOptions{}, ErrBadSignature},

		{"unknown kid", craft(h(map[string]any{"alg": "ES256", "kid": "nope"}), claims, es), VerifyOptions{}, ErrUnknownKey},
		{"kid of another key type", craft(h(map[string]any{"alg": "PS256", "kid": "c-es"}), claims, ps), VerifyOptions{}, ErrUnknownKey},

		{"JWE", "a.b.c.d.e", VerifyOptions{}, ErrMalformed},
		{"JSON serialisation", `{"payload":"e30","signatures":[]}`, VerifyOptions{}, ErrMalformed},
		{"two segments", parts[0] + "." + parts[1], VerifyOptions{}, ErrMalformed},
		{"empty", "", VerifyOptions{}, ErrMalformed},
		{"detached payload", parts[0] + ".." + parts[2], VerifyOptions{}, ErrMalformed},
		{"missing signature", parts[0] + "." + parts[1] + ".", VerifyOptions{}, ErrMalformed},
		{"padded header", parts[0] + "=." + parts[1] + "." + parts[2], VerifyOptions{}, ErrMalformed},
		{"std base64 header", strings.NewReplacer("-", "+", "_", "/").Replace(b64([]byte(`{"alg":"ES256","kid":"c-es","x":"???>>>"}`))) + "." + parts[1] + "." + parts[2], VerifyOptions{}, ErrMalformed},
		{"header not an object", craft(`["ES256"]`, claims, es), VerifyOptions{}, ErrMalformed},
		{"header trailing data", craft(`{"alg":"ES256","kid":"c-es"} {}`, claims, es), VerifyOptions{}, ErrMalformed},
		{"duplicate alg", craft(`{"alg":"ES256","kid":"c-es","alg":"ES256"}`, claims, es), VerifyOptions{}, ErrMalformed},
		{"case-variant duplicate", craft(`{"alg":"ES256","kid":"c-es","KID":"x"}`, claims, es), VerifyOptions{}, ErrMalformed},
		{"escaped duplicate", craft(`{"alg":"ES256","kid":"c-es","\u006bid":"x"}`, claims, es), VerifyOptions{}, ErrMalformed},
		{"b64 header", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "b64": false, "crit": []string{"b64"}}), claims, es), VerifyOptions{Critical: []string{"b64"}}, ErrMalformed},
		{"undeclared crit", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "crit": []string{"exp"}, "exp": 1}), claims, es), VerifyOptions{}, ErrUnsupportedCritical},
		{"crit names absent header", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "crit": []string{"x"}}), claims, es), VerifyOptions{Critical: []string{"x"}}, ErrMalformed},
		{"crit names registered header", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "crit": []string{"kid"}}), claims, es), VerifyOptions{Critical: []string{"kid"}}, ErrMalformed},
		{"empty crit", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "crit": []string{}}), claims, es), VerifyOptions{}, ErrMalformed},
		{"typ at+jwt as client JWT", craft(h(map[string]any{"alg": "ES256", "kid": "c-es", "typ": "at+jwt"}), claims, es), VerifyOptions{}, ErrWrongType},
		{"typ missing where required", valid, VerifyOptions{Types: []string{"at+jwt"}}, ErrWrongType},

		{"payload array", craft(h(map[string]any{"alg": "ES256", "kid": "c-es"}), `[1]`, es), VerifyOptions{}, ErrMalformed},
		{"payload not JSON", craft(h(map[string]any{"alg": "ES256", "kid": "c-es"}), `hello`, es), VerifyOptions{}, ErrMalformed},
		{"payload duplicate claim", craft(h(map[string]any{"alg": "ES256", "kid": "c-es"}), `{"sub":"a","sub":"b"}`, es), VerifyOptions{}, ErrMalformed},
		{"payload case-variant claim", craft(h(map[string]any{"alg": "ES256", "kid": "c-es"}), `{"sub":"a","SUB":"b"}`, es), VerifyOptions{}, ErrMalformed},
		{"payload long-s variant", craft(h(map[string]any{"alg": "ES256", "kid": "c-es"}), `{"iss":"a","i\u017fs":"b"}`, es), VerifyOptions{}, ErrMalformed},
		{"too large", craft(h(map[string]any{"alg": "ES256", "kid": "c-es"}), `{"x":"`+strings.Repeat("a", 20000)+`"}`, es), VerifyOptions{}, ErrTooLarge},
		{"over caller limit", valid, VerifyOptions{MaxSize: 100}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := VerifyJWT(context.Background(), tc.token, c.set, tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if v.Payload != nil {
					t.Fatal("payload returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if v.Key == nil || v.Header.Alg == "" {
				t.Fatalf("incomplete result %+v", v)
			}
		})
	}
}

func TestVerifyJWTResult(t *testing.T) {
	c := newClientKeys(t)
	tok := craft(`{"alg":"PS256","kid":"c-ps","typ":"JWT","x":1}`, claims, signWith(t, "PS256", c.ps))
	v, err := VerifyJWT(context.Background(), tok, c.set, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(claims, string(v.Payload)); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	got := Header{Alg: v.Header.Alg, KeyID: v.Header.KeyID, Typ: v.Header.Typ}
	if diff := cmp.Diff(Header{Alg: PS256, KeyID: "c-ps", Typ: "JWT"}, got); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if string(v.Header.Raw) != `{"alg":"PS256","kid":"c-ps","typ":"JWT","x":1}` {
		t.Errorf("raw header %s", v.Header.Raw)
	}
	if v.Key.KeyID() != "c-ps" || !v.Key.Equal(c.ps.Public()) {
		t.Errorf("wrong key %s", v.Key.KeyID())
	}
}

func TestVerifyJWTNilResolver(t *testing.T) {
	c := newClientKeys(t)
	tok := craft(`{"alg":"ES256","kid":"c-es"}`, claims, signWith(t, "ES256", c.es))
	if _, err := VerifyJWT(context.Background(), tok, nil, VerifyOptions{}); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
}

// A client whose keys share a kid is disambiguated by key type (FAPI1-AS-08); two
// distinct keys that both fit are refused rather than tried in turn.
func TestKeySelection(t *testing.T) {
	c := newClientKeys(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	shared, err := ParseJWKS(clientSet(t, "k", c.es.Public(), "k", c.ps.Public()))
	if err != nil {
		t.Fatal(err)
	}
	noKids, err := ParseJWKS(clientSet(t, "", c.es.Public(), "", other.Public()))
	if err != nil {
		t.Fatal(err)
	}
	duplicate, err := ParseJWKS(clientSet(t, "d", c.es.Public(), "d", c.es.Public()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		set     *JWKSet
		token   string
		wantKey any
		wantErr error
	}{
		{"shared kid, ES256 picks EC", shared, craft(`{"alg":"ES256","kid":"k"}`, claims, signWith(t, "ES256", c.es)), c.es.Public(), nil},
		{"shared kid, PS256 picks RSA", shared, craft(`{"alg":"PS256","kid":"k"}`, claims, signWith(t, "PS256", c.ps)), c.ps.Public(), nil},
		{"no kids, ambiguous", noKids, craft(`{"alg":"ES256"}`, claims, signWith(t, "ES256", c.es)), nil, ErrUnknownKey},
		{"same key listed twice", duplicate, craft(`{"alg":"ES256","kid":"d"}`, claims, signWith(t, "ES256", c.es)), c.es.Public(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := VerifyJWT(context.Background(), tc.token, tc.set, VerifyOptions{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !v.Key.Equal(tc.wantKey) {
				t.Fatal("wrong key selected")
			}
		})
	}
}

func mustPub(t testing.TB, pub any, kid string) *PublicKey {
	t.Helper()
	k, err := newPublicKey(pub, kid, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := b64decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func derSig(t testing.TB, k *ecdsa.PrivateKey, input string) []byte {
	t.Helper()
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func attackerJWK(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	j, err := publicJWK(mustPub(t, k.Public(), "attacker"))
	if err != nil {
		t.Fatal(err)
	}
	return j
}
