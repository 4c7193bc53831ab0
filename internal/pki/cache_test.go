package pki_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

// n returns the number of Check calls so far.
func (f *fakeRevocation) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// scriptedChecker returns its errors in turn (nil once they run out) and counts calls.
type scriptedChecker struct {
	mu    sync.Mutex
	errs  []error
	calls int
}

func (s *scriptedChecker) Check(context.Context, *x509.Certificate, *x509.Certificate, bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(s.errs) == 0 {
		return nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

// cachingValidator builds a validator over e's anchors with the given cache options.
func cachingValidator(t *testing.T, e *env, rev pki.RevocationChecker, clk clock.Clock, ttl time.Duration, size int, intermediates ...*x509.Certificate) *pki.Validator {
	t.Helper()
	v, err := pki.NewValidator(pki.Options{
		Anchors: e.anchors, Intermediates: intermediates, Revocation: rev, Clock: clk,
		CacheTTL: ttl, CacheSize: size,
	})
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

// validateCounting validates chain and reports how many revocation checks it made:
// zero for a cache hit, one per certificate below the anchor for a full validation.
func validateCounting(t *testing.T, v *pki.Validator, rev *fakeRevocation, chain []*x509.Certificate, purpose pki.Purpose) (*pki.Identity, int) {
	t.Helper()
	before := rev.n()
	id, err := v.Validate(context.Background(), chain, purpose)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return id, rev.n() - before
}

// reparse returns new *x509.Certificate values for the same DER: what a second TLS
// handshake with the same client yields.
func reparse(t *testing.T, chain []*x509.Certificate) []*x509.Certificate {
	t.Helper()
	out := make([]*x509.Certificate, len(chain))
	for i, c := range chain {
		var err error
		if out[i], err = x509.ParseCertificate(c.Raw); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestValidateCacheHit: a second validation of the same chain is answered from the
// cache without asking the revocation checker, with an equal Identity built on the
// caller's own certificates.
func TestValidateCacheHit(t *testing.T) {
	e := newEnv(t)
	rev := &fakeRevocation{}
	v := cachingValidator(t, e, rev, e.clk, 0, 0)
	leaf := e.eidasCA.QWAC(t)

	first, checks := validateCounting(t, v, rev, leaf.Chain, pki.PurposeTransport)
	if checks != 2 {
		t.Fatalf("first validation made %d revocation checks, want 2", checks)
	}
	for _, tt := range []struct {
		name  string
		chain []*x509.Certificate
	}{
		{"same certificate values", leaf.Chain},
		{"same DER, parsed again", reparse(t, leaf.Chain)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, checks := validateCounting(t, v, rev, tt.chain, pki.PurposeTransport)
			if checks != 0 {
				t.Errorf("cache hit made %d revocation checks, want 0", checks)
			}
			if got == first {
				t.Error("cache hit returned the same *Identity as the first validation")
			}
			if diff := cmp.Diff(first, got, certComparer); diff != "" {
				t.Errorf("cached Identity (-first +hit):\n%s", diff)
			}
			// As on the uncached path: Leaf and the presented intermediate are the
			// caller's values, the anchor the validator's.
			if got.Leaf != tt.chain[0] || got.Chain[0] != tt.chain[0] || got.Chain[1] != tt.chain[1] {
				t.Error("cached Identity does not point at the caller's certificates")
			}
			if got.Chain[2] != e.eidasCA.Root {
				t.Error("cached Identity's anchor is not the configured anchor certificate")
			}
		})
	}
	if got, want := v.CacheStats(), (pki.CacheStats{Hits: 2, Misses: 1, Entries: 1}); got != want {
		t.Errorf("CacheStats = %+v, want %+v", got, want)
	}
}

// TestValidateCacheKey: any difference in the presented bytes is a different entry.
func TestValidateCacheKey(t *testing.T) {
	e := newEnv(t)
	shortLived := pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, Name: "Unrelated Root"}).Root
	leaf := e.eidasCA.QWAC(t)
	inter := leaf.Chain[1]
	tests := []struct {
		name  string
		chain []*x509.Certificate
	}{
		{"another leaf of the same issuer", e.eidasCA.QWAC(t).Chain},
		{"leaf alone (configured intermediate)", []*x509.Certificate{leaf.Cert}},
		{"intermediate presented twice", []*x509.Certificate{leaf.Cert, inter, inter}},
		{"anchor presented too", []*x509.Certificate{leaf.Cert, inter, e.eidasCA.Root}},
		{"unrelated certificate presented too", []*x509.Certificate{leaf.Cert, inter, shortLived}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev := &fakeRevocation{}
			v := cachingValidator(t, e, rev, e.clk, 0, 0, e.eidasCA.Intermediates()...)
			if _, checks := validateCounting(t, v, rev, leaf.Chain, pki.PurposeTransport); checks != 2 {
				t.Fatalf("priming validation made %d checks, want 2", checks)
			}
			if _, checks := validateCounting(t, v, rev, tt.chain, pki.PurposeTransport); checks != 2 {
				t.Errorf("different chain made %d revocation checks, want 2 (a miss)", checks)
			}
			if _, checks := validateCounting(t, v, rev, tt.chain, pki.PurposeTransport); checks != 0 {
				t.Errorf("repeated different chain made %d revocation checks, want 0 (a hit)", checks)
			}
			if got, want := v.CacheStats(), (pki.CacheStats{Hits: 1, Misses: 2, Entries: 2}); got != want {
				t.Errorf("CacheStats = %+v, want %+v", got, want)
			}
		})
	}
}

// TestValidateCachePurpose: the purpose is part of the key. A certificate good for
// both purposes is validated once per purpose; one good for transport only is still
// refused for signing after a cached transport success.
func TestValidateCachePurpose(t *testing.T) {
	e := newEnv(t)
	rev := &fakeRevocation{}
	v := cachingValidator(t, e, rev, e.clk, 0, 0)

	plain := e.plainCA.Plain(t) // clientAuth and digitalSignature: good for both
	steps := []struct {
		purpose    pki.Purpose
		wantChecks int
	}{
		{pki.PurposeTransport, 1}, // root-issued: one certificate below the anchor
		{pki.PurposeSigning, 1},
		{pki.PurposeTransport, 0},
		{pki.PurposeSigning, 0},
	}
	for i, s := range steps {
		if _, checks := validateCounting(t, v, rev, plain.Chain, s.purpose); checks != s.wantChecks {
			t.Errorf("step %d (%v): %d revocation checks, want %d", i, s.purpose, checks, s.wantChecks)
		}
	}

	qwac := e.eidasCA.QWAC(t)
	if _, checks := validateCounting(t, v, rev, qwac.Chain, pki.PurposeTransport); checks != 2 {
		t.Fatalf("QWAC for transport: %d checks, want 2", checks)
	}
	for range 2 {
		if _, err := v.Validate(context.Background(), qwac.Chain, pki.PurposeSigning); !errors.Is(err, pki.ErrQcTypeMismatch) {
			t.Errorf("QWAC for signing after a cached transport success: %v, want ErrQcTypeMismatch", err)
		}
	}
}

// TestValidateCacheExpiry: an entry lives until TTL after the validation or the
// earliest notAfter of the chain, whichever comes first.
func TestValidateCacheExpiry(t *testing.T) {
	const short = 10 * time.Second
	qwac := func(t *testing.T, e *env) ([]*x509.Certificate, []pki.Anchor) { return e.eidasCA.QWAC(t).Chain, nil }
	tests := []struct {
		name string
		ttl  time.Duration
		// setup returns the presented chain and the anchors (nil: e.anchors).
		setup func(t *testing.T, e *env) ([]*x509.Certificate, []pki.Anchor)
		life  time.Duration
		// expires: the entry ends at a notAfter, and a second later the full
		// validation refuses with ErrExpired.
		expires bool
	}{
		{name: "TTL", ttl: 30 * time.Second, life: 30 * time.Second, setup: qwac},
		{name: "default TTL", life: pki.DefaultCacheTTL, setup: qwac},
		{name: "maximum TTL", ttl: pki.MaxCacheTTL, life: pki.MaxCacheTTL, setup: qwac},
		{name: "leaf notAfter before TTL", ttl: time.Minute, life: short, expires: true,
			setup: func(t *testing.T, e *env) ([]*x509.Certificate, []pki.Anchor) {
				o := pkitest.QWACOptions()
				o.NotAfter = testNow.Add(short)
				return e.eidasCA.Issue(t, o).Chain, nil
			}},
		{name: "intermediate notAfter before TTL", ttl: time.Minute, life: short, expires: true,
			setup: func(t *testing.T, e *env) ([]*x509.Certificate, []pki.Anchor) {
				sub := e.eidasCA.Subordinate(t, pkitest.LeafOptions{Subject: pkix.Name{CommonName: "Short Issuing CA"}, NotAfter: testNow.Add(short)})
				return sub.QWAC(t).Chain, nil
			}},
		{name: "anchor notAfter before TTL", ttl: time.Minute, life: short, expires: true,
			setup: func(t *testing.T, e *env) ([]*x509.Certificate, []pki.Anchor) {
				ca := pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, Name: "Short Plain Root",
					NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(short)})
				return ca.Plain(t).Chain, []pki.Anchor{{Name: "short-plain", Cert: ca.Root, Profile: pki.ProfilePlain}}
			}},
		{name: "unused presented certificate notAfter before TTL", ttl: time.Minute, life: short, expires: true,
			setup: func(t *testing.T, e *env) ([]*x509.Certificate, []pki.Anchor) {
				extra := pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, Name: "Short Unrelated Root",
					NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(short)})
				return append(e.eidasCA.QWAC(t).Chain, extra.Root), nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			chain, anchors := tt.setup(t, e)
			if anchors == nil {
				anchors = e.anchors
			}
			rev := &fakeRevocation{}
			v, err := pki.NewValidator(pki.Options{Anchors: anchors, Revocation: rev, Clock: e.clk, CacheTTL: tt.ttl})
			if err != nil {
				t.Fatal(err)
			}
			_, full := validateCounting(t, v, rev, chain, pki.PurposeTransport)
			if full == 0 {
				t.Fatal("first validation made no revocation check")
			}

			e.clk.Set(testNow.Add(tt.life - time.Nanosecond))
			if _, checks := validateCounting(t, v, rev, chain, pki.PurposeTransport); checks != 0 {
				t.Errorf("just before the end of the entry's life: %d checks, want 0 (a hit)", checks)
			}
			e.clk.Set(testNow.Add(tt.life))
			if _, checks := validateCounting(t, v, rev, chain, pki.PurposeTransport); checks != full {
				t.Errorf("at the end of the entry's life: %d checks, want %d (a miss)", checks, full)
			}
			if !tt.expires {
				return
			}
			// At notAfter itself the certificate is still valid, but a result valid
			// for no time at all is not cached.
			if _, checks := validateCounting(t, v, rev, chain, pki.PurposeTransport); checks != full {
				t.Errorf("again at notAfter: %d checks, want %d (not cached)", checks, full)
			}
			e.clk.Set(testNow.Add(tt.life + time.Second))
			if _, err := v.Validate(context.Background(), chain, pki.PurposeTransport); !errors.Is(err, pki.ErrExpired) {
				t.Errorf("after notAfter: %v, want ErrExpired", err)
			}
		})
	}
}

