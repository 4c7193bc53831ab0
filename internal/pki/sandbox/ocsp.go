package sandbox

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// OCSP responder parameters (RFC 6960, RFC 5019, RFC 8954).
const (
	maxOCSPRequest    = 4 << 10        // bytes of DER; real requests are ~100
	ocspValidity      = time.Hour      // nextUpdate - thisUpdate
	responderLifetime = 72 * time.Hour // delegated responder certificate; renewed at half-life
	maxNonceLen       = 32             // RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32))
)

var (
	oidOCSPNonce       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidOCSPNoCheck     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	oidOCSPBasic       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
)

// OCSP outcomes that are not a signed response.
var (
	errOCSPMalformed    = errors.New("malformed OCSP request")
	errOCSPUnauthorized = errors.New("OCSP request for another issuer")
)

// ocspRequest is what the responder needs from an OCSPRequest.
type ocspRequest struct {
	*ocsp.Request
	certID []byte          // the request's CertID DER, echoed in the response
	nonce  *pkix.Extension // the nonce extension to echo; nil when absent or unusable
}

// parseOCSPRequest decodes an OCSPRequest (RFC 6960 §4.1.1). x/crypto/ocsp.ParseRequest
// checks the CertID and rejects signed requests; it ignores further requests and the
// requestExtensions, so those are read here: exactly one request is answered (RFC 5019
// §2.1.1), a critical request extension other than the nonce is refused, and a nonce of
// 1..32 octets is kept to be echoed (RFC 8954; longer or shorter ones are not echoed, as
// §2.1 allows). Every failure is errOCSPMalformed.
func parseOCSPRequest(der []byte) (*ocspRequest, error) {
	if len(der) > maxOCSPRequest {
		return nil, fmt.Errorf("%w: %d bytes", errOCSPMalformed, len(der))
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOCSPMalformed, err)
	}
	malformed := func(what string) (*ocspRequest, error) { return nil, fmt.Errorf("%w: %s", errOCSPMalformed, what) }

	in := cryptobyte.String(der)
	var outer, tbs, list cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !in.Empty() || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) || !outer.Empty() {
		return malformed("OCSPRequest")
	}
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) ||
		!tbs.ReadASN1(&list, cbasn1.SEQUENCE) {
		return malformed("TBSRequest")
	}
	out := &ocspRequest{Request: req}
	for n := 0; !list.Empty(); n++ {
		var r, id cryptobyte.String
		if !list.ReadASN1(&r, cbasn1.SEQUENCE) || !r.ReadASN1Element(&id, cbasn1.SEQUENCE) {
			return malformed("Request")
		}
		if n > 0 {
			return malformed("more than one certificate in one request")
		}
		out.certID = bytes.Clone(id)
	}
	var exts cryptobyte.String
	var hasExts bool
	if !tbs.ReadOptionalASN1(&exts, &hasExts, cbasn1.Tag(2).Constructed().ContextSpecific()) || !tbs.Empty() {
		return malformed("requestExtensions")
	}
	if !hasExts {
		return out, nil
	}
	var seq cryptobyte.String
	if !exts.ReadASN1(&seq, cbasn1.SEQUENCE) || !exts.Empty() {
		return malformed("requestExtensions")
	}
	seenNonce := false
	for !seq.Empty() {
		var ext, value cryptobyte.String
		var oid asn1.ObjectIdentifier
		critical := false
		if !seq.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) {
			return malformed("Extension")
		}
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&critical) {
			return malformed("Extension.critical")
		}
		if !ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return malformed("Extension.extnValue")
		}
		if !oid.Equal(oidOCSPNonce) {
			if critical {
				return malformed("unsupported critical extension " + oid.String())
			}
			continue
		}
		if seenNonce {
			return malformed("two nonces")
		}
		seenNonce = true
		inner := value
		var nonce cryptobyte.String
		if inner.ReadASN1(&nonce, cbasn1.OCTET_STRING) && inner.Empty() && len(nonce) >= 1 && len(nonce) <= maxNonceLen {
			out.nonce = &pkix.Extension{Id: oidOCSPNonce, Value: bytes.Clone(value)}
		}
	}
	return out, nil
}

// ocspSigner is the delegated OCSP responder: a short-lived certificate from the issuing
// CA with id-kp-OCSPSigning and id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2, §4.2.2.2.1).
type ocspSigner struct {
	cert    *x509.Certificate
	key     crypto.Signer
	keyHash []byte    // SHA-1 of the subjectPublicKey bits: ResponderID byKey
	renewAt time.Time // half-life
}

