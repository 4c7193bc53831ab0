package token

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/store"
)

func TestVerifiedCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixtureOpts{})
	raw, _ := f.issue(t, appClaims())

	if _, err := f.verifier.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	at, err := f.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(CacheStats{Hits: 1, Misses: 1, Entries: 1}, f.verifier.CacheStats()); diff != "" {
		t.Fatalf("stats (-want +got):\n%s", diff)
	}

	// Callers get their own copy: mutating it does not change the cached token.
	at.Scopes[0] = "payments"
	at.Audience = append(at.Audience, "x")
	again, err := f.verifier.Verify(ctx, raw)
	if err != nil || !cmp.Equal(again.Scopes, []string{"accounts"}) || len(again.Audience) != 1 {
		t.Fatalf("cached token modified through a returned copy: %+v, %v", again, err)
	}

	// Revocation applies on a cache hit, from the store as well as locally.
	f.src.revoke(store.Revocation{JTI: at.JTI, RevokedAt: f.clk.Now(), ExpiresAt: at.ExpiresAt})
	f.refresh(t)
	if _, err := f.verifier.Verify(ctx, raw); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked token on a cache hit: err = %v, want ErrRevoked", err)
	}
	if st := f.verifier.CacheStats(); st.Hits != 3 || st.Misses != 1 {
		t.Fatalf("revocation check did not run on a cache hit: %+v", st)
	}

	// A stale deny-list fails closed on a cache hit too.
	raw2, _ := f.issue(t, appClaims())
	if _, err := f.verifier.Verify(ctx, raw2); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(DefaultMaxStaleness + time.Second)
	if _, err := f.verifier.Verify(ctx, raw2); !errors.Is(err, ErrRevocationStateUnavailable) {
		t.Fatalf("stale deny-list on a cache hit: err = %v", err)
	}
}

func TestVerifiedCacheExpiry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixtureOpts{})
	raw, at := f.issue(t, appClaims())
	if _, err := f.verifier.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	// At exp the entry is gone; full verification applies the skew…
	f.clk.Set(at.ExpiresAt)
	f.refresh(t)
	if _, err := f.verifier.Verify(ctx, raw); err != nil {
		t.Fatalf("within skew: %v", err)
	}
	if st := f.verifier.CacheStats(); st.Misses != 2 || st.Entries != 0 {
		t.Fatalf("entry outlived exp: %+v", st)
	}
	// …and then refuses it.
	f.clk.Set(at.ExpiresAt.Add(DefaultMaxClockSkew))
	f.refresh(t)
	if _, err := f.verifier.Verify(ctx, raw); !errors.Is(err, ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
}

// A key removed from the store (compromise) stops its cached tokens at once.
func TestVerifiedCacheKeyRemoval(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixtureOpts{})
	raw, _ := f.issue(t, appClaims())
	if _, err := f.verifier.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Rotate(key(t, 1)); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Remove(key(t, 0).KeyID()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(ctx, raw); !errors.Is(err, ErrBadSignature) || !errors.Is(err, jose.ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrBadSignature (jose.ErrUnknownKey)", err)
	}
}

func TestVerifiedCacheBounded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixtureOpts{cacheSize: 32})
	for range 200 {
		raw, _ := f.issue(t, appClaims())
		if _, err := f.verifier.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.verifier.CacheStats().Entries; n > 32 || n == 0 {
		t.Fatalf("cache holds %d entries, bound 32", n)
	}
}

func TestVerifierWithoutCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixtureOpts{cacheSize: -1})
	raw, _ := f.issue(t, appClaims())
	for range 3 {
		if _, err := f.verifier.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(CacheStats{Misses: 3}, f.verifier.CacheStats()); diff != "" {
		t.Fatalf("stats (-want +got):\n%s", diff)
	}
}

func TestNewVerifierRejects(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tests := []struct {
		name string
		opts VerifierOptions
	}{
		{"no keys", VerifierOptions{Issuer: issuer, DenyList: f.deny}},
		{"no issuer", VerifierOptions{Keys: f.keys, DenyList: f.deny}},
		{"no deny-list", VerifierOptions{Keys: f.keys, Issuer: issuer}},
		{"skew over 5 min", VerifierOptions{Keys: f.keys, Issuer: issuer, DenyList: f.deny, MaxClockSkew: 6 * time.Minute}},
		{"negative skew", VerifierOptions{Keys: f.keys, Issuer: issuer, DenyList: f.deny, MaxClockSkew: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewVerifier(tc.opts); !errors.Is(err, ErrInvalidClaims) {
				t.Fatalf("err = %v, want ErrInvalidClaims", err)
			}
		})
	}
}

