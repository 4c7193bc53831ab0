package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/ocsp"

	"github.com/portcullis/portcullis/internal/clock"
)

// pkiEnv is an issuer with a Go-native OCSP responder and CRL server whose answers
// the test sets per certificate serial.
type pkiEnv struct {
	ca        *testCA
	clk       *clock.Fake
	ocsp, crl *server

	mu         sync.Mutex
	ocspStatus map[string]int // serial → ocsp.Good/Revoked/Unknown; absent = HTTP 503
	crlRevoked []x509.RevocationListEntry
	crlDown    bool
	crlNumber  int64
	ocspGate   func() // when non-nil, called before answering
	crlGate    func()
}

func newPKIEnv(t *testing.T) *pkiEnv {
	t.Helper()
	e := &pkiEnv{ca: newCA(t, "Test Issuing CA"), clk: clock.NewFake(testNow), ocspStatus: map[string]int{}}
	e.ocsp = newServer(t, e.serveOCSP(t))
	e.crl = newServer(t, e.serveCRL(t))
	return e
}

func (e *pkiEnv) serveOCSP(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e.mu.Lock()
		gate := e.ocspGate
		status, ok := e.ocspStatus[req.SerialNumber.String()]
		e.mu.Unlock()
		if gate != nil {
			gate()
		}
		if !ok {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		now := e.clk.Now()
		tmpl := ocsp.Response{Status: status, SerialNumber: req.SerialNumber, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}
		if status == ocsp.Revoked {
			tmpl.RevokedAt, tmpl.RevocationReason = now.Add(-time.Hour), ocsp.KeyCompromise
		}
		_, _ = w.Write(e.ca.ocspResponse(t, tmpl, nil, nil))
	}
}

func (e *pkiEnv) serveCRL(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		gate, down, revoked := e.crlGate, e.crlDown, e.crlRevoked
		e.crlNumber++
		number := e.crlNumber
		e.mu.Unlock()
		if gate != nil {
			gate()
		}
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		now := e.clk.Now()
		_, _ = w.Write(e.ca.crl(t, number, now.Add(-time.Minute), now.Add(2*time.Hour), revoked))
	}
}

func (e *pkiEnv) setOCSP(cert *x509.Certificate, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ocspStatus[cert.SerialNumber.String()] = status
}

func (e *pkiEnv) revokeInCRL(cert *x509.Certificate) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.crlRevoked = append(e.crlRevoked, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: e.clk.Now(), ReasonCode: 1})
}

func (e *pkiEnv) setCRLDown(down bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.crlDown = down
}

// leaf issues a certificate naming this env's responder and/or CRL.
func (e *pkiEnv) leaf(t *testing.T, withOCSP, withCRL bool) *x509.Certificate {
	var o, c []string
	if withOCSP {
		o = []string{e.ocsp.URL}
	}
	if withCRL {
		c = []string{e.crl.URL}
	}
	return e.ca.leaf(t, o, c)
}

