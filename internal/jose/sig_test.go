package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// fixedKey resolves every header to one key.
type fixedKey struct{ k *PublicKey }

func (f fixedKey) ResolveKey(context.Context, Header) (*PublicKey, error) { return f.k, nil }

// TestSignatureInteropJWX checks the signature arithmetic of sig.go against an independent
// implementation (lestrrat-go/jwx) both ways, for every algorithm: our tokens verify there,
// theirs verify here, and a flipped signature bit fails here. ES256 runs enough rounds that
// r or s with leading zero bytes (1 in 128 signatures) is all but certain to occur.
func TestSignatureInteropJWX(t *testing.T) {
	for _, tc := range []struct {
		file   string
		alg    Alg
		jwxAlg jwa.SignatureAlgorithm
		rounds int
	}{
		{"es256.pem", ES256, jwa.ES256(), 600},
		{"ps256.pem", PS256, jwa.PS256(), 4},
		{"eddsa.pem", EdDSA, jwa.EdDSA(), 20},
	} {
		t.Run(string(tc.alg), func(t *testing.T) {
			k := testKey(t, tc.file)
			priv := rawPrivate(t, tc.file)
			opts := VerifyOptions{Profile: FAPI2, Types: []string{"JWT"}}
			for i := range tc.rounds {
				payload := []byte(`{"iss":"a","n":` + string(rune('0'+i%10)) + `}`)
				ours, err := signCompact(k.signer, tc.alg, k.KeyID(), "JWT", payload)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := jws.Verify([]byte(ours), jws.WithKey(tc.jwxAlg, priv.Public())); err != nil {
					t.Fatalf("round %d: jwx rejects our %s signature: %v", i, tc.alg, err)
				}
				hdr := jws.NewHeaders()
				_ = hdr.Set(jws.KeyIDKey, k.KeyID())
				_ = hdr.Set(jws.TypeKey, "JWT")
				theirs, err := jws.Sign(payload, jws.WithKey(tc.jwxAlg, priv, jws.WithProtectedHeaders(hdr)))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := VerifyJWT(t.Context(), string(theirs), fixedKey{k.Public()}, opts); err != nil {
					t.Fatalf("round %d: we reject jwx's %s signature: %v", i, tc.alg, err)
				}
				tampered := []byte(ours)
				tampered[len(tampered)-2] ^= 0x01 // a bit of the signature, not its padding bits
				if _, err := VerifyJWT(t.Context(), string(tampered), fixedKey{k.Public()}, opts); !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("round %d: tampered signature: err = %v, want ErrBadSignature", i, err)
				}
			}
		})
	}
}

// TestRawVerifyWrongKeyType: a key of another type than alg's never verifies.
func TestRawVerifyWrongKeyType(t *testing.T) {
	es := rawPrivate(t, "es256.pem").Public().(*ecdsa.PublicKey)
	ps := rawPrivate(t, "ps256.pem").Public().(*rsa.PublicKey)
	ed := rawPrivate(t, "eddsa.pem").Public().(ed25519.PublicKey)
	in := []byte("x.y")
	for _, tc := range []struct {
		key any
		alg Alg
		sig []byte
	}{
		{ps, ES256, make([]byte, 64)},
		{ed, ES256, make([]byte, 64)},
		{es, PS256, make([]byte, 256)},
		{es, EdDSA, make([]byte, 64)},
		{es, "HS256", make([]byte, 32)},
		{es, ES256, make([]byte, 63)},
	} {
		if rawVerify(tc.key, tc.alg, in, tc.sig) {
			t.Errorf("rawVerify(%T, %s) = true", tc.key, tc.alg)
		}
	}
	if _, err := rawSign(rawPrivate(t, "ps256.pem"), ES256, in); !errors.Is(err, errAlgKey) {
		t.Errorf("rawSign(RSA key, ES256) = %v, want errAlgKey", err)
	}
}
