package jose

import (
	"context"
	"errors"
	"fmt"
)

// KeyResolver finds the key that verifies a JWS. Implementations select by the
// header's "kid", then by compatibility with its "alg" (key type, curve, the key's
// own "alg" and "use"), and must never use "jku", "x5u", "jwk" or "x5c" from the
// header. They return an error wrapping [ErrUnknownKey] when no single key fits,
// or [ErrJWKSFetch] when the keys could not be obtained. [*JWKSet],
// [*KeyStore] and the resolvers of [*RemoteJWKS] implement it.
type KeyResolver interface {
	ResolveKey(ctx context.Context, hdr Header) (*PublicKey, error)
}

// VerifyOptions says what a caller accepts. The zero value is the strictest
// setting: FAPI 1 algorithms, no "typ" or "JWT", no "crit" extensions, tokens up to
// [DefaultMaxTokenSize].
type VerifyOptions struct {
	// Profile selects the algorithm allow-list ([Allowed]). Zero means FAPI1.
	Profile Profile
	// Types lists the accepted "typ" values, compared case-insensitively with an
	// optional "application/" prefix; "" in the list accepts a token without
	// "typ". Nil accepts "" and "JWT", so an at+jwt access token or a dpop+jwt
	// proof is never taken for a client assertion (RFC 8725 §3.11).
	Types []string
	// Critical lists the "crit" extension names the caller understands and checks
	// itself (in Header.Raw). A token whose "crit" names anything else is refused
	// with ErrUnsupportedCritical.
	Critical []string
	// MaxSize is the largest token accepted, in bytes. Zero means
	// DefaultMaxTokenSize; values over MaxTokenSizeLimit are capped.
	MaxSize int
}

// Verified is a JWS whose signature has been verified.
type Verified struct {
	Header Header
	// Payload is the JWT claims set: one JSON object whose member names are unique
	// (also case-insensitively). The caller decodes it and applies the claim rules
	// (iss, sub, aud, exp, nbf, jti, …); this package checks none of them.
	Payload []byte
	// Key is the key that verified the signature.
	Key *PublicKey
}

// VerifyJWT verifies a compact-serialised signed JWT against keys and returns its
// header and raw claims. In order:
//
//  1. size (ErrTooLarge) and shape: exactly three segments, non-empty payload and
//     signature — JWE, JSON serialisation and detached payloads are refused
//     (ErrMalformed);
//  2. the protected header: strict base64url, one JSON object without duplicate
//     names (also case-insensitively), "alg" present and a string (ErrMalformed);
//  3. "alg" against the profile's allow-list, before anything else about the
//     header and before any key is looked at: "none", HS*, RS*, ES384 … fail
//     with ErrAlgNotAllowed;
//  4. no "b64" and a well-formed "crit" (ErrMalformed), "crit" entries all in
//     opts.Critical (ErrUnsupportedCritical), "typ" in opts.Types (ErrWrongType);
//  5. key selection through keys (ErrUnknownKey, ErrJWKSFetch);
//  6. the signature, whose length must fit the key (ErrBadSignature);
//  7. the payload: strict base64url, one JSON object with unique member names
//     (ErrMalformed; ErrTooLarge over 256 members).
//
// Spec: RFC 7515, RFC 7519, RFC 8725; fapi.md FAPI1-AS-06/07/08, FAPI2-AS-41/42.
func VerifyJWT(ctx context.Context, token string, keys KeyResolver, opts VerifyOptions) (Verified, error) {
	c, err := parseCompact(token, &opts)
	if err != nil {
		return Verified{}, err
	}
	if keys == nil {
		return Verified{}, fmt.Errorf("%w: no key resolver", ErrUnknownKey)
	}
	key, err := keys.ResolveKey(ctx, c.header)
	if err != nil {
		if !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrJWKSFetch) {
			err = fmt.Errorf("%w: %w", ErrJWKSFetch, err)
		}
		return Verified{}, err
	}
	return finish(c, key)
}

// finish verifies the signature of c with key and decodes the payload.
func finish(c *compactJWS, key *PublicKey) (Verified, error) {
	if err := verifySignature(key, c.header.Alg, c.signingInput, c.signature); err != nil {
		return Verified{}, err
	}
	payload, err := b64decode(c.payload)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: bad payload encoding", ErrMalformed)
	}
	if err := walkObject(payload, maxClaimMembers, nil); err != nil {
		return Verified{}, fmt.Errorf("claims set: %w", err)
	}
	return Verified{Header: c.header, Payload: payload, Key: key}, nil
}