// TestOrderAndFailPolicy covers the order OCSP → CRL and the hard/soft-fail policy
// of Check (pki.md §2.4).
func TestOrderAndFailPolicy(t *testing.T) {
	rows := []struct {
		name     string
		withOCSP bool
		withCRL  bool
		ocsp     int // -1: responder down
		crl      string
		softFail bool

		wantErr      error // nil: accepted
		wantSource   Source
		wantOCSPHits int64
		wantCRLHits  int64
		wantSoftFail float64
	}{
		{name: "OCSP good", withOCSP: true, withCRL: true, ocsp: ocsp.Good, crl: "good",
			wantSource: SourceOCSP, wantOCSPHits: 1},
		{name: "OCSP revoked, CRL not consulted", withOCSP: true, withCRL: true, ocsp: ocsp.Revoked, crl: "good",
			wantErr: ErrRevoked, wantSource: SourceOCSP, wantOCSPHits: 1},
		{name: "OCSP unknown is definitive, CRL not consulted", withOCSP: true, withCRL: true, ocsp: ocsp.Unknown, crl: "good",
			wantErr: ErrUnknownStatus, wantSource: SourceOCSP, wantOCSPHits: 1},
		{name: "OCSP down, CRL good", withOCSP: true, withCRL: true, ocsp: -1, crl: "good",
			wantSource: SourceCRL, wantOCSPHits: 1, wantCRLHits: 1},
		{name: "OCSP down, CRL revoked", withOCSP: true, withCRL: true, ocsp: -1, crl: "revoked",
			wantErr: ErrRevoked, wantSource: SourceCRL, wantOCSPHits: 1, wantCRLHits: 1},
		{name: "both down, hard-fail", withOCSP: true, withCRL: true, ocsp: -1, crl: "down",
			wantErr: ErrResponderUnavailable, wantOCSPHits: 1, wantCRLHits: 1},
		{name: "both down, soft-fail", withOCSP: true, withCRL: true, ocsp: -1, crl: "down", softFail: true,
			wantOCSPHits: 1, wantCRLHits: 1, wantSoftFail: 1},
		{name: "revoked is never soft-failed", withOCSP: true, withCRL: true, ocsp: ocsp.Revoked, softFail: true,
			wantErr: ErrRevoked, wantSource: SourceOCSP, wantOCSPHits: 1},
		{name: "unknown is never soft-failed", withOCSP: true, ocsp: ocsp.Unknown, softFail: true,
			wantErr: ErrUnknownStatus, wantSource: SourceOCSP, wantOCSPHits: 1},
		{name: "CRL only (an intermediate), good", withCRL: true, crl: "good",
			wantSource: SourceCRL, wantCRLHits: 1},
		{name: "OCSP only, down, hard-fail", withOCSP: true, ocsp: -1,
			wantErr: ErrNoCRLDistributionPoint, wantOCSPHits: 1},
		{name: "no revocation information, hard-fail", wantErr: ErrNoRevocationInfo},
		{name: "no revocation information, soft-fail", softFail: true, wantSoftFail: 1},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			e := newPKIEnv(t)
			cert := e.leaf(t, tc.withOCSP, tc.withCRL)
			if tc.ocsp >= 0 {
				e.setOCSP(cert, tc.ocsp)
			}
			switch tc.crl {
			case "revoked":
				e.revokeInCRL(cert)
			case "down":
				e.setCRLDown(true)
			}
			reg := prometheus.NewRegistry()
			c := New(Options{Clock: e.clk, Registerer: reg})
			defer c.Close()

			err := c.Check(context.Background(), cert, e.ca.cert, tc.softFail)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Check = %v, want nil", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("Check = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == ErrRevoked {
				var re *RevokedError
				if !errors.As(err, &re) || re.Source != tc.wantSource || re.Serial.Cmp(cert.SerialNumber) != 0 || re.Reason != 1 {
					t.Errorf("RevokedError = %+v, want serial %v, keyCompromise, source %s", re, cert.SerialNumber, tc.wantSource)
				}
			}
			if got := e.ocsp.hits.Load(); got != tc.wantOCSPHits {
				t.Errorf("OCSP requests = %d, want %d", got, tc.wantOCSPHits)
			}
			if got := e.crl.hits.Load(); got != tc.wantCRLHits {
				t.Errorf("CRL requests = %d, want %d", got, tc.wantCRLHits)
			}
			if tc.wantSource != "" {
				// The answer is cached now (unknown answers are not): Status reports it.
				res, err := c.Status(context.Background(), cert, e.ca.cert)
				if err != nil {
					t.Fatalf("Status: %v", err)
				}
				if res.Origin != tc.wantSource {
					t.Errorf("Origin = %s, want %s", res.Origin, tc.wantSource)
				}
				if tc.wantSource == SourceCRL && tc.withOCSP && !errors.Is(res.OCSPFailure, ErrResponderUnavailable) {
					t.Errorf("OCSPFailure = %v, want ErrResponderUnavailable", res.OCSPFailure)
				}
			}
			got := metricValue(t, reg, "portcullis_revocation_softfail_total")
			if got != tc.wantSoftFail {
				t.Errorf("softfail_total = %v, want %v", got, tc.wantSoftFail)
			}
		})
	}
}

