package clientauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/store"
)

// Limits on the claims of a client assertion.
const (
	maxClaimMembers = 64
	maxAudMembers   = 16
	// maxNumericDate is 9999-12-31T23:59:59Z: later dates are refused as malformed.
	maxNumericDate = 253402300799
)

// jtiNamespace prefixes the issuer under which assertion jtis are consumed in the shared
// store, so that they never collide with the jtis of other JWT kinds from the same client
// (request objects, DPoP proofs, registration requests).
const jtiNamespace = "client_assertion:"

// privateKeyJWT is JWT client assertion authentication (OIDC Core §9 private_key_jwt,
// RFC 7523 §3, FAPI1-AS-03, FAPI2-AS-07/11). The checks, in order, after the dispatcher has
// checked client_assertion_type, the size and that iss = sub = the form client_id:
//
//  1. a certificate the request presented must have passed validation: a request whose
//     certificate failed (revoked, untrusted …) is refused ([ErrCertificateInvalid]) even
//     though private_key_jwt does not need one; no certificate is fine here (token binding
//     is the token endpoint's concern);
//  2. the claims: exp present ([ErrAssertionInvalid]), not passed by more than the skew
//     ([ErrExpired]), not further ahead than MaxAssertionLifetime plus the skew
//     ([ErrAssertionInvalid]); iat and nbf, when present, not further ahead than the skew
//     ([ErrIssuedInFuture]); jti present and at most [MaxJTILen] bytes
//     ([ErrAssertionInvalid]); aud per the client's profile ([ErrAudience]): under FAPI 2
//     exactly the issuer as a JSON string, under FAPI 1 the issuer, the token endpoint URL or
//     (at the PAR endpoint) the PAR endpoint URL, as a string or as a member of an array;
//  3. the signature, by package jose with the client's profile's algorithm allow-list
//     ([ErrAlgNotAllowed] for none, HS*, RS256 …, and for any alg other than a registered
//     token_endpoint_auth_signing_alg) and a key of this client only — its jwks, or its
//     jwks_uri through the cache, refetched once for an unknown kid ([ErrUnknownKey],
//     [ErrBadSignature], [ErrKeysUnavailable]); header keys (jku, x5u, jwk, x5c) are never
//     used;
//  4. the jti is consumed in the shared store under (client, jti) until exp plus the skew
//     ([ErrReplay] if it was used before, on any node). This comes last, so that an invalid
//     assertion never burns a jti.
func (a *Authenticator) privateKeyJWT(ctx context.Context, c *client.Client, token string, peeked *assertionIDs, req Request) (*Result, error) {
	// No certificate is fine here; one that failed validation is not.
	identity, err := certificateIdentity(req)
	if err != nil && !errors.Is(err, ErrNoCertificate) {
		return nil, err
	}

	cl := peeked.claims
	now := a.clk.Now()
	exp, err := a.checkTimes(cl, now, a.lifetimeFor(c))
	if err != nil {
		return nil, err
	}
	if !cl.jti.present || cl.jti.value == "" {
		return nil, fail(ErrAssertionInvalid, "client assertion jti missing")
	}
	if len(cl.jti.value) > MaxJTILen {
		return nil, fail(ErrAssertionInvalid, "client assertion jti too long")
	}
	if err := a.checkAudience(c, cl.aud, req.Endpoint); err != nil {
		return nil, err
	}

	v, err := a.verifySignature(ctx, c, token)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(v.Payload, peeked.payload) {
		// The same segment decoded twice cannot differ; refuse rather than trust either.
		return nil, fmt.Errorf("clientauth: verified payload differs from the parsed one")
	}
	if alg := c.TokenEndpointAuthSigningAlg; alg != "" && string(v.Header.Alg) != alg {
		return nil, fail(ErrAlgNotAllowed, "client assertion must be signed with the registered token_endpoint_auth_signing_alg")
	}

	err = a.jtis.UseJTI(ctx, jtiNamespace+c.ID, cl.jti.value, exp.Add(a.skew))
	switch {
	case errors.Is(err, store.ErrReplay):
		return nil, failWith(ErrReplay, "client assertion jti already used", err)
	case err != nil:
		return nil, fmt.Errorf("clientauth: consume client assertion jti: %w", err)
	}
	res := &Result{Client: c, Method: client.AuthPrivateKeyJWT, Identity: identity}
	if identity != nil {
		res.Certificate = identity.Leaf
	}
	return res, nil
}

// checkTimes applies the exp, iat and nbf rules, with lifetime the maximum lifetime of
// the client's profile, and returns exp.
func (a *Authenticator) checkTimes(cl *claims, now time.Time, lifetime time.Duration) (time.Time, error) {
	if !cl.exp.present {
		return time.Time{}, fail(ErrAssertionInvalid, "client assertion exp missing")
	}
	exp := cl.exp.value
	if !now.Before(exp.Add(a.skew)) {
		return time.Time{}, fail(ErrExpired, "client assertion expired")
	}
	if exp.Sub(now) > lifetime+a.skew {
		return time.Time{}, fail(ErrAssertionInvalid, "client assertion exp too far in the future")
	}
	latest := now.Add(a.skew)
	if cl.iat.present && cl.iat.value.After(latest) {
		return time.Time{}, fail(ErrIssuedInFuture, "client assertion iat is in the future")
	}
	if cl.nbf.present && cl.nbf.value.After(latest) {
		return time.Time{}, fail(ErrIssuedInFuture, "client assertion nbf is in the future")
	}
	return exp, nil
}

