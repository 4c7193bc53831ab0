package mtls

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pki"
)

// testCA is a throw-away certificate authority for tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var serialCounter struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serialCounter.Lock()
	defer serialCounter.Unlock()
	serialCounter.n++
	return big.NewInt(serialCounter.n)
}

func newECKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRSAKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestCA returns a self-signed root with key.
func newTestCA(t testing.TB, cn string, key crypto.Signer) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{Country: []string{"GB"}, Organization: []string{"Portcullis Test"}, CommonName: cn},
		NotBefore:             time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2125, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// issue signs tmpl (serial and validity filled in when zero) for pub.
func (ca *testCA) issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = nextSerial()
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = ca.cert.NotBefore
		tmpl.NotAfter = ca.cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// intermediate issues a sub-CA.
func (ca *testCA) intermediate(t testing.TB, cn string, key crypto.Signer) *testCA {
	t.Helper()
	cert := ca.issue(t, &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"GB"}, Organization: []string{"Portcullis Test"}, CommonName: cn},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, key.Public())
	return &testCA{cert: cert, key: key}
}

var oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}

// clientLeaf issues a TPP-style client certificate (clientAuth EKU, organizationIdentifier).
func (ca *testCA) clientLeaf(t testing.TB, cn string, key crypto.Signer) *x509.Certificate {
	t.Helper()
	return ca.issue(t, &x509.Certificate{
		Subject: pkix.Name{
			Country:      []string{"GB"},
			Organization: []string{"Example TPP Ltd"},
			CommonName:   cn,
			ExtraNames:   []pkix.AttributeTypeAndValue{{Type: oidOrganizationIdentifier, Value: "PSDGB-FCA-123456"}},
		},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, key.Public())
}

// serverLeaf issues a server certificate for 127.0.0.1 and localhost.
func (ca *testCA) serverLeaf(t testing.TB, key crypto.Signer) tls.Certificate {
	t.Helper()
	cert := ca.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, key.Public())
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

func pemOf(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// thumbprintOf is the RFC 8705 x5t#S256 of cert, computed independently of the code under test.
func thumbprintOf(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// fakeValidationError stands in for pki's typed *ValidationError.
type fakeValidationError struct{ reason string }

func (e *fakeValidationError) Error() string { return "fake pki: " + e.reason }

// fakeValidator is a hand-written pki Validator: it accepts every chain (deriving the
// Identity from the leaf) until reject is set, and records every call.
type fakeValidator struct {
	mu     sync.Mutex
	reject error
	calls  []validateCall
}

type validateCall struct {
	chain   []*x509.Certificate
	purpose pki.Purpose
}

func (f *fakeValidator) Validate(ctx context.Context, chain []*x509.Certificate, purpose pki.Purpose) (*pki.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, validateCall{chain: chain, purpose: purpose})
	if f.reject != nil {
		return nil, f.reject
	}
	if len(chain) == 0 {
		return nil, errors.New("fake pki: empty chain")
	}
	return &pki.Identity{
		Leaf:       chain[0],
		Chain:      chain,
		Subject:    chain[0].Subject.String(),
		Thumbprint: thumbprintOf(chain[0]),
		Kind:       pki.KindPlain,
		Profile:    pki.ProfilePlain,
	}, nil
}

func (f *fakeValidator) setReject(err error) {
	f.mu.Lock()
	f.reject = err
	f.mu.Unlock()
}

func (f *fakeValidator) recorded() []validateCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]validateCall(nil), f.calls...)
}
