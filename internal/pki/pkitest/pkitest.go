// Package pkitest builds throw-away PKIs for tests (STYLE.md "Tests" #2): a root CA,
// optionally an intermediate, leaves with eIDAS / PSD2 QCStatements and
// organizationIdentifier (QWAC, QSealC, OBWAC, OBSeal, plain), and loopback
// revocation services for them — an OCSP responder ([OCSPResponder]) and a CRL server
// ([CRLServer]) that can be told to answer good, revoked or unknown, to sign with a
// delegated responder, to serve stale or malformed data, or to fail.
//
// It is for tests only: ECDSA keys are fresh, but RSA keys come from a small
// per-process pool and are reused (RSA key generation is slow), nothing is persisted,
// servers bind 127.0.0.1 on a random port and are closed by t.Cleanup.
// Every constructor takes a testing.TB and fails the test on error instead of
// returning one. Time comes from an injected [clock.Clock], so certificates, OCSP
// responses and CRLs line up with a test's fake clock.
//
// The QCStatements put into certificates are encoded by package eidas
// ([eidas.QCStatements.Marshal]); certificates that must break the eIDAS rules are
// built from raw DER with [LeafOptions].QCStatementsDER.
package pkitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// CAOptions configures [NewCA]. The zero value gives an ECDSA P-256 root that issues
// leaves directly, valid from one day before now for ten years, without revocation
// services.
type CAOptions struct {
	// Clock is "now" for default validity periods and for OCSP / CRL timestamps.
	// Nil means the real clock.
	Clock clock.Clock
	// Name is the root's CN; "" means "Portcullis Test Root CA". The intermediate is
	// called Name + " Issuing CA".
	Name string
	// Intermediate makes the root issue an intermediate that issues the leaves.
	Intermediate bool
	// KeyType of the CA keys: "ec" (default, P-256) or "rsa" (2048).
	KeyType string
	// NotBefore / NotAfter of the root and the intermediate; zero means now-24h /
	// now+10 years.
	NotBefore, NotAfter time.Time
	// OCSP starts an OCSP responder for the issuer (and one for the root when there is
	// an intermediate); their URLs go into every certificate issued below them.
	OCSP bool
	// OCSPOptions configures those responders; a nil Clock there means this Clock.
	OCSPOptions OCSPOptions
	// CRL starts a CRL server for the issuer (and one for the root when there is an
	// intermediate); their URLs go into every certificate issued below them.
	CRL bool
	// CRLOptions configures those servers; a nil Clock there means this Clock.
	CRLOptions CRLOptions
}

// CA is a test certificate authority: a root and, optionally, an intermediate that
// issues the leaves.
type CA struct {
	Root    *x509.Certificate
	RootKey crypto.Signer
	// Intermediate and IntermediateKey are the CA that signs leaves when it is not
	// the root: nil unless CAOptions.Intermediate or made by [CA.Subordinate].
	Intermediate    *x509.Certificate
	IntermediateKey crypto.Signer
	// above holds the intermediates between Intermediate and the root, nearest first.
	above []*x509.Certificate

	// OCSP answers for the certificates the issuer signs (the leaves); RootOCSP for
	// those the root signs when there is an intermediate. Nil unless CAOptions.OCSP.
	OCSP, RootOCSP *OCSPResponder
	// CRL publishes the issuer's CRL, RootCRL the root's when there is an
	// intermediate. Nil unless CAOptions.CRL.
	CRL, RootCRL *CRLServer

	clock clock.Clock
}

