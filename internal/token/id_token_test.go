package token

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/jose"
)

// leftHalf is the OIDC left-half SHA-256 hash, computed here independently of jose.HalfHash.
func leftHalf(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

func TestIssueIDToken(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	authTime := f.clk.Now().Add(-time.Minute)
	raw, err := f.issuer.IssueIDToken(IDTokenClaims{
		Subject: "ps-abc", ClientID: "tpp", Nonce: "n-1", AuthTime: authTime,
		ACR: "urn:openbanking:psd2:sca", AMR: []string{"pwd", "otp"},
		Code: "the-code", State: "the-state", IntentID: "aac-1",
		RefreshTokenExpiresAt: f.clk.Now().Add(24 * time.Hour),
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.keys.Verify(raw, jose.VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if v.Header.KeyID == "" {
		t.Error("no kid in the header")
	}
	var c map[string]any
	if err := json.Unmarshal(v.Payload, &c); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"iss": issuer, "sub": "ps-abc", "aud": "tpp", "azp": "tpp", "nonce": "n-1",
		"acr": "urn:openbanking:psd2:sca", "c_hash": leftHalf("the-code"), "s_hash": leftHalf("the-state"),
		"openbanking_intent_id": "aac-1", "auth_time": float64(authTime.Unix()),
		"exp": float64(f.clk.Now().Add(DefaultIDTokenLifetime).Unix()),
		"http://openbanking.org.uk/refresh_token_expires_at": float64(f.clk.Now().Add(24 * time.Hour).Unix()),
	}
	for k, w := range want {
		if c[k] != w {
			t.Errorf("%s = %v, want %v", k, c[k], w)
		}
	}
	if strings.Contains(string(v.Payload), "the-code") || strings.Contains(string(v.Payload), "the-state") {
		t.Error("the code or state appears in the ID token")
	}
}

func TestIssueIDTokenOmitsAbsentHashes(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	raw, err := f.issuer.IssueIDToken(IDTokenClaims{Subject: "s", ClientID: "tpp", AuthTime: f.clk.Now()}, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.keys.Verify(raw, jose.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"s_hash", "c_hash", "at_hash", "nonce", "http://openbanking.org.uk/refresh_token_expires_at"} {
		if strings.Contains(string(v.Payload), `"`+k+`"`) {
			t.Errorf("%s present without a value to hash: %s", k, v.Payload)
		}
	}
}

func TestIssueIDTokenRefusesIncompleteClaims(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, c := range []IDTokenClaims{
		{ClientID: "tpp", AuthTime: f.clk.Now()},
		{Subject: "s", AuthTime: f.clk.Now()},
		{Subject: "s", ClientID: "tpp"},
	} {
		if _, err := f.issuer.IssueIDToken(c, ""); !errors.Is(err, ErrInvalidClaims) {
			t.Errorf("%+v: %v, want ErrInvalidClaims", c, err)
		}
	}
	if _, err := f.issuer.IssueIDToken(IDTokenClaims{Subject: "s", ClientID: "tpp", AuthTime: f.clk.Now()}, "RS256"); err == nil {
		t.Error("RS256 accepted")
	}
}
