package pkitest

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// CRLOptions configures a [CRLServer]. The zero value publishes CRLs valid for 24
// hours from the moment of publication.
type CRLOptions struct {
	// Clock is "now" for thisUpdate / nextUpdate; nil means the real clock.
	Clock clock.Clock
	// NextUpdateAfter is nextUpdate - thisUpdate; zero means 24 hours.
	NextUpdateAfter time.Duration
}

// CRLServer serves one issuer's CRL (RFC 5280 §5, built with
// x509.CreateRevocationList) over http on 127.0.0.1. The CRL is re-signed on every
// change ([CRLServer.Revoke], [CRLServer.Publish]) with thisUpdate = now and a CRL
// number one higher than before; between changes the same bytes are served.
type CRLServer struct {
	// URL is the CRL's address, for certificates' CRL distribution points.
	URL string

	t        testing.TB
	srv      *httptest.Server
	stop     chan struct{}
	stopOnce sync.Once
	issuer   *x509.Certificate
	key      crypto.Signer
	clock    clock.Clock

	mu        sync.Mutex
	revoked   []x509.RevocationListEntry
	number    int64
	nextAfter time.Duration
	der       []byte
	mode      Mode
	requests  int
}

// NewCRLServer starts a CRL server for issuer, signing with key, and publishes an
// empty CRL (number 1). It is closed when the test ends.
func NewCRLServer(t testing.TB, issuer *x509.Certificate, key crypto.Signer, opts CRLOptions) *CRLServer {
	t.Helper()
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	s := &CRLServer{
		t:         t,
		stop:      make(chan struct{}),
		issuer:    issuer,
		key:       key,
		clock:     clk,
		nextAfter: opts.NextUpdateAfter,
	}
	if s.nextAfter <= 0 {
		s.nextAfter = 24 * time.Hour
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/issuer.crl"
	t.Cleanup(s.Close)
	s.Publish()
	return s
}

// Revoke adds serial to the CRL (revoked at the time, with the RFC 5280 reason code;
// 0 means no reasonCode extension) and publishes.
func (s *CRLServer) Revoke(serial *big.Int, at time.Time, reason int) {
	s.mu.Lock()
	s.revoked = append(s.revoked, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: at, ReasonCode: reason})
	s.mu.Unlock()
	s.Publish()
}

// Publish re-signs the CRL with thisUpdate = now, nextUpdate = now +
// NextUpdateAfter and the next CRL number.
func (s *CRLServer) Publish() {
	s.mu.Lock()
	n := s.number + 1
	s.mu.Unlock()
	s.PublishNumber(n)
}

// PublishNumber re-signs the CRL like Publish but with CRL number n (for tests of a
// number that goes backwards).
func (s *CRLServer) PublishNumber(n int64) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(n),
		ThisUpdate:                now,
		NextUpdate:                now.Add(s.nextAfter),
		RevokedCertificateEntries: append([]x509.RevocationListEntry(nil), s.revoked...),
	}, s.issuer, s.key)
	if err != nil {
		s.t.Fatalf("pkitest: create CRL: %v", err)
	}
	s.number = n
	s.der = der
}

// SetNextUpdateAfter changes nextUpdate - thisUpdate for later publications.
func (s *CRLServer) SetNextUpdateAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextAfter = d
}

// Serve makes the server answer with der verbatim (a CRL signed by another key, a
// truncated one, ...) until the next publication.
func (s *CRLServer) Serve(der []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.der = append([]byte(nil), der...)
}

// DER returns the bytes currently served.
func (s *CRLServer) DER() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.der...)
}

// SetMode changes how the server answers from the next request on. ModeTryLater and
// ModeUnauthorized act as ModeHTTPError.
func (s *CRLServer) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Requests returns how many requests the server has received.
func (s *CRLServer) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Close stops the server; later requests are refused at the TCP level. It is
// idempotent and also runs at the end of the test.
func (s *CRLServer) Close() {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.srv.Close()
	})
}

func (s *CRLServer) serve(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	s.requests++
	mode := s.mode
	der := s.der
	s.mu.Unlock()
	if mode == ModeTryLater || mode == ModeUnauthorized {
		mode = ModeHTTPError
	}
	if serveFailureMode(w, req, mode, s.stop) {
		return
	}
	if req.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, _ = w.Write(der)
}
