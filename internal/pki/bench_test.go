package pki_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
)

// goodChecker is an always-good RevocationChecker: validation cost without any
// revocation work.
type goodChecker struct{}

func (goodChecker) Check(context.Context, *x509.Certificate, *x509.Certificate, bool) error {
	return nil
}

// benchOptions selects the revocation checker and the validated-chain cache of a
// benchmark.
type benchOptions struct {
	// ocsp runs loopback OCSP responders (delegated signers) for the leaf and the
	// intermediate.
	ocsp bool
	// checker builds the revocation checker; nil means goodChecker.
	checker func(b *testing.B, clk clock.Clock) pki.RevocationChecker
	// cacheTTL is Options.CacheTTL: negative disables the validated-chain cache.
	cacheTTL time.Duration
}

// benchChain is a QWAC (ECDSA P-256 throughout) presented with its intermediate,
// under an eIDAS root with twenty other anchors configured beside it.
func benchChain(b *testing.B, o benchOptions) (*pki.Validator, []*x509.Certificate, *pkitest.CA) {
	clk := clock.NewFake(testNow)
	ca := pkitest.NewCA(b, pkitest.CAOptions{Clock: clk, Intermediate: true, OCSP: o.ocsp, OCSPOptions: pkitest.OCSPOptions{Delegated: true}})
	anchors := []pki.Anchor{{Name: "qtsp", Cert: ca.Root, Profile: pki.ProfileEIDAS}}
	for i := 0; i < 20; i++ {
		other := pkitest.NewCA(b, pkitest.CAOptions{Clock: clk, Name: "Other Root " + string(rune('A'+i))})
		anchors = append(anchors, pki.Anchor{Name: "other", Cert: other.Root, Profile: pki.ProfileEIDAS})
	}
	var checker pki.RevocationChecker = goodChecker{}
	if o.checker != nil {
		checker = o.checker(b, clk)
	}
	v, err := pki.NewValidator(pki.Options{Anchors: anchors, Revocation: checker, Clock: clk, CacheTTL: o.cacheTTL})
	if err != nil {
		b.Fatal(err)
	}
	return v, ca.QWAC(b).Chain, ca
}

// realChecker returns a revocation.Checker with the given cache sizes (negative:
// disabled), closed when the benchmark ends.
func realChecker(cacheSize, crlCacheSize int) func(b *testing.B, clk clock.Clock) pki.RevocationChecker {
	return func(b *testing.B, clk clock.Clock) pki.RevocationChecker {
		c := revocation.New(revocation.Options{Clock: clk, CacheSize: cacheSize, CRLCacheSize: crlCacheSize})
		b.Cleanup(c.Close)
		return c
	}
}

func ocspRequests(ca *pkitest.CA) int { return ca.OCSP.Requests() + ca.RootOCSP.Requests() }

// runValidate validates chain b.N times and reports the OCSP requests made per
// validation (after warm-up validations, which are not counted).
func runValidate(b *testing.B, v *pki.Validator, chain []*x509.Certificate, ca *pkitest.CA, warmup int) float64 {
	ctx := context.Background()
	for range warmup {
		if _, err := v.Validate(ctx, chain, pki.PurposeTransport); err != nil {
			b.Fatal(err)
		}
	}
	before := 0
	if ca.OCSP != nil {
		before = ocspRequests(ca)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(ctx, chain, pki.PurposeTransport); err != nil {
			b.Fatal(err)
		}
	}
	if ca.OCSP == nil {
		return 0
	}
	perOp := float64(ocspRequests(ca)-before) / float64(b.N)
	b.ReportMetric(perOp, "ocsp-req/op")
	return perOp
}

// BenchmarkValidate is the whole validation of a QWAC chain with an always-good
// revocation checker and no validated-chain cache: the validator's own cost.
func BenchmarkValidate(b *testing.B) {
	v, chain, ca := benchChain(b, benchOptions{cacheTTL: -1})
	runValidate(b, v, chain, ca, 0)
}

// BenchmarkValidateRevocationWarm is the whole validation with package revocation's
// checker whose answers for the leaf and the intermediate are already cached (the
// loopback OCSP responders are not asked during the loop), and no validated-chain
// cache. The goal is at most 2× BenchmarkX509Verify.
func BenchmarkValidateRevocationWarm(b *testing.B) {
	v, chain, ca := benchChain(b, benchOptions{ocsp: true, checker: realChecker(0, 0), cacheTTL: -1})
	if perOp := runValidate(b, v, chain, ca, 1); perOp != 0 {
		b.Fatalf("warm path made %.2f OCSP requests per validation, want 0", perOp)
	}
}

// BenchmarkValidateRevocationCold is the whole validation with package revocation's
// checker caching nothing: every validation asks the loopback OCSP responders for
// the leaf and the intermediate (two requests, each response signed by a delegated
// responder and verified).
func BenchmarkValidateRevocationCold(b *testing.B) {
	v, chain, ca := benchChain(b, benchOptions{ocsp: true, checker: realChecker(-1, -1), cacheTTL: -1})
	if perOp := runValidate(b, v, chain, ca, 0); perOp != 2 {
		b.Fatalf("cold path made %.2f OCSP requests per validation, want 2", perOp)
	}
}

// BenchmarkValidateIdentityCached is a validation answered by the validated-chain
// cache (default TTL) in front of the warm revocation checker: the token endpoint's
// and the gateway's per-request cost for a returning client.
func BenchmarkValidateIdentityCached(b *testing.B) {
	v, chain, ca := benchChain(b, benchOptions{ocsp: true, checker: realChecker(0, 0)})
	if perOp := runValidate(b, v, chain, ca, 1); perOp != 0 {
		b.Fatalf("cached path made %.2f OCSP requests per validation, want 0", perOp)
	}
	if s := v.CacheStats(); s.Misses != 1 {
		b.Fatalf("CacheStats = %+v, want one miss (the warm-up)", s)
	}
}

// BenchmarkX509Verify is the bare x509 path validation of the same chain: the floor
// under BenchmarkValidate.
func BenchmarkX509Verify(b *testing.B) {
	_, chain, ca := benchChain(b, benchOptions{cacheTTL: -1})
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
