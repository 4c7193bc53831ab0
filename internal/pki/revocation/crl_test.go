package revocation

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/portcullis/portcullis/internal/clock"
)

// idpExt encodes an issuing distribution point extension (RFC 5280 §5.2.5).
func idpExt(uris []string, onlyUser, onlyCA, someReasons, indirect bool) pkix.Extension {
	var b cryptobyte.Builder
	flag := func(b *cryptobyte.Builder, tag int, on bool) {
		if on {
			b.AddASN1(cbasn1.Tag(tag).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(0xff) })
		}
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if len(uris) > 0 {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					for _, u := range uris {
						b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
					}
				})
			})
		}
		flag(b, 1, onlyUser)
		flag(b, 2, onlyCA)
		if someReasons {
			b.AddASN1(cbasn1.Tag(3).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte{0x07, 0x80}) })
		}
		flag(b, 4, indirect)
	})
	return pkix.Extension{Id: oidIssuingDistribution, Critical: true, Value: b.BytesOrPanic()}
}

// TestCRL covers every rule of parseCRL and the CRL transport, one row each.
// Certificates in this table name no OCSP responder, so a failed CRL surfaces as an
// UnavailableError whose OCSP cause is ErrNoOCSPServer.
func TestCRL(t *testing.T) {
	ca := newCA(t, "Test Issuing CA")
	impostor := newCA(t, "Test Issuing CA") // same name, other key
	other := newCA(t, "Other CA")
	now := testNow
	this, next := now.Add(-time.Hour), now.Add(6*time.Hour)
	revokedEntry := func(c *x509.Certificate) []x509.RevocationListEntry {
		return []x509.RevocationListEntry{
			{SerialNumber: big.NewInt(7), RevocationTime: now.Add(-72 * time.Hour)},
			{SerialNumber: c.SerialNumber, RevocationTime: now.Add(-48 * time.Hour), ReasonCode: 1},
		}
	}
	unknownCritical := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{0x05, 0x00}}
	type row struct {
		name    string
		body    func(cert *x509.Certificate, url string) []byte
		handler http.HandlerFunc
		opts    Options
		checkCA bool // check an intermediate CA certificate instead of a leaf

		wantStatus Status
		wantErr    error // sentinel expected in the CRL cause
	}
	rows := []row{
		{name: "good", wantStatus: StatusGood,
			body: func(*x509.Certificate, string) []byte { return ca.crl(t, 1, this, next, nil) }},
		{name: "revoked with reason", wantStatus: StatusRevoked,
			body: func(c *x509.Certificate, _ string) []byte { return ca.crl(t, 1, this, next, revokedEntry(c)) }},
		{name: "signed by another key under the issuer's name", wantErr: ErrBadSignature,
			body: func(*x509.Certificate, string) []byte { return impostor.crl(t, 1, this, next, nil) }},
		{name: "issued by another CA", wantErr: ErrUnsupportedCRL,
			body: func(*x509.Certificate, string) []byte { return other.crl(t, 1, this, next, nil) }},
		{name: "nextUpdate passed beyond the skew", wantErr: ErrStaleResponse,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, now.Add(-7*24*time.Hour), now.Add(-6*time.Minute), nil)
			}},
		{name: "nextUpdate passed within the skew", wantStatus: StatusGood,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, now.Add(-7*24*time.Hour), now.Add(-4*time.Minute), nil)
			}},
		{name: "thisUpdate in the future beyond the skew", wantErr: ErrStaleResponse,
			body: func(*x509.Certificate, string) []byte { return ca.crl(t, 1, now.Add(6*time.Minute), next, nil) }},
		{name: "larger than MaxCRLBytes", wantErr: ErrCRLTooLarge, opts: Options{MaxCRLBytes: 200},
			body: func(c *x509.Certificate, _ string) []byte { return ca.crl(t, 1, this, next, revokedEntry(c)) }},
		{name: "HTTP 404", wantErr: ErrResponderUnavailable,
			handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }},
		{name: "garbage", wantErr: ErrMalformedResponse,
			body: func(*x509.Certificate, string) []byte { return []byte("-----BEGIN X509 CRL-----") }},
		{name: "delta CRL", wantErr: ErrUnsupportedCRL,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 2, this, next, nil, pkix.Extension{Id: oidDeltaCRLIndicator, Critical: true, Value: []byte{0x02, 0x01, 0x01}})
			}},
		{name: "unknown critical CRL extension", wantErr: ErrUnsupportedCRL,
			body: func(*x509.Certificate, string) []byte { return ca.crl(t, 1, this, next, nil, unknownCritical) }},
		{name: "unknown non-critical CRL extension", wantStatus: StatusGood,
			body: func(*x509.Certificate, string) []byte {
				ext := unknownCritical
				ext.Critical = false
				return ca.crl(t, 1, this, next, nil, ext)
			}},
		{name: "unknown critical entry extension", wantErr: ErrUnsupportedCRL,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, this, next, []x509.RevocationListEntry{{
					SerialNumber: big.NewInt(7), RevocationTime: this, ExtraExtensions: []pkix.Extension{unknownCritical},
				}})
			}},
		{name: "IDP naming this URL, only user certificates", wantStatus: StatusGood,
			body: func(_ *x509.Certificate, u string) []byte {
				return ca.crl(t, 1, this, next, nil, idpExt([]string{"http://other.example/a.crl", u}, true, false, false, false))
			}},
		{name: "IDP naming another URL (a partition)", wantErr: ErrUnsupportedCRL,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, this, next, nil, idpExt([]string{"http://other.example/a.crl"}, false, false, false, false))
			}},
		{name: "IDP only CA certificates, leaf checked", wantErr: ErrUnsupportedCRL,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, this, next, nil, idpExt(nil, false, true, false, false))
			}},
		{name: "IDP only CA certificates, intermediate checked", wantStatus: StatusGood, checkCA: true,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, this, next, nil, idpExt(nil, false, true, false, false))
			}},
		{name: "IDP only user certificates, intermediate checked", wantErr: ErrUnsupportedCRL, checkCA: true,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, this, next, nil, idpExt(nil, true, false, false, false))
			}},
		{name: "IDP only some reasons", wantErr: ErrUnsupportedCRL,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, this, next, nil, idpExt(nil, false, false, true, false))
			}},
		{name: "IDP indirect CRL", wantErr: ErrUnsupportedCRL,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, this, next, nil, idpExt(nil, false, false, false, true))
			}},
		{name: "IDP malformed", wantErr: ErrMalformedResponse,
			body: func(*x509.Certificate, string) []byte {
				return ca.crl(t, 1, this, next, nil, pkix.Extension{Id: oidIssuingDistribution, Critical: true, Value: []byte{0x30, 0x03, 0x81, 0x01, 0x01}})
			}},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			var cert *x509.Certificate
			var u string
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.handler != nil {
					tc.handler(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/pkix-crl")
				_, _ = w.Write(tc.body(cert, u))
			})
			u = srv.URL + "/issuing.crl"
			if tc.checkCA {
				cert = ca.issue(t, &x509.Certificate{
					Subject: pkix.Name{CommonName: "Intermediate"}, BasicConstraintsValid: true, IsCA: true,
					KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, CRLDistributionPoints: []string{u},
				}, newKey(t).Public())
			} else {
				cert = ca.leaf(t, nil, []string{u})
			}
			opts := tc.opts
			opts.Clock = clock.NewFake(now)
			c := New(opts)
			defer c.Close()

			res, err := c.Status(context.Background(), cert, ca.cert)
			checkErr := c.Check(context.Background(), cert, ca.cert, false)
			if tc.wantErr != nil {
				var ue *UnavailableError
				if !errors.As(err, &ue) {
					t.Fatalf("Status error = %v, want *UnavailableError", err)
				}
				if !errors.Is(ue.CRL, tc.wantErr) {
					t.Errorf("CRL cause = %v, want %v", ue.CRL, tc.wantErr)
				}
				if ue.OCSP != ErrNoOCSPServer {
					t.Errorf("OCSP cause = %v, want ErrNoOCSPServer", ue.OCSP)
				}
				if !errors.Is(checkErr, tc.wantErr) {
					t.Errorf("Check = %v, want %v", checkErr, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			if res.Status != tc.wantStatus || res.Source != SourceCRL || res.Origin != SourceCRL || res.URL != u {
				t.Errorf("Status = %+v, want %v from the CRL at %s", res, tc.wantStatus, u)
			}
			if res.OCSPFailure != nil {
				t.Errorf("OCSPFailure = %v, want nil (no responder named)", res.OCSPFailure)
			}
			if tc.wantStatus == StatusGood && checkErr != nil {
				t.Errorf("Check = %v, want nil", checkErr)
			}
			if tc.wantStatus == StatusRevoked {
				var re *RevokedError
				if !errors.As(checkErr, &re) {
					t.Fatalf("Check = %v, want *RevokedError", checkErr)
				}
				want := &RevokedError{Serial: cert.SerialNumber, RevokedAt: now.Add(-48 * time.Hour), Reason: 1, Source: SourceCRL}
				if diff := cmp.Diff(want, re, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
					t.Errorf("RevokedError (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestCRLNumberNeverDecreases: after CRL number 5 was accepted for an issuer and URL,
// number 4 is refused with ErrCRLNumberDecreased (and nothing is cached from it),
// while 5 again and 6 are accepted.
func TestCRLNumberNeverDecreases(t *testing.T) {
	ca := newCA(t, "Test Issuing CA")
	clk := clock.NewFake(testNow)
	var body atomic.Pointer[[]byte]
	srv := newServer(t, serveBytes(&body, "application/pkix-crl"))
	cert := ca.leaf(t, nil, []string{srv.URL})
	c := New(Options{Clock: clk})
	defer c.Close()

	steps := []struct {
		number  int64
		revoked bool
		wantErr error
	}{
		{number: 5},
		{number: 4, revoked: true, wantErr: ErrCRLNumberDecreased},
		{number: 5},
		{number: 6, revoked: true, wantErr: ErrRevoked},
		{number: 2, wantErr: ErrCRLNumberDecreased},
	}
	for i, s := range steps {
		now := clk.Now()
		var entries []x509.RevocationListEntry
		if s.revoked {
			entries = []x509.RevocationListEntry{{SerialNumber: cert.SerialNumber, RevocationTime: now.Add(-time.Minute)}}
		}
		der := ca.crl(t, s.number, now.Add(-time.Minute), now.Add(time.Hour), entries)
		body.Store(&der)
		err := c.Check(context.Background(), cert, ca.cert, false)
		if s.wantErr == nil && err != nil || s.wantErr != nil && !errors.Is(err, s.wantErr) {
			t.Fatalf("step %d (CRL number %d): Check = %v, want %v", i, s.number, err, s.wantErr)
		}
		clk.Advance(2 * time.Hour) // past nextUpdate: the next check downloads again
	}
	if got := srv.hits.Load(); got != int64(len(steps)) {
		t.Errorf("CRL downloads = %d, want %d", got, len(steps))
	}
}

// TestCRLSharedAcrossCertificates: one download answers for every certificate of the
// issuer until nextUpdate; after it, the CRL is downloaded again.
func TestCRLSharedAcrossCertificates(t *testing.T) {
	ca := newCA(t, "Test Issuing CA")
	clk := clock.NewFake(testNow)
	var body atomic.Pointer[[]byte]
	srv := newServer(t, serveBytes(&body, "application/pkix-crl"))
	a, b := ca.leaf(t, nil, []string{srv.URL}), ca.leaf(t, nil, []string{srv.URL})
	der := ca.crl(t, 1, testNow.Add(-time.Minute), testNow.Add(time.Hour), []x509.RevocationListEntry{
		{SerialNumber: b.SerialNumber, RevocationTime: testNow.Add(-time.Minute), ReasonCode: 4},
	})
	body.Store(&der)
	c := New(Options{Clock: clk, RefreshAhead: 1})
	defer c.Close()
	if err := c.Check(context.Background(), a, ca.cert, false); err != nil {
		t.Fatalf("a: %v", err)
	}
	var re *RevokedError
	if err := c.Check(context.Background(), b, ca.cert, false); !errors.As(err, &re) || re.Reason != 4 || re.Source != SourceCRL {
		t.Fatalf("b: Check = %v, want revoked (superseded) by the CRL", err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("downloads = %d, want 1", got)
	}
	clk.Advance(61 * time.Minute)
	der2 := ca.crl(t, 2, clk.Now().Add(-time.Minute), clk.Now().Add(time.Hour), nil)
	body.Store(&der2)
	if err := c.Check(context.Background(), b, ca.cert, false); err != nil {
		t.Fatalf("b after a new CRL: %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("downloads = %d, want 2", got)
	}
}
