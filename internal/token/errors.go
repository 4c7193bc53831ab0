package token

import "errors"

// Errors returned by this package, each matchable with errors.Is. Verification
// errors other than ErrRevocationStateUnavailable mean "checked and bad" (the
// gateway answers 401 invalid_token); ErrRevocationStateUnavailable means "could not
// check" (503). Errors caused by package jose also match the jose error.
var (
	// ErrMalformed: not a well-formed access token: bad JWS, over the size limit, a
	// required claim missing or of the wrong type, inconsistent claims.
	ErrMalformed = errors.New("token: malformed access token")
	// ErrBadSignature: the signature does not verify, the algorithm is not allowed,
	// or the kid is not one of the authorization server's current or unexpired
	// retired keys.
	ErrBadSignature = errors.New("token: bad signature")
	// ErrWrongType: the JOSE "typ" is not "at+jwt" (RFC 9068 §2.1, §4).
	ErrWrongType = errors.New("token: not an access token (typ)")
	// ErrExpired: "exp" plus the allowed clock skew has passed.
	ErrExpired = errors.New("token: expired")
	// ErrNotYetValid: "nbf" or "iat" is further in the future than the clock skew.
	ErrNotYetValid = errors.New("token: not yet valid")
	// ErrWrongIssuer: "iss" is not this authorization server.
	ErrWrongIssuer = errors.New("token: wrong issuer")
	// ErrWrongAudience: "aud" does not contain the expected audience.
	ErrWrongAudience = errors.New("token: wrong audience")
	// ErrRevoked: the token's jti, or its grant family, is on the deny-list.
	ErrRevoked = errors.New("token: revoked")
	// ErrRevocationStateUnavailable: the deny-list has not been refreshed from the
	// store recently enough (DenyListOptions.MaxStaleness), so revocation cannot be
	// ruled out. Fail closed: the gateway answers 503.
	ErrRevocationStateUnavailable = errors.New("token: revocation state unavailable")
	// ErrUnbound: the token has no cnf.x5t#S256 certificate binding (verifying), or
	// Issue was asked for a token without a certificate thumbprint (issuing).
	// Portcullis issues and accepts only certificate-bound tokens (RFC 8705 §3,
	// fapi.md FAPI1-AS-50, FAPI1-RS-02).
	ErrUnbound = errors.New("token: not certificate-bound")
	// ErrCertificateMismatch: the presented client certificate is not the one the
	// token is bound to (or none was presented).
	ErrCertificateMismatch = errors.New("token: certificate does not match the token's binding")
	// ErrInvalidClaims: Issue was given claims it must not sign (empty client id,
	// bad scope characters, user claims on an application token, …), or an option
	// is out of range.
	ErrInvalidClaims = errors.New("token: invalid claims")
)
