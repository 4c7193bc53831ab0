package revocation

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"

	"github.com/portcullis/portcullis/internal/clock"
)

// ocspFixture holds the PKI shared by the OCSP table rows.
type ocspFixture struct {
	ca, other, impostor *testCA
	delegated           *x509.Certificate
	delegatedKey        crypto.Signer
	noEKU, expired      *x509.Certificate
	noEKUKey, expKey    crypto.Signer
	notYet, foreign     *x509.Certificate
	notYetKey, foreignK crypto.Signer
	noDigSig            *x509.Certificate
	noDigSigKey         crypto.Signer
}

func newOCSPFixture(t *testing.T) *ocspFixture {
	t.Helper()
	f := &ocspFixture{ca: newCA(t, "Test Issuing CA"), other: newCA(t, "Other CA")}
	f.impostor = newCA(t, "Test Issuing CA") // same name, different key
	ocspEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	f.delegated, f.delegatedKey = f.ca.responder(t, ocspEKU, testNow.Add(-24*time.Hour), testNow.Add(30*24*time.Hour))
	f.noEKU, f.noEKUKey = f.ca.responder(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, testNow.Add(-24*time.Hour), testNow.Add(30*24*time.Hour))
	f.expired, f.expKey = f.ca.responder(t, ocspEKU, testNow.Add(-30*24*time.Hour), testNow.Add(-time.Hour))
	f.notYet, f.notYetKey = f.ca.responder(t, ocspEKU, testNow.Add(time.Hour), testNow.Add(30*24*time.Hour))
	f.foreign, f.foreignK = f.other.responder(t, ocspEKU, testNow.Add(-24*time.Hour), testNow.Add(30*24*time.Hour))
	key := newKey(t)
	f.noDigSig = f.ca.issue(t, &x509.Certificate{
		KeyUsage: x509.KeyUsageKeyEncipherment, ExtKeyUsage: ocspEKU, BasicConstraintsValid: true,
	}, key.Public())
	f.noDigSigKey = key
	return f
}