// TestValidateCacheClockBack: an entry is not used at a time before it was made (a
// clock stepped back), when the certificates might not yet have been valid.
func TestValidateCacheClockBack(t *testing.T) {
	e := newEnv(t)
	rev := &fakeRevocation{}
	v := cachingValidator(t, e, rev, e.clk, 0, 0)
	chain := e.eidasCA.QWAC(t).Chain
	validateCounting(t, v, rev, chain, pki.PurposeTransport)
	e.clk.Set(testNow.Add(-time.Second))
	if _, checks := validateCounting(t, v, rev, chain, pki.PurposeTransport); checks != 2 {
		t.Errorf("after the clock went back: %d checks, want 2 (a miss)", checks)
	}
}

// TestValidateCacheFailuresNotCached: a refusal is never remembered, and a success
// after a refusal is validated in full.
func TestValidateCacheFailuresNotCached(t *testing.T) {
	e := newEnv(t)
	transient := &revokedError{serial: "transient failure"}

	t.Run("checker fails, then succeeds", func(t *testing.T) {
		rev := &scriptedChecker{errs: []error{transient}}
		v := cachingValidator(t, e, rev, e.clk, 0, 0)
		chain := e.eidasCA.QWAC(t).Chain
		if _, err := v.Validate(context.Background(), chain, pki.PurposeTransport); !errors.Is(err, pki.ErrRevocation) || !errors.As(err, new(*revokedError)) {
			t.Fatalf("first Validate: %v, want ErrRevocation wrapping the checker's error", err)
		}
		if got := v.CacheStats().Entries; got != 0 {
			t.Errorf("%d entries after a failure, want 0", got)
		}
		for i, wantCalls := range []int{3, 3} { // failure on the leaf: 1; full success: 2; hit: 0
			if _, err := v.Validate(context.Background(), chain, pki.PurposeTransport); err != nil {
				t.Fatalf("Validate %d: %v", i+2, err)
			}
			if rev.calls != wantCalls {
				t.Errorf("after Validate %d: %d checker calls, want %d", i+2, rev.calls, wantCalls)
			}
		}
	})

	revoked := e.eidasCA.QWAC(t)
	expired := e.eidasCA.Issue(t, func() pkitest.LeafOptions {
		o := pkitest.QWACOptions()
		o.NotBefore, o.NotAfter = testNow.Add(-48*time.Hour), testNow.Add(-time.Second)
		return o
	}())
	for _, tt := range []struct {
		name       string
		chain      []*x509.Certificate
		want       error
		wantChecks int // per attempt
	}{
		{"revoked leaf", revoked.Chain, pki.ErrRevocation, 1},
		{"expired leaf", expired.Chain, pki.ErrExpired, 0},
		{"unknown authority", e.strangerCA.QWAC(t).Chain, pki.ErrUnknownAuthority, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rev := &fakeRevocation{}
			rev.revoke(revoked.Cert)
			v := cachingValidator(t, e, rev, e.clk, 0, 0)
			for i := range 3 {
				if _, err := v.Validate(context.Background(), tt.chain, pki.PurposeTransport); !errors.Is(err, tt.want) {
					t.Fatalf("attempt %d: %v, want %v", i, err, tt.want)
				}
				if got := rev.n(); got != (i+1)*tt.wantChecks {
					t.Errorf("after attempt %d: %d revocation checks, want %d", i, got, (i+1)*tt.wantChecks)
				}
			}
			if got, want := v.CacheStats(), (pki.CacheStats{Misses: 3}); got != want {
				t.Errorf("CacheStats = %+v, want %+v", got, want)
			}
		})
	}
}

