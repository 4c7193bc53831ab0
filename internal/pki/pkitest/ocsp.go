package pkitest

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/portcullis/portcullis/internal/clock"
)

// Mode selects how an [OCSPResponder] or [CRLServer] answers.
type Mode int

// The answering modes.
const (
	// ModeOK answers normally.
	ModeOK Mode = iota
	// ModeHTTPError answers 500 Internal Server Error.
	ModeHTTPError
	// ModeMalformed answers 200 with a body that is not DER.
	ModeMalformed
	// ModeDrop closes the connection without answering.
	ModeDrop
	// ModeStall holds the request until the client gives up or the server closes.
	ModeStall
	// ModeTryLater answers with the OCSP "tryLater" status (OCSP only; a CRL server
	// treats it as ModeHTTPError).
	ModeTryLater
	// ModeUnauthorized answers with the OCSP "unauthorized" status (OCSP only; a CRL
	// server treats it as ModeHTTPError).
	ModeUnauthorized
)

// OCSPOptions configures an [OCSPResponder]. The zero value signs with the issuer's
// key, answers thisUpdate = now and nextUpdate = now + 1h.
type OCSPOptions struct {
	// Clock is "now" for thisUpdate / nextUpdate; nil means the real clock.
	Clock clock.Clock
	// Delegated signs responses with a delegated responder certificate issued by the
	// issuer, embedded in every response (RFC 6960 §4.2.2.2).
	Delegated bool
	// DelegateEKU is the delegated certificate's extended key usage; nil means
	// id-kp-OCSPSigning, an empty non-nil slice means no EKU extension (a responder
	// that must be refused).
	DelegateEKU []x509.ExtKeyUsage
	// DelegateNotBefore / DelegateNotAfter; zero means now-1h / now+30 days.
	DelegateNotBefore, DelegateNotAfter time.Time
	// ThisUpdateOffset is added to now for thisUpdate (negative: older responses,
	// positive: responses from the future).
	ThisUpdateOffset time.Duration
	// NextUpdateAfter is nextUpdate - thisUpdate; zero means one hour, negative means
	// no nextUpdate at all.
	NextUpdateAfter time.Duration
}

type ocspEntry struct {
	status    int
	revokedAt time.Time
	reason    int
}

// OCSPResponder is an RFC 6960 responder on 127.0.0.1 for the certificates one issuer
// signs, built on golang.org/x/crypto/ocsp. Serials it has not been told about are
// answered "unknown". It takes POST (application/ocsp-request) and GET (base64 in the
// path) requests, answers with the request's CertID hash algorithm, and answers
// "unauthorized" for a CertID naming another issuer's key.
type OCSPResponder struct {
	// URL is the responder's address, for certificates' AIA.
	URL string

	t          testing.TB
	srv        *httptest.Server
	stop       chan struct{}
	stopOnce   sync.Once
	issuer     *x509.Certificate
	signerCert *x509.Certificate
	signerKey  crypto.Signer
	clock      clock.Clock

	mu         sync.Mutex
	entries    map[string]ocspEntry
	mode       Mode
	thisOffset time.Duration
	nextAfter  time.Duration
	requests   int
}

// NewOCSPResponder starts a responder for certificates issued by issuer (whose key is
// issuerKey). It is closed when the test ends.
func NewOCSPResponder(t testing.TB, issuer *x509.Certificate, issuerKey crypto.Signer, opts OCSPOptions) *OCSPResponder {
	t.Helper()
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	r := &OCSPResponder{
		t:          t,
		stop:       make(chan struct{}),
		issuer:     issuer,
		signerCert: issuer,
		signerKey:  issuerKey,
		clock:      clk,
		entries:    make(map[string]ocspEntry),
		thisOffset: opts.ThisUpdateOffset,
		nextAfter:  opts.NextUpdateAfter,
	}
	if opts.Delegated {
		r.signerCert, r.signerKey = delegatedResponder(t, issuer, issuerKey, clk, opts)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + "/ocsp"
	t.Cleanup(r.Close)
	return r
}

func delegatedResponder(t testing.TB, issuer *x509.Certificate, issuerKey crypto.Signer, clk clock.Clock, opts OCSPOptions) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	now := clk.Now()
	key := newKey(t, "ec")
	eku := opts.DelegateEKU
	if eku == nil {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: issuer.Subject.CommonName + " OCSP Responder"},
		NotBefore:             opts.DelegateNotBefore,
		NotAfter:              opts.DelegateNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), NULL value.
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}, Value: []byte{0x05, 0x00}}},
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(30 * 24 * time.Hour)
	}
	return createCertificate(t, tmpl, issuer, key.Public(), issuerKey), key
}

// SignerCert returns the certificate whose key signs the responses: the issuer, or the
// delegated responder certificate.
func (r *OCSPResponder) SignerCert() *x509.Certificate { return r.signerCert }

// SetGood makes the responder answer "good" for serial.
func (r *OCSPResponder) SetGood(serial *big.Int) {
	r.set(serial, ocspEntry{status: ocsp.Good})
}

