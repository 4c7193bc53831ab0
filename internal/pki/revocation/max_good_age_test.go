package revocation

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/portcullis/portcullis/internal/pki"
)

// The checker's "could not check" errors say so to package pki, which is how callers
// tell them apart from "checked and bad" without importing this package.
var (
	_ pki.RevocationUnavailable = (*UnavailableError)(nil)
	_ pki.RevocationUnavailable = noRevocationInfoError{}
)

// TestMaxGoodAge: a cached "good" answer is used for at most MaxGoodAge, however far
// away its nextUpdate is; then the responder is asked again and its "revoked" stands.
func TestMaxGoodAge(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxGoodAge time.Duration // Options.MaxGoodAge
		within     time.Duration // still cached at this age
		after      time.Duration // re-checked at this age
	}{
		{name: "default", maxGoodAge: 0, within: DefaultMaxGoodAge - time.Second, after: DefaultMaxGoodAge},
		{name: "one minute", maxGoodAge: time.Minute, within: 59 * time.Second, after: time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPKIEnv(t) // OCSP answers are valid for an hour
			cert := e.leaf(t, true, false)
			e.setOCSP(cert, ocsp.Good)
			c := New(Options{Clock: e.clk, MaxGoodAge: tc.maxGoodAge, RefreshAhead: 1})
			defer c.Close()
			if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
				t.Fatal(err)
			}
			e.setOCSP(cert, ocsp.Revoked)
			e.clk.Advance(tc.within)
			if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
				t.Fatalf("within MaxGoodAge: Check = %v, want the cached good answer", err)
			}
			e.clk.Advance(tc.after - tc.within)
			if err := c.Check(context.Background(), cert, e.ca.cert, false); !errors.Is(err, ErrRevoked) {
				t.Fatalf("after MaxGoodAge: Check = %v, want ErrRevoked", err)
			}
			if got := e.ocsp.hits.Load(); got != 2 {
				t.Errorf("OCSP requests = %d, want 2", got)
			}
		})
	}
	t.Run("negative: good answers not cached", func(t *testing.T) {
		checkTwiceAsksTwice(t, ocsp.Good, nil, func(e *pkiEnv) Options { return Options{Clock: e.clk, MaxGoodAge: -1} })
	})
	t.Run("revoked answers keep their lifetime", func(t *testing.T) {
		e := newPKIEnv(t)
		cert := e.leaf(t, true, false)
		e.setOCSP(cert, ocsp.Revoked)
		c := New(Options{Clock: e.clk, MaxGoodAge: time.Minute})
		defer c.Close()
		for range 2 {
			if err := c.Check(context.Background(), cert, e.ca.cert, false); !errors.Is(err, ErrRevoked) {
				t.Fatalf("Check = %v, want ErrRevoked", err)
			}
			e.clk.Advance(10 * time.Minute)
		}
		if got := e.ocsp.hits.Load(); got != 1 {
			t.Errorf("OCSP requests = %d, want 1", got)
		}
	})
	t.Run("CRL re-downloaded after MaxGoodAge", func(t *testing.T) {
		e := newPKIEnv(t) // CRLs are valid for two hours
		cert := e.leaf(t, false, true)
		c := New(Options{Clock: e.clk, MaxGoodAge: time.Minute, RefreshAhead: 1})
		defer c.Close()
		if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
			t.Fatal(err)
		}
		e.revokeInCRL(cert)
		e.clk.Advance(time.Minute)
		if err := c.Check(context.Background(), cert, e.ca.cert, false); !errors.Is(err, ErrRevoked) {
			t.Fatalf("after MaxGoodAge: Check = %v, want ErrRevoked from a new CRL", err)
		}
		if got := e.crl.hits.Load(); got != 2 {
			t.Errorf("CRL downloads = %d, want 2", got)
		}
	})
}

// TestForget: Forget drops one certificate's cached answer (and its issuer's cached
// CRLs), so that the next check asks again; other certificates keep theirs; a wrong
// issuer fingerprint drops nothing.
func TestForget(t *testing.T) {
	e := newPKIEnv(t)
	cert, other := e.leaf(t, true, true), e.leaf(t, true, false)
	e.setOCSP(cert, ocsp.Good)
	e.setOCSP(other, ocsp.Good)
	c := New(Options{Clock: e.clk, RefreshAhead: 1})
	defer c.Close()
	check := func(want error) {
		t.Helper()
		if err := c.Check(context.Background(), cert, e.ca.cert, false); (want == nil) != (err == nil) || !errors.Is(err, want) {
			t.Fatalf("Check = %v, want %v", err, want)
		}
		if err := c.Check(context.Background(), other, e.ca.cert, false); err != nil {
			t.Fatalf("Check(other) = %v", err)
		}
	}
	check(nil)
	e.setOCSP(cert, ocsp.Revoked)
	check(nil) // cached
	if n := c.Forget(cert.SerialNumber, []byte("not the issuer's fingerprint....")); n != 0 {
		t.Errorf("Forget with another issuer dropped %d answers, want 0", n)
	}
	check(nil)
	sum := sha256.Sum256(e.ca.cert.Raw)
	if n := c.Forget(cert.SerialNumber, sum[:]); n != 1 {
		t.Errorf("Forget dropped %d answers, want 1", n)
	}
	check(ErrRevoked)
	if got := e.ocsp.hits.Load(); got != 3 {
		t.Errorf("OCSP requests = %d, want 3 (two first checks, one after Forget)", got)
	}
	if n := c.Forget(other.SerialNumber, nil); n != 1 {
		t.Errorf("Forget(any issuer) dropped %d answers, want 1", n)
	}
	if n := c.Forget(nil, nil); n != 0 {
		t.Errorf("Forget(nil) dropped %d answers", n)
	}
}

// TestForgetDropsIssuerCRL: for a certificate answered from its CRL, Forget also drops
// the issuer's cached CRL, so that the next check downloads it again.
func TestForgetDropsIssuerCRL(t *testing.T) {
	e := newPKIEnv(t)
	cert := e.leaf(t, false, true)
	c := New(Options{Clock: e.clk, RefreshAhead: 1})
	defer c.Close()
	if err := c.Check(context.Background(), cert, e.ca.cert, false); err != nil {
		t.Fatal(err)
	}
	e.revokeInCRL(cert)
	if n := c.Forget(cert.SerialNumber, nil); n != 1 {
		t.Fatalf("Forget dropped %d answers, want 1", n)
	}
	if err := c.Check(context.Background(), cert, e.ca.cert, false); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after Forget: Check = %v, want ErrRevoked from a new CRL", err)
	}
	if got := e.crl.hits.Load(); got != 2 {
		t.Errorf("CRL downloads = %d, want 2", got)
	}
}