// TestValidateCacheEviction: the cache holds at most CacheSize entries and drops
// the least recently used first.
func TestValidateCacheEviction(t *testing.T) {
	e := newEnv(t)
	rev := &fakeRevocation{}
	const size = 3
	v := cachingValidator(t, e, rev, e.clk, 0, size)
	var leaves [][]*x509.Certificate
	for range 6 {
		leaves = append(leaves, e.plainCA.Plain(t).Chain)
	}
	hit := func(i int) bool {
		t.Helper()
		_, checks := validateCounting(t, v, rev, leaves[i], pki.PurposeTransport)
		return checks == 0
	}

	for i := range 3 {
		hit(i) // recency: 2 1 0
	}
	if !hit(0) { // recency: 0 2 1
		t.Fatal("leaf 0 not cached")
	}
	hit(3) // evicts 1; recency: 3 0 2
	for _, tt := range []struct {
		leaf   int
		cached bool
	}{{0, true}, {2, true}, {3, true}, {1, false}} { // the miss on 1 evicts 0 again
		if got := hit(tt.leaf); got != tt.cached {
			t.Errorf("leaf %d cached = %v, want %v", tt.leaf, got, tt.cached)
		}
	}
	for i := range leaves {
		hit(i)
		if n := v.CacheStats().Entries; n > size {
			t.Fatalf("%d entries, limit %d", n, size)
		}
	}
	if s := v.CacheStats(); s.Entries != size || s.Evictions == 0 {
		t.Errorf("CacheStats = %+v, want %d entries and some evictions", s, size)
	}
}

