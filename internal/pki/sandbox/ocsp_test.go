package sandbox

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/portcullis/portcullis/internal/clock"
	"golang.org/x/crypto/ocsp"
)

func TestOCSPStatuses(t *testing.T) {
	ca, clk := newTestCA(t)
	srv := serve(t, ca)
	issuing := ca.IssuingCertificate()
	good := mustIssue(t, ca, KindQWAC, qwacOptions()).Certificate
	compromised := mustIssue(t, ca, KindQSealC, qwacOptions()).Certificate
	retired := mustIssue(t, ca, KindClient, IssueOptions{CommonName: "c"}).Certificate
	clk.Advance(time.Hour)
	revokedAt := utc(clk.Now())
	if err := ca.Revoke(compromised.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(retired.SerialNumber, ReasonUnspecified); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	now := utc(clk.Now())
	stranger := *good
	stranger.SerialNumber = new(big.Int).Add(good.SerialNumber, big.NewInt(1))
	foreign, _ := newTestCA(t)

	post := func(der []byte) []byte { return postOCSP(t, srv, der) }
	getEscaped := func(der []byte) []byte {
		return ocspGET(t, srv.URL+"/pki/ocsp/"+url.PathEscape(base64.StdEncoding.EncodeToString(der)))
	}
	tests := []struct {
		name      string
		leaf      *x509.Certificate
		issuer    *x509.Certificate // for the request's CertID
		hash      crypto.Hash
		send      func([]byte) []byte
		status    int
		reason    int
		errStatus ocsp.ResponseStatus // non-zero: an unsigned error response
	}{
		{name: "good by POST", leaf: good, issuer: issuing, send: post, status: ocsp.Good},
		{name: "good by GET", leaf: good, issuer: issuing, send: getEscaped, status: ocsp.Good},
		{name: "good with SHA-256 CertID", leaf: good, issuer: issuing, hash: crypto.SHA256, send: post, status: ocsp.Good},
		{name: "revoked keyCompromise", leaf: compromised, issuer: issuing, send: post, status: ocsp.Revoked, reason: ocsp.KeyCompromise},
		{name: "revoked unspecified", leaf: retired, issuer: issuing, send: getEscaped, status: ocsp.Revoked, reason: ocsp.Unspecified},
		{name: "serial never issued", leaf: &stranger, issuer: issuing, send: post, status: ocsp.Unknown},
		{name: "issuing CA itself (root as issuer)", leaf: issuing, issuer: ca.RootCertificate(), send: post, errStatus: ocsp.Unauthorized},
		{name: "another CA's issuer", leaf: good, issuer: foreign.IssuingCertificate(), send: post, errStatus: ocsp.Unauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ocsp.CreateRequest(tt.leaf, tt.issuer, &ocsp.RequestOptions{Hash: tt.hash})
			if err != nil {
				t.Fatal(err)
			}
			body := tt.send(req)
			resp, err := ocsp.ParseResponseForCert(body, tt.leaf, issuing)
			if tt.errStatus != 0 {
				if !isOCSPError(err, tt.errStatus) {
					t.Fatalf("err = %v, want OCSP status %v", err, tt.errStatus)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResponseForCert: %v", err)
			}
			if resp.Status != tt.status {
				t.Errorf("Status = %d, want %d", resp.Status, tt.status)
			}
			if resp.SerialNumber.Cmp(tt.leaf.SerialNumber) != 0 {
				t.Errorf("serial %x, want %x", resp.SerialNumber, tt.leaf.SerialNumber)
			}
			if tt.status == ocsp.Revoked && (resp.RevocationReason != tt.reason || !resp.RevokedAt.Equal(revokedAt)) {
				t.Errorf("revoked at %v reason %d, want %v reason %d", resp.RevokedAt, resp.RevocationReason, revokedAt, tt.reason)
			}
			want := tt.hash
			if want == 0 {
				want = crypto.SHA1
			}
			if resp.IssuerHash != want {
				t.Errorf("CertID hash %v, want the request's %v", resp.IssuerHash, want)
			}
			if !resp.ThisUpdate.Equal(now) || !resp.ProducedAt.Equal(now) || !resp.NextUpdate.Equal(now.Add(time.Hour)) {
				t.Errorf("thisUpdate %v producedAt %v nextUpdate %v; want %v, %v, +1h", resp.ThisUpdate, resp.ProducedAt, resp.NextUpdate, now, now)
			}
			checkResponder(t, resp.Certificate, issuing, clk.Now())
			if len(resp.ResponderKeyHash) != 20 {
				t.Errorf("ResponderID is not byKey: %x / %x", resp.ResponderKeyHash, resp.RawResponderName)
			}
		})
	}
}

// checkResponder applies the checks x/crypto/ocsp leaves to the caller (pki.md §2.2).
func checkResponder(t *testing.T, r, issuing *x509.Certificate, now time.Time) {
	t.Helper()
	if r == nil {
		t.Fatal("response carries no responder certificate")
	}
	if err := r.CheckSignatureFrom(issuing); err != nil {
		t.Errorf("responder not issued by the issuing CA: %v", err)
	}
	if !slices.Equal(r.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) {
		t.Errorf("responder EKU %v, want [OCSPSigning]", r.ExtKeyUsage)
	}
	if now.Before(r.NotBefore) || !now.Before(r.NotAfter) {
		t.Errorf("responder valid %v..%v, not at %v", r.NotBefore, r.NotAfter, now)
	}
	if d := r.NotAfter.Sub(r.NotBefore); d > responderLifetime+backdate {
		t.Errorf("responder lifetime %v is not short", d)
	}
	nocheck := false
	for _, e := range r.Extensions {
		nocheck = nocheck || (e.Id.Equal(oidOCSPNoCheck) && bytes.Equal(e.Value, []byte{5, 0}))
	}
	if !nocheck {
		t.Error("responder lacks id-pkix-ocsp-nocheck")
	}
	if r.IsCA {
		t.Error("responder is a CA")
	}
}

func ocspGET(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOCSPMalformed: what the responder cannot parse gets the unsigned malformedRequest
// status, never a signed answer.
func TestOCSPMalformed(t *testing.T) {
	ca, _ := newTestCA(t)
	srv := serve(t, ca)
	leaf := mustIssue(t, ca, KindQWAC, qwacOptions()).Certificate
	req, err := ocsp.CreateRequest(leaf, ca.IssuingCertificate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	critical := pkix.Extension{Id: []int{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not an OCSP request")},
		{"truncated", req[:len(req)-3]},
		{"trailing data", append(append([]byte(nil), req...), 0)},
		{"too large", bytes.Repeat([]byte{0x30}, maxOCSPRequest+1)},
		{"unknown critical extension", withRequestExtensions(t, req, critical)},
		{"two nonces", withRequestExtensions(t, req, nonceExtension(t, []byte("0123456789abcdef")), nonceExtension(t, []byte("0123456789abcdef")))},
		{"two certificates", duplicateRequest(t, req)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := postOCSP(t, srv, tt.body)
			if !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
				t.Fatalf("response %x, want malformedRequest", body)
			}
		})
	}
	t.Run("bad base64 in GET", func(t *testing.T) {
		for _, enc := range []string{"!!!!", "MAA", "MAA=MAA=", strings.Repeat("A", 3*base64.StdEncoding.EncodedLen(maxOCSPRequest)+4)} {
			if body := ocspGET(t, srv.URL+"/pki/ocsp/"+enc); !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
				t.Fatalf("GET %.20s: response %x, want malformedRequest", enc, body)
			}
		}
	})
}

// TestOCSPNonce: a 1..32 octet request nonce is echoed in responseExtensions (RFC 8954);
// a longer one is not echoed, and the response is still signed.
func TestOCSPNonce(t *testing.T) {
	ca, _ := newTestCA(t)
	srv := serve(t, ca)
	leaf := mustIssue(t, ca, KindQWAC, qwacOptions()).Certificate
	base, err := ocsp.CreateRequest(leaf, ca.IssuingCertificate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		nonce []byte
		echo  bool
	}{
		{"16 octets (OpenSSL)", []byte("0123456789abcdef"), true},
		{"1 octet", []byte{7}, true},
		{"32 octets", bytes.Repeat([]byte{0xab}, 32), true},
		{"33 octets", bytes.Repeat([]byte{0xab}, 33), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext := nonceExtension(t, tt.nonce)
			body := postOCSP(t, srv, withRequestExtensions(t, base, ext))
			resp, err := ocsp.ParseResponseForCert(body, leaf, ca.IssuingCertificate())
			if err != nil || resp.Status != ocsp.Good {
				t.Fatalf("response %v, %v", resp, err)
			}
			var want []pkix.Extension
			if tt.echo {
				want = []pkix.Extension{ext}
			}
			if diff := cmp.Diff(want, responseExtensions(t, body)); diff != "" {
				t.Errorf("responseExtensions (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no nonce, no extension", func(t *testing.T) {
		if got := responseExtensions(t, postOCSP(t, srv, base)); len(got) != 0 {
			t.Errorf("responseExtensions = %v", got)
		}
	})
}

// TestOCSPGETUnescaped: base64 with '/' and '+' sent without url-encoding, as some
// clients do, including "//" that http.ServeMux would have redirected.
func TestOCSPGETUnescaped(t *testing.T) {
	ca, _ := newTestCA(t)
	srv := serve(t, ca)
	leaf := mustIssue(t, ca, KindQWAC, qwacOptions()).Certificate
	base, err := ocsp.CreateRequest(leaf, ca.IssuingCertificate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Vary a nonce until the encoding holds "//" (bounded search).
	var b64 string
	for i := 0; i < 1<<16 && !strings.Contains(b64, "//"); i++ {
		nonce := []byte{byte(i >> 8), byte(i), 0xff, 0xff, 0xff, 0xff}
		b64 = base64.StdEncoding.EncodeToString(withRequestExtensions(t, base, nonceExtension(t, nonce)))
	}
	if !strings.Contains(b64, "//") {
		t.Fatal("no request with // found")
	}
	resp, err := ocsp.ParseResponseForCert(ocspGET(t, srv.URL+"/pki/ocsp/"+b64), leaf, ca.IssuingCertificate())
	if err != nil || resp.Status != ocsp.Good {
		t.Fatalf("GET with unescaped //: %v, %v", resp, err)
	}
}

// TestOCSPResponderRenewal: the delegated responder is reused until its half-life, then
// replaced by a new one recorded in the database; a revoked responder is replaced at once.
func TestOCSPResponderRenewal(t *testing.T) {
	ca, clk := newTestCA(t)
	srv := serve(t, ca)
	leaf := mustIssue(t, ca, KindQWAC, qwacOptions()).Certificate
	responder := func() *x509.Certificate {
		t.Helper()
		resp, err := queryOCSP(t, srv, leaf, ca.IssuingCertificate())
		if err != nil {
			t.Fatal(err)
		}
		checkResponder(t, resp.Certificate, ca.IssuingCertificate(), clk.Now())
		return resp.Certificate
	}
	first := responder()
	clk.Advance(responderLifetime/2 - time.Hour)
	if again := responder(); !again.Equal(first) {
		t.Error("responder replaced before its half-life")
	}
	clk.Advance(2 * time.Hour)
	second := responder()
	if second.Equal(first) {
		t.Fatal("responder not renewed after its half-life")
	}
	// A second process picks up the renewed responder from disk instead of issuing one.
	other, err := Open(ca.Dir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	otherSrv := serve(t, other)
	resp, err := queryOCSP(t, otherSrv, leaf, ca.IssuingCertificate())
	if err != nil || !resp.Certificate.Equal(second) {
		t.Errorf("second process signs with another responder (%v)", err)
	}
	if err := ca.Revoke(second.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	third := responder()
	if third.Equal(second) {
		t.Error("revoked responder still in use")
	}
	recs, err := ca.Records()
	if err != nil {
		t.Fatal(err)
	}
	var responders int
	for _, r := range recs {
		if r.Kind == kindOCSPResponder {
			responders++
		}
	}
	if responders != 3 {
		t.Errorf("%d responder records, want 3", responders)
	}
}

func TestHandlerRoutes(t *testing.T) {
	ca, _ := newTestCA(t)
	srv := serve(t, ca)
	tests := []struct {
		method, path string
		status       int
		ctype        string
		body         []byte // nil: not compared
	}{
		{"GET", "/pki/ca.crt", 200, "application/pkix-cert", ca.RootCertificate().Raw},
		{"GET", "/pki/issuing.crt", 200, "application/pkix-cert", ca.IssuingCertificate().Raw},
		{"HEAD", "/pki/issuing.crt", 200, "application/pkix-cert", []byte{}},
		{"GET", "/pki/issuing.crl", 200, "application/pkix-crl", nil},
		{"GET", "/pki/root.crl", 200, "application/pkix-crl", nil},
		{"POST", "/pki/ca.crt", 405, "", nil},
		{"GET", "/pki/ocsp", 405, "", nil},
		{"PUT", "/pki/ocsp/MAA=", 405, "", nil},
		{"GET", "/pki/ca.key", 404, "", nil},
		{"GET", "/pki/issued.json", 404, "", nil},
		{"GET", "/ca.crt", 404, "", nil},
		{"GET", "/pkix/ca.crt", 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.ctype)
			}
			if tt.body != nil && !bytes.Equal(body, tt.body) {
				t.Errorf("body differs (%d bytes, want %d)", len(body), len(tt.body))
			}
		})
	}
}

// TestHandlerFailsClosed: when the issuance database is unreadable the responder answers
// internalError, never "good".
func TestHandlerFailsClosed(t *testing.T) {
	ca, _ := newTestCA(t)
	srv := serve(t, ca)
	leaf := mustIssue(t, ca, KindQWAC, qwacOptions()).Certificate
	if err := os.WriteFile(filepath.Join(ca.Dir(), FileDatabase), []byte("{corrupt"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := queryOCSP(t, srv, leaf, ca.IssuingCertificate())
	if !isOCSPError(err, ocsp.InternalError) {
		t.Fatalf("err = %v, want internalError", err)
	}
	resp, err := http.Get(srv.URL + "/pki/issuing.crl")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("CRL status %d, want 500", resp.StatusCode)
	}
}

func FuzzParseOCSPRequest(f *testing.F) {
	ca, err := Init(f.TempDir(), testBase, clock.NewFake(testTime))
	if err != nil {
		f.Fatal(err)
	}
	is, err := ca.Issue(KindClient, IssueOptions{CommonName: "c"})
	if err != nil {
		f.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA512} {
		req, err := ocsp.CreateRequest(is.Certificate, ca.IssuingCertificate(), &ocsp.RequestOptions{Hash: h})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(req)
		f.Add(withRequestExtensions(f, req, nonceExtension(f, []byte("0123456789abcdef"))))
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		req, err := parseOCSPRequest(der)
		if err != nil {
			return
		}
		if len(req.certID) == 0 || req.SerialNumber == nil {
			t.Fatalf("accepted request without CertID: %x", der)
		}
		if req.nonce != nil && len(req.nonce.Value) > maxNonceLen+2 {
			t.Fatalf("nonce of %d bytes kept", len(req.nonce.Value))
		}
		// Answering it must not panic either.
		_, _ = ca.answerOCSP(der)
	})
}
