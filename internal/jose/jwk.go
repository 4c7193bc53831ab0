package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Key-size rules (fapi.md FAPI1-AS-06, FAPI2-AS-42).
const (
	minRSABits = 2048
	maxRSABits = 8192 // bounds the cost of one verification
)

// errUnusableKey marks a key that is strong enough but cannot sign or verify with
// any algorithm Portcullis allows (P-384, X25519, …). A JWK Set may carry such keys
// (they are skipped); a server key may not.
var errUnusableKey = errors.New("jose: key type not usable with PS256, ES256 or EdDSA")

// PublicKey is a public signature-verification key with its JWK metadata: one
// RSA (≥ 2048 bits, for PS256), EC P-256 (ES256) or Ed25519 (EdDSA) key. It is
// immutable and safe for concurrent use. Values come from [ParseJWKS] (client
// keys) and [SigningKey.Public] (server keys); it never holds private material.
type PublicKey struct {
	kid        string
	natural    Alg // the one algorithm its type and curve allow (= the JWK's "alg" if stated)
	key        crypto.PublicKey
	thumbprint string
	certs      []*x509.Certificate // the JWK's "x5c", leaf first; checked to hold this key
}

// maxX5C bounds the certificates of one JWK's "x5c".
const maxX5C = 10

// Certificates returns the certificate chain of the JWK's "x5c" (leaf first, a copy of the
// slice), or nil. The leaf's public key is this key; nothing else about the certificates
// has been checked: validate them (package pki) before relying on them.
func (k *PublicKey) Certificates() []*x509.Certificate {
	return append([]*x509.Certificate(nil), k.certs...)
}

// KeyID returns the JWK "kid" ("" if the JWK had none). For server keys it is the
// RFC 7638 thumbprint.
func (k *PublicKey) KeyID() string { return k.kid }

// Alg returns the algorithm the key is used with: the JWK's "alg" if it stated
// one, otherwise the only one its type and curve allow.
func (k *PublicKey) Alg() Alg { return k.natural }

// Thumbprint returns the key's RFC 7638 JWK thumbprint (SHA-256, base64url).
func (k *PublicKey) Thumbprint() string { return k.thumbprint }

// Public returns the Go public key: *rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey.
func (k *PublicKey) Public() crypto.PublicKey { return k.key }

// Equal reports whether x is the same public key (e.g. the key of a client's
// self-signed certificate, RFC 8705 §2.2).
func (k *PublicKey) Equal(x crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := k.key.(equaler)
	return ok && e.Equal(x)
}

// Supports reports whether the key can verify a signature made with alg: the
// key's type and curve fit alg, and the JWK's "alg", if any, is alg.
func (k *PublicKey) Supports(alg Alg) bool { return k.natural == alg }

// naturalAlg returns the single allowed algorithm for pub after checking its
// strength: ErrWeakKey for RSA < 2048 bits or EC curves under 256 bits,
// ErrTooLarge for RSA > 8192 bits, ErrMalformed for a bad exponent or an EC point
// off its curve, errUnusableKey for strong keys no allowed algorithm uses.
func naturalAlg(pub crypto.PublicKey) (Alg, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N == nil {
			return "", fmt.Errorf("%w: RSA key without modulus", ErrMalformed)
		}
		bits := p.N.BitLen()
		if bits < minRSABits {
			return "", fmt.Errorf("%w: RSA key of %d bits (minimum %d)", ErrWeakKey, bits, minRSABits)
		}
		if bits > maxRSABits {
			return "", fmt.Errorf("%w: RSA key of %d bits (maximum %d)", ErrTooLarge, bits, maxRSABits)
		}
		if p.E < 3 || p.E%2 == 0 {
			return "", fmt.Errorf("%w: bad RSA public exponent", ErrMalformed)
		}
		return PS256, nil
	case *ecdsa.PublicKey:
		if p.Curve == nil {
			return "", fmt.Errorf("%w: EC key without curve", ErrMalformed)
		}
		size := p.Curve.Params().BitSize
		if size < 256 {
			return "", fmt.Errorf("%w: EC key on a %d-bit curve (minimum P-256)", ErrWeakKey, size)
		}
		if p.Curve != elliptic.P256() {
			return "", fmt.Errorf("%w: EC curve %s", errUnusableKey, p.Curve.Params().Name)
		}
		if _, err := p.ECDH(); err != nil { // rejects points not on the curve
			return "", fmt.Errorf("%w: invalid EC public key", ErrMalformed)
		}
		return ES256, nil
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return "", fmt.Errorf("%w: bad Ed25519 key length", ErrMalformed)
		}
		return EdDSA, nil
	}
	return "", fmt.Errorf("%w: %T", errUnusableKey, pub)
}