// NewCA creates a CA as opts says. Revocation servers it starts are closed when the
// test ends.
func NewCA(t testing.TB, opts CAOptions) *CA {
	t.Helper()
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	name := opts.Name
	if name == "" {
		name = "Portcullis Test Root CA"
	}
	now := clk.Now()
	notBefore, notAfter := opts.NotBefore, opts.NotAfter
	if notBefore.IsZero() {
		notBefore = now.Add(-24 * time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = now.AddDate(10, 0, 0)
	}
	ocspOpts := opts.OCSPOptions
	if ocspOpts.Clock == nil {
		ocspOpts.Clock = clk
	}
	crlOpts := opts.CRLOptions
	if crlOpts.Clock == nil {
		crlOpts.Clock = clk
	}

	ca := &CA{clock: clk}
	ca.RootKey = newKey(t, opts.KeyType)
	rootTmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Portcullis Test PKI"}, Country: []string{"GB"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	ca.Root = createCertificate(t, rootTmpl, rootTmpl, ca.RootKey.Public(), ca.RootKey)

	if opts.Intermediate {
		var ocspURLs, crlURLs []string
		if opts.OCSP {
			ca.RootOCSP = NewOCSPResponder(t, ca.Root, ca.RootKey, ocspOpts)
			ocspURLs = []string{ca.RootOCSP.URL}
		}
		if opts.CRL {
			ca.RootCRL = NewCRLServer(t, ca.Root, ca.RootKey, crlOpts)
			crlURLs = []string{ca.RootCRL.URL}
		}
		ca.IntermediateKey = newKey(t, opts.KeyType)
		intTmpl := &x509.Certificate{
			SerialNumber:          newSerial(t),
			Subject:               pkix.Name{CommonName: name + " Issuing CA", Organization: []string{"Portcullis Test PKI"}, Country: []string{"GB"}},
			NotBefore:             notBefore,
			NotAfter:              notAfter,
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			OCSPServer:            ocspURLs,
			CRLDistributionPoints: crlURLs,
		}
		ca.Intermediate = createCertificate(t, intTmpl, ca.Root, ca.IntermediateKey.Public(), ca.RootKey)
		if ca.RootOCSP != nil {
			ca.RootOCSP.SetGood(ca.Intermediate.SerialNumber)
		}
	}
	if opts.OCSP {
		ca.OCSP = NewOCSPResponder(t, ca.Issuer(), ca.IssuerKey(), ocspOpts)
	}
	if opts.CRL {
		ca.CRL = NewCRLServer(t, ca.Issuer(), ca.IssuerKey(), crlOpts)
	}
	return ca
}

// Issuer returns the certificate that signs leaves: the intermediate if there is one,
// else the root.
func (ca *CA) Issuer() *x509.Certificate {
	if ca.Intermediate != nil {
		return ca.Intermediate
	}
	return ca.Root
}

// IssuerKey returns the private key of [CA.Issuer].
func (ca *CA) IssuerKey() crypto.Signer {
	if ca.Intermediate != nil {
		return ca.IntermediateKey
	}
	return ca.RootKey
}

// Intermediates returns the certificates between a leaf and the root, nearest to the
// leaf first; nil when the root issues leaves itself.
func (ca *CA) Intermediates() []*x509.Certificate {
	if ca.Intermediate == nil {
		return nil
	}
	return append([]*x509.Certificate{ca.Intermediate}, ca.above...)
}

// Subordinate issues a CA certificate below [CA.Issuer] (o.IsCA is implied; its
// subject, EKU, validity etc. come from o) and returns a CA that issues leaves with
// it. The new CA shares the root and clock of ca; it runs no revocation services, so
// its leaves carry revocation URLs only when o-style options of Issue name them. The
// subordinate certificate itself is registered as good with ca's responder.
func (ca *CA) Subordinate(t testing.TB, o LeafOptions) *CA {
	t.Helper()
	o.IsCA = true
	l := ca.Issue(t, o)
	return &CA{
		Root:            ca.Root,
		RootKey:         ca.RootKey,
		Intermediate:    l.Cert,
		IntermediateKey: l.Key,
		above:           ca.Intermediates(),
		clock:           ca.clock,
	}
}

// Pool returns a pool holding only the root.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root)
	return p
}

// RootPEM returns the root certificate as PEM.
func (ca *CA) RootPEM() []byte { return CertificatesPEM(ca.Root) }

// Clock returns the clock the CA was created with.
func (ca *CA) Clock() clock.Clock { return ca.clock }

// Revoke marks a certificate issued by [CA.Issuer] revoked now with the RFC 5280
// reason code, in the issuer's OCSP responder and CRL (whichever exist).
func (ca *CA) Revoke(t testing.TB, serial *big.Int, reason int) {
	t.Helper()
	at := ca.clock.Now()
	if ca.OCSP != nil {
		ca.OCSP.SetRevoked(serial, at, reason)
	}
	if ca.CRL != nil {
		ca.CRL.Revoke(serial, at, reason)
	}
}

// CertificatesPEM encodes certificates as concatenated PEM blocks.
func CertificatesPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func createCertificate(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("pkitest: create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("pkitest: parse certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return cert
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("pkitest: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

// rsaPool holds the RSA keys handed out round-robin (2048-bit generation takes long
// enough to dominate test time otherwise).
var rsaPool struct {
	sync.Mutex
	keys []*rsa.PrivateKey
	next int
}

const rsaPoolSize = 4

func newKey(t testing.TB, keyType string) crypto.Signer {
	t.Helper()
	switch keyType {
	case "", "ec":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("pkitest: ec key: %v", err)
		}
		return k
	case "rsa":
		rsaPool.Lock()
		defer rsaPool.Unlock()
		i := rsaPool.next % rsaPoolSize
		rsaPool.next++
		if i < len(rsaPool.keys) {
			return rsaPool.keys[i]
		}
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatalf("pkitest: rsa key: %v", err)
		}
		rsaPool.keys = append(rsaPool.keys, k)
		return k
	default:
		t.Fatalf("pkitest: unknown key type %q", keyType)
		return nil
	}
}
