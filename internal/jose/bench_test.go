package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// A typical RFC 9068 access-token claims set (about 400 bytes).
var benchClaims = []byte(`{"iss":"https://as.bank.example","sub":"tls-client","aud":["https://as.bank.example"],"client_id":"tls-client","scope":"accounts payments","jti":"Zv_UoTo8ujkor6KVGgMm8gKn6NZk11UF","iat":1795580238,"nbf":1795580238,"exp":1795580538,"aut":"APPLICATION","consent_id":"aac-6c81d6b6-7c8e-4b36-9b3a-8c0b1c2a6f0e","cnf":{"x5t#S256":"8BXmMj8c0yGmASnlb9iIa_tBYEMsFb6d-jn8C6HEESQ"}}`)

func benchSign(b *testing.B, file string) {
	s := newStore(b, KeyStoreOptions{}, testKey(b, file))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(benchClaims, "at+jwt"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignES256 is KeyStore.Sign: header, base64url, ES256 via jwx's jwsbb.
func BenchmarkSignES256(b *testing.B) { benchSign(b, "es256.pem") }

// BenchmarkSignPS256 is KeyStore.Sign with an RSA-2048 key.
func BenchmarkSignPS256(b *testing.B) { benchSign(b, "ps256.pem") }

// BenchmarkSignEdDSA is KeyStore.Sign with an Ed25519 key.
func BenchmarkSignEdDSA(b *testing.B) { benchSign(b, "eddsa.pem") }

// BenchmarkVerifyES256 is KeyStore.Verify of an access token: strict header and
// payload parsing, allow-list, kid lookup, ES256 via jwsbb.
func BenchmarkVerifyES256(b *testing.B) {
	s := newStore(b, KeyStoreOptions{}, testKey(b, "es256.pem"))
	tok, err := s.Sign(benchClaims, "at+jwt")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(tok, atOpts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyJWTClientES256 is VerifyJWT against a client's JWK Set.
func BenchmarkVerifyJWTClientES256(b *testing.B) {
	c := newClientKeys(b)
	tok := craft(`{"alg":"ES256","kid":"c-es"}`, string(benchClaims), signWith(b, "ES256", c.es))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyJWT(context.Background(), tok, c.set, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStdlibSignES256 is the floor for BenchmarkSignES256: the same token
// built with crypto/ecdsa directly, no policy.
func BenchmarkStdlibSignES256(b *testing.B) {
	k := rawPrivate(b, "es256.pem").(*ecdsa.PrivateKey)
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"VCUwYEiWX_7AMTGeRxAicjgmdF1I8WtyMgTjYOCmNho","typ":"at+jwt"}`))
	b.ReportAllocs()
	for b.Loop() {
		input := hdr + "." + base64.RawURLEncoding.EncodeToString(benchClaims)
		h := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(nil, k, h[:])
		if err != nil {
			b.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		_ = input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
}

// BenchmarkStdlibVerifyES256 is the floor for BenchmarkVerifyES256: split, decode
// the signature, SHA-256, ecdsa.Verify; no header or payload parsing.
func BenchmarkStdlibVerifyES256(b *testing.B) {
	k := rawPrivate(b, "es256.pem").(*ecdsa.PrivateKey)
	s := newStore(b, KeyStoreOptions{}, testKey(b, "es256.pem"))
	tok, err := s.Sign(benchClaims, "at+jwt")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		i := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.Sum256([]byte(tok[:i]))
		if !ecdsa.Verify(&k.PublicKey, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			b.Fatal("verify")
		}
	}
}