func newOCSPSigner(cert *x509.Certificate, key crypto.Signer) (*ocspSigner, error) {
	bits, err := spkiBits(cert.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, err
	}
	h := sha1.Sum(bits)
	return &ocspSigner{cert: cert, key: key, keyHash: h[:], renewAt: cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) / 2)}, nil
}

// usableLocked: inside its first half-life, issued by our issuing CA, recorded in the
// database and not revoked there. The caller holds ca.mu with ca.db fresh.
func (ca *CA) signerUsableLocked(s *ocspSigner, now time.Time) bool {
	if s == nil || now.Before(s.cert.NotBefore) || !now.Before(s.renewAt) || s.cert.NotAfter.Before(now.Add(ocspValidity)) {
		return false
	}
	rec, ok := ca.db.lookup(s.cert.SerialNumber)
	return ok && !rec.Revoked() && rec.Kind == kindOCSPResponder
}

func (ca *CA) loadSigner() (*ocspSigner, error) {
	cert, key, err := loadPair(ca.dir, FileOCSPCert, FileOCSPKey)
	if err != nil {
		return nil, err
	}
	if err := cert.CheckSignatureFrom(ca.issuing); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, FileOCSPCert, err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: %s is not an ECDSA P-256 key", ErrCorrupt, FileOCSPCert)
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return nil, fmt.Errorf("%w: %s lacks id-kp-OCSPSigning", ErrCorrupt, FileOCSPCert)
	}
	return newOCSPSigner(cert, key)
}

// signerLocked returns the responder to sign with now: the cached one, the one on disk
// (another process may have renewed it), or a new one issued and recorded under the
// directory lock. The caller holds ca.mu with ca.db fresh.
func (ca *CA) signerLocked(now time.Time) (*ocspSigner, error) {
	if ca.signerUsableLocked(ca.signer, now) {
		return ca.signer, nil
	}
	if s, err := ca.loadSigner(); err == nil && ca.signerUsableLocked(s, now) {
		ca.signer = s
		return s, nil
	}
	unlock, err := lockDir(ca.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := ca.reloadLocked(); err != nil {
		return nil, err
	}
	if s, err := ca.loadSigner(); err == nil && ca.signerUsableLocked(s, now) {
		ca.signer = s
		return s, nil
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notAfter := utc(now.Add(responderLifetime))
	if notAfter.After(ca.issuing.NotAfter) {
		notAfter = ca.issuing.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			Organization: []string{"Portcullis Sandbox"},
			CommonName:   "Portcullis Sandbox OCSP Responder",
		},
		NotBefore:             utc(now.Add(-backdate)),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidOCSPNoCheck, Value: []byte{0x05, 0x00}}}, // NULL
	}
	cert, _, err := ca.recordLocked(tmpl, kindOCSPResponder, "CN=Portcullis Sandbox OCSP Responder,O=Portcullis Sandbox", key)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return nil, err
	}
	// Key first: a crash in between leaves a pair that does not match, which loadSigner
	// rejects, and the next request issues a new responder.
	if err := writeFileAtomic(ca.dir, FileOCSPKey, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("sandbox: write %s: %w", filepath.Join(ca.dir, FileOCSPKey), err)
	}
	if err := writeFileAtomic(ca.dir, FileOCSPCert, encodeCertPEM(cert), 0o644); err != nil {
		return nil, fmt.Errorf("sandbox: write %s: %w", filepath.Join(ca.dir, FileOCSPCert), err)
	}
	s, err := newOCSPSigner(cert, key)
	if err != nil {
		return nil, err
	}
	ca.signer = s
	return s, nil
}

// issuerHashes returns the CertID issuerNameHash and issuerKeyHash of the issuing CA
// under h (RFC 6960 §4.1.1).
func (ca *CA) issuerHashes(h crypto.Hash) (name, key []byte, err error) {
	if !h.Available() {
		return nil, nil, fmt.Errorf("hash %v unavailable", h)
	}
	bits, err := spkiBits(ca.issuing.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, nil, err
	}
	hn := h.New()
	hn.Write(ca.issuing.RawSubject)
	hk := h.New()
	hk.Write(bits)
	return hn.Sum(nil), hk.Sum(nil), nil
}

// ocspAnswer is a signed OCSP response and its validity interval.
type ocspAnswer struct {
	der        []byte
	thisUpdate time.Time
	nextUpdate time.Time
	nonce      bool
}