// TestBadOCSPAnswerFallsBackToCRL: an OCSP answer from an unauthorized responder is
// no answer; the CRL decides, and when the CRL is down too the final error still
// names the OCSP cause.
func TestBadOCSPAnswerFallsBackToCRL(t *testing.T) {
	e := newPKIEnv(t)
	noEKU, key := e.ca.responder(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	var cert *x509.Certificate
	bad := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(e.ca.ocspResponse(t, goodTmpl(cert, testNow), noEKU, key))
	})
	cert = e.ca.leaf(t, []string{bad.URL}, []string{e.crl.URL})
	e.revokeInCRL(cert)
	c := New(Options{Clock: e.clk})
	defer c.Close()
	err := c.Check(context.Background(), cert, e.ca.cert, false)
	var re *RevokedError
	if !errors.As(err, &re) || re.Source != SourceCRL {
		t.Fatalf("Check = %v, want revoked according to the CRL", err)
	}

	other := e.ca.leaf(t, []string{bad.URL}, []string{e.crl.URL})
	cert = other
	e.setCRLDown(true)
	c2 := New(Options{Clock: e.clk}) // nothing cached
	defer c2.Close()
	err = c2.Check(context.Background(), other, e.ca.cert, false)
	var ue *UnavailableError
	if !errors.As(err, &ue) || !errors.Is(ue.OCSP, ErrOCSPResponderNotAuthorized) || !errors.Is(ue.CRL, ErrResponderUnavailable) {
		t.Fatalf("Check = %v, want UnavailableError{OCSP: not authorized, CRL: unavailable}", err)
	}
	if !errors.Is(err, ErrOCSPResponderNotAuthorized) {
		t.Errorf("errors.Is(err, ErrOCSPResponderNotAuthorized) = false for %v", err)
	}
}

// TestBadArguments: nil or mismatched arguments are refused, soft-fail or not.
func TestBadArguments(t *testing.T) {
	e := newPKIEnv(t)
	other := newCA(t, "Other CA")
	cert := e.leaf(t, true, true)
	c := New(Options{Clock: e.clk})
	defer c.Close()
	rows := []struct {
		name         string
		cert, issuer *x509.Certificate
	}{
		{"nil certificate", nil, e.ca.cert},
		{"nil issuer", cert, nil},
		{"issuer is not the certificate's issuer", cert, other.cert},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.Check(context.Background(), tc.cert, tc.issuer, true); !errors.Is(err, ErrIssuerMismatch) {
				t.Errorf("Check = %v, want ErrIssuerMismatch", err)
			}
		})
	}
	if e.ocsp.hits.Load()+e.crl.hits.Load() != 0 {
		t.Error("bad arguments caused a fetch")
	}
}

// TestCallerContext: a cancelled caller gets its context's error (never soft-failed),
// and its cancellation does not abort the fetch other callers share.
func TestCallerContext(t *testing.T) {
	e := newPKIEnv(t)
	cert := e.leaf(t, true, false)
	e.setOCSP(cert, ocsp.Good)
	c := New(Options{Clock: e.clk})
	defer c.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Check(ctx, cert, e.ca.cert, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with a cancelled context = %v, want context.Canceled", err)
	}

	release := make(chan struct{})
	e.mu.Lock()
	e.ocspGate = func() { <-release }
	e.mu.Unlock()
	ctx, cancel = context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- c.Check(ctx, cert, e.ca.cert, true) }()
	waitFor(t, "the first caller to wait on the fetch", func() bool { return c.certWaiters.Load() == 1 })
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: Check = %v, want context.Canceled", err)
	}
	second := make(chan error, 1)
	go func() { second <- c.Check(context.Background(), cert, e.ca.cert, false) }()
	waitFor(t, "the second caller to join the fetch", func() bool { return c.certWaiters.Load() == 1 })
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("second caller: Check = %v, want nil", err)
	}
	if got := e.ocsp.hits.Load(); got != 1 {
		t.Errorf("OCSP requests = %d, want 1 (the shared fetch survived the first caller's cancellation)", got)
	}
}

