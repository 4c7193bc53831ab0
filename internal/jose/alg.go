package jose

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
)

// Alg is a JWS signature algorithm ("alg" header, RFC 7518 §3.1). Only the three
// constants below exist in Portcullis; every other value, including "none", the
// HS* family and RS256, is refused.
type Alg string

// The signature algorithms Portcullis signs and verifies with (fapi.md FAPI1-AS-07,
// FAPI2-AS-41).
const (
	PS256 Alg = "PS256" // RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length 32; RSA ≥ 2048 bits
	ES256 Alg = "ES256" // ECDSA on P-256 with SHA-256, r‖s signature (64 bytes)
	EdDSA Alg = "EdDSA" // Ed25519 (RFC 8037); FAPI 2.0 only
)

// String returns the algorithm name as it appears in a JOSE header.
func (a Alg) String() string { return string(a) }

// Profile is the security profile whose algorithm rules apply. The zero value is
// treated as [FAPI1], the stricter set.
type Profile string

// The profiles with distinct algorithm rules (fapi.md §3.7).
const (
	FAPI1 Profile = "fapi1" // FAPI 1.0 Advanced: PS256, ES256
	FAPI2 Profile = "fapi2" // FAPI 2.0 Security Profile: PS256, ES256, EdDSA
)

// Allowed reports whether alg may be used under profile p. It returns nil for PS256
// and ES256 under every profile and for EdDSA under [FAPI2]; otherwise an error
// wrapping [ErrAlgNotAllowed]. Names are compared exactly: "es256" is not ES256.
// Any profile other than FAPI2 (including the zero value) gets the FAPI 1 set.
//
// Spec: fapi.md FAPI1-AS-07, FAPI2-AS-41.
func Allowed(alg string, p Profile) error {
	switch Alg(alg) {
	case PS256, ES256:
		return nil
	case EdDSA:
		if p == FAPI2 {
			return nil
		}
	}
	return &AlgError{Alg: alg}
}

// AlgorithmsFor returns the algorithms allowed under profile p, in the order they
// are advertised in discovery metadata (…_signing_alg_values_supported).
func AlgorithmsFor(p Profile) []Alg {
	if p == FAPI2 {
		return []Alg{PS256, ES256, EdDSA}
	}
	return []Alg{PS256, ES256}
}

// AlgError is the error returned for a refused algorithm. It matches
// [ErrAlgNotAllowed] with errors.Is.
type AlgError struct {
	Alg string // the refused value as received (truncated to 32 bytes in Error)
}

func (e *AlgError) Error() string {
	a := e.Alg
	if len(a) > 32 {
		a = a[:32] + "…"
	}
	return fmt.Sprintf("jose: signing algorithm %q not allowed", a)
}

// Is makes AlgError match ErrAlgNotAllowed.
func (e *AlgError) Is(target error) bool { return target == ErrAlgNotAllowed }

// HalfHash returns the OpenID Connect left-half hash of value for a token signed
// with alg: base64url of the left-most half of SHA-256(value) for PS256 and ES256,
// of SHA-512(value) for EdDSA (Ed25519). It is the c_hash, s_hash and at_hash
// computation of OIDC Core §3.3.2.11 and FAPI 1.0 Advanced §5.2.2.1.
func HalfHash(alg Alg, value string) (string, error) {
	switch alg {
	case PS256, ES256:
		h := sha256.Sum256([]byte(value))
		return base64.RawURLEncoding.EncodeToString(h[:len(h)/2]), nil
	case EdDSA:
		h := sha512.Sum512([]byte(value))
		return base64.RawURLEncoding.EncodeToString(h[:len(h)/2]), nil
	}
	return "", &AlgError{Alg: string(alg)}
}
