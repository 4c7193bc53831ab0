package token

import (
	"context"
	"testing"
)

// BenchmarkIssue is one access token: claims, 192-bit jti, ES256 signature.
func BenchmarkIssue(b *testing.B) {
	f := newFixture(b, fixtureOpts{})
	c := userClaims()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.issuer.Issue(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is the gateway's repeat call: SHA-256 of the token, cache
// lookup, key and deny-list checks, copy.
func BenchmarkVerifyCached(b *testing.B) { benchVerify(b, 0) }

// BenchmarkVerifyUncached is full verification: JWS parsing, ES256, claims.
func BenchmarkVerifyUncached(b *testing.B) { benchVerify(b, -1) }

func benchVerify(b *testing.B, cacheSize int) {
	f := newFixture(b, fixtureOpts{cacheSize: cacheSize})
	raw, _ := f.issue(b, userClaims())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.verifier.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