// TestValidateCacheReturnsCopies: changing every field, slice element and IP byte of
// a returned Identity changes neither the cache nor the next caller's Identity.
func TestValidateCacheReturnsCopies(t *testing.T) {
	e := newEnv(t)
	plainAll := pkitest.PlainOptions()
	plainAll.EmailAddresses = []string{"ops@client.example"}
	plainAll.IPAddresses = []net.IP{net.ParseIP("192.0.2.10").To4(), net.ParseIP("2001:db8::1")}
	plainAll.URIs = []*url.URL{{Scheme: "spiffe", Host: "client.example", Path: "/gateway"}}

	filled := map[string]bool{} // slice fields that were non-empty in some row
	for _, tt := range []struct {
		name  string
		chain []*x509.Certificate
	}{
		{"plain with every SAN type", e.plainCA.Issue(t, plainAll).Chain},
		{"QWAC with roles", e.eidasCA.QWAC(t, eidas.RoleAISP, eidas.RolePISP).Chain},
	} {
		t.Run(tt.name, func(t *testing.T) {
			uncached := cachingValidator(t, e, &fakeRevocation{}, e.clk, -1, 0)
			want, err := uncached.Validate(context.Background(), tt.chain, pki.PurposeTransport)
			if err != nil {
				t.Fatal(err)
			}
			rev := &fakeRevocation{}
			v := cachingValidator(t, e, rev, e.clk, 0, 0)
			for i := range 3 { // a miss, then hits; each result is mutated after the check
				got, checks := validateCounting(t, v, rev, tt.chain, pki.PurposeTransport)
				if (checks == 0) != (i > 0) {
					t.Fatalf("validation %d: %d revocation checks", i, checks)
				}
				if diff := cmp.Diff(want, got, certComparer); diff != "" {
					t.Fatalf("validation %d after mutating earlier results (-want +got):\n%s", i, diff)
				}
				mutate(t, reflect.ValueOf(got).Elem(), "Identity", filled)
			}
		})
	}
	// Every slice field of Identity must have been exercised, so that a new one
	// that cloneIdentity forgets cannot pass unnoticed.
	typ := reflect.TypeFor[pki.Identity]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() == reflect.Slice && !filled["Identity."+f.Name] {
			t.Errorf("Identity.%s was empty in every row: its copy is untested", f.Name)
		}
	}
}