// Acceptance 3: a token signed before rotation still verifies until it expires;
// after the old key is retired it no longer appears in /jwks and its tokens fail.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	const retireAfter = 10 * time.Minute // ≥ token lifetime (5 min) + skew
	f := newFixture(t, fixtureOpts{retireAfter: retireAfter, cacheSize: -1})
	oldKid, newKid := key(t, 0).KeyID(), key(t, 2).KeyID()
	before, at := f.issue(t, appClaims())

	if err := f.keys.Publish(key(t, 2)); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	if err := f.keys.Rotate(key(t, 2)); err != nil {
		t.Fatal(err)
	}
	after, _ := f.issue(t, appClaims())
	if kidOf(t, after) != newKid {
		t.Fatal("new tokens not signed with the new key")
	}
	if got := jwksKids(t, f.keys); !cmp.Equal(got, map[string]bool{oldKid: true, newKid: true}) {
		t.Fatalf("JWKS during the overlap: %v", got)
	}

	// Until it expires, the old token verifies (exp + skew is the limit).
	f.clk.Set(at.ExpiresAt.Add(DefaultMaxClockSkew - time.Second))
	f.refresh(t)
	if _, err := f.verifier.Verify(ctx, before); err != nil {
		t.Fatalf("pre-rotation token before its expiry: %v", err)
	}
	f.clk.Set(at.ExpiresAt.Add(DefaultMaxClockSkew))
	f.refresh(t)
	if _, err := f.verifier.Verify(ctx, before); !errors.Is(err, ErrExpired) {
		t.Fatalf("pre-rotation token after its expiry: err = %v, want ErrExpired", err)
	}

	// After retirement the old key is gone from /jwks and from verification.
	f.clk.Set(t0.Add(time.Minute + retireAfter))
	f.refresh(t)
	if _, err := f.keys.Prune(); err != nil {
		t.Fatal(err)
	}
	if got := jwksKids(t, f.keys); !cmp.Equal(got, map[string]bool{newKid: true}) {
		t.Fatalf("JWKS after retirement: %v", got)
	}
	forged := f.signClaimsWithKid(t, oldKid) // an old-kid token that is not expired
	if _, err := f.verifier.Verify(ctx, forged); !errors.Is(err, ErrBadSignature) || !errors.Is(err, jose.ErrUnknownKey) {
		t.Fatalf("token under the retired kid: err = %v, want ErrBadSignature (jose.ErrUnknownKey)", err)
	}
	if _, err := f.verifier.Verify(ctx, after); !errors.Is(err, ErrExpired) {
		t.Fatalf("post-rotation token: err = %v", err)
	}
	fresh, _ := f.issue(t, appClaims())
	if _, err := f.verifier.Verify(ctx, fresh); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
}

// signClaimsWithKid signs valid claims with the old key (test key 0) directly, as a
// token would look if the retired key signed it just now.
func (f *fixture) signClaimsWithKid(t testing.TB, kid string) string {
	t.Helper()
	old, err := jose.NewKeyStore(jose.KeyStoreOptions{Clock: f.clk}, key(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f.validClaims())
	raw, err := old.Sign(b, AccessTokenType)
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, raw) != kid {
		t.Fatal("wrong kid")
	}
	return raw
}

func kidOf(t testing.TB, raw string) string {
	t.Helper()
	var hdr struct {
		Kid string `json:"kid"`
	}
	mustDecode(t, raw[:indexByte(raw, '.')], &hdr)
	return hdr.Kid
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return len(s)
}

func jwksKids(t testing.TB, ks *jose.KeyStore) map[string]bool {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range set.Keys {
		out[k.Kid] = true
	}
	return out
}

func TestCheckBinding(t *testing.T) {
	bound := &AccessToken{CertThumbprint: certA}
	tests := []struct {
		name      string
		at        *AccessToken
		presented string
		wantErr   error
	}{
		{"same certificate", bound, certA, nil},
		{"other certificate", bound, certB, ErrCertificateMismatch},
		{"no certificate", bound, "", ErrCertificateMismatch},
		{"prefix", bound, certA[:20], ErrCertificateMismatch},
		{"unbound token", &AccessToken{}, certA, ErrUnbound},
		{"nil token", nil, certA, ErrUnbound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckBinding(tc.at, tc.presented); !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	// Thumbprint is the RFC 8705 value: base64url SHA-256, 43 characters.
	if len(certA) != 43 || certA == certB {
		t.Fatalf("Thumbprint = %q", certA)
	}
}
