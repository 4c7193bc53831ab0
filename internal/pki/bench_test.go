package pki_test

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

// goodChecker is an always-good RevocationChecker: the warm path, where revocation
// answers come from the revocation package's cache.
type goodChecker struct{}

func (goodChecker) Check(context.Context, *x509.Certificate, *x509.Certificate, bool) error {
	return nil
}

// benchChain is a QWAC presented with its intermediate, under an eIDAS root with a
// few other anchors configured beside it.
func benchChain(b *testing.B) (*pki.Validator, []*x509.Certificate, *pkitest.CA) {
	clk := clock.NewFake(testNow)
	ca := pkitest.NewCA(b, pkitest.CAOptions{Clock: clk, Intermediate: true})
	anchors := []pki.Anchor{{Name: "qtsp", Cert: ca.Root, Profile: pki.ProfileEIDAS}}
	for i := 0; i < 20; i++ {
		other := pkitest.NewCA(b, pkitest.CAOptions{Clock: clk, Name: "Other Root " + string(rune('A'+i))})
		anchors = append(anchors, pki.Anchor{Name: "other", Cert: other.Root, Profile: pki.ProfileEIDAS})
	}
	v, err := pki.NewValidator(pki.Options{Anchors: anchors, Revocation: goodChecker{}, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	return v, ca.QWAC(b).Chain, ca
}

// BenchmarkValidate is the whole validation of a QWAC chain with a warm (always
// good) revocation checker. Compare with BenchmarkX509Verify; the goal is at most 2×.
func BenchmarkValidate(b *testing.B) {
	v, chain, _ := benchChain(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(ctx, chain, pki.PurposeTransport); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkX509Verify is the bare x509 path validation of the same chain: the floor
// under BenchmarkValidate.
func BenchmarkX509Verify(b *testing.B) {
	_, chain, ca := benchChain(b)
	roots := ca.Pool()
	b.ReportAllocs()
	for b.Loop() {
		inter := x509.NewCertPool()
		inter.AddCert(chain[1])
		if _, err := chain[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: testNow,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		}); err != nil {
			b.Fatal(err)
		}
	}
}