// TestCache: answers are served from the cache until they expire; unknown answers
// are not cached; the cache is bounded.
func TestCache(t *testing.T) {
	t.Run("good answer cached until nextUpdate", func(t *testing.T) {
		e := newPKIEnv(t)
		cert := e.leaf(t, true, false)
		e.setOCSP(cert, ocsp.Good)
		reg := prometheus.NewRegistry()
		c := New(Options{Clock: e.clk, Registerer: reg, RefreshAhead: 1})
		defer c.Close()
		for range 3 {
			if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
				t.Fatal(err)
			}
		}
		res, err := c.Status(context.Background(), cert, e.ca.cert)
		if err != nil || res.Source != SourceCache || res.Origin != SourceOCSP {
			t.Fatalf("Status = %+v, %v; want a cached OCSP answer", res, err)
		}
		if got := e.ocsp.hits.Load(); got != 1 {
			t.Fatalf("OCSP requests = %d, want 1", got)
		}
		e.setOCSP(cert, ocsp.Revoked)
		e.clk.Advance(time.Hour) // the answer's nextUpdate (thisUpdate was a minute earlier)
		if err := c.Check(context.Background(), cert, e.ca.cert, false); !errors.Is(err, ErrRevoked) {
			t.Fatalf("after expiry: Check = %v, want ErrRevoked", err)
		}
		if got := e.ocsp.hits.Load(); got != 2 {
			t.Errorf("OCSP requests = %d, want 2", got)
		}
		for _, m := range []struct {
			labels []string
			want   float64
		}{
			{[]string{"source=ocsp", "result=good"}, 1},
			{[]string{"source=cache", "result=good"}, 3},
			{[]string{"source=ocsp", "result=revoked"}, 1},
		} {
			if got := metricValue(t, reg, "portcullis_revocation_checks_total", m.labels...); got != m.want {
				t.Errorf("checks_total%v = %v, want %v", m.labels, got, m.want)
			}
		}
		if got := metricValue(t, reg, "portcullis_revocation_cache_hits_total", "cache=answer"); got != 3 {
			t.Errorf("cache hits = %v, want 3", got)
		}
		if got := metricValue(t, reg, "portcullis_revocation_cache_misses_total", "cache=answer"); got != 2 {
			t.Errorf("cache misses = %v, want 2", got)
		}
		if got := metricValue(t, reg, "portcullis_revocation_fetch_duration_seconds", "source=ocsp"); got != 2 {
			t.Errorf("fetch duration samples = %v, want 2", got)
		}
	})
	t.Run("unknown answers are not cached", func(t *testing.T) {
		checkTwiceAsksTwice(t, ocsp.Unknown, ErrUnknownStatus, func(e *pkiEnv) Options { return Options{Clock: e.clk} })
	})
	t.Run("bounded", func(t *testing.T) {
		e := newPKIEnv(t)
		c := New(Options{Clock: e.clk, CacheSize: 2, RefreshAhead: 1})
		defer c.Close()
		certs := []*x509.Certificate{e.leaf(t, true, false), e.leaf(t, true, false), e.leaf(t, true, false)}
		for _, cert := range certs {
			e.setOCSP(cert, ocsp.Good)
			if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.answers.len(); got != 2 {
			t.Errorf("cached answers = %d, want 2", got)
		}
		if err := c.Check(context.Background(), certs[0], e.ca.cert, false); err != nil { // evicted: fetched again
			t.Fatal(err)
		}
		if got := e.ocsp.hits.Load(); got != 4 {
			t.Errorf("OCSP requests = %d, want 4", got)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		checkTwiceAsksTwice(t, ocsp.Good, nil, func(e *pkiEnv) Options { return Options{Clock: e.clk, CacheSize: -1} })
	})
}

// checkTwiceAsksTwice checks a certificate whose responder answers status twice with a
// Checker built from opts, expects want (nil: no error) both times, and that the responder
// was asked both times: the answer was not cached.
func checkTwiceAsksTwice(t *testing.T, status int, want error, opts func(*pkiEnv) Options) {
	t.Helper()
	e := newPKIEnv(t)
	cert := e.leaf(t, true, false)
	e.setOCSP(cert, status)
	c := New(opts(e))
	defer c.Close()
	for range 2 {
		if err := c.Check(context.Background(), cert, e.ca.cert, false); !errors.Is(err, want) {
			t.Fatalf("Check = %v, want %v", err, want)
		}
	}
	if got := e.ocsp.hits.Load(); got != 2 {
		t.Errorf("OCSP requests = %d, want 2", got)
	}
}

// TestBackgroundRefresh: a hit past RefreshAhead of the answer's lifetime returns the
// cached answer and starts exactly one refetch, whose answer replaces the cached one.
func TestBackgroundRefresh(t *testing.T) {
	e := newPKIEnv(t)
	cert := e.leaf(t, true, false)
	e.setOCSP(cert, ocsp.Good)
	reg := prometheus.NewRegistry()
	c := New(Options{Clock: e.clk, Registerer: reg, MaxGoodAge: 24 * time.Hour}) // default RefreshAhead 0.75
	defer c.Close()
	if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
		t.Fatal(err)
	}
	// The answer expires at nextUpdate, 60 minutes after it was cached.
	e.clk.Advance(40 * time.Minute) // 67%: not yet
	if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
		t.Fatal(err)
	}
	c.waitBackground()
	if got := e.ocsp.hits.Load(); got != 1 {
		t.Fatalf("OCSP requests before 75%% = %d, want 1", got)
	}

	release := make(chan struct{})
	e.mu.Lock()
	e.ocspGate = func() { <-release }
	e.mu.Unlock()
	e.setOCSP(cert, ocsp.Revoked)
	e.clk.Advance(6 * time.Minute) // 77%
	for range 5 {
		if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
			t.Fatalf("during refresh: Check = %v, want the cached good answer", err)
		}
	}
	close(release)
	c.waitBackground()
	if got := e.ocsp.hits.Load(); got != 2 {
		t.Fatalf("OCSP requests = %d, want 2 (one background refresh)", got)
	}
	var re *RevokedError
	if err := c.Check(context.Background(), cert, e.ca.cert, false); !errors.As(err, &re) {
		t.Fatalf("after refresh: Check = %v, want the refreshed revoked answer", err)
	}
	if got := e.ocsp.hits.Load(); got != 2 {
		t.Errorf("OCSP requests = %d, want 2 (answer served from the cache)", got)
	}
	if got := metricValue(t, reg, "portcullis_revocation_background_refreshes_total", "result=ok"); got != 1 {
		t.Errorf("refreshes ok = %v, want 1", got)
	}
}

