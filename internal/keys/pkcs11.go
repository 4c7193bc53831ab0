//go:build pkcs11

package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/portcullis/portcullis/internal/jose"
)

// pkcs11Sessions is the number of sessions a vault opens: signatures run on up to this many
// at once (a PKCS#11 session performs one operation at a time).
const pkcs11Sessions = 4

// pkcs11Ref prefixes the stored form of a token key: "pkcs11:id=" + hex(CKA_ID).
const pkcs11Ref = "pkcs11:id="

// oidP256 is the DER of the prime256v1 OID, CKA_EC_PARAMS of a P-256 key.
var oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

// pkcs11Vault keeps the signing keys inside a PKCS#11 token: they are generated there
// (CKA_SENSITIVE, not extractable) and the database holds only a reference (their CKA_ID),
// sealed "by" the token (KEKID "pkcs11:" + token label).
type pkcs11Vault struct {
	p        *pkcs11.Ctx
	label    string
	sessions chan pkcs11.SessionHandle

	mu   sync.Mutex
	refs map[string]string // kid → stored reference, for keys generated or opened here
}

// NewPKCS11Vault opens the token labelled cfg.TokenLabel of the PKCS#11 library cfg.Module and
// logs in with cfg.PIN. Keys it generates are ES256 (P-256) or PS256 (RSA-2048) token objects;
// EdDSA is refused. Errors wrap [ErrPKCS11]; the PIN is never part of one.
func NewPKCS11Vault(cfg PKCS11Config) (Vault, error) {
	p := pkcs11.New(cfg.Module)
	if p == nil {
		return nil, fmt.Errorf("%w: cannot load module %s", ErrPKCS11, cfg.Module)
	}
	if err := p.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return nil, fmt.Errorf("%w: initialize %s: %v", ErrPKCS11, cfg.Module, err)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("%w: slot list: %v", ErrPKCS11, err)
	}
	slot, found := uint(0), false
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && strings.TrimRight(ti.Label, " \x00") == cfg.TokenLabel {
			slot, found = s, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no token labelled %q in %s", ErrPKCS11, cfg.TokenLabel, cfg.Module)
	}
	v := &pkcs11Vault{p: p, label: cfg.TokenLabel, sessions: make(chan pkcs11.SessionHandle, pkcs11Sessions), refs: map[string]string{}}
	for i := 0; i < pkcs11Sessions; i++ {
		sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return nil, fmt.Errorf("%w: open session: %v", ErrPKCS11, err)
		}
		if i == 0 {
			if err := p.Login(sh, pkcs11.CKU_USER, cfg.PIN); err != nil && !isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
				return nil, fmt.Errorf("%w: login to token %q: %v", ErrPKCS11, cfg.TokenLabel, err)
			}
		}
		v.sessions <- sh
	}
	return v, nil
}

func isCKR(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// with runs f on a session of the pool.
func (v *pkcs11Vault) with(f func(sh pkcs11.SessionHandle) error) error {
	sh := <-v.sessions
	defer func() { v.sessions <- sh }()
	return f(sh)
}

func (v *pkcs11Vault) kekID() string { return "pkcs11:" + v.label }

// Generate implements [Vault]: a key pair generated inside the token.
func (v *pkcs11Vault) Generate(alg jose.Alg) (*jose.SigningKey, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	common := func(class uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, "portcullis-signing-key"),
		}
	}
	pub := common(pkcs11.CKO_PUBLIC_KEY)
	priv := append(common(pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true))
	var mech *pkcs11.Mechanism
	switch alg {
	case jose.ES256:
		mech = pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidP256),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC))
	case jose.PS256:
		mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA), pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA))
	default:
		return nil, fmt.Errorf("%w: %s keys are not generated in PKCS#11 tokens (ES256, PS256)", ErrPKCS11, alg)
	}
	err := v.with(func(sh pkcs11.SessionHandle) error {
		_, _, err := v.p.GenerateKeyPair(sh, []*pkcs11.Mechanism{mech}, pub, priv)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: generating a %s key: %v", ErrPKCS11, alg, err)
	}
	ref := pkcs11Ref + hex.EncodeToString(id)
	k, err := v.load(ref)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.refs[k.KeyID()] = ref
	v.mu.Unlock()
	return k, nil
}

// Seal implements [Vault]: the reference of a key in the token.
func (v *pkcs11Vault) Seal(k *jose.SigningKey) (Sealed, error) {
	v.mu.Lock()
	ref, ok := v.refs[k.KeyID()]
	v.mu.Unlock()
	if !ok {
		return Sealed{}, fmt.Errorf("%w: key %s is not in token %q", ErrPKCS11, k.KeyID(), v.label)
	}
	return Sealed{KEKID: v.kekID(), PrivateKey: ref}, nil
}

// Open implements [Vault].
func (v *pkcs11Vault) Open(kid string, alg jose.Alg, s Sealed) (*jose.SigningKey, error) {
	if s.KEKID != v.kekID() {
		return nil, fmt.Errorf("%w: signing key %s is held by %s, but keys.pkcs11 names token %q", ErrPKCS11, kid, s.KEKID, v.label)
	}
	k, err := v.load(s.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", kid, err)
	}
	if k.KeyID() != kid || k.Alg() != alg {
		return nil, fmt.Errorf("%w: token object %s is key %s, not %s", ErrPKCS11, s.PrivateKey, k, kid)
	}
	v.mu.Lock()
	v.refs[kid] = s.PrivateKey
	v.mu.Unlock()
	return k, nil
}

