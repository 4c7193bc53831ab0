package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// SigningKey is one of the authorization server's private signing keys: an RSA
// (≥ 2048 bits, PS256), EC P-256 (ES256) or Ed25519 (EdDSA) key behind a
// crypto.Signer, with its public half and its kid (the RFC 7638 thumbprint). The
// algorithm follows from the key type. It logs as its kid and algorithm only.
type SigningKey struct {
	signer crypto.Signer
	pub    *PublicKey
}

// NewSigningKey wraps signer. It returns ErrWeakKey for RSA under 2048 bits or EC
// under 256 bits and ErrAlgNotAllowed for keys no allowed algorithm uses (P-384,
// P-521, …). An HSM-backed crypto.Signer works as long as its Public() is one of
// the accepted types.
func NewSigningKey(signer crypto.Signer) (*SigningKey, error) {
	if signer == nil {
		return nil, errors.New("jose: nil signer")
	}
	pub := signer.Public()
	if p, ok := pub.(*ed25519.PublicKey); ok {
		pub = *p
	}
	natural, err := naturalAlg(pub)
	if errors.Is(err, errUnusableKey) {
		return nil, fmt.Errorf("%w: %v", ErrAlgNotAllowed, err)
	}
	if err != nil {
		return nil, err
	}
	tp, err := thumbprint(pub)
	if err != nil {
		return nil, err
	}
	return &SigningKey{signer: signer, pub: &PublicKey{kid: tp, natural: natural, key: pub, thumbprint: tp}}, nil
}

// GenerateSigningKey creates a new key for alg: P-256 for ES256, RSA-2048 for
// PS256, Ed25519 for EdDSA.
func GenerateSigningKey(alg Alg) (*SigningKey, error) {
	var signer crypto.Signer
	var err error
	switch alg {
	case ES256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case PS256:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case EdDSA:
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, &AlgError{Alg: string(alg)}
	}
	if err != nil {
		return nil, fmt.Errorf("jose: generating %s key: %w", alg, err)
	}
	return NewSigningKey(signer)
}

// ParseSigningKeyPEM parses a PKCS#8 "PRIVATE KEY" PEM block (the format of
// `openssl genpkey` and `portcullis pki issue`). Trailing data is refused.
func ParseSigningKeyPEM(data []byte) (*SigningKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrMalformed)
	}
	if len(trimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the PEM block", ErrMalformed)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: PEM block %q, want PKCS#8 \"PRIVATE KEY\" (convert with openssl pkcs8 -topk8 -nocrypt)", ErrMalformed, block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a signing key", ErrMalformed, k)
	}
	return NewSigningKey(signer)
}

// ParseSigningKeyJWK parses a private JWK (one key, with "d").
func ParseSigningKeyJWK(data []byte) (*SigningKey, error) {
	if err := walkObject(data, maxJWKMembers, nil); err != nil {
		return nil, err
	}
	jk, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var raw any
	if err := jwk.Export(jk, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if p, ok := raw.(*ed25519.PrivateKey); ok {
		raw = *p
	}
	signer, ok := raw.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: JWK is not a private signing key (%T)", ErrMalformed, raw)
	}
	return NewSigningKey(signer)
}

// MarshalPKCS8PEM returns the key as a PKCS#8 "PRIVATE KEY" PEM block. It fails
// for keys whose private half is not in memory (HSM).
func (k *SigningKey) MarshalPKCS8PEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("jose: key %s cannot be exported: %w", k.KeyID(), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// KeyID returns the kid: the key's RFC 7638 thumbprint.
func (k *SigningKey) KeyID() string { return k.pub.kid }

// Alg returns the algorithm the key signs with.
func (k *SigningKey) Alg() Alg { return k.pub.natural }

// Public returns the public half.
func (k *SigningKey) Public() *PublicKey { return k.pub }

// LogValue implements slog.LogValuer: kid and alg only, never key material.
func (k *SigningKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.KeyID()), slog.String("alg", string(k.Alg())))
}

// String returns "alg:kid", never key material.
func (k *SigningKey) String() string { return string(k.Alg()) + ":" + k.KeyID() }

// GoString guards %#v against printing the private key.
func (k *SigningKey) GoString() string { return "jose.SigningKey{" + k.String() + "}" }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
