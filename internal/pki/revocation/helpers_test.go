package revocation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/ocsp"
)

// testNow is the fake clock's starting time in the Go-native tests.
var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// testCA is a certificate authority built with crypto/x509 for the Go-native tests.
type testCA struct {
	cert   *x509.Certificate
	key    crypto.Signer
	serial atomic.Int64
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newCA returns a self-signed CA named cn, valid around testNow.
func newCA(t testing.TB, cn string) *testCA {
	t.Helper()
	return newCAWithKey(t, cn, newKey(t))
}

func newCAWithKey(t testing.TB, cn string, key crypto.Signer) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             testNow.Add(-365 * 24 * time.Hour),
		NotAfter:              testNow.Add(5 * 365 * 24 * time.Hour),
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
	ca := &testCA{cert: cert, key: key}
	ca.serial.Store(0x1000)
	return ca
}

// issue signs tmpl (serial, issuer and validity filled in when unset) for pub.
func (ca *testCA) issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(ca.serial.Add(1))
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = testNow.Add(-24 * time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = testNow.Add(90 * 24 * time.Hour)
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

// leaf issues an end-entity certificate naming the given OCSP responders and CRL
// distribution points.
func (ca *testCA) leaf(t testing.TB, ocspURLs, crlURLs []string) *x509.Certificate {
	t.Helper()
	return ca.issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "leaf"},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		OCSPServer:            ocspURLs,
		CRLDistributionPoints: crlURLs,
	}, newKey(t).Public())
}

// responder issues a delegated OCSP responder certificate.
func (ca *testCA) responder(t testing.TB, eku []x509.ExtKeyUsage, notBefore, notAfter time.Time) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := newKey(t)
	cert := ca.issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "OCSP responder of " + ca.cert.Subject.CommonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
	}, key.Public())
	return cert, key
}

// ocspResponse signs tmpl for cert. With signerCert nil the issuer's key signs and
// no certificate is embedded; otherwise signerCert is embedded and signerKey signs.
func (ca *testCA) ocspResponse(t testing.TB, tmpl ocsp.Response, signerCert *x509.Certificate, signerKey crypto.Signer) []byte {
	t.Helper()
	responderCert := ca.cert
	if signerKey == nil {
		signerKey = ca.key
	}
	if signerCert != nil {
		responderCert = signerCert
		tmpl.Certificate = signerCert
	}
	der, err := ocsp.CreateResponse(ca.cert, responderCert, tmpl, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// goodTmpl is a "good" answer for cert valid from now-1h to now+1h.
func goodTmpl(cert *x509.Certificate, now time.Time) ocsp.Response {
	return ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: cert.SerialNumber,
		ThisUpdate:   now.Add(-time.Hour),
		NextUpdate:   now.Add(time.Hour),
	}
}

// crl signs a CRL listing revoked, valid from thisUpdate to nextUpdate.
func (ca *testCA) crl(t testing.TB, number int64, thisUpdate, nextUpdate time.Time, revoked []x509.RevocationListEntry, ext ...pkix.Extension) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: revoked,
		ExtraExtensions:           ext,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// server is an httptest server on 127.0.0.1 that counts its requests.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t testing.TB, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// serveBytes answers every request with body (a pointer, so tests can swap it).
func serveBytes(body *atomic.Pointer[[]byte], contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(*body.Load())
	}
}

// downURL returns an http URL on 127.0.0.1 where nothing listens any more.
func downURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// pollUntil polls cond for at most five seconds (and 5000 times); it reports
// whether cond became true.
func pollUntil(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 5000; i++ {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// waitFor is pollUntil for the test goroutine: it fails the test on timeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !pollUntil(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitBackground waits for running background refreshes.
func (c *Checker) waitBackground() { c.bgWG.Wait() }

// metricValue returns the value of the counter (or histogram sample count) name
// with the given labels ("k=v" pairs) in reg, or -1 if absent.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}