// TestBackgroundRefreshCRL: a hot CRL is downloaded again before its nextUpdate.
func TestBackgroundRefreshCRL(t *testing.T) {
	e := newPKIEnv(t)
	a, b, third := e.leaf(t, false, true), e.leaf(t, false, true), e.leaf(t, false, true)
	c := New(Options{Clock: e.clk, MaxGoodAge: 24 * time.Hour})
	defer c.Close()
	if err := c.Check(context.Background(), a, e.ca.cert, false); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(100 * time.Minute) // the CRL lives 120 minutes: 83%
	e.revokeInCRL(b)
	e.revokeInCRL(third)
	if err := c.Check(context.Background(), b, e.ca.cert, false); err != nil {
		t.Fatalf("Check = %v, want good from the cached CRL", err)
	}
	c.waitBackground()
	if got := e.crl.hits.Load(); got != 2 {
		t.Fatalf("CRL downloads = %d, want 2", got)
	}
	// b's own answer stays cached until the old CRL's nextUpdate; another
	// certificate is looked up in the refreshed CRL without another download.
	if err := c.Check(context.Background(), third, e.ca.cert, false); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Check = %v, want ErrRevoked from the refreshed CRL", err)
	}
	if got := e.crl.hits.Load(); got != 2 {
		t.Errorf("CRL downloads = %d, want 2", got)
	}
}