// TestOCSP covers every rule of verifyOCSPResponse and the OCSP transport, one row
// each, through Checker.Status and Checker.Check. Certificates in this table name no
// CRL distribution point, so a failed OCSP answer surfaces as an UnavailableError
// whose CRL cause is ErrNoCRLDistributionPoint.
func TestOCSP(t *testing.T) {
	f := newOCSPFixture(t)
	now := testNow
	type row struct {
		name    string
		body    func(cert *x509.Certificate) []byte
		handler http.HandlerFunc // instead of body
		url     string           // instead of the test server's URL
		opts    Options

		wantStatus Status
		wantReason int
		wantErr    error // sentinel expected in the OCSP cause
	}
	rows := []row{
		{name: "good, signed by the issuer", wantStatus: StatusGood,
			body: func(c *x509.Certificate) []byte { return f.ca.ocspResponse(t, goodTmpl(c, now), nil, nil) }},
		{name: "good, signed by a delegated responder with OCSPSigning", wantStatus: StatusGood,
			body: func(c *x509.Certificate) []byte {
				return f.ca.ocspResponse(t, goodTmpl(c, now), f.delegated, f.delegatedKey)
			}},
		{name: "good, signed by the issuer embedding its own certificate", wantStatus: StatusGood,
			body: func(c *x509.Certificate) []byte { return f.ca.ocspResponse(t, goodTmpl(c, now), f.ca.cert, f.ca.key) }},
		{name: "revoked", wantStatus: StatusRevoked, wantReason: ocsp.KeyCompromise,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.Status, r.RevokedAt, r.RevocationReason = ocsp.Revoked, now.Add(-48*time.Hour), ocsp.KeyCompromise
				return f.ca.ocspResponse(t, r, f.delegated, f.delegatedKey)
			}},
		{name: "unknown", wantStatus: StatusUnknown,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.Status = ocsp.Unknown
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "delegated responder without OCSPSigning", wantErr: ErrOCSPResponderNotAuthorized,
			body: func(c *x509.Certificate) []byte { return f.ca.ocspResponse(t, goodTmpl(c, now), f.noEKU, f.noEKUKey) }},
		{name: "delegated responder expired", wantErr: ErrOCSPResponderNotAuthorized,
			body: func(c *x509.Certificate) []byte { return f.ca.ocspResponse(t, goodTmpl(c, now), f.expired, f.expKey) }},
		{name: "delegated responder not yet valid", wantErr: ErrOCSPResponderNotAuthorized,
			body: func(c *x509.Certificate) []byte {
				return f.ca.ocspResponse(t, goodTmpl(c, now), f.notYet, f.notYetKey)
			}},
		{name: "delegated responder issued by another CA", wantErr: ErrOCSPResponderNotAuthorized,
			body: func(c *x509.Certificate) []byte {
				return f.ca.ocspResponse(t, goodTmpl(c, now), f.foreign, f.foreignK)
			}},
		{name: "delegated responder without digitalSignature", wantErr: ErrOCSPResponderNotAuthorized,
			body: func(c *x509.Certificate) []byte {
				return f.ca.ocspResponse(t, goodTmpl(c, now), f.noDigSig, f.noDigSigKey)
			}},
		{name: "delegated responder certificate forged with the issuer's name", wantErr: ErrOCSPResponderNotAuthorized,
			body: func(c *x509.Certificate) []byte {
				forged, key := f.impostor.responder(t, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, now.Add(-time.Hour), now.Add(time.Hour))
				return f.ca.ocspResponse(t, goodTmpl(c, now), forged, key)
			}},
		{name: "signed by another key, no certificate", wantErr: ErrBadSignature,
			body: func(c *x509.Certificate) []byte { return f.ca.ocspResponse(t, goodTmpl(c, now), nil, f.impostor.key) }},
		{name: "embedded responder certificate, signed by another key", wantErr: ErrBadSignature,
			body: func(c *x509.Certificate) []byte {
				return f.ca.ocspResponse(t, goodTmpl(c, now), f.delegated, f.impostor.key)
			}},
		{name: "thisUpdate in the future beyond the skew", wantErr: ErrStaleResponse,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.ThisUpdate, r.NextUpdate = now.Add(6*time.Minute), now.Add(time.Hour)
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "thisUpdate in the future within the skew", wantStatus: StatusGood,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.ThisUpdate = now.Add(4 * time.Minute)
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "nextUpdate passed beyond the skew", wantErr: ErrStaleResponse,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.ThisUpdate, r.NextUpdate = now.Add(-2*time.Hour), now.Add(-6*time.Minute)
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "nextUpdate passed within the skew", wantStatus: StatusGood,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.ThisUpdate, r.NextUpdate = now.Add(-2*time.Hour), now.Add(-4*time.Minute)
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "no nextUpdate, within the default validity", wantStatus: StatusGood,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.ThisUpdate, r.NextUpdate = now.Add(-30*time.Minute), time.Time{}
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "no nextUpdate, older than the default validity", wantErr: ErrStaleResponse,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.ThisUpdate, r.NextUpdate = now.Add(-2*time.Hour), time.Time{}
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "older than the maximum age despite a far nextUpdate", wantErr: ErrStaleResponse,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.ThisUpdate, r.NextUpdate = now.Add(-11*24*time.Hour), now.Add(365*24*time.Hour)
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "nextUpdate before thisUpdate", wantErr: ErrMalformedResponse,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.ThisUpdate, r.NextUpdate = now, now.Add(-time.Minute)
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "answer for another serial", wantErr: ErrMalformedResponse,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.SerialNumber = new(big.Int).Add(c.SerialNumber, big.NewInt(1))
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "CertID names another issuer", wantErr: ErrMalformedResponse,
			body: func(c *x509.Certificate) []byte {
				// Signed by our issuer's key, but the CertID hashes are those of "Other CA".
				der, err := ocsp.CreateResponse(f.other.cert, f.ca.cert, goodTmpl(c, now), f.ca.key)
				if err != nil {
					t.Fatal(err)
				}
				return der
			}},
		{name: "CertID with SHA-256 hashes", wantStatus: StatusGood,
			body: func(c *x509.Certificate) []byte {
				r := goodTmpl(c, now)
				r.IssuerHash = crypto.SHA256
				return f.ca.ocspResponse(t, r, nil, nil)
			}},
		{name: "responseStatus tryLater", wantErr: ErrResponderUnavailable,
			body: func(*x509.Certificate) []byte { return ocsp.TryLaterErrorResponse }},
		{name: "responseStatus unauthorized", wantErr: ErrResponderUnavailable,
			body: func(*x509.Certificate) []byte { return ocsp.UnauthorizedErrorResponse }},
		{name: "garbage", wantErr: ErrMalformedResponse,
			body: func(*x509.Certificate) []byte { return []byte("<html>not OCSP</html>") }},
		{name: "HTTP 500", wantErr: ErrResponderUnavailable,
			handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }},
		{name: "response larger than MaxOCSPBytes", wantErr: ErrOCSPResponseTooLarge, opts: Options{MaxOCSPBytes: 100},
			body: func(c *x509.Certificate) []byte {
				return f.ca.ocspResponse(t, goodTmpl(c, now), f.delegated, f.delegatedKey)
			}},
		{name: "oversized body without Content-Length", wantErr: ErrOCSPResponseTooLarge, opts: Options{MaxOCSPBytes: 100},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				for range 10 {
					_, _ = w.Write([]byte(strings.Repeat("x", 50)))
					w.(http.Flusher).Flush()
				}
			}},
		{name: "responder down", wantErr: ErrResponderUnavailable, url: downURL(t)},
		{name: "responder slower than OCSPTimeout", wantErr: context.DeadlineExceeded, opts: Options{OCSPTimeout: 50 * time.Millisecond},
			handler: func(w http.ResponseWriter, r *http.Request) {
				// The server notices the client hanging up only once the body is read.
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			var cert *x509.Certificate
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/ocsp-request" {
					http.Error(w, "want POST application/ocsp-request", http.StatusBadRequest)
					return
				}
				if tc.handler != nil {
					tc.handler(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/ocsp-response")
				_, _ = w.Write(tc.body(cert))
			})
			u := srv.URL + "/ocsp"
			if tc.url != "" {
				u = tc.url
			}
			cert = f.ca.leaf(t, []string{u}, nil)
			opts := tc.opts
			opts.Clock = clock.NewFake(now)
			c := New(opts)
			defer c.Close()

			res, err := c.Status(context.Background(), cert, f.ca.cert)
			checkErr := c.Check(context.Background(), cert, f.ca.cert, false)
			if tc.wantErr != nil {
				var ue *UnavailableError
				if !errors.As(err, &ue) {
					t.Fatalf("Status error = %v, want *UnavailableError", err)
				}
				if !errors.Is(ue.OCSP, tc.wantErr) {
					t.Errorf("OCSP cause = %v, want %v", ue.OCSP, tc.wantErr)
				}
				if ue.CRL != ErrNoCRLDistributionPoint {
					t.Errorf("CRL cause = %v, want ErrNoCRLDistributionPoint", ue.CRL)
				}
				if !errors.Is(checkErr, tc.wantErr) {
					t.Errorf("Check = %v, want %v", checkErr, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			want := Result{Status: tc.wantStatus, Source: SourceOCSP, Origin: SourceOCSP, URL: u, Reason: tc.wantReason}
			got := res
			got.ThisUpdate, got.NextUpdate, got.RevokedAt = time.Time{}, time.Time{}, time.Time{}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Status result (-want +got):\n%s", diff)
			}
			switch tc.wantStatus {
			case StatusGood:
				if checkErr != nil {
					t.Errorf("Check = %v, want nil", checkErr)
				}
			case StatusRevoked:
				var re *RevokedError
				if !errors.As(checkErr, &re) || !errors.Is(checkErr, ErrRevoked) {
					t.Fatalf("Check = %v, want *RevokedError", checkErr)
				}
				wantRE := &RevokedError{Serial: cert.SerialNumber, RevokedAt: now.Add(-48 * time.Hour), Reason: ocsp.KeyCompromise, Source: SourceOCSP}
				if diff := cmp.Diff(wantRE, re, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
					t.Errorf("RevokedError (-want +got):\n%s", diff)
				}
			case StatusUnknown:
				if !errors.Is(checkErr, ErrUnknownStatus) {
					t.Errorf("Check = %v, want ErrUnknownStatus", checkErr)
				}
			}
		})
	}
}