// answerOCSP answers one DER OCSPRequest (RFC 6960 §2.2): good / revoked (with time and
// reason) for serials in the issuance database, unknown for any other serial of the
// issuing CA, errOCSPUnauthorized for a CertID naming another issuer, and
// errOCSPMalformed for a request it cannot parse. The response is signed by the delegated
// responder with thisUpdate = producedAt = now, nextUpdate = now + 1 h, and echoes the
// request's nonce in responseExtensions. Any other error is internal.
func (ca *CA) answerOCSP(der []byte) (*ocspAnswer, error) {
	req, err := parseOCSPRequest(der)
	if err != nil {
		return nil, err
	}
	nameHash, keyHash, err := ca.issuerHashes(req.HashAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOCSPMalformed, err)
	}
	if !bytes.Equal(nameHash, req.IssuerNameHash) || !bytes.Equal(keyHash, req.IssuerKeyHash) {
		return nil, errOCSPUnauthorized
	}

	ca.mu.Lock()
	if err := ca.refreshLocked(); err != nil {
		ca.mu.Unlock()
		return nil, err
	}
	now := utc(ca.clk.Now())
	single := singleResponse{
		CertID:     asn1.RawValue{FullBytes: req.certID},
		ThisUpdate: now,
		NextUpdate: now.Add(ocspValidity),
	}
	switch rec, ok := ca.db.lookup(req.SerialNumber); {
	case !ok:
		single.Unknown = true
	case rec.Revoked():
		code, err := ParseReason(rec.Reason)
		if err != nil {
			ca.mu.Unlock()
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		single.Revoked = revokedInfo{RevocationTime: rec.RevokedAt.UTC(), Reason: asn1.Enumerated(code)}
	default:
		single.Good = true
	}
	signer, err := ca.signerLocked(now)
	ca.mu.Unlock()
	if err != nil {
		return nil, err
	}

	data := responseData{
		ResponderID: responderIDByKey(signer.keyHash),
		ProducedAt:  now,
		Responses:   []singleResponse{single},
	}
	if req.nonce != nil {
		data.ResponseExtensions = []pkix.Extension{*req.nonce}
	}
	body, err := signOCSPResponse(data, signer)
	if err != nil {
		return nil, err
	}
	return &ocspAnswer{der: body, thisUpdate: single.ThisUpdate, nextUpdate: single.NextUpdate, nonce: req.nonce != nil}, nil
}

// The BasicOCSPResponse structures (RFC 6960 §4.2.1). They are encoded here rather than
// with ocsp.CreateResponse because that puts extensions into singleExtensions (a nonce
// belongs in responseExtensions, where OpenSSL and RFC 8954 look for it) and takes
// producedAt from the wall clock instead of the injected one.
type ocspResponseASN1 struct {
	Status   asn1.Enumerated
	Response ocspResponseBytes `asn1:"explicit,tag:0,optional"`
}

type ocspResponseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type basicOCSPResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certs              []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type responseData struct {
	// version [0] v1 is the DEFAULT and so omitted in DER.
	ResponderID        asn1.RawValue
	ProducedAt         time.Time `asn1:"generalized"`
	Responses          []singleResponse
	ResponseExtensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type singleResponse struct {
	CertID     asn1.RawValue
	Good       asn1.Flag   `asn1:"tag:0,optional"`
	Revoked    revokedInfo `asn1:"tag:1,optional"`
	Unknown    asn1.Flag   `asn1:"tag:2,optional"`
	ThisUpdate time.Time   `asn1:"generalized"`
	NextUpdate time.Time   `asn1:"generalized,explicit,tag:0,optional"`
}

type revokedInfo struct {
	RevocationTime time.Time `asn1:"generalized"`
	// The reason is omitted for unspecified (0), as RFC 5280 §5.3.1 asks of CRLs.
	Reason asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

// responderIDByKey is ResponderID ::= CHOICE { byKey [2] KeyHash } (explicit tagging).
func responderIDByKey(keyHash []byte) asn1.RawValue {
	inner, _ := asn1.Marshal(keyHash) // OCTET STRING; cannot fail for []byte
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: inner}
}

// signOCSPResponse signs data with the responder's ECDSA P-256 key and wraps it in a
// successful OCSPResponse carrying the responder certificate.
func signOCSPResponse(data responseData, s *ocspSigner) ([]byte, error) {
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("sandbox: encode OCSP response: %w", err)
	}
	digest := sha256.Sum256(tbs)
	sig, err := s.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sandbox: sign OCSP response: %w", err)
	}
	basic, err := asn1.Marshal(basicOCSPResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256},
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
		Certs:              []asn1.RawValue{{FullBytes: s.cert.Raw}},
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: encode OCSP response: %w", err)
	}
	return asn1.Marshal(ocspResponseASN1{
		Status:   asn1.Enumerated(ocsp.Success),
		Response: ocspResponseBytes{ResponseType: oidOCSPBasic, Response: basic},
	})
}