// checkAudience applies the profile's aud rule (FAPI1-AS-03, FAPI2-AS-07, fapi.md §3.7).
func (a *Authenticator) checkAudience(c *client.Client, aud json.RawMessage, ep Endpoint) error {
	if len(aud) == 0 {
		return fail(ErrAudience, "client assertion aud missing")
	}
	if c.EffectiveProfile() == client.ProfileFAPI2 {
		var s string
		if aud[0] != '"' || json.Unmarshal(aud, &s) != nil {
			return fail(ErrAudience, "client assertion aud must be the issuer as a single string")
		}
		if s != a.issuer {
			return fail(ErrAudience, "client assertion aud must be the issuer")
		}
		return nil
	}
	var values []string
	switch aud[0] {
	case '"':
		var s string
		if json.Unmarshal(aud, &s) != nil {
			return fail(ErrAudience, "client assertion aud malformed")
		}
		values = []string{s}
	case '[':
		if json.Unmarshal(aud, &values) != nil || len(values) == 0 || len(values) > maxAudMembers {
			return fail(ErrAudience, "client assertion aud malformed")
		}
	default:
		return fail(ErrAudience, "client assertion aud malformed")
	}
	for _, v := range values {
		if v == a.issuer ||
			(a.tokenURL != "" && v == a.tokenURL) ||
			(a.parURL != "" && ep == EndpointPAR && v == a.parURL) {
			return nil
		}
	}
	return fail(ErrAudience, "client assertion aud does not identify this authorization server")
}

// verifySignature verifies token with the client's own keys under its profile's algorithms.
func (a *Authenticator) verifySignature(ctx context.Context, c *client.Client, token string) (jose.Verified, error) {
	keys, err := a.clientKeys(ctx, c)
	if err != nil {
		return jose.Verified{}, err
	}
	v, err := jose.VerifyJWT(ctx, token, keys, jose.VerifyOptions{
		Profile: joseProfile(c),
		MaxSize: MaxAssertionSize,
	})
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, jose.ErrAlgNotAllowed):
		return v, failWith(ErrAlgNotAllowed, "client assertion algorithm not allowed", err)
	case errors.Is(err, jose.ErrJWKSFetch):
		return v, failWith(ErrKeysUnavailable, "client keys could not be retrieved", err)
	case errors.Is(err, jose.ErrUnknownKey):
		return v, failWith(ErrUnknownKey, "no key of the client matches the client assertion", err)
	case errors.Is(err, jose.ErrBadSignature):
		return v, failWith(ErrBadSignature, "client assertion signature invalid", err)
	default: // ErrMalformed, ErrTooLarge, ErrWrongType, ErrUnsupportedCritical
		return v, failWith(ErrAssertionInvalid, "client assertion malformed", err)
	}
}

// joseProfile is the client's profile as package jose names it.
func joseProfile(c *client.Client) jose.Profile {
	if c.EffectiveProfile() == client.ProfileFAPI2 {
		return jose.FAPI2
	}
	return jose.FAPI1
}

// assertionIDs is a client assertion's payload, parsed before its signature is verified so
// that the client (and with it the keys) can be found.
type assertionIDs struct {
	iss     string
	payload []byte
	claims  *claims
}

// peekIDs decodes the payload of a compact JWS without verifying it and returns the client
// it claims to come from: iss and sub must both be present, strings, and equal
// (FAPI1-AS-03/04; a signed request object, which has no sub, never works as a client
// assertion).
func peekIDs(token string) (*assertionIDs, error) {
	if strings.Count(token, ".") != 2 {
		return nil, fail(ErrAssertionInvalid, "client assertion is not a signed JWT")
	}
	_, rest, _ := strings.Cut(token, ".")
	seg, _, _ := strings.Cut(rest, ".")
	payload, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, fail(ErrAssertionInvalid, "client assertion malformed")
	}
	cl, err := parseClaims(payload)
	if err != nil {
		return nil, failWith(ErrAssertionInvalid, "client assertion claims malformed", err)
	}
	switch {
	case !cl.iss.present || cl.iss.value == "":
		return nil, fail(ErrAssertionInvalid, "client assertion iss missing")
	case !cl.sub.present || cl.sub.value == "":
		return nil, fail(ErrAssertionInvalid, "client assertion sub missing")
	case cl.iss.value != cl.sub.value:
		return nil, fail(ErrClientIDMismatch, "client assertion iss and sub must both be the client_id")
	}
	return &assertionIDs{iss: cl.iss.value, payload: payload, claims: cl}, nil
}

type stringClaim struct {
	value   string
	present bool
}

type timeClaim struct {
	value   time.Time
	present bool
}

// claims are the registered claims of a client assertion (RFC 7519 §4.1) that matter here.
type claims struct {
	iss, sub, jti stringClaim
	aud           json.RawMessage // string or array; checked by checkAudience
	exp, iat, nbf timeClaim
}

// errClaims is the cause of every claims-parsing failure.
var errClaims = errors.New("malformed claims")

func stringValue(raw json.RawMessage, dst *stringClaim) error {
	if len(raw) == 0 || raw[0] != '"' {
		return fmt.Errorf("%w: string claim expected", errClaims)
	}
	v, err := jose.UnquoteString(raw)
	if err != nil {
		return fmt.Errorf("%w: string claim expected", errClaims)
	}
	dst.value, dst.present = v, true
	return nil
}

func numericDate(raw json.RawMessage, dst *timeClaim) error {
	// raw is one valid JSON value (parseClaims checked the whole object): a number is the
	// only kind that starts with '-' or a digit, and JSON's number grammar is a subset of
	// ParseFloat's.
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return fmt.Errorf("%w: NumericDate expected", errClaims)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return fmt.Errorf("%w: NumericDate out of range", errClaims)
	}
	sec, frac := math.Modf(f)
	dst.value = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	dst.present = true
	return nil
}