// TestCloseStopsBackgroundRefresh: after Close no refresh starts, and checks still work.
func TestCloseStopsBackgroundRefresh(t *testing.T) {
	e := newPKIEnv(t)
	cert := e.leaf(t, true, false)
	e.setOCSP(cert, ocsp.Good)
	c := New(Options{Clock: e.clk, MaxGoodAge: 24 * time.Hour})
	if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close() // idempotent
	e.clk.Advance(50 * time.Minute)
	if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
		t.Fatal(err)
	}
	c.waitBackground()
	if got := e.ocsp.hits.Load(); got != 1 {
		t.Errorf("OCSP requests = %d, want 1", got)
	}
}

// TestSingleflight: N concurrent checks of one certificate make one OCSP request;
// N concurrent checks of different certificates of one issuer make one CRL download.
func TestSingleflight(t *testing.T) {
	const n = 32
	t.Run("OCSP", func(t *testing.T) {
		e := newPKIEnv(t)
		cert := e.leaf(t, true, false)
		e.setOCSP(cert, ocsp.Good)
		c := New(Options{Clock: e.clk, CacheSize: -1}) // no cache: only the flight can collapse them
		defer c.Close()
		e.mu.Lock()
		e.ocspGate = func() {
			if !pollUntil(func() bool { return c.certWaiters.Load() == n }) {
				t.Error("timed out waiting for all callers to join the fetch") // a handler goroutine: no Fatal
			}
		}
		e.mu.Unlock()
		errs := runConcurrently(n, func(int) error { return c.Check(context.Background(), cert, e.ca.cert, false) })
		for i, err := range errs {
			if err != nil {
				t.Fatalf("caller %d: %v", i, err)
			}
		}
		if got := e.ocsp.hits.Load(); got != 1 {
			t.Errorf("OCSP requests = %d, want 1", got)
		}
	})
	t.Run("CRL", func(t *testing.T) {
		e := newPKIEnv(t)
		certs := make([]*x509.Certificate, n)
		for i := range certs {
			certs[i] = e.leaf(t, false, true)
		}
		e.revokeInCRL(certs[3])
		c := New(Options{Clock: e.clk, CRLCacheSize: -1})
		defer c.Close()
		e.mu.Lock()
		e.crlGate = func() {
			if !pollUntil(func() bool { return c.crlWaiters.Load() == n }) {
				t.Error("timed out waiting for all callers to join the download") // a handler goroutine: no Fatal
			}
		}
		e.mu.Unlock()
		errs := runConcurrently(n, func(i int) error { return c.Check(context.Background(), certs[i], e.ca.cert, false) })
		for i, err := range errs {
			if i == 3 && !errors.Is(err, ErrRevoked) || i != 3 && err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		}
		if got := e.crl.hits.Load(); got != 1 {
			t.Errorf("CRL downloads = %d, want 1", got)
		}
	})
}

func runConcurrently(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errs
}

// TestSharedRegistry: two Checkers on one registry share the collectors.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := New(Options{Registerer: reg}), New(Options{Registerer: reg})
	defer a.Close()
	defer b.Close()
	e := newPKIEnv(t)
	cert := e.leaf(t, false, false)
	_ = a.Check(context.Background(), cert, e.ca.cert, true)
	_ = b.Check(context.Background(), cert, e.ca.cert, true)
	if got := metricValue(t, reg, "portcullis_revocation_softfail_total"); got != 2 {
		t.Errorf("softfail_total = %v, want 2", got)
	}
}

