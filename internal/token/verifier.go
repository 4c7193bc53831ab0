package token

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
)

// Verifier defaults and bounds.
const (
	DefaultMaxClockSkew = 30 * time.Second
	MaxClockSkewLimit   = 5 * time.Minute
	DefaultCacheSize    = 10000
	DefaultMaxTokenSize = 8 << 10
)

// VerifierOptions configures a [Verifier].
type VerifierOptions struct {
	// Keys holds the authorization server's current and retired keys. Required.
	Keys *jose.KeyStore
	// Issuer is the expected "iss". Required.
	Issuer string
	// Audience must be one of the token's "aud" values. Empty means Issuer.
	Audience string
	// MaxClockSkew is the tolerance for exp, nbf and iat. Zero means 30 s; more
	// than 5 min is refused.
	MaxClockSkew time.Duration
	// Clock is read for exp/nbf/iat and cache expiry. Nil means clock.Real.
	Clock clock.Clock
	// DenyList is consulted on every call, cached or not. Required.
	DenyList *DenyList
	// CacheSize bounds the verified-token cache (entries). Zero means 10000;
	// negative disables the cache.
	CacheSize int
	// MaxTokenSize bounds the token string. Zero means 8 KiB.
	MaxTokenSize int
}

// Verifier checks access tokens presented to the gateway (and to introspection).
// Safe for concurrent use.
type Verifier struct {
	keys    *jose.KeyStore
	iss     string
	aud     string
	skew    time.Duration
	clock   clock.Clock
	deny    *DenyList
	cache   *verifiedCache
	maxSize int
	opts    jose.VerifyOptions

	hits, misses atomic.Int64
}

// CacheStats counts verified-token cache use, for metrics.
type CacheStats struct {
	Hits    int64 // calls answered from the cache (signature not re-verified)
	Misses  int64 // calls that went through full verification
	Entries int   // current number of cached tokens
}

// CacheStats returns the cache counters.
func (v *Verifier) CacheStats() CacheStats {
	st := CacheStats{Hits: v.hits.Load(), Misses: v.misses.Load()}
	if v.cache != nil {
		st.Entries = v.cache.len()
	}
	return st
}

// NewVerifier checks opts and returns a Verifier. Errors match ErrInvalidClaims.
func NewVerifier(opts VerifierOptions) (*Verifier, error) {
	v := &Verifier{keys: opts.Keys, iss: opts.Issuer, aud: opts.Audience, skew: opts.MaxClockSkew,
		clock: opts.Clock, deny: opts.DenyList, maxSize: opts.MaxTokenSize}
	switch {
	case v.keys == nil:
		return nil, fmt.Errorf("%w: verifier without keys", ErrInvalidClaims)
	case v.iss == "":
		return nil, fmt.Errorf("%w: verifier without issuer", ErrInvalidClaims)
	case v.deny == nil:
		return nil, fmt.Errorf("%w: verifier without a deny-list", ErrInvalidClaims)
	}
	if v.aud == "" {
		v.aud = v.iss
	}
	if v.skew == 0 {
		v.skew = DefaultMaxClockSkew
	}
	if v.skew < 0 || v.skew > MaxClockSkewLimit {
		return nil, fmt.Errorf("%w: clock skew %v outside [0, %v]", ErrInvalidClaims, v.skew, MaxClockSkewLimit)
	}
	if v.clock == nil {
		v.clock = clock.Real{}
	}
	if v.maxSize <= 0 {
		v.maxSize = DefaultMaxTokenSize
	}
	size := opts.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		v.cache = newVerifiedCache(size)
	}
	v.opts = jose.VerifyOptions{Profile: jose.FAPI2, Types: []string{AccessTokenType}, MaxSize: v.maxSize}
	return v, nil
}

