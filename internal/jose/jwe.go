package jose

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// The JWE algorithms Portcullis encrypts with (RFC 7518 §4.3, §4.6, §5.3): key transport
// with RSA-OAEP-256 or key agreement with ECDH-ES on P-256, content encryption A256GCM or
// A128GCM. RSA1_5 is never used (FAPI1-AS-07).
const (
	KeyAlgRSAOAEP256 = "RSA-OAEP-256"
	KeyAlgECDHES     = "ECDH-ES"
	EncA256GCM       = "A256GCM"
	EncA128GCM       = "A128GCM"
)

// ErrNoEncryptionKey: the recipient's JWK Set holds no key for the requested key
// algorithm.
var ErrNoEncryptionKey = errors.New("jose: no encryption key for the algorithm")

// CheckEncryptionAlgs reports whether (alg, enc) is a pair Portcullis encrypts with; it is
// the registration-time check of id_token_encrypted_response_alg/enc.
func CheckEncryptionAlgs(alg, enc string) error {
	switch alg {
	case KeyAlgRSAOAEP256, KeyAlgECDHES:
	default:
		return fmt.Errorf("%w: key algorithm %q", ErrAlgNotAllowed, truncate(alg))
	}
	switch enc {
	case EncA256GCM, EncA128GCM:
	default:
		return fmt.Errorf("%w: content encryption %q", ErrAlgNotAllowed, truncate(enc))
	}
	return nil
}

// EncryptionKey is a recipient's public encryption key selected from its JWK Set.
type EncryptionKey struct {
	kid string
	alg string
	key any // *rsa.PublicKey or *ecdh.PublicKey (P-256)
}

// SelectEncryptionKey picks from a recipient's JWK Set (its registered jwks, or the document
// at its jwks_uri) the key for key algorithm alg: an RSA key of at least 2048 bits for
// RSA-OAEP-256, a P-256 key for ECDH-ES; "use" absent or "enc"; "alg" absent or alg;
// "key_ops", when present, containing "encrypt" or "wrapKey". With several candidates
// the first is used. Private members make the set unusable (ErrPrivateKeyInJWKS).
func SelectEncryptionKey(jwks []byte, alg string) (*EncryptionKey, error) {
	if err := CheckEncryptionAlgs(alg, EncA256GCM); err != nil {
		return nil, err
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if len(jwks) > MaxTokenSizeLimit || json.Unmarshal(jwks, &set) != nil {
		return nil, fmt.Errorf("%w: JWK Set", ErrMalformed)
	}
	for _, raw := range set.Keys {
		var m struct {
			Kty    string   `json:"kty"`
			Kid    string   `json:"kid"`
			Use    string   `json:"use"`
			Alg    string   `json:"alg"`
			Crv    string   `json:"crv"`
			N      string   `json:"n"`
			KeyOps []string `json:"key_ops"`
			D      *string  `json:"d"`
		}
		if json.Unmarshal(raw, &m) != nil {
			return nil, fmt.Errorf("%w: JWK", ErrMalformed)
		}
		if m.D != nil {
			return nil, ErrPrivateKeyInJWKS
		}
		if (m.Use != "" && m.Use != "enc") || (m.Alg != "" && m.Alg != alg) ||
			(m.KeyOps != nil && !contains(m.KeyOps, "encrypt") && !contains(m.KeyOps, "wrapKey")) {
			continue
		}
		if (alg == KeyAlgRSAOAEP256 && m.Kty != "RSA") || (alg == KeyAlgECDHES && (m.Kty != "EC" || m.Crv != "P-256")) {
			continue
		}
		if m.Kty == "RSA" {
			n, err := base64.RawURLEncoding.DecodeString(m.N)
			if err != nil {
				return nil, fmt.Errorf("%w: bad RSA modulus", ErrMalformed)
			}
			if bits := new(big.Int).SetBytes(n).BitLen(); bits < minRSABits {
				return nil, fmt.Errorf("%w: RSA encryption key of %d bits", ErrWeakKey, bits)
			}
		}
		jk, err := jwk.ParseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		var pub any
		if err := jwk.Export(jk, &pub); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch k := pub.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < minRSABits {
				return nil, fmt.Errorf("%w: RSA encryption key of %d bits", ErrWeakKey, k.N.BitLen())
			}
			return &EncryptionKey{kid: m.Kid, alg: alg, key: k}, nil
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				continue
			}
			ek, err := k.ECDH()
			if err != nil {
				return nil, fmt.Errorf("%w: EC key: %v", ErrMalformed, err)
			}
			return &EncryptionKey{kid: m.Kid, alg: alg, key: ek}, nil
		case *ecdh.PublicKey:
			return &EncryptionKey{kid: m.Kid, alg: alg, key: k}, nil
		}
	}
	return nil, ErrNoEncryptionKey
}

// KeyID returns the key's "kid" ("" when it has none).
func (k *EncryptionKey) KeyID() string { return k.kid }

// EncryptJWT wraps a signed JWT in a compact JWE for key (RFC 7516 §7.1; nested JWT, OIDC
// Core §10.2): "alg" the key's algorithm, "enc" enc, "cty":"JWT", and "kid" when the key has
// one.
func EncryptJWT(signed string, key *EncryptionKey, enc string) (string, error) {
	if err := CheckEncryptionAlgs(key.alg, enc); err != nil {
		return "", err
	}
	var ka jwa.KeyEncryptionAlgorithm
	switch key.alg {
	case KeyAlgRSAOAEP256:
		ka = jwa.RSA_OAEP_256()
	case KeyAlgECDHES:
		ka = jwa.ECDH_ES()
	}
	ce := jwa.A256GCM()
	if enc == EncA128GCM {
		ce = jwa.A128GCM()
	}
	hdr := jwe.NewHeaders()
	if err := hdr.Set("cty", "JWT"); err != nil {
		return "", err
	}
	if key.kid != "" {
		if err := hdr.Set("kid", key.kid); err != nil {
			return "", err
		}
	}
	out, err := jwe.Encrypt([]byte(signed), jwe.WithKey(ka, key.key), jwe.WithContentEncryption(ce),
		jwe.WithProtectedHeaders(hdr), jwe.WithCompact())
	if err != nil {
		return "", fmt.Errorf("jose: encrypting: %w", err)
	}
	return string(out), nil
}