// newPublicKey wraps a checked Go public key. kid "" means: use the thumbprint.
func newPublicKey(pub crypto.PublicKey, kid string, alg Alg) (*PublicKey, error) {
	natural, err := naturalAlg(pub)
	if err != nil {
		return nil, err
	}
	if alg != "" && alg != natural {
		return nil, fmt.Errorf("%w: key of type %T cannot be used with %s", ErrMalformed, pub, alg)
	}
	tp, err := thumbprint(pub)
	if err != nil {
		return nil, err
	}
	return &PublicKey{kid: kid, natural: natural, key: pub, thumbprint: tp}, nil
}

// thumbprint computes the RFC 7638 SHA-256 JWK thumbprint, base64url.
func thumbprint(pub crypto.PublicKey) (string, error) {
	k, err := jwk.Import(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// publicJWK renders the public JWK of k for a JWK Set: "kty", "kid", "use":"sig",
// "alg" and the public parameters (RSA "n","e"; EC "crv","x","y"; OKP "crv","x").
// It starts from the Go public key, so private parameters cannot appear.
func publicJWK(k *PublicKey) (json.RawMessage, error) {
	jk, err := jwk.Import(k.key)
	if err != nil {
		return nil, err
	}
	if err := jk.Set(jwk.KeyIDKey, k.kid); err != nil {
		return nil, err
	}
	if err := jk.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return nil, err
	}
	sa, ok := jwa.LookupSignatureAlgorithm(string(k.natural))
	if !ok {
		return nil, fmt.Errorf("jose: no JWA name for %s", k.natural)
	}
	if err := jk.Set(jwk.AlgorithmKey, sa); err != nil {
		return nil, err
	}
	out, err := json.Marshal(jk)
	if err != nil || len(k.certs) == 0 {
		return out, err
	}
	// RFC 7517 §4.7: "x5c" is an array of standard (padded) base64 DER certificates.
	x5c := make([]string, len(k.certs))
	for i, c := range k.certs {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	enc, err := json.Marshal(x5c)
	if err != nil {
		return nil, err
	}
	return append(append(append(out[:len(out)-1:len(out)-1], `,"x5c":`...), enc...), '}'), nil
}

// parseX5C decodes a JWK's "x5c" (RFC 7517 §4.7): a non-empty array of at most maxX5C
// standard base64 DER certificates whose first one must hold pub.
func parseX5C(raw []byte, pub *PublicKey) ([]*x509.Certificate, error) {
	var enc []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &enc) != nil || len(enc) == 0 {
		return nil, fmt.Errorf("%w: \"x5c\" must be a non-empty array of strings", ErrMalformed)
	}
	if len(enc) > maxX5C {
		return nil, fmt.Errorf("%w: \"x5c\" of %d certificates (limit %d)", ErrTooLarge, len(enc), maxX5C)
	}
	certs := make([]*x509.Certificate, len(enc))
	for i, e := range enc {
		der, err := base64.StdEncoding.Strict().DecodeString(e)
		if err != nil {
			return nil, fmt.Errorf("%w: \"x5c\" entry %d is not base64", ErrMalformed, i)
		}
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("%w: \"x5c\" entry %d: %v", ErrMalformed, i, err)
		}
	}
	if !pub.Equal(certs[0].PublicKey) {
		return nil, fmt.Errorf("%w: \"x5c\" certificate does not hold the JWK's key", ErrMalformed)
	}
	return certs, nil
}

// privateMembers are the JWK members that carry private or secret key material
// (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = map[string]bool{
	"d": true, "p": true, "q": true, "dp": true, "dq": true, "qi": true, "oth": true, "k": true,
}