// mutate overwrites every string, number, slice element and nested byte reachable
// from v without following pointers (certificates are shared and read-only by
// contract). It records the non-empty slices it touched.
func mutate(t *testing.T, v reflect.Value, path string, filled map[string]bool) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("mutated")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() ^ 0xff)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				mutate(t, v.Field(i), path+"."+v.Type().Field(i).Name, filled)
			}
		}
	case reflect.Slice:
		if v.Len() > 0 {
			filled[path] = true
		}
		for i := range v.Len() {
			el := v.Index(i)
			if el.Kind() == reflect.Pointer {
				el.SetZero() // Chain[i] = nil
				continue
			}
			mutate(t, el, fmt.Sprintf("%s[%d]", path, i), filled)
		}
	case reflect.Pointer:
		// Leaf: a shared certificate, not part of the Identity's own state.
	default:
		t.Fatalf("%s: field of kind %s: teach cloneIdentity and this test about it", path, v.Kind())
	}
}

// TestValidateCacheDisabled: a negative TTL or size disables the cache.
func TestValidateCacheDisabled(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		name string
		ttl  time.Duration
		size int
	}{
		{"negative TTL", -1, 0},
		{"negative size", 0, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rev := &fakeRevocation{}
			v := cachingValidator(t, e, rev, e.clk, tt.ttl, tt.size)
			chain := e.eidasCA.QWAC(t).Chain
			for i := range 3 {
				if _, checks := validateCounting(t, v, rev, chain, pki.PurposeTransport); checks != 2 {
					t.Errorf("validation %d: %d revocation checks, want 2", i, checks)
				}
			}
			v.Invalidate()
			if got := v.CacheStats(); got != (pki.CacheStats{}) {
				t.Errorf("CacheStats = %+v, want zero", got)
			}
		})
	}
}

