package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/store"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	sub := testSubjects(t).Public(customerID)
	for _, tc := range []struct {
		name   string
		claims Claims
		want   AccessToken // without JTI
	}{
		{"application", appClaims(), AccessToken{
			Issuer: issuer, Subject: "tpp-1", Audience: []string{issuer}, ClientID: "tpp-1", Scopes: []string{"accounts"},
			IssuedAt: t0, NotBefore: t0, ExpiresAt: t0.Add(5 * time.Minute), Use: UseApplication, CertThumbprint: certA,
		}},
		{"user", userClaims(), AccessToken{
			Issuer: issuer, Subject: sub, Audience: []string{issuer}, ClientID: "tpp-1", Scopes: []string{"openid", "accounts"},
			IssuedAt: t0, NotBefore: t0, ExpiresAt: t0.Add(5 * time.Minute), Use: UseUser, ConsentID: "aac-1234",
			UserID: sub, FamilyID: "fam-1", CertThumbprint: certA, AuthTime: t0.Add(-time.Minute), ACR: "urn:openbanking:psd2:sca",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			raw, issued := f.issue(t, tc.claims)
			if len(issued.JTI) != 32 {
				t.Errorf("jti %q: want 32 base64url characters (192 bits)", issued.JTI)
			}
			want := tc.want
			want.JTI = issued.JTI
			if diff := cmp.Diff(&want, issued); diff != "" {
				t.Errorf("issued (-want +got):\n%s", diff)
			}
			got, err := f.verifier.Verify(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(issued, got); diff != "" {
				t.Errorf("verified (-issued +verified):\n%s", diff)
			}
		})
	}
}

// The wire format: header typ at+jwt, and exactly the documented claim names.
func TestAccessTokenWireFormat(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	raw, at := f.issue(t, userClaims())
	parts := strings.Split(raw, ".")
	var hdr map[string]string
	mustDecode(t, parts[0], &hdr)
	if diff := cmp.Diff(map[string]string{"alg": "ES256", "kid": key(t, 0).KeyID(), "typ": "at+jwt"}, hdr); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	var claims map[string]any
	mustDecode(t, parts[1], &claims)
	want := map[string]any{
		"iss": issuer, "sub": testSubjects(t).Public(customerID), "aud": issuer, "client_id": "tpp-1", "scope": "openid accounts",
		"jti": at.JTI, "iat": float64(t0.Unix()), "nbf": float64(t0.Unix()), "exp": float64(t0.Unix() + 300),
		"aut": "APPLICATION_USER", "cnf": map[string]any{"x5t#S256": certA},
		"consent_id": "aac-1234", "openbanking_intent_id": "aac-1234", "grant_id": "fam-1",
		"acr": "urn:openbanking:psd2:sca", "auth_time": float64(t0.Unix() - 60),
	}
	if diff := cmp.Diff(want, claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}

	// Application token: no user claims; several audiences as an array.
	c := appClaims()
	c.Audience = []string{"https://api.bank.example", issuer}
	raw, _ = f.issue(t, c)
	claims = nil
	mustDecode(t, strings.Split(raw, ".")[1], &claims)
	var names []string
	for n := range claims {
		names = append(names, n)
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"aud", "aut", "client_id", "cnf", "exp", "iat", "iss", "jti", "nbf", "scope", "sub"}, names); diff != "" {
		t.Errorf("application claim names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"https://api.bank.example", issuer}, claims["aud"]); diff != "" {
		t.Errorf("aud (-want +got):\n%s", diff)
	}
}

