package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testKey loads a PKCS#8 key from testdata as a SigningKey.
func testKey(t testing.TB, name string) *SigningKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseSigningKeyPEM(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

// rawPrivate loads a PKCS#8 key from testdata without any checks.
func rawPrivate(t testing.TB, name string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

var (
	genOnce sync.Once
	genES   []*SigningKey
)

// freshES256 returns the i-th of a few generated ES256 keys (cheap, distinct).
func freshES256(t testing.TB, i int) *SigningKey {
	t.Helper()
	genOnce.Do(func() {
		for range 4 {
			k, err := GenerateSigningKey(ES256)
			if err != nil {
				panic(err)
			}
			genES = append(genES, k)
		}
	})
	return genES[i]
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// craft builds a compact JWS from a literal header and payload, signed by sign
// (nil: empty signature).
func craft(header, payload string, sign func(input []byte) []byte) string {
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64(sig)
}

// signWith returns a signer function for craft using the raw algorithm.
func signWith(t testing.TB, alg string, key any) func([]byte) []byte {
	return func(input []byte) []byte {
		h := sha256.Sum256(input)
		switch alg {
		case "ES256":
			r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), h[:])
			if err != nil {
				t.Fatal(err)
			}
			out := make([]byte, 64)
			r.FillBytes(out[:32])
			s.FillBytes(out[32:])
			return out
		case "PS256":
			sig, err := rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			if err != nil {
				t.Fatal(err)
			}
			return sig
		case "RS256":
			sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, h[:])
			if err != nil {
				t.Fatal(err)
			}
			return sig
		case "EdDSA":
			return ed25519.Sign(key.(ed25519.PrivateKey), input)
		case "HS256":
			m := hmac.New(sha256.New, key.([]byte))
			m.Write(input)
			return m.Sum(nil)
		}
		t.Fatalf("craft: alg %s", alg)
		return nil
	}
}

func hdrJSON(t testing.TB, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fakeClock() *clock.Fake { return clock.NewFake(t0) }

// thumbprintOf is base64url(SHA-256(canonical JWK JSON)), RFC 7638 §3.
func thumbprintOf(canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	return b64(h[:])
}