// SetRevoked makes the responder answer "revoked" at the time with the RFC 5280
// reason code.
func (r *OCSPResponder) SetRevoked(serial *big.Int, at time.Time, reason int) {
	r.set(serial, ocspEntry{status: ocsp.Revoked, revokedAt: at, reason: reason})
}

// SetUnknown makes the responder answer "unknown" for serial.
func (r *OCSPResponder) SetUnknown(serial *big.Int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.entries, serial.String())
}

func (r *OCSPResponder) set(serial *big.Int, e ocspEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries[serial.String()] = e
}

// SetMode changes how the responder answers from the next request on.
func (r *OCSPResponder) SetMode(m Mode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mode = m
}

// SetValidity changes thisUpdate / nextUpdate of later responses, with the meaning of
// [OCSPOptions] ThisUpdateOffset and NextUpdateAfter.
func (r *OCSPResponder) SetValidity(thisUpdateOffset, nextUpdateAfter time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.thisOffset, r.nextAfter = thisUpdateOffset, nextUpdateAfter
}

// Requests returns how many requests the responder has received.
func (r *OCSPResponder) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Close stops the responder; later requests are refused at the TCP level. It is
// idempotent and also runs at the end of the test.
func (r *OCSPResponder) Close() {
	r.stopOnce.Do(func() {
		close(r.stop)
		r.srv.Close()
	})
}

const maxOCSPRequestLen = 64 << 10

func (r *OCSPResponder) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests++
	mode := r.mode
	r.mu.Unlock()

	if handled := serveFailureMode(w, req, mode, r.stop); handled {
		return
	}
	switch mode {
	case ModeTryLater:
		writeOCSP(w, ocsp.TryLaterErrorResponse)
		return
	case ModeUnauthorized:
		writeOCSP(w, ocsp.UnauthorizedErrorResponse)
		return
	}

	var der []byte
	switch req.Method {
	case http.MethodPost:
		b, err := io.ReadAll(io.LimitReader(req.Body, maxOCSPRequestLen+1))
		if err != nil || len(b) > maxOCSPRequestLen {
			writeOCSP(w, ocsp.MalformedRequestErrorResponse)
			return
		}
		der = b
	case http.MethodGet:
		p := req.URL.EscapedPath()
		enc, err := url.PathUnescape(p[strings.LastIndexByte(p, '/')+1:])
		if err == nil {
			der, err = base64.StdEncoding.DecodeString(enc)
		}
		if err != nil {
			writeOCSP(w, ocsp.MalformedRequestErrorResponse)
			return
		}
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ocspReq, err := ocsp.ParseRequest(der)
	if err != nil {
		writeOCSP(w, ocsp.MalformedRequestErrorResponse)
		return
	}
	if !bytes.Equal(ocspReq.IssuerKeyHash, issuerKeyHash(r.issuer, ocspReq.HashAlgorithm)) {
		writeOCSP(w, ocsp.UnauthorizedErrorResponse)
		return
	}

	r.mu.Lock()
	e, ok := r.entries[ocspReq.SerialNumber.String()]
	thisOffset, nextAfter := r.thisOffset, r.nextAfter
	r.mu.Unlock()
	if !ok {
		e = ocspEntry{status: ocsp.Unknown}
	}
	thisUpdate := r.clock.Now().Add(thisOffset)
	tmpl := ocsp.Response{
		Status:           e.status,
		SerialNumber:     ocspReq.SerialNumber,
		ThisUpdate:       thisUpdate,
		RevokedAt:        e.revokedAt,
		RevocationReason: e.reason,
		IssuerHash:       ocspReq.HashAlgorithm,
	}
	switch {
	case nextAfter == 0:
		tmpl.NextUpdate = thisUpdate.Add(time.Hour)
	case nextAfter > 0:
		tmpl.NextUpdate = thisUpdate.Add(nextAfter)
	}
	if r.signerCert != r.issuer {
		tmpl.Certificate = r.signerCert
	}
	resp, err := ocsp.CreateResponse(r.issuer, r.signerCert, tmpl, r.signerKey)
	if err != nil {
		r.t.Errorf("pkitest: OCSP response: %v", err)
		writeOCSP(w, ocsp.InternalErrorErrorResponse)
		return
	}
	writeOCSP(w, resp)
}

func writeOCSP(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(body)
}

// issuerKeyHash is the CertID issuerKeyHash of issuer under h: the hash of the
// subjectPublicKey BIT STRING contents.
func issuerKeyHash(issuer *x509.Certificate, h crypto.Hash) []byte {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil || !h.Available() {
		return nil
	}
	hh := h.New()
	hh.Write(spki.PublicKey.RightAlign())
	return hh.Sum(nil)
}

// serveFailureMode answers for the modes common to OCSP and CRL servers and reports
// whether it did.
func serveFailureMode(w http.ResponseWriter, req *http.Request, mode Mode, stop <-chan struct{}) bool {
	switch mode {
	case ModeHTTPError:
		http.Error(w, "pkitest: failing on purpose", http.StatusInternalServerError)
	case ModeMalformed:
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte("this is not DER"))
	case ModeDrop:
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "cannot drop", http.StatusInternalServerError)
			return true
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close()
		}
	case ModeStall:
		select {
		case <-req.Context().Done():
		case <-stop:
		}
	default:
		return false
	}
	return true
}
