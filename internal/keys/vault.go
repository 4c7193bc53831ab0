package keys

import (
	"encoding/pem"
	"fmt"

	"github.com/portcullis/portcullis/internal/jose"
)

// Sealed is a private key in the form the database holds: KEKID names what sealed it (a
// [KEK.ID], or a PKCS#11 token), PrivateKey is opaque to everyone but that vault.
type Sealed struct {
	KEKID      string
	PrivateKey string
}

// Vault creates signing keys and moves them between memory and their sealed, stored form.
// Implementations: [KEKVault]; [NewPKCS11Vault] in binaries built with the pkcs11 tag.
type Vault interface {
	// Generate creates a new signing key for alg (ES256, PS256, EdDSA where supported).
	Generate(alg jose.Alg) (*jose.SigningKey, error)
	// Seal returns the stored form of k, a key this vault generated or opened.
	Seal(k *jose.SigningKey) (Sealed, error)
	// Open returns the key kid of alg from its stored form. It returns an error wrapping
	// [ErrKEK] (or [ErrPKCS11]) when s was sealed by something this vault does not hold, or
	// does not open; the key's kid and alg must be kid and alg.
	Open(kid string, alg jose.Alg, s Sealed) (*jose.SigningKey, error)
}

// KEKVault keeps signing keys in memory and seals them with a [KEK]: Current seals new keys;
// Previous (optional) only opens keys sealed before a KEK rotation.
type KEKVault struct {
	Current  *KEK
	Previous []*KEK
}

// Generate implements [Vault].
func (v *KEKVault) Generate(alg jose.Alg) (*jose.SigningKey, error) {
	return jose.GenerateSigningKey(alg)
}

// Seal implements [Vault]: the PKCS#8 DER of k, sealed by Current.
func (v *KEKVault) Seal(k *jose.SigningKey) (Sealed, error) {
	if v.Current == nil {
		return Sealed{}, fmt.Errorf("%w: none configured", ErrKEK)
	}
	p, err := k.MarshalPKCS8PEM()
	if err != nil {
		return Sealed{}, err
	}
	block, _ := pem.Decode(p)
	clear(p)
	if block == nil {
		return Sealed{}, fmt.Errorf("keys: key %s: no PKCS#8 block", k.KeyID())
	}
	defer clear(block.Bytes)
	s, err := v.Current.seal(k.KeyID(), string(k.Alg()), block.Bytes)
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{KEKID: v.Current.ID(), PrivateKey: s}, nil
}

// Open implements [Vault].
func (v *KEKVault) Open(kid string, alg jose.Alg, s Sealed) (*jose.SigningKey, error) {
	var kek *KEK
	for _, k := range append([]*KEK{v.Current}, v.Previous...) {
		if k != nil && k.ID() == s.KEKID {
			kek = k
			break
		}
	}
	if kek == nil {
		have := "none"
		if v.Current != nil {
			have = v.Current.ID()
		}
		return nil, fmt.Errorf("%w: signing key %s is sealed with %s, but keys.kek is %s (a wrong keys.kek, or a rotated one without keys.previous_kek)",
			ErrKEK, kid, s.KEKID, have)
	}
	der, err := kek.open(kid, string(alg), s.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: signing key %s does not open with %s: %v", ErrKEK, kid, kek.ID(), err)
	}
	defer clear(der)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	defer clear(pemBytes)
	k, err := jose.ParseSigningKeyPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("keys: signing key %s: %w", kid, err)
	}
	return k, nil
}