// load finds the key pair of ref in the token and wraps its private half as a signer.
func (v *pkcs11Vault) load(ref string) (*jose.SigningKey, error) {
	h, ok := strings.CutPrefix(ref, pkcs11Ref)
	id, err := hex.DecodeString(h)
	if !ok || err != nil || len(id) == 0 || len(id) > 64 {
		return nil, fmt.Errorf("%w: malformed token reference", ErrPKCS11)
	}
	var s *tokenSigner
	err = v.with(func(sh pkcs11.SessionHandle) error {
		privH, err := v.find(sh, pkcs11.CKO_PRIVATE_KEY, id)
		if err != nil {
			return err
		}
		pubH, err := v.find(sh, pkcs11.CKO_PUBLIC_KEY, id)
		if err != nil {
			return err
		}
		kt, err := v.p.GetAttributeValue(sh, pubH, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil)})
		if err != nil || len(kt) != 1 {
			return fmt.Errorf("key type: %v", err)
		}
		s = &tokenSigner{v: v, priv: privH}
		switch bytesToUint(kt[0].Value) {
		case pkcs11.CKK_EC:
			a, err := v.p.GetAttributeValue(sh, pubH, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
			if err != nil || len(a) != 1 {
				return fmt.Errorf("EC point: %v", err)
			}
			var point []byte
			if rest, err := asn1.Unmarshal(a[0].Value, &point); err != nil || len(rest) != 0 {
				point = a[0].Value // some tokens return the point without the OCTET STRING
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
			if err != nil {
				return fmt.Errorf("EC point: %v", err)
			}
			s.pub = pub
		case pkcs11.CKK_RSA:
			a, err := v.p.GetAttributeValue(sh, pubH, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil)})
			if err != nil || len(a) != 2 {
				return fmt.Errorf("RSA public key: %v", err)
			}
			e := new(big.Int).SetBytes(a[1].Value)
			if !e.IsInt64() || e.Int64() > 1<<31-1 {
				return errors.New("RSA public exponent out of range")
			}
			s.pub = &rsa.PublicKey{N: new(big.Int).SetBytes(a[0].Value), E: int(e.Int64())}
		default:
			return errors.New("unsupported key type")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: token %q, object %s: %v", ErrPKCS11, v.label, ref, err)
	}
	return jose.NewSigningKey(s)
}

func (v *pkcs11Vault) find(sh pkcs11.SessionHandle, class uint, id []byte) (pkcs11.ObjectHandle, error) {
	if err := v.p.FindObjectsInit(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class), pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}); err != nil {
		return 0, err
	}
	objs, _, err := v.p.FindObjects(sh, 2)
	if ferr := v.p.FindObjectsFinal(sh); err == nil {
		err = ferr
	}
	if err != nil {
		return 0, err
	}
	if len(objs) != 1 {
		return 0, fmt.Errorf("%d objects of class %d with that id, want 1", len(objs), class)
	}
	return objs[0], nil
}

func bytesToUint(b []byte) uint {
	// CK_ULONG in host byte order (little-endian on every platform Portcullis is built for).
	var n uint
	for i := len(b) - 1; i >= 0; i-- {
		n = n<<8 | uint(b[i])
	}
	return n
}

// tokenSigner is a crypto.Signer whose private key stays in the token.
type tokenSigner struct {
	v    *pkcs11Vault
	priv pkcs11.ObjectHandle
	pub  crypto.PublicKey
}

func (s *tokenSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs digest (SHA-256) with CKM_ECDSA (returning ASN.1 DER, as crypto.Signer does) or
// CKM_RSA_PKCS_PSS (SHA-256, MGF1-SHA-256, salt = hash length; the only options accepted).
func (s *tokenSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, fmt.Errorf("%w: only SHA-256 digests are signed", ErrPKCS11)
	}
	var mech *pkcs11.Mechanism
	switch s.pub.(type) {
	case *ecdsa.PublicKey:
		mech = pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)
	case *rsa.PublicKey:
		pss, ok := opts.(*rsa.PSSOptions)
		if !ok || (pss.SaltLength != rsa.PSSSaltLengthEqualsHash && pss.SaltLength != 32) {
			return nil, fmt.Errorf("%w: RSA keys sign PS256 only", ErrPKCS11)
		}
		mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, 32))
	}
	var sig []byte
	err := s.v.with(func(sh pkcs11.SessionHandle) error {
		if err := s.v.p.SignInit(sh, []*pkcs11.Mechanism{mech}, s.priv); err != nil {
			return err
		}
		var err error
		sig, err = s.v.p.Sign(sh, digest)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: sign: %v", ErrPKCS11, err)
	}
	if _, ok := s.pub.(*ecdsa.PublicKey); ok {
		if len(sig) != 64 {
			return nil, fmt.Errorf("%w: ECDSA signature of %d bytes", ErrPKCS11, len(sig))
		}
		return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
	}
	return sig, nil
}
