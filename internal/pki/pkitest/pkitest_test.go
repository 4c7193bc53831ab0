package pkitest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestCAChains(t *testing.T) {
	for _, inter := range []bool{false, true} {
		clk := clock.NewFake(testNow)
		ca := pkitest.NewCA(t, pkitest.CAOptions{Clock: clk, Intermediate: inter, KeyType: "rsa"})
		for name, leaf := range map[string]*pkitest.Leaf{
			"QWAC": ca.QWAC(t), "QSealC": ca.QSealC(t), "OBWAC": ca.OBWAC(t), "OBSeal": ca.OBSeal(t), "Plain": ca.Plain(t),
		} {
			t.Run(name, func(t *testing.T) {
				wantLen := 1
				if inter {
					wantLen = 2
				}
				if len(leaf.Chain) != wantLen || !leaf.Chain[0].Equal(leaf.Cert) {
					t.Fatalf("Chain has %d certificates, want %d starting with the leaf", len(leaf.Chain), wantLen)
				}
				pool := x509.NewCertPool()
				for _, c := range leaf.Chain[1:] {
					pool.AddCert(c)
				}
				if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), Intermediates: pool, CurrentTime: testNow,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if !leaf.Cert.NotBefore.Equal(testNow.Add(-time.Hour)) || !leaf.Cert.NotAfter.Equal(testNow.Add(90*24*time.Hour)) {
					t.Errorf("validity %s..%s, want the clock's now-1h..now+90d", leaf.Cert.NotBefore, leaf.Cert.NotAfter)
				}
				pair, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
				if err != nil {
					t.Fatalf("X509KeyPair: %v", err)
				}
				if !bytes.Equal(pair.Certificate[0], leaf.TLS.Certificate[0]) || len(pair.Certificate) != len(leaf.TLS.Certificate) {
					t.Error("TLS certificate differs from the PEM")
				}
			})
		}
	}
}

func TestConvenienceCertificates(t *testing.T) {
	ca := pkitest.NewCA(t, pkitest.CAOptions{})
	tests := []struct {
		name    string
		leaf    *pkitest.Leaf
		wantQC  *eidas.QCStatements
		wantEKU []x509.ExtKeyUsage
		wantKU  x509.KeyUsage
		wantOI  string
		wantRSA bool
	}{
		{"QWAC", ca.QWAC(t, eidas.RoleAISP), &eidas.QCStatements{Compliance: true, Types: []eidas.QcType{eidas.QcTypeWeb},
			PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RoleAISP}, NCAName: pkitest.FCAName, NCAID: pkitest.FCAID}},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature, "PSDGB-FCA-123456", false},
		{"QSealC", ca.QSealC(t), &eidas.QCStatements{Compliance: true, Types: []eidas.QcType{eidas.QcTypeESeal},
			PSD2: &eidas.PSD2{Roles: pkitest.AllRoles, NCAName: pkitest.FCAName, NCAID: pkitest.FCAID}},
			nil, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, "PSDGB-FCA-123456", false},
		{"OBWAC", ca.OBWAC(t, eidas.RolePISP), &eidas.QCStatements{Types: []eidas.QcType{eidas.QcTypeWeb},
			PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RolePISP}, NCAName: pkitest.OBName, NCAID: pkitest.OBID}},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, "PSDGB-OB-Unknown0015800001HQQrZAAX", true},
		{"OBSeal", ca.OBSeal(t), &eidas.QCStatements{Types: []eidas.QcType{eidas.QcTypeESeal},
			PSD2: &eidas.PSD2{Roles: pkitest.AllRoles, NCAName: pkitest.OBName, NCAID: pkitest.OBID}},
			nil, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, "PSDGB-OB-Unknown0015800001HQQrZAAX", true},
		{"Plain", ca.Plain(t), nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qc, err := eidas.FromCertificate(tt.leaf.Cert)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantQC, qc); diff != "" {
				t.Errorf("qcStatements (-want +got):\n%s", diff)
			}
			if !slices.Equal(tt.leaf.Cert.ExtKeyUsage, tt.wantEKU) {
				t.Errorf("EKU = %v, want %v", tt.leaf.Cert.ExtKeyUsage, tt.wantEKU)
			}
			if tt.leaf.Cert.KeyUsage != tt.wantKU {
				t.Errorf("KeyUsage = %b, want %b", tt.leaf.Cert.KeyUsage, tt.wantKU)
			}
			oi, err := eidas.OrganizationIdentifierFromCertificate(tt.leaf.Cert)
			if tt.wantOI == "" {
				if !errors.Is(err, eidas.ErrNoOrganizationIdentifier) {
					t.Errorf("organizationIdentifier: %+v, %v; want none", oi, err)
				}
			} else if err != nil || oi.Raw != tt.wantOI {
				t.Errorf("organizationIdentifier = %q, %v; want %q", oi.Raw, err, tt.wantOI)
			}
			if isRSA := tt.leaf.Cert.PublicKeyAlgorithm == x509.RSA; isRSA != tt.wantRSA {
				t.Errorf("RSA key = %v, want %v", isRSA, tt.wantRSA)
			}
		})
	}
}

