package jose

import (
	"context"
	"encoding/json"
	"fmt"
)

// Limits on a client's JWK Set (registration "jwks" or the body behind "jwks_uri").
const (
	MaxJWKSSize = 64 << 10 // bytes
	MaxJWKSKeys = 100
)

// JWKSet is a parsed, checked JWK Set of public keys, typically a client's. It
// holds only the keys usable for signature verification under PS256, ES256 or
// EdDSA; encryption keys and keys of other types are dropped after their strength
// was checked. Immutable and safe for concurrent use.
type JWKSet struct {
	keys []*PublicKey
	raw  []byte // the document as parsed, for the encryption keys it may hold
}

// ParseJWKS parses a JWK Set ({"keys":[…]}) supplied by a client.
//
// The whole set is refused when it is over MaxJWKSSize bytes or MaxJWKSKeys keys
// (ErrTooLarge); when any key carries private or symmetric material — "d", "p",
// "q", "dp", "dq", "qi", "oth", "k", or kty "oct" — (ErrPrivateKeyInJWKS); when any
// key, whatever its "use", is weak: RSA under 2048 bits, EC on P-192/P-224
// (ErrWeakKey, fapi.md FAPI1-AS-06, FAPI2-AS-42); or when it is not well formed
// (ErrMalformed). Keys with "use" other than "sig", a "key_ops" without "verify",
// an "alg" other than PS256/ES256/EdDSA, or a type no allowed algorithm uses
// (P-384, X25519, unknown kty) are skipped. Keys need not have a "kid"; several may
// share one (FAPI1-AS-08) — see [JWKSet.ResolveKey].
func ParseJWKS(data []byte) (*JWKSet, error) {
	if len(data) > MaxJWKSSize {
		return nil, fmt.Errorf("%w: JWK Set of %d bytes (limit %d)", ErrTooLarge, len(data), MaxJWKSSize)
	}
	var rawKeys []json.RawMessage
	hasKeys := false
	err := walkObject(data, maxClaimMembers, func(name string, v []byte) error {
		if name != "keys" {
			return nil
		}
		hasKeys = true
		if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &rawKeys) != nil {
			return fmt.Errorf("%w: \"keys\" must be an array", ErrMalformed)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !hasKeys {
		return nil, fmt.Errorf("%w: JWK Set without \"keys\"", ErrMalformed)
	}
	if len(rawKeys) > MaxJWKSKeys {
		return nil, fmt.Errorf("%w: %d keys (limit %d)", ErrTooLarge, len(rawKeys), MaxJWKSKeys)
	}
	set := &JWKSet{raw: append([]byte(nil), data...)}
	for i, raw := range rawKeys {
		k, err := parsePublicJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if k != nil {
			set.keys = append(set.keys, k)
		}
	}
	return set, nil
}

// EncryptionKey selects from the same document the recipient's key for the JWE key
// algorithm alg ([SelectEncryptionKey]).
func (s *JWKSet) EncryptionKey(alg string) (*EncryptionKey, error) {
	return SelectEncryptionKey(s.raw, alg)
}

// Keys returns the set's signature-verification keys (a copy of the slice).
func (s *JWKSet) Keys() []*PublicKey { return append([]*PublicKey(nil), s.keys...) }

// Len returns the number of signature-verification keys.
func (s *JWKSet) Len() int { return len(s.keys) }

// ResolveKey implements [KeyResolver]. Candidates are the keys whose "kid" equals
// the header's (all keys when the header has none) and that support the header's
// "alg" (key type and curve, the key's "alg" if stated). One candidate — or several
// that are the same key (equal thumbprints) — is returned; none or several
// distinct ones give ErrUnknownKey.
func (s *JWKSet) ResolveKey(_ context.Context, hdr Header) (*PublicKey, error) {
	return selectKey(s.keys, hdr)
}

func selectKey(keys []*PublicKey, hdr Header) (*PublicKey, error) {
	var found *PublicKey
	for _, k := range keys {
		if hdr.KeyID != "" && k.kid != hdr.KeyID {
			continue
		}
		if !k.Supports(hdr.Alg) {
			continue
		}
		if found != nil && found.thumbprint != k.thumbprint {
			return nil, fmt.Errorf("%w: several %s keys match kid %q", ErrUnknownKey, hdr.Alg, truncate(hdr.KeyID))
		}
		found = k
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no %s key with kid %q", ErrUnknownKey, hdr.Alg, truncate(hdr.KeyID))
	}
	return found, nil
}