func TestLRU(t *testing.T) {
	c := newLRU[int](2)
	c.add("a", 1)
	c.add("b", 2)
	if v, ok := c.get("a"); !ok || v != 1 { // a is now the most recent
		t.Fatalf("get(a) = %d, %v", v, ok)
	}
	c.add("c", 3) // evicts b
	if _, ok := c.get("b"); ok {
		t.Error("b not evicted")
	}
	c.add("a", 10)
	if v, _ := c.get("a"); v != 10 {
		t.Errorf("get(a) = %d, want 10", v)
	}
	c.removeValue("a", 1) // stale value: kept
	if _, ok := c.get("a"); !ok {
		t.Error("removeValue removed a newer value")
	}
	c.removeValue("a", 10)
	if _, ok := c.get("a"); ok || c.len() != 1 {
		t.Errorf("after removeValue: len %d", c.len())
	}
	off := newLRU[int](-1)
	off.add("x", 1)
	if _, ok := off.get("x"); ok {
		t.Error("disabled cache returned a value")
	}
}

func TestErrorsRender(t *testing.T) {
	re := &RevokedError{Serial: big.NewInt(0x1002), RevokedAt: testNow, Reason: 1, Source: SourceCRL}
	want := "revocation: certificate serial 0x1002 revoked at 2026-05-01T12:00:00Z (reason keyCompromise) according to crl"
	if re.Error() != want {
		t.Errorf("RevokedError = %q, want %q", re.Error(), want)
	}
	ue := &UnavailableError{OCSP: ErrNoOCSPServer, CRL: fmt.Errorf("%w: HTTP status 503", ErrResponderUnavailable)}
	if !errors.Is(ue, ErrNoOCSPServer) || !errors.Is(ue, ErrResponderUnavailable) || errors.Is(ue, ErrRevoked) {
		t.Errorf("UnavailableError causes not matched: %v", ue)
	}
	for s, want := range map[Status]string{StatusGood: "good", StatusRevoked: "revoked", StatusUnknown: "unknown", 9: "Status(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

// TestHTTPURLs: only plain http URLs are used, at most three per source.
func TestHTTPURLs(t *testing.T) {
	got, skipped := httpURLs([]string{
		"ldap://ldap.example/cn=CA?certificateRevocationList", "https://ocsp.example", "http://user:pw@ocsp.example",
		"http://a.example/ocsp", "HTTP://B.example", "http://c.example", "http://d.example", "http:opaque", "://bad",
	})
	want := []string{"http://a.example/ocsp", "http://B.example", "http://c.example"}
	if fmt.Sprint(got) != fmt.Sprint(want) || skipped != 3 {
		t.Errorf("httpURLs = %v (%d skipped), want %v (3 skipped before the limit)", got, skipped, want)
	}
	for _, u := range []string{"https://x.example", "http:opaque", "http://", "file:///etc/passwd"} {
		if _, err := parseHTTPURL(u); err == nil {
			t.Errorf("parseHTTPURL(%q) accepted", u)
		}
	}
}

// TestRedirects: the default client follows http(s) redirects only.
func TestRedirects(t *testing.T) {
	e := newPKIEnv(t)
	good := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, e.ocsp.URL, http.StatusTemporaryRedirect)
	})
	bad := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusTemporaryRedirect)
	})
	viaGood, viaBad := e.ca.leaf(t, []string{good.URL}, nil), e.ca.leaf(t, []string{bad.URL}, nil)
	e.setOCSP(viaGood, ocsp.Good)
	e.setOCSP(viaBad, ocsp.Good)
	c := New(Options{Clock: e.clk})
	defer c.Close()
	if err := c.Check(context.Background(), viaGood, e.ca.cert, false); err != nil {
		t.Errorf("http redirect: %v", err)
	}
	err := c.Check(context.Background(), viaBad, e.ca.cert, false)
	if !errors.Is(err, ErrResponderUnavailable) {
		t.Errorf("file redirect: Check = %v, want ErrResponderUnavailable", err)
	}
}
