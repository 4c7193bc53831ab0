package revocation

import (
	"crypto"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// FuzzParseOCSPResponse feeds untrusted bytes, as a responder would send them, to
// verifyOCSPResponse. It must never panic, and whatever it accepts must be a
// definite status valid at the fuzzing time.
func FuzzParseOCSPResponse(f *testing.F) {
	ca := newCA(f, "Fuzz CA")
	cert := ca.leaf(f, []string{"http://127.0.0.1/"}, nil)
	delegated, key := ca.responder(f, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	good := goodTmpl(cert, testNow)
	revoked := good
	revoked.Status, revoked.RevokedAt, revoked.RevocationReason = ocsp.Revoked, testNow.Add(-time.Hour), ocsp.KeyCompromise
	sha256ID := good
	sha256ID.IssuerHash = crypto.SHA256
	f.Add(ca.ocspResponse(f, good, nil, nil))
	f.Add(ca.ocspResponse(f, revoked, delegated, key))
	f.Add(ca.ocspResponse(f, sha256ID, ca.cert, ca.key))
	f.Add(ocsp.TryLaterErrorResponse)
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x00})
	fr := freshness{skew: 5 * time.Minute, defaultValidity: time.Hour, maxAge: 10 * 24 * time.Hour}
	f.Fuzz(func(t *testing.T, der []byte) {
		a, err := verifyOCSPResponse(der, cert, ca.cert, testNow, fr)
		if err != nil {
			return
		}
		if a.res.Status < StatusGood || a.res.Status > StatusUnknown {
			t.Fatalf("accepted status %v", a.res.Status)
		}
		if a.res.ThisUpdate.After(testNow.Add(fr.skew)) || a.expires.Before(testNow.Add(-fr.skew)) {
			t.Fatalf("accepted a stale answer: %+v until %s", a.res, a.expires)
		}
	})
}

// FuzzParseCRL feeds untrusted bytes, as a CRL distribution point would send them,
// to parseCRL and to the issuing distribution point parser. Neither may panic.
func FuzzParseCRL(f *testing.F) {
	ca := newCA(f, "Fuzz CA")
	url := "http://127.0.0.1/ca.crl"
	this, next := testNow.Add(-time.Hour), testNow.Add(time.Hour)
	entries := []x509.RevocationListEntry{{SerialNumber: big.NewInt(0x1002), RevocationTime: this, ReasonCode: 1}}
	f.Add(ca.crl(f, 1, this, next, nil))
	f.Add(ca.crl(f, 2, this, next, entries))
	f.Add(ca.crl(f, 3, this, next, entries, idpExt([]string{url}, true, false, false, false)))
	f.Add(idpExt([]string{url}, false, true, true, true).Value)
	f.Add([]byte{0x30, 0x00})
	leaf := ca.leaf(f, nil, []string{url})
	f.Fuzz(func(t *testing.T, der []byte) {
		_, _ = parseIssuingDistributionPoint(der)
		e, err := parseCRL(der, ca.cert, url, testNow, 5*time.Minute)
		if err != nil {
			return
		}
		if e.nextUpdate.Before(testNow.Add(-5 * time.Minute)) {
			t.Fatalf("accepted a stale CRL (nextUpdate %s)", e.nextUpdate)
		}
		_, _ = e.lookup(leaf)
	})
}