// ocspQuery sends an OCSP request for cert by POST (or GET) and parses the answer
// against issuer.
func ocspQuery(t *testing.T, url string, cert, issuer *x509.Certificate, get bool) (*ocsp.Response, error) {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	body, status := fetch(t, url, req, get)
	if status != http.StatusOK {
		return nil, errors.New(http.StatusText(status))
	}
	return ocsp.ParseResponseForCert(body, cert, issuer)
}

func fetch(t *testing.T, u string, req []byte, get bool) ([]byte, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var hreq *http.Request
	var err error
	if get {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodGet, u+"/"+url.PathEscape(base64.StdEncoding.EncodeToString(req)), nil)
	} else {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(req))
		hreq.Header.Set("Content-Type", "application/ocsp-request")
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return nil, 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, resp.StatusCode
}

func httpGet(t *testing.T, u string) ([]byte, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return nil, 0
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body, resp.StatusCode
}

func TestOCSPResponder(t *testing.T) {
	for _, delegated := range []bool{false, true} {
		clk := clock.NewFake(testNow)
		ca := pkitest.NewCA(t, pkitest.CAOptions{Clock: clk, Intermediate: true, OCSP: true, OCSPOptions: pkitest.OCSPOptions{Delegated: delegated}})
		good, revoked, unknown := ca.Plain(t), ca.Plain(t), ca.Plain(t)
		ca.Revoke(t, revoked.Cert.SerialNumber, ocsp.KeyCompromise)
		ca.OCSP.SetUnknown(unknown.Cert.SerialNumber)
		if got := good.Cert.OCSPServer; len(got) != 1 || got[0] != ca.OCSP.URL {
			t.Fatalf("leaf OCSPServer = %v, want [%s]", got, ca.OCSP.URL)
		}
		if got := ca.Intermediate.OCSPServer; len(got) != 1 || got[0] != ca.RootOCSP.URL {
			t.Fatalf("intermediate OCSPServer = %v, want [%s]", got, ca.RootOCSP.URL)
		}
		tests := []struct {
			name         string
			cert, issuer *x509.Certificate
			url          string
			get          bool
			status       int
		}{
			{"good by POST", good.Cert, ca.Intermediate, ca.OCSP.URL, false, ocsp.Good},
			{"good by GET", good.Cert, ca.Intermediate, ca.OCSP.URL, true, ocsp.Good},
			{"revoked", revoked.Cert, ca.Intermediate, ca.OCSP.URL, false, ocsp.Revoked},
			{"unknown", unknown.Cert, ca.Intermediate, ca.OCSP.URL, false, ocsp.Unknown},
			{"intermediate at the root's responder", ca.Intermediate, ca.Root, ca.RootOCSP.URL, false, ocsp.Good},
		}
		for _, tt := range tests {
			t.Run(tt.name+map[bool]string{true: " delegated", false: ""}[delegated], func(t *testing.T) {
				r, err := ocspQuery(t, tt.url, tt.cert, tt.issuer, tt.get)
				if err != nil {
					t.Fatalf("OCSP: %v", err)
				}
				if r.Status != tt.status {
					t.Errorf("Status = %d, want %d", r.Status, tt.status)
				}
				if !r.ThisUpdate.Equal(testNow) || !r.NextUpdate.Equal(testNow.Add(time.Hour)) {
					t.Errorf("thisUpdate/nextUpdate = %s/%s, want the fake clock's now and +1h", r.ThisUpdate, r.NextUpdate)
				}
				if tt.status == ocsp.Revoked && (r.RevocationReason != ocsp.KeyCompromise || !r.RevokedAt.Equal(testNow)) {
					t.Errorf("revoked %s reason %d", r.RevokedAt, r.RevocationReason)
				}
				if delegated {
					if r.Certificate == nil || !slices.Equal(r.Certificate.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) {
						t.Errorf("delegated response without an OCSPSigning responder certificate")
					}
				} else if r.Certificate != nil {
					t.Errorf("issuer-signed response embeds a certificate")
				}
			})
		}
	}
}

