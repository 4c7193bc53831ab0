package jose

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
)

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaEncJWKS(t *testing.T, pub *rsa.PublicKey, extra map[string]any) []byte {
	t.Helper()
	k := map[string]any{"kty": "RSA", "kid": "enc-1", "use": "enc", "n": b64u(pub.N.Bytes()), "e": b64u(big.NewInt(int64(pub.E)).Bytes())}
	for n, v := range extra {
		k[n] = v
	}
	b, _ := json.Marshal(map[string]any{"keys": []any{
		map[string]any{"kty": "EC", "crv": "P-256", "use": "sig", "kid": "sig-1", "x": "AAAA", "y": "AAAA"},
		k,
	}})
	return b
}

// decryptRSAOAEP256 decrypts a compact JWE by hand (RFC 7516 §5.2 with RSA-OAEP-256 and
// AES-GCM), independently of the library used to encrypt.
func decryptRSAOAEP256(t *testing.T, compact string, priv *rsa.PrivateKey) (map[string]any, []byte) {
	t.Helper()
	parts := strings.Split(compact, ".")
	if len(parts) != 5 {
		t.Fatalf("%d parts", len(parts))
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var hdr map[string]any
	if err := json.Unmarshal(dec(parts[0]), &hdr); err != nil {
		t.Fatal(err)
	}
	cek, err := rsa.DecryptOAEP(sha256.New(), nil, priv, dec(parts[1]), nil)
	if err != nil {
		t.Fatalf("CEK: %v", err)
	}
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, dec(parts[2]), append(dec(parts[3]), dec(parts[4])...), []byte(parts[0]))
	if err != nil {
		t.Fatalf("content: %v", err)
	}
	return hdr, plain
}

func TestEncryptJWTRSAOAEP256(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key, err := SelectEncryptionKey(rsaEncJWKS(t, &priv.PublicKey, nil), KeyAlgRSAOAEP256)
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncryptJWT("a.signed.jwt", key, EncA256GCM)
	if err != nil {
		t.Fatal(err)
	}
	hdr, plain := decryptRSAOAEP256(t, out, priv)
	if string(plain) != "a.signed.jwt" {
		t.Fatalf("plaintext %q", plain)
	}
	if hdr["alg"] != "RSA-OAEP-256" || hdr["enc"] != "A256GCM" || hdr["cty"] != "JWT" || hdr["kid"] != "enc-1" {
		t.Errorf("header %v", hdr)
	}
}

func TestEncryptJWTECDHES(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecdhPub, _ := priv.PublicKey.ECDH()
	raw := ecdhPub.Bytes() // 0x04 || X || Y
	set, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "use": "enc", "x": b64u(raw[1:33]), "y": b64u(raw[33:]),
	}}})
	key, err := SelectEncryptionKey(set, KeyAlgECDHES)
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncryptJWT("x.y.z", key, EncA256GCM)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := jwe.Decrypt([]byte(out), jwe.WithKey(jwa.ECDH_ES(), priv))
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != "x.y.z" {
		t.Fatalf("plaintext %q", plain)
	}
}

func TestSelectEncryptionKeyRefuses(t *testing.T) {
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	strong, _ := rsa.GenerateKey(rand.Reader, 2048)
	cases := []struct {
		name string
		jwks []byte
		alg  string
		want error
	}{
		{"RSA1_5", rsaEncJWKS(t, &strong.PublicKey, nil), "RSA1_5", ErrAlgNotAllowed},
		{"weak RSA", rsaEncJWKS(t, &weak.PublicKey, nil), KeyAlgRSAOAEP256, ErrWeakKey},
		{"signing key only", rsaEncJWKS(t, &strong.PublicKey, map[string]any{"use": "sig"}), KeyAlgRSAOAEP256, ErrNoEncryptionKey},
		{"key for another alg", rsaEncJWKS(t, &strong.PublicKey, map[string]any{"alg": "RSA-OAEP"}), KeyAlgRSAOAEP256, ErrNoEncryptionKey},
		{"private key", rsaEncJWKS(t, &strong.PublicKey, map[string]any{"d": "AAAA"}), KeyAlgRSAOAEP256, ErrPrivateKeyInJWKS},
		{"no EC key for ECDH-ES", rsaEncJWKS(t, &strong.PublicKey, nil), KeyAlgECDHES, ErrNoEncryptionKey},
		{"malformed", []byte(`{"keys":`), KeyAlgRSAOAEP256, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := SelectEncryptionKey(tc.jwks, tc.alg); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
		})
	}
	if err := CheckEncryptionAlgs(KeyAlgRSAOAEP256, "A128CBC-HS256"); !errors.Is(err, ErrAlgNotAllowed) {
		t.Errorf("A128CBC-HS256: %v", err)
	}
}

// FuzzSelectEncryptionKey: a client's JWK Set is attacker input; selection never panics
// and returns a key only for the requested algorithm's key type.
func FuzzSelectEncryptionKey(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`), KeyAlgRSAOAEP256)
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","use":"enc","x":"AA","y":"AA"}]}`), KeyAlgECDHES)
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AA"}]}`), KeyAlgECDHES)
	f.Fuzz(func(t *testing.T, jwks []byte, alg string) {
		k, err := SelectEncryptionKey(jwks, alg)
		if err != nil {
			return
		}
		switch k.key.(type) {
		case *rsa.PublicKey:
			if alg != KeyAlgRSAOAEP256 {
				t.Fatalf("RSA key selected for %s", alg)
			}
		default:
			if alg != KeyAlgECDHES {
				t.Fatalf("EC key selected for %s", alg)
			}
		}
	})
}