// TestVerifyOCSPResponseCacheExpiry checks the lifetime given to a verified answer:
// nextUpdate, else thisUpdate+DefaultOCSPValidity, capped at thisUpdate+MaxOCSPAge.
func TestVerifyOCSPResponseCacheExpiry(t *testing.T) {
	ca := newCA(t, "Test Issuing CA")
	cert := ca.leaf(t, []string{"http://127.0.0.1:1/"}, nil)
	fr := freshness{skew: 5 * time.Minute, defaultValidity: time.Hour, maxAge: 48 * time.Hour}
	rows := []struct {
		name       string
		this, next time.Time
		want       time.Time
	}{
		{"nextUpdate", testNow.Add(-time.Hour), testNow.Add(3 * time.Hour), testNow.Add(3 * time.Hour)},
		{"no nextUpdate", testNow.Add(-10 * time.Minute), time.Time{}, testNow.Add(50 * time.Minute)},
		{"capped at the maximum age", testNow.Add(-time.Hour), testNow.Add(30 * 24 * time.Hour), testNow.Add(47 * time.Hour)},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			der := ca.ocspResponse(t, ocsp.Response{Status: ocsp.Good, SerialNumber: cert.SerialNumber, ThisUpdate: tc.this, NextUpdate: tc.next}, nil, nil)
			a, err := verifyOCSPResponse(der, cert, ca.cert, testNow, fr)
			if err != nil {
				t.Fatal(err)
			}
			if !a.expires.Equal(tc.want) {
				t.Errorf("expires = %s, want %s", a.expires, tc.want)
			}
		})
	}
}

// TestOCSPTriesNextResponder: a failing first responder does not hide a working
// second one.
func TestOCSPTriesNextResponder(t *testing.T) {
	ca := newCA(t, "Test Issuing CA")
	var cert *x509.Certificate
	srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(ca.ocspResponse(t, goodTmpl(cert, testNow), nil, nil))
	})
	down := downURL(t)
	cert = ca.leaf(t, []string{"ldap://ldap.example/cn=ocsp", down, srv.URL}, nil)
	c := New(Options{Clock: clock.NewFake(testNow)})
	defer c.Close()
	res, err := c.Status(context.Background(), cert, ca.cert)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusGood || res.URL != srv.URL {
		t.Errorf("got %v from %s, want good from %s", res.Status, res.URL, srv.URL)
	}
}