// Verify checks an access token from an Authorization header and returns its
// content. In order:
//
//   - size (ErrMalformed);
//   - a verified-token cache keyed by SHA-256 of the token: a hit skips the
//     signature and claim checks below, as long as the token has not expired and
//     its key still verifies;
//   - JOSE: typ "at+jwt" (ErrWrongType), alg allow-list, kid among the
//     authorization server's current and unexpired retired keys, signature
//     (ErrBadSignature); well-formed compact JWS (ErrMalformed);
//   - required claims (ErrMalformed; no cnf.x5t#S256: ErrUnbound), iss
//     (ErrWrongIssuer), aud contains the expected audience (ErrWrongAudience), exp
//     (ErrExpired), nbf and iat (ErrNotYetValid), all with MaxClockSkew;
//   - on every call, cached or not: the deny-list is current
//     (ErrRevocationStateUnavailable) and neither the jti nor the grant family
//     (grant_id) is on it (ErrRevoked).
//
// It does not check the certificate binding against the presented certificate
// (use [CheckBinding]), scopes or consent: those are the caller's.
//
// Spec: RFC 9068 §4, RFC 8725, fapi.md FAPI1-RS-02/03, FAPI2-RS-02.
func (v *Verifier) Verify(ctx context.Context, raw string) (*AccessToken, error) {
	if len(raw) > v.maxSize {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, jose.ErrTooLarge)
	}
	now := v.clock.Now()
	var at *AccessToken
	var key [32]byte
	if v.cache != nil {
		key = sha256.Sum256([]byte(raw))
		if e, ok := v.cache.get(key, now); ok && v.keys.HasKey(e.kid) {
			at = e.at
			v.hits.Add(1)
		}
	}
	if at == nil {
		v.misses.Add(1)
		var kid string
		var err error
		at, kid, err = v.verify(raw, now)
		if err != nil {
			return nil, err
		}
		if v.cache != nil && now.Before(at.ExpiresAt) {
			v.cache.put(key, &cacheEntry{at: at, kid: kid, exp: at.ExpiresAt})
		}
	}
	if err := v.deny.Check(); err != nil {
		return nil, err
	}
	if v.deny.IsRevoked(at.JTI) {
		return nil, ErrRevoked
	}
	if v.deny.IsFamilyRevoked(at.FamilyID) {
		return nil, fmt.Errorf("%w: its grant was revoked", ErrRevoked)
	}
	return at.clone(), nil
}

// verify is the uncached path.
func (v *Verifier) verify(raw string, now time.Time) (*AccessToken, string, error) {
	res, err := v.keys.Verify(raw, v.opts)
	if err != nil {
		return nil, "", joseError(err)
	}
	at, err := decodeClaims(res.Payload)
	if err != nil {
		return nil, "", err
	}
	switch {
	case at.Issuer != v.iss:
		return nil, "", fmt.Errorf("%w: %q", ErrWrongIssuer, truncate(at.Issuer))
	case !slices.Contains(at.Audience, v.aud):
		return nil, "", ErrWrongAudience
	case !now.Before(at.ExpiresAt.Add(v.skew)):
		return nil, "", fmt.Errorf("%w: at %v", ErrExpired, at.ExpiresAt)
	case at.NotBefore.After(now.Add(v.skew)):
		return nil, "", fmt.Errorf("%w: nbf %v", ErrNotYetValid, at.NotBefore)
	case at.IssuedAt.After(now.Add(v.skew)):
		return nil, "", fmt.Errorf("%w: iat %v", ErrNotYetValid, at.IssuedAt)
	}
	return at, res.Header.KeyID, nil
}

// joseError maps a jose verification error to this package's, keeping the cause.
func joseError(err error) error {
	switch {
	case errors.Is(err, jose.ErrWrongType):
		return fmt.Errorf("%w: %w", ErrWrongType, err)
	case errors.Is(err, jose.ErrAlgNotAllowed), errors.Is(err, jose.ErrUnknownKey), errors.Is(err, jose.ErrBadSignature):
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}