// parsePublicJWK parses one member of a client's JWK Set. It returns (nil, nil)
// for a key that is acceptable in a set but cannot verify signatures under any
// allowed algorithm (use "enc", alg "RSA-OAEP", P-384, X25519, unknown kty, …).
// Errors: ErrPrivateKeyInJWKS, ErrWeakKey, ErrTooLarge, ErrMalformed.
func parsePublicJWK(raw json.RawMessage) (*PublicKey, error) {
	var kty, kid, use, alg, crv, n string
	var keyOps []string
	var x5c []byte
	hasKeyOps := false
	err := walkObject(raw, maxJWKMembers, func(name string, v []byte) error {
		var err error
		switch {
		case privateMembers[name]:
			return fmt.Errorf("%w: member %q", ErrPrivateKeyInJWKS, name)
		case name == "kty":
			kty, err = jsonString(name, v)
		case name == "kid":
			kid, err = jsonString(name, v)
		case name == "use":
			use, err = jsonString(name, v)
		case name == "alg":
			alg, err = jsonString(name, v)
		case name == "crv":
			crv, err = jsonString(name, v)
		case name == "n":
			n, err = jsonString(name, v)
		case name == "x5c":
			x5c = v
		case name == "key_ops":
			hasKeyOps = true
			if json.Unmarshal(v, &keyOps) != nil {
				err = fmt.Errorf("%w: \"key_ops\" must be an array of strings", ErrMalformed)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}

	// Strength first: FAPI refuses a JWK Set holding any weak key, whatever its use.
	switch kty {
	case "":
		return nil, fmt.Errorf("%w: JWK without \"kty\"", ErrMalformed)
	case "oct":
		return nil, fmt.Errorf("%w: symmetric key", ErrPrivateKeyInJWKS)
	case "RSA":
		mod, err := base64.RawURLEncoding.DecodeString(n)
		if err != nil || len(mod) == 0 {
			return nil, fmt.Errorf("%w: bad RSA modulus", ErrMalformed)
		}
		for len(mod) > 0 && mod[0] == 0 {
			mod = mod[1:]
		}
		bits := len(mod) * 8
		if len(mod) > 0 {
			for b := mod[0]; b&0x80 == 0; b <<= 1 {
				bits--
			}
		}
		if bits < minRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits (minimum %d)", ErrWeakKey, bits, minRSABits)
		}
		if bits > maxRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits (maximum %d)", ErrTooLarge, bits, maxRSABits)
		}
	case "EC":
		switch crv {
		case "P-256":
		case "P-192", "P-224", "secp192r1", "secp224r1", "secp160r1", "secp160k1", "secp192k1", "secp224k1":
			return nil, fmt.Errorf("%w: EC curve %s", ErrWeakKey, truncate(crv))
		default:
			return nil, nil // P-384, P-521, secp256k1, …: strong, not usable here
		}
	case "OKP":
		if crv != "Ed25519" {
			return nil, nil // X25519 (encryption), Ed448
		}
	default:
		return nil, nil // unknown key type: ignored (RFC 7517 §5)
	}

	if use != "" && use != "sig" {
		return nil, nil
	}
	if hasKeyOps && !contains(keyOps, "verify") {
		return nil, nil
	}
	var declared Alg
	if alg != "" {
		if Allowed(alg, FAPI2) != nil {
			return nil, nil // a key for RS256, RSA-OAEP, ES384 …: never used by us
		}
		declared = Alg(alg)
	}

	jk, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if priv, err := jwk.IsPrivateKey(jk); err != nil || priv {
		return nil, fmt.Errorf("%w: private key", ErrPrivateKeyInJWKS)
	}
	var pub any // must be *any: jwx's exporters do not accept *crypto.PublicKey
	if err := jwk.Export(jk, &pub); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// jwk.Export yields pointer types for RSA and EC, a value for Ed25519; normalise.
	if p, ok := pub.(*ed25519.PublicKey); ok {
		pub = *p
	}
	k, err := newPublicKey(pub, kid, declared)
	if errors.Is(err, errUnusableKey) {
		return nil, nil
	}
	if err == nil && x5c != nil {
		k.certs, err = parseX5C(x5c, k)
	}
	return k, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
