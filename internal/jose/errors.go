package jose

import "errors"

// Errors returned by this package. Every error it returns matches exactly one of
// these with errors.Is (a fetch failure caused by a bad document matches both
// [ErrJWKSFetch] and the document's error). All but ErrJWKSFetch mean "checked
// and bad"; ErrJWKSFetch means "could not check".
var (
	// ErrAlgNotAllowed: the "alg" header (or a key's "alg") is not PS256, ES256, or
	// EdDSA where the profile allows it. Checked before any key is looked at. The
	// concrete error is an [*AlgError].
	ErrAlgNotAllowed = errors.New("jose: signing algorithm not allowed")

	// ErrMalformed: not a well-formed compact JWS / JWT / JWK / JWKS (bad base64url,
	// bad JSON, duplicate member names, JWE or JSON serialisation, detached payload,
	// a "b64" header, a payload that is not a JSON object, …).
	ErrMalformed = errors.New("jose: malformed input")

	// ErrUnsupportedCritical: the header's "crit" lists an extension the caller did
	// not declare as understood (RFC 7515 §4.1.11).
	ErrUnsupportedCritical = errors.New("jose: unsupported critical header")

	// ErrWrongType: the "typ" header is not one the caller accepts (RFC 8725 §3.11).
	ErrWrongType = errors.New("jose: wrong token type")

	// ErrBadSignature: the signature does not verify with the selected key.
	ErrBadSignature = errors.New("jose: signature verification failed")

	// ErrUnknownKey: no usable key: the "kid" is unknown (or retired and past its
	// retirement), no key is compatible with the "alg", or several keys are and the
	// header does not say which.
	ErrUnknownKey = errors.New("jose: no matching key")

	// ErrWeakKey: an RSA key under 2048 bits or an EC key on a curve under 256 bits
	// (fapi.md FAPI1-AS-06, FAPI2-AS-42).
	ErrWeakKey = errors.New("jose: key too weak")

	// ErrPrivateKeyInJWKS: a JWK Set that must hold only public keys carries private
	// or symmetric key material. The whole set is refused.
	ErrPrivateKeyInJWKS = errors.New("jose: private key material in JWK Set")

	// ErrJWKSFetch: a client's jwks_uri could not be fetched (network, TLS, status,
	// timeout, refused address, or a document that failed to parse).
	ErrJWKSFetch = errors.New("jose: JWK Set fetch failed")

	// ErrKeyConfig: a signing-key operation or key directory is refused: no active
	// key, two active keys for one algorithm, a kid listed twice, a manifest that
	// does not match its key files, promoting a retired key, removing the active
	// one. Loading errors also match the underlying cause (ErrWeakKey,
	// fs.ErrNotExist, …).
	ErrKeyConfig = errors.New("jose: invalid signing key configuration")

	// ErrMissingClaim: a message signature's header lacks a parameter it must have
	// ("kid", "crit" or an Open Banking parameter; [VerifyDetached]).
	ErrMissingClaim = errors.New("jose: missing header parameter")

	// ErrInvalidClaim: a message signature's header parameter has a value that is refused:
	// an unknown parameter, "crit" other than exactly the Open Banking names, an untrusted
	// tan, an iat in the future ([VerifyDetached]).
	ErrInvalidClaim = errors.New("jose: invalid header parameter")

	// ErrTooLarge: input over a size or count limit (token, header, JWK Set body,
	// number of keys, RSA modulus over 8192 bits).
	ErrTooLarge = errors.New("jose: input too large")
)
