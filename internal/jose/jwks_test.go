package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// privateJWK renders a private key as a JWK (test input only).
func privateJWK(t testing.TB, priv any) map[string]any {
	t.Helper()
	k, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(k)
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func publicJWKMap(t testing.TB, pub any, extra map[string]any) map[string]any {
	t.Helper()
	j, err := publicJWK(mustPub(t, pub, "k"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(j, &m)
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func setOf(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseJWKS(t *testing.T) {
	es := rawPrivate(t, "es256.pem").(*ecdsa.PrivateKey)
	ps := rawPrivate(t, "ps256.pem").(*rsa.PrivateKey)
	ed := rawPrivate(t, "eddsa.pem").(ed25519.PrivateKey)
	weakRSA := rawPrivate(t, "rsa1024.pem").(*rsa.PrivateKey)
	p384 := rawPrivate(t, "p384.pem").(*ecdsa.PrivateKey)

	good := publicJWKMap(t, es.Public(), nil)
	weakRSAJWK := map[string]any{"kty": "RSA", "kid": "weak", "n": b64(weakRSA.N.Bytes()), "e": "AQAB"}
	p224 := map[string]any{"kty": "EC", "crv": "P-224", "x": b64(make([]byte, 28)), "y": b64(make([]byte, 28))}
	p384JWK := privateJWK(t, &p384.PublicKey)
	x25519 := map[string]any{"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}
	encRSA := publicJWKMap(t, ps.Public(), map[string]any{"use": "enc", "alg": "RSA-OAEP"})
	many := make([]map[string]any, MaxJWKSKeys+1)
	for i := range many {
		many[i] = x25519
	}

	tests := []struct {
		name     string
		data     []byte
		wantKeys int
		wantErr  error
	}{
		{"one EC key", setOf(t, good), 1, nil},
		{"RSA, EC, OKP", setOf(t, good, publicJWKMap(t, ps.Public(), nil), publicJWKMap(t, ed.Public(), nil)), 3, nil},
		{"without kid, use, alg", setOf(t, publicJWKMap(t, es.Public(), map[string]any{"kid": nil, "use": nil, "alg": nil})), 1, nil},
		{"encryption key skipped", setOf(t, good, encRSA), 1, nil},
		{"RS256 key skipped", setOf(t, publicJWKMap(t, ps.Public(), map[string]any{"alg": "RS256"})), 0, nil},
		{"key_ops without verify skipped", setOf(t, publicJWKMap(t, es.Public(), map[string]any{"key_ops": []string{"encrypt"}})), 0, nil},
		{"P-384 skipped", setOf(t, good, p384JWK), 1, nil},
		{"X25519 skipped", setOf(t, good, x25519), 1, nil},
		{"unknown kty skipped", setOf(t, good, map[string]any{"kty": "PQC", "x": "AA"}), 1, nil},
		{"extra top-level members", []byte(`{"keys":[],"x":1}`), 0, nil},

		{"private EC key", setOf(t, good, privateJWK(t, es)), 0, ErrPrivateKeyInJWKS},
		{"private RSA key", setOf(t, privateJWK(t, ps)), 0, ErrPrivateKeyInJWKS},
		{"private Ed25519 key", setOf(t, privateJWK(t, ed)), 0, ErrPrivateKeyInJWKS},
		{"private member on an enc key", setOf(t, publicJWKMap(t, ps.Public(), map[string]any{"use": "enc", "p": "AQAB"})), 0, ErrPrivateKeyInJWKS},
		{"symmetric key", setOf(t, map[string]any{"kty": "oct", "k": "c2VjcmV0"}), 0, ErrPrivateKeyInJWKS},
		{"symmetric key without k", setOf(t, map[string]any{"kty": "oct"}), 0, ErrPrivateKeyInJWKS},
		{"RSA 1024", setOf(t, good, weakRSAJWK), 0, ErrWeakKey},
		{"RSA 1024 for encryption", setOf(t, good, map[string]any{"kty": "RSA", "use": "enc", "n": b64(weakRSA.N.Bytes()), "e": "AQAB"}), 0, ErrWeakKey},
		{"RSA 2040 with leading zero", setOf(t, map[string]any{"kty": "RSA", "n": b64(append([]byte{0}, make([]byte, 255)...)), "e": "AQAB"}), 0, ErrWeakKey},
		{"P-224", setOf(t, good, p224), 0, ErrWeakKey},
		{"RSA over 8192 bits", setOf(t, map[string]any{"kty": "RSA", "n": b64(append([]byte{0x80}, make([]byte, 1024)...)), "e": "AQAB"}), 0, ErrTooLarge},
		{"too many keys", setOf(t, many...), 0, ErrTooLarge},
		{"too large", []byte(`{"keys":[],"pad":"` + strings.Repeat("a", MaxJWKSSize) + `"}`), 0, ErrTooLarge},
		{"no keys member", []byte(`{"key":[]}`), 0, ErrMalformed},
		{"keys not an array", []byte(`{"keys":{}}`), 0, ErrMalformed},
		{"not JSON", []byte(`keys`), 0, ErrMalformed},
		{"bare JWK", mustJSON(t, good), 0, ErrMalformed},
		{"duplicate keys member", []byte(`{"keys":[],"keys":[]}`), 0, ErrMalformed},
		{"key without kty", setOf(t, map[string]any{"x": "AA"}), 0, ErrMalformed},
		{"EC point not on curve", setOf(t, map[string]any{"kty": "EC", "crv": "P-256", "x": b64(make([]byte, 32)), "y": b64(append(make([]byte, 31), 1))}), 0, ErrMalformed},
		{"alg does not fit key", setOf(t, publicJWKMap(t, es.Public(), map[string]any{"alg": "PS256"})), 0, ErrMalformed},
		{"duplicate member in key", []byte(`{"keys":[{"kty":"EC","kty":"oct"}]}`), 0, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := ParseJWKS(tc.data)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if set != nil {
					t.Fatal("set returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if set.Len() != tc.wantKeys {
				t.Fatalf("%d keys, want %d", set.Len(), tc.wantKeys)
			}
		})
	}
}

func TestParseJWKSKeyData(t *testing.T) {
	es := rawPrivate(t, "es256.pem").(*ecdsa.PrivateKey)
	set, err := ParseJWKS(setOf(t, publicJWKMap(t, es.Public(), map[string]any{"kid": "client-key-1"})))
	if err != nil {
		t.Fatal(err)
	}
	k := set.Keys()[0]
	if k.KeyID() != "client-key-1" || k.Alg() != ES256 || !k.Equal(es.Public()) {
		t.Fatalf("got kid %q alg %s", k.KeyID(), k.Alg())
	}
	// RFC 7638 thumbprint, recomputed independently of jwx.
	point, err := es.PublicKey.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil {
		t.Fatal(err)
	}
	x, y := point[1:33], point[33:]
	want := thumbprintOf(fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, b64(x), b64(y)))
	if k.Thumbprint() != want {
		t.Fatalf("thumbprint %s, want %s", k.Thumbprint(), want)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if k.Equal(other.Public()) {
		t.Fatal("Equal true for another key")
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