func TestOCSPResponderControls(t *testing.T) {
	clk := clock.NewFake(testNow)
	ca := pkitest.NewCA(t, pkitest.CAOptions{Clock: clk, OCSP: true,
		OCSPOptions: pkitest.OCSPOptions{Delegated: true, DelegateEKU: []x509.ExtKeyUsage{}, ThisUpdateOffset: -2 * time.Hour, NextUpdateAfter: -1}})
	leaf := ca.Plain(t)
	r, err := ocspQuery(t, ca.OCSP.URL, leaf.Cert, ca.Root, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Certificate.ExtKeyUsage) != 0 {
		t.Errorf("responder EKU = %v, want none", r.Certificate.ExtKeyUsage)
	}
	if !r.ThisUpdate.Equal(testNow.Add(-2*time.Hour)) || !r.NextUpdate.IsZero() {
		t.Errorf("thisUpdate/nextUpdate = %s/%s", r.ThisUpdate, r.NextUpdate)
	}
	ca.OCSP.SetValidity(time.Minute, 5*time.Minute)
	if r, err = ocspQuery(t, ca.OCSP.URL, leaf.Cert, ca.Root, false); err != nil || !r.NextUpdate.Equal(testNow.Add(6*time.Minute)) {
		t.Errorf("after SetValidity: %v, %v", r, err)
	}

	// A request naming another issuer is unauthorized.
	other := pkitest.NewCA(t, pkitest.CAOptions{Clock: clk})
	if _, err := ocspQuery(t, ca.OCSP.URL, other.Plain(t).Cert, other.Root, false); !errors.Is(err, ocsp.ResponseError{Status: ocsp.Unauthorized}) {
		t.Errorf("other issuer: %v, want unauthorized", err)
	}

	modes := []struct {
		mode   pkitest.Mode
		status int
		check  func(body []byte) bool
	}{
		{pkitest.ModeHTTPError, http.StatusInternalServerError, nil},
		{pkitest.ModeMalformed, http.StatusOK, func(b []byte) bool { _, err := ocsp.ParseResponse(b, nil); return err != nil }},
		{pkitest.ModeTryLater, http.StatusOK, func(b []byte) bool { return bytes.Equal(b, ocsp.TryLaterErrorResponse) }},
		{pkitest.ModeUnauthorized, http.StatusOK, func(b []byte) bool { return bytes.Equal(b, ocsp.UnauthorizedErrorResponse) }},
		{pkitest.ModeDrop, 0, nil},
	}
	req, _ := ocsp.CreateRequest(leaf.Cert, ca.Root, nil)
	for _, m := range modes {
		ca.OCSP.SetMode(m.mode)
		body, status := fetch(t, ca.OCSP.URL, req, false)
		if status != m.status || (m.check != nil && !m.check(body)) {
			t.Errorf("mode %d: status %d body %q", m.mode, status, body)
		}
	}

	ca.OCSP.SetMode(pkitest.ModeStall)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	hreq, _ := http.NewRequestWithContext(ctx, http.MethodPost, ca.OCSP.URL, bytes.NewReader(req))
	if resp, err := http.DefaultClient.Do(hreq); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			resp.Body.Close()
		}
		t.Errorf("stall: %v, want the client's deadline", err)
	}

	before := ca.OCSP.Requests()
	ca.OCSP.Close()
	if _, status := fetch(t, ca.OCSP.URL, req, false); status != 0 {
		t.Errorf("closed responder answered %d", status)
	}
	if ca.OCSP.Requests() != before {
		t.Error("closed responder counted a request")
	}
}

