package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// The signature arithmetic of the three algorithms, on the standard library only (RFC 7518
// §3.4/§3.5, RFC 8037 §3.1). Kept here, beside the policy that chooses alg and key, so that a
// token's bytes meet exactly one implementation.

// p256ScalarSize is the size of r and s in an ES256 signature (RFC 7518 §3.4).
const p256ScalarSize = 32

// pssOptions are RFC 7518 §3.5's PS256 parameters: SHA-256, MGF1 with SHA-256, and a salt as
// long as the hash. Verification demands that salt length exactly.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}

// errAlgKey is a key whose type does not fit the algorithm; callers check this beforehand.
var errAlgKey = errors.New("jose: key type does not match the algorithm")

// rawSign signs signingInput under alg with signer and returns the JWS signature bytes: r‖s
// for ES256, the PSS signature for PS256, the Ed25519 signature for EdDSA. It goes through
// crypto.Signer, so a key held elsewhere (an HSM) signs the same way as one in memory.
func rawSign(signer crypto.Signer, alg Alg, signingInput []byte) ([]byte, error) {
	switch alg {
	case ES256:
		pub, ok := signer.Public().(*ecdsa.PublicKey)
		if !ok || pub.Curve.Params().BitSize != 256 {
			return nil, errAlgKey
		}
		h := sha256.Sum256(signingInput)
		der, err := signer.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		return derToRS(der)
	case PS256:
		if _, ok := signer.Public().(*rsa.PublicKey); !ok {
			return nil, errAlgKey
		}
		h := sha256.Sum256(signingInput)
		return signer.Sign(rand.Reader, h[:], pssOptions)
	case EdDSA:
		if _, ok := signer.Public().(ed25519.PublicKey); !ok {
			return nil, errAlgKey
		}
		return signer.Sign(rand.Reader, signingInput, crypto.Hash(0))
	}
	return nil, &AlgError{Alg: string(alg)}
}

// rawVerify reports whether sig is a valid alg signature of signingInput under key. The
// caller has checked that the key supports alg and that sig has the algorithm's length.
func rawVerify(key crypto.PublicKey, alg Alg, signingInput, sig []byte) bool {
	switch alg {
	case ES256:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || len(sig) != 2*p256ScalarSize {
			return false
		}
		h := sha256.Sum256(signingInput)
		return ecdsa.VerifyASN1(k, h[:], rsToDER(sig))
	case PS256:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return false
		}
		h := sha256.Sum256(signingInput)
		return rsa.VerifyPSS(k, crypto.SHA256, h[:], sig, pssOptions) == nil
	case EdDSA:
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize && ed25519.Verify(k, signingInput, sig)
	}
	return false
}

// derToRS turns an ASN.1 ECDSA-Sig-Value into the fixed-size r‖s form of RFC 7518 §3.4.
func derToRS(der []byte) ([]byte, error) {
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!readUnsigned(&seq, &r) || !readUnsigned(&seq, &s) || !seq.Empty() ||
		len(r) > p256ScalarSize || len(s) > p256ScalarSize {
		return nil, fmt.Errorf("jose: malformed ECDSA signature")
	}
	out := make([]byte, 2*p256ScalarSize)
	copy(out[p256ScalarSize-len(r):p256ScalarSize], r)
	copy(out[2*p256ScalarSize-len(s):], s)
	return out, nil
}

// readUnsigned reads a non-negative ASN.1 INTEGER and returns its magnitude without
// leading zero bytes.
func readUnsigned(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadASN1(&v, asn1.INTEGER) || len(v) == 0 || v[0]&0x80 != 0 {
		return false
	}
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	*out = v
	return true
}

// rsToDER turns a 64-byte r‖s signature into an ASN.1 ECDSA-Sig-Value for
// ecdsa.VerifyASN1, which then checks that r and s are in [1, n-1].
func rsToDER(sig []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addUnsigned(b, sig[:p256ScalarSize])
		addUnsigned(b, sig[p256ScalarSize:])
	})
	der, _ := b.Bytes() // cannot fail: lengths are fixed and small
	return der
}

// addUnsigned adds the big-endian magnitude v as a minimal non-negative ASN.1 INTEGER.
func addUnsigned(b *cryptobyte.Builder, v []byte) {
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	b.AddASN1(asn1.INTEGER, func(b *cryptobyte.Builder) {
		if v[0]&0x80 != 0 {
			b.AddUint8(0)
		}
		b.AddBytes(v)
	})
}
