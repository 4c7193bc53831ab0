package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/oauth"
)

// Request object rules (RFC 9101; FAPI1-AS-12/13/14, FAPI2-MS-01, fapi.md §6 item 10).
const (
	// maxRequestObjectSize bounds a request object (by value or pushed).
	maxRequestObjectSize = 32 << 10
	// maxRequestObjectLifetime bounds exp − nbf, and how old nbf may be.
	maxRequestObjectLifetime = 60 * time.Minute
	// requestObjectSkew is how far in the future nbf (and iat) may be: a client clock a
	// few seconds ahead works, a minute ahead does not.
	requestObjectSkew = 30 * time.Second
)

// requestObjectTypes are the accepted "typ" values: none, JWT, or the RFC 9101 §10.8 type.
var requestObjectTypes = []string{"", "JWT", "oauth-authz-req+jwt"}

// ClientKeys returns the keys that verify what a client signs (request objects, client
// assertions): its registered jwks, or the key set at its jwks_uri; *clientauth.KeyResolver
// implements it (errors match clientauth.ErrKeysUnavailable, and jose.ErrJWKSFetch when the
// jwks_uri could not be fetched).
type ClientKeys interface {
	Keys(ctx context.Context, c *client.Client) (*clientauth.ClientKeys, error)
}

// roClaims are the JWT claims of a request object that are checked here; the
// authorization parameters are decoded separately into requestParams.
type roClaims struct {
	Iss      *string         `json:"iss"`
	Aud      json.RawMessage `json:"aud"`
	Exp      *json.Number    `json:"exp"`
	Nbf      *json.Number    `json:"nbf"`
	ClientID *string         `json:"client_id"`
}

// verifyRequestObject verifies a signed request object of client c and returns its
// authorization parameters, in order:
//
//  1. shape: a compact JWS of at most 32 KiB (an encrypted request object is refused);
//  2. signature with a key registered for c, under c's profile's algorithms
//     (FAPI1-AS-07/15, FAPI2-AS-41) and c's request_object_signing_alg when registered;
//  3. iss = client_id, client_id (when present) = c; aud = the issuer or an array
//     containing it (FAPI1-AS-14);
//  4. exp and nbf present, exp in the future, nbf not more than requestObjectSkew ahead
//     and at most 60 minutes old, exp − nbf ≤ 60 minutes (FAPI1-AS-12/13);
//  5. the parameters decode as their types.
//
// Every refusal is invalid_request_object (400), except keys that could not be fetched
// (temporarily_unavailable through oauth.FromError).
func (s *Server) verifyRequestObject(ctx context.Context, c *client.Client, raw string) (requestParams, error) {
	var p requestParams
	if strings.Count(raw, ".") == 4 {
		return p, oauth.InvalidRequestObject("encrypted request objects are not supported")
	}
	if s.clientKeys == nil {
		return p, errors.New("authz: no client key resolver configured")
	}
	keys, err := s.clientKeys.Keys(ctx, c)
	if err != nil {
		if errors.Is(err, jose.ErrJWKSFetch) {
			return p, oauth.TemporarilyUnavailable(err)
		}
		return p, oauth.InvalidRequestObject("the client's registered keys are unusable").WithCause(err)
	}
	profile := jose.FAPI1
	if c.EffectiveProfile() == client.ProfileFAPI2 {
		profile = jose.FAPI2
	}
	v, err := jose.VerifyJWT(ctx, raw, keys, jose.VerifyOptions{
		Profile: profile, Types: requestObjectTypes, MaxSize: maxRequestObjectSize,
	})
	if err != nil {
		if errors.Is(err, jose.ErrJWKSFetch) {
			return p, oauth.TemporarilyUnavailable(err)
		}
		return p, oauth.InvalidRequestObject("the request object signature is not valid").WithCause(err)
	}
	if c.RequestObjectSigningAlg != "" && string(v.Header.Alg) != c.RequestObjectSigningAlg {
		return p, oauth.InvalidRequestObject("the request object is not signed with the registered algorithm")
	}

	dec := json.NewDecoder(bytes.NewReader(v.Payload))
	dec.UseNumber()
	var rc roClaims
	if err := dec.Decode(&rc); err != nil {
		return p, oauth.InvalidRequestObject("the request object claims are malformed")
	}
	switch {
	case rc.Iss == nil || *rc.Iss != c.ID:
		return p, oauth.InvalidRequestObject("iss must be the client_id")
	case rc.ClientID != nil && *rc.ClientID != c.ID:
		return p, oauth.InvalidRequestObject("client_id does not match the client")
	case !audienceContains(rc.Aud, s.issuer):
		return p, oauth.InvalidRequestObject("aud must be the issuer")
	}
	now := s.now()
	exp, okExp := numericDate(rc.Exp)
	nbf, okNbf := numericDate(rc.Nbf)
	switch {
	case !okExp:
		return p, oauth.InvalidRequestObject("exp is missing or not a NumericDate")
	case !okNbf:
		return p, oauth.InvalidRequestObject("nbf is missing or not a NumericDate")
	case !now.Before(exp):
		return p, oauth.InvalidRequestObject("the request object has expired")
	case nbf.After(now.Add(requestObjectSkew)):
		return p, oauth.InvalidRequestObject("the request object is not yet valid")
	case now.Sub(nbf) > maxRequestObjectLifetime:
		return p, oauth.InvalidRequestObject("nbf is more than 60 minutes in the past")
	case exp.Sub(nbf) > maxRequestObjectLifetime:
		return p, oauth.InvalidRequestObject("exp - nbf exceeds 60 minutes")
	}

	if err := json.Unmarshal(v.Payload, &p); err != nil {
		return requestParams{}, oauth.InvalidRequestObject("an authorization parameter in the request object has the wrong type")
	}
	if p.ClientID == "" {
		p.ClientID = c.ID
	}
	return p, nil
}

// audienceContains reports whether a JWT "aud" (a string or an array of strings) is or
// contains want.
func audienceContains(aud json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == want
	}
	var many []string
	return json.Unmarshal(aud, &many) == nil && slices.Contains(many, want)
}

// numericDate converts a JWT NumericDate (RFC 7519 §2: seconds, possibly fractional).
func numericDate(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1<<40 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(f * 1000)), true
}