func TestCRLServer(t *testing.T) {
	clk := clock.NewFake(testNow)
	ca := pkitest.NewCA(t, pkitest.CAOptions{Clock: clk, Intermediate: true, CRL: true, CRLOptions: pkitest.CRLOptions{NextUpdateAfter: 12 * time.Hour}})
	leaf := ca.Plain(t)
	if got := leaf.Cert.CRLDistributionPoints; len(got) != 1 || got[0] != ca.CRL.URL {
		t.Fatalf("CRLDistributionPoints = %v, want [%s]", got, ca.CRL.URL)
	}
	getCRL := func() *x509.RevocationList {
		t.Helper()
		body, status := httpGet(t, ca.CRL.URL)
		rl, err := x509.ParseRevocationList(body)
		if err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		if err := rl.CheckSignatureFrom(ca.Intermediate); err != nil {
			t.Fatal(err)
		}
		return rl
	}
	rl := getCRL()
	if rl.Number.Int64() != 1 || len(rl.RevokedCertificateEntries) != 0 || !rl.ThisUpdate.Equal(testNow) || !rl.NextUpdate.Equal(testNow.Add(12*time.Hour)) {
		t.Errorf("first CRL: number %v, %d entries, %s..%s", rl.Number, len(rl.RevokedCertificateEntries), rl.ThisUpdate, rl.NextUpdate)
	}
	clk.Advance(time.Hour)
	ca.Revoke(t, leaf.Cert.SerialNumber, 1)
	rl = getCRL()
	if rl.Number.Int64() != 2 || len(rl.RevokedCertificateEntries) != 1 || rl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.Cert.SerialNumber) != 0 ||
		rl.RevokedCertificateEntries[0].ReasonCode != 1 || !rl.ThisUpdate.Equal(testNow.Add(time.Hour)) {
		t.Errorf("after Revoke: number %v, entries %+v, thisUpdate %s", rl.Number, rl.RevokedCertificateEntries, rl.ThisUpdate)
	}
	ca.CRL.PublishNumber(1)
	if rl = getCRL(); rl.Number.Int64() != 1 {
		t.Errorf("PublishNumber(1): number %v", rl.Number)
	}
	ca.CRL.Serve([]byte("junk"))
	if !bytes.Equal(ca.CRL.DER(), []byte("junk")) {
		t.Error("Serve did not replace the CRL")
	}
	ca.CRL.Publish()
	if rl = getCRL(); rl.Number.Int64() != 2 {
		t.Errorf("Publish after PublishNumber(1): number %v, want 2", rl.Number)
	}
	ca.CRL.SetMode(pkitest.ModeHTTPError)
	if _, status := httpGet(t, ca.CRL.URL); status != http.StatusInternalServerError {
		t.Errorf("ModeHTTPError: status %d", status)
	}
	if ca.RootCRL == nil || ca.Intermediate.CRLDistributionPoints[0] != ca.RootCRL.URL {
		t.Error("the intermediate does not point at the root's CRL")
	}
	if n := ca.CRL.Requests(); n < 5 {
		t.Errorf("Requests() = %d", n)
	}
}

func TestSubordinate(t *testing.T) {
	ca := pkitest.NewCA(t, pkitest.CAOptions{Intermediate: true})
	sub := ca.Subordinate(t, pkitest.LeafOptions{SerialNumber: big.NewInt(99)})
	leaf := sub.Plain(t)
	if len(leaf.Chain) != 3 || !leaf.Chain[1].Equal(sub.Intermediate) || !leaf.Chain[2].Equal(ca.Intermediate) {
		t.Fatalf("chain of %d certificates, want leaf, sub-CA, intermediate", len(leaf.Chain))
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf.Chain[1])
	pool.AddCert(leaf.Chain[2])
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), Intermediates: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatal(err)
	}
}
