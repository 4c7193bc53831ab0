package pki_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
)

var _ pki.RevocationChecker = (*revocation.Checker)(nil)

// TestValidateWithRevocationChecker runs the validator with package revocation's
// checker against the test PKI's loopback OCSP responders and CRL servers.
func TestValidateWithRevocationChecker(t *testing.T) {
	tests := []struct {
		name     string
		softFail bool
		setup    func(ca *pkitest.CA, leaf *pkitest.Leaf)
		want     error // nil: accepted
		revoked  bool  // the error must reach *revocation.RevokedError
	}{
		{name: "good", setup: func(*pkitest.CA, *pkitest.Leaf) {}},
		{name: "leaf revoked", setup: func(ca *pkitest.CA, leaf *pkitest.Leaf) {
			ca.Revoke(t, leaf.Cert.SerialNumber, 1)
		}, want: pki.ErrRevoked, revoked: true},
		{name: "intermediate revoked", setup: func(ca *pkitest.CA, _ *pkitest.Leaf) {
			ca.RootOCSP.SetRevoked(ca.Intermediate.SerialNumber, ca.Clock().Now(), 1)
			ca.RootCRL.Revoke(ca.Intermediate.SerialNumber, ca.Clock().Now(), 1)
		}, want: pki.ErrRevoked, revoked: true},
		{name: "OCSP says unknown", setup: func(ca *pkitest.CA, leaf *pkitest.Leaf) {
			ca.OCSP.SetUnknown(leaf.Cert.SerialNumber)
		}, want: pki.ErrRevoked},
		{name: "OCSP down, CRL answers good", setup: func(ca *pkitest.CA, _ *pkitest.Leaf) {
			ca.OCSP.SetMode(pkitest.ModeHTTPError)
		}},
		{name: "everything down, hard-fail", setup: func(ca *pkitest.CA, _ *pkitest.Leaf) {
			ca.OCSP.Close()
			ca.CRL.Close()
		}, want: pki.ErrRevocationUnavailable},
		{name: "everything down, soft-fail", softFail: true, setup: func(ca *pkitest.CA, _ *pkitest.Leaf) {
			ca.OCSP.Close()
			ca.CRL.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(testNow)
			ca := pkitest.NewCA(t, pkitest.CAOptions{Clock: clk, Intermediate: true, OCSP: true, CRL: true, OCSPOptions: pkitest.OCSPOptions{Delegated: true}})
			leaf := ca.QWAC(t)
			tt.setup(ca, leaf)
			checker := revocation.New(revocation.Options{Clock: clk})
			t.Cleanup(checker.Close)
			v, err := pki.NewValidator(pki.Options{
				Anchors:    []pki.Anchor{{Name: "qtsp", Cert: ca.Root, Profile: pki.ProfileEIDAS, SoftFail: tt.softFail}},
				Revocation: checker,
				Clock:      clk,
			})
			if err != nil {
				t.Fatal(err)
			}
			id, err := v.Validate(context.Background(), leaf.Chain, pki.PurposeTransport)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if id.Kind != pki.KindQWAC {
					t.Errorf("Kind = %s", id.Kind)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, pki.ErrRevocation) {
				t.Fatalf("Validate error = %v, want %v (and ErrRevocation)", err, tt.want)
			}
			other := pki.ErrRevoked
			if tt.want == pki.ErrRevoked {
				other = pki.ErrRevocationUnavailable
			}
			if errors.Is(err, other) {
				t.Errorf("Validate error = %v also matches %v", err, other)
			}
			if tt.revoked {
				var re *revocation.RevokedError
				if !errors.As(err, &re) {
					t.Errorf("errors.As(*revocation.RevokedError) fails for %v", err)
				}
			}
		})
	}
}

// TestValidateHonoursMaxGoodAge: the whole path — the validator's chain cache and the
// checker's answer cache — trusts a "good" answer for at most the checker's MaxGoodAge:
// a certificate revoked at its CA after a successful validation is refused once
// MaxGoodAge has passed, however long the OCSP answer and the chain cache would last.
func TestValidateHonoursMaxGoodAge(t *testing.T) {
	const maxGoodAge = time.Minute
	clk := clock.NewFake(testNow)
	ca := pkitest.NewCA(t, pkitest.CAOptions{Clock: clk, Intermediate: true, OCSP: true, CRL: true})
	leaf := ca.QWAC(t)
	checker := revocation.New(revocation.Options{Clock: clk, MaxGoodAge: maxGoodAge, RefreshAhead: 1})
	t.Cleanup(checker.Close)
	v, err := pki.NewValidator(pki.Options{
		Anchors:    []pki.Anchor{{Name: "qtsp", Cert: ca.Root, Profile: pki.ProfileEIDAS}},
		Revocation: checker,
		Clock:      clk,
		CacheTTL:   pki.MaxCacheTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(context.Background(), leaf.Chain, pki.PurposeTransport); err != nil {
		t.Fatalf("first Validate: %v", err)
	}
	ca.Revoke(t, leaf.Cert.SerialNumber, 1)
	clk.Advance(maxGoodAge - time.Second)
	if _, err := v.Validate(context.Background(), leaf.Chain, pki.PurposeTransport); err != nil {
		t.Fatalf("within MaxGoodAge: Validate = %v, want the cached success", err)
	}
	clk.Advance(time.Second)
	_, err = v.Validate(context.Background(), leaf.Chain, pki.PurposeTransport)
	if !errors.Is(err, pki.ErrRevoked) {
		t.Fatalf("after MaxGoodAge: Validate = %v, want ErrRevoked", err)
	}
}