// TestClaimsSet: the claims set of a verified token (what introspection returns) is the
// token's signed claims set, less openbanking_intent_id.
func TestClaimsSet(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, c := range []Claims{appClaims(), userClaims()} {
		t.Run(string(c.Use), func(t *testing.T) {
			raw, _ := f.issue(t, c)
			at, err := f.verifier.Verify(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			var signed map[string]any
			mustDecode(t, strings.Split(raw, ".")[1], &signed)
			delete(signed, "openbanking_intent_id")
			b, err := json.Marshal(at.ClaimsSet())
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(signed, got); diff != "" {
				t.Errorf("ClaimsSet (-signed +got):\n%s", diff)
			}
		})
	}
}

func mustDecode(t testing.TB, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestIssueRejects(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	mod := func(base Claims, m func(*Claims)) Claims { m(&base); return base }
	tests := []struct {
		name    string
		claims  Claims
		wantErr error
	}{
		{"no certificate thumbprint", mod(appClaims(), func(c *Claims) { c.CertThumbprint = "" }), ErrUnbound},
		{"thumbprint not SHA-256", mod(appClaims(), func(c *Claims) { c.CertThumbprint = b64([]byte("short")) }), ErrInvalidClaims},
		{"thumbprint padded", mod(appClaims(), func(c *Claims) { c.CertThumbprint = certA + "=" }), ErrInvalidClaims},
		{"no client", mod(appClaims(), func(c *Claims) { c.ClientID = "" }), ErrInvalidClaims},
		{"no use", mod(appClaims(), func(c *Claims) { c.Use = "" }), ErrInvalidClaims},
		{"unknown use", mod(appClaims(), func(c *Claims) { c.Use = "USER" }), ErrInvalidClaims},
		{"user token without user", mod(userClaims(), func(c *Claims) { c.UserID = "" }), ErrInvalidClaims},
		{"application token with user", mod(appClaims(), func(c *Claims) { c.UserID = "psu" }), ErrInvalidClaims},
		{"application token with acr", mod(appClaims(), func(c *Claims) { c.ACR = "urn:openbanking:psd2:sca" }), ErrInvalidClaims},
		{"scope with space", mod(appClaims(), func(c *Claims) { c.Scopes = []string{"a b"} }), ErrInvalidClaims},
		{"scope with quote", mod(appClaims(), func(c *Claims) { c.Scopes = []string{`a"`} }), ErrInvalidClaims},
		{"empty scope", mod(appClaims(), func(c *Claims) { c.Scopes = []string{""} }), ErrInvalidClaims},
		{"empty audience", mod(appClaims(), func(c *Claims) { c.Audience = []string{""} }), ErrInvalidClaims},
		{"negative lifetime", mod(appClaims(), func(c *Claims) { c.Lifetime = -time.Second }), ErrInvalidClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, at, err := f.issuer.Issue(context.Background(), tc.claims)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if raw != "" || at != nil {
				t.Fatal("token returned with an error")
			}
		})
	}
}

func TestIssueLifetime(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := appClaims()
	c.Lifetime = 90*time.Second + 500*time.Millisecond
	_, at := f.issue(t, c)
	if got := at.ExpiresAt.Sub(at.IssuedAt); got != 90*time.Second {
		t.Errorf("shortened lifetime %v", got)
	}
	c.Lifetime = 2 * time.Hour
	_, at = f.issue(t, c)
	if got := at.ExpiresAt.Sub(at.IssuedAt); got != DefaultAccessTokenLifetime {
		t.Errorf("Claims.Lifetime lengthened the token to %v", got)
	}
	if f.issuer.Lifetime() != DefaultAccessTokenLifetime {
		t.Errorf("Lifetime() = %v", f.issuer.Lifetime())
	}
}

func TestNewIssuerRejects(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tests := []struct {
		name string
		opts IssuerOptions
	}{
		{"no keys", IssuerOptions{Issuer: issuer}},
		{"no issuer", IssuerOptions{Keys: f.keys}},
		{"lifetime over 1 h", IssuerOptions{Keys: f.keys, Issuer: issuer, AccessTokenLifetime: time.Hour + time.Second}},
		{"negative lifetime", IssuerOptions{Keys: f.keys, Issuer: issuer, AccessTokenLifetime: -time.Minute}},
		{"empty audience", IssuerOptions{Keys: f.keys, Issuer: issuer, Audience: []string{""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewIssuer(tc.opts); !errors.Is(err, ErrInvalidClaims) {
				t.Fatalf("err = %v, want ErrInvalidClaims", err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	ctx := context.Background()
	with := func(f *fixture, m map[string]any) map[string]any {
		c := f.validClaims()
		for k, v := range m {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	tests := []struct {
		name    string
		token   func(t *testing.T, f *fixture) string
		wantErr []error
	}{
		{"valid (control)", func(t *testing.T, f *fixture) string { return f.signClaims(t, f.validClaims(), "at+jwt") }, nil},
		{"expired", func(t *testing.T, f *fixture) string {
			raw, _ := f.issue(t, appClaims())
			f.clk.Advance(5*time.Minute + DefaultMaxClockSkew)
			f.refresh(t)
			return raw
		}, []error{ErrExpired}},
		{"expired but within skew", func(t *testing.T, f *fixture) string {
			raw, _ := f.issue(t, appClaims())
			f.clk.Advance(5*time.Minute + DefaultMaxClockSkew - time.Second)
			f.refresh(t)
			return raw
		}, nil},
		{"nbf beyond skew", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"nbf": f.clk.Now().Add(DefaultMaxClockSkew + time.Second).Unix()}), "at+jwt")
		}, []error{ErrNotYetValid}},
		{"nbf within skew", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"nbf": f.clk.Now().Add(DefaultMaxClockSkew).Unix()}), "at+jwt")
		}, nil},
		{"iat beyond skew", func(t *testing.T, f *fixture) string {
			now := f.clk.Now()
			return f.signClaims(t, with(f, map[string]any{"iat": now.Add(time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix()}), "at+jwt")
		}, []error{ErrNotYetValid}},
		{"wrong iss", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"iss": "https://evil.example"}), "at+jwt")
		}, []error{ErrWrongIssuer}},
		{"wrong aud", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"aud": []string{"https://other.example"}}), "at+jwt")
		}, []error{ErrWrongAudience}},
		{"aud array containing ours", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"aud": []string{"https://other.example", issuer}}), "at+jwt")
		}, nil},
		{"typ JWT", func(t *testing.T, f *fixture) string { return f.signClaims(t, f.validClaims(), "JWT") }, []error{ErrWrongType, jose.ErrWrongType}},
		{"no typ", func(t *testing.T, f *fixture) string { return f.signClaims(t, f.validClaims(), "") }, []error{ErrWrongType}},
		{"typ application/at+jwt", func(t *testing.T, f *fixture) string { return f.signClaims(t, f.validClaims(), "application/at+jwt") }, nil},
		{"alg none", func(t *testing.T, f *fixture) string {
			return craft(`{"alg":"none","kid":"`+key(t, 0).KeyID()+`","typ":"at+jwt"}`, f.validClaims(), nil)
		}, []error{ErrBadSignature, jose.ErrAlgNotAllowed}},
		{"HS256 keyed with the public JWK Set", func(t *testing.T, f *fixture) string {
			return craft(`{"alg":"HS256","kid":"`+key(t, 0).KeyID()+`","typ":"at+jwt"}`, f.validClaims(), hs256(f.keys.JWKS()))
		}, []error{ErrBadSignature, jose.ErrAlgNotAllowed}},
		{"RS256", func(t *testing.T, f *fixture) string {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			return craft(`{"alg":"RS256","kid":"`+key(t, 0).KeyID()+`","typ":"at+jwt"}`, f.validClaims(), rs256(k))
		}, []error{ErrBadSignature, jose.ErrAlgNotAllowed}},
		{"tampered payload", func(t *testing.T, f *fixture) string {
			raw, _ := f.issue(t, appClaims())
			p := strings.Split(raw, ".")
			var c map[string]any
			mustDecode(t, p[1], &c)
			c["scope"] = "accounts payments"
			b, _ := json.Marshal(c)
			return p[0] + "." + b64(b) + "." + p[2]
		}, []error{ErrBadSignature, jose.ErrBadSignature}},
		{"unknown kid", func(t *testing.T, f *fixture) string {
			other, err := jose.NewKeyStore(jose.KeyStoreOptions{Clock: f.clk}, key(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(f.validClaims())
			raw, err := other.Sign(b, "at+jwt")
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}, []error{ErrBadSignature, jose.ErrUnknownKey}},
		{"ES256 under our kid by another key", func(t *testing.T, f *fixture) string {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			return craft(`{"alg":"ES256","kid":"`+key(t, 0).KeyID()+`","typ":"at+jwt"}`, f.validClaims(), es256(k))
		}, []error{ErrBadSignature, jose.ErrBadSignature}},
		{"revoked", func(t *testing.T, f *fixture) string {
			raw, at := f.issue(t, appClaims())
			f.deny.Add(at.JTI, at.ExpiresAt)
			return raw
		}, []error{ErrRevoked}},
		{"revoked through the store", func(t *testing.T, f *fixture) string {
			raw, at := f.issue(t, appClaims())
			f.src.revoke(store.Revocation{JTI: at.JTI, RevokedAt: f.clk.Now(), ExpiresAt: at.ExpiresAt})
			f.refresh(t)
			return raw
		}, []error{ErrRevoked}},
		{"deny-list stale", func(t *testing.T, f *fixture) string {
			raw, _ := f.issue(t, appClaims())
			f.clk.Advance(DefaultMaxStaleness + time.Second)
			return raw
		}, []error{ErrRevocationStateUnavailable}},
		{"no cnf", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"cnf": nil}), "at+jwt")
		}, []error{ErrUnbound}},
		{"cnf without x5t#S256", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"cnf": map[string]string{"jkt": "abc"}}), "at+jwt")
		}, []error{ErrUnbound}},
		{"no jti", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"jti": nil}), "at+jwt")
		}, []error{ErrMalformed}},
		{"no exp", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"exp": nil}), "at+jwt")
		}, []error{ErrMalformed}},
		{"no client_id", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"client_id": nil}), "at+jwt")
		}, []error{ErrMalformed}},
		{"exp as string", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"exp": "1900000000"}), "at+jwt")
		}, []error{ErrMalformed}},
		{"lifetime over 1 h", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"exp": f.clk.Now().Add(2 * time.Hour).Unix()}), "at+jwt")
		}, []error{ErrMalformed}},
		{"unknown aut", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"aut": "USER"}), "at+jwt")
		}, []error{ErrMalformed}},
		{"application token for another subject", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"sub": "someone"}), "at+jwt")
		}, []error{ErrMalformed}},
		{"intent id differs from consent id", func(t *testing.T, f *fixture) string {
			return f.signClaims(t, with(f, map[string]any{"consent_id": "a", "openbanking_intent_id": "b"}), "at+jwt")
		}, []error{ErrMalformed}},
		{"duplicate claim", func(t *testing.T, f *fixture) string {
			raw, err := f.keys.Sign([]byte(`{"iss":"`+issuer+`","ISS":"x"}`), "at+jwt")
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}, []error{ErrMalformed, jose.ErrMalformed}},
		{"too large", func(t *testing.T, f *fixture) string { return strings.Repeat("a", DefaultMaxTokenSize+1) }, []error{ErrMalformed, jose.ErrTooLarge}},
		{"garbage", func(t *testing.T, f *fixture) string { return "not a token" }, []error{ErrMalformed}},
		{"JWE", func(t *testing.T, f *fixture) string { return "a.b.c.d.e" }, []error{ErrMalformed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			raw := tc.token(t, f)
			at, err := f.verifier.Verify(ctx, raw)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
			if at != nil {
				t.Fatal("token returned with an error")
			}
		})
	}
}

// refresh runs one deny-list refresh at the fixture's current time.
func (f *fixture) refresh(t testing.TB) {
	t.Helper()
	if err := f.deny.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func craft(header string, claims map[string]any, sign func([]byte) []byte) string {
	b, _ := json.Marshal(claims)
	input := b64([]byte(header)) + "." + b64(b)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64(sig)
}

func hs256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

func rs256(k *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
		return sig
	}
}

func es256(k *ecdsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		r, s, _ := ecdsa.Sign(rand.Reader, k, h[:])
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
}