// invalidatingChecker calls Invalidate on the validator from inside the validation,
// as an operator might while a request is being validated.
type invalidatingChecker struct {
	v     *pki.Validator
	calls int
}

func (c *invalidatingChecker) Check(context.Context, *x509.Certificate, *x509.Certificate, bool) error {
	c.calls++
	if c.calls == 1 {
		c.v.Invalidate()
	}
	return nil
}

// TestValidateCacheInvalidate: Invalidate drops every entry, and a validation in
// flight when it is called does not store its result.
func TestValidateCacheInvalidate(t *testing.T) {
	e := newEnv(t)
	t.Run("drops entries", func(t *testing.T) {
		rev := &fakeRevocation{}
		v := cachingValidator(t, e, rev, e.clk, 0, 0)
		a, b := e.eidasCA.QWAC(t).Chain, e.plainCA.Plain(t).Chain
		validateCounting(t, v, rev, a, pki.PurposeTransport)
		validateCounting(t, v, rev, b, pki.PurposeTransport)
		v.Invalidate()
		if got := v.CacheStats().Entries; got != 0 {
			t.Errorf("%d entries after Invalidate", got)
		}
		if _, checks := validateCounting(t, v, rev, a, pki.PurposeTransport); checks != 2 {
			t.Errorf("after Invalidate: %d checks, want 2", checks)
		}
		if _, checks := validateCounting(t, v, rev, b, pki.PurposeTransport); checks != 1 {
			t.Errorf("after Invalidate: %d checks, want 1", checks)
		}
	})
	t.Run("during a validation", func(t *testing.T) {
		rev := &invalidatingChecker{}
		v := cachingValidator(t, e, rev, e.clk, 0, 0)
		rev.v = v
		chain := e.eidasCA.QWAC(t).Chain
		for i, wantCalls := range []int{2, 4, 4} { // invalidated: not stored; stored; hit
			if _, err := v.Validate(context.Background(), chain, pki.PurposeTransport); err != nil {
				t.Fatal(err)
			}
			if rev.calls != wantCalls {
				t.Errorf("after Validate %d: %d checker calls, want %d", i+1, rev.calls, wantCalls)
			}
		}
	})
}

// TestValidateCacheConcurrent exercises the cache from many goroutines under
// eviction and invalidation (run with -race): every result is the right one.
func TestValidateCacheConcurrent(t *testing.T) {
	e := newEnv(t)
	v := cachingValidator(t, e, &fakeRevocation{}, e.clk, 0, 2)
	var chains [][]*x509.Certificate
	for range 4 {
		chains = append(chains, e.eidasCA.QWAC(t).Chain)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				if g == 0 && i%10 == 0 {
					v.Invalidate()
				}
				chain := chains[(g+i)%len(chains)]
				id, err := v.Validate(context.Background(), chain, pki.PurposeTransport)
				switch {
				case err != nil:
					errs <- err
					return
				case id.Leaf != chain[0] || id.Thumbprint != thumbprint(chain[0]) || len(id.Chain) != 3 || id.Chain[1] != chain[1]:
					errs <- fmt.Errorf("goroutine %d: Identity of another chain", g)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := v.CacheStats(); s.Entries > 2 || s.Hits+s.Misses != 8*40 {
		t.Errorf("CacheStats = %+v", s)
	}
}
