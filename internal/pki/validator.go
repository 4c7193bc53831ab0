package pki

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/dn"
)

// RevocationChecker establishes that cert, issued by issuer, is not revoked
// (pki.md §2). Package revocation's Checker implements it.
//
// Check returns nil when the certificate is good, or when its status cannot be
// established and softFail is true; it returns an error when the certificate is
// revoked, its status is unknown, or (softFail false) no status could be obtained. The
// validator treats every error as a rejection: an error that implements
// [RevocationUnavailable] (reporting true) or wraps a context error becomes
// [ErrRevocationUnavailable], every other one [ErrRevoked].
type RevocationChecker interface {
	Check(ctx context.Context, cert, issuer *x509.Certificate, softFail bool) error
}

// RevocationCheckerUntil is an optional capability of a [RevocationChecker] (package
// revocation's Checker has it): CheckUntil is Check that also reports, for a "good"
// verdict, until when that verdict may be relied on without asking again (the zero time:
// no bound, as for a soft-fail pass). The validator then ends a cached validation no
// later than the earliest such time of the chain, so that its cache never extends how long
// a revocation answer is trusted.
type RevocationCheckerUntil interface {
	CheckUntil(ctx context.Context, cert, issuer *x509.Certificate, softFail bool) (time.Time, error)
}

// DefaultMaxChainLen is the chain length limit when Options.MaxChainLen is zero: a
// leaf, up to three intermediates and the root.
const DefaultMaxChainLen = 5

// Options configures [NewValidator].
type Options struct {
	// Anchors are the trust anchors. At least one is required. When a chain verifies
	// to more than one anchor, the one listed first decides the profile and the
	// revocation policy.
	Anchors []Anchor
	// Intermediates are CA certificates a chain may use in addition to those the
	// client presents (for clients that send only their leaf). Nil means none.
	Intermediates []*x509.Certificate
	// Revocation checks every certificate below the anchor. It is required for any
	// chain to be accepted: with a nil checker NewValidator succeeds, but every
	// Validate fails with ErrNoRevocationChecker (fail closed, never a silent pass).
	Revocation RevocationChecker
	// Clock tells "now" for validity periods. Nil means the real clock.
	Clock clock.Clock
	// MaxChainLen bounds both the presented chain and the verified chain (anchor
	// included). Zero means DefaultMaxChainLen; negative is an error.
	MaxChainLen int

	// CacheTTL is how long a successful validation of a (purpose, presented chain)
	// is reused instead of validating again. Zero means [DefaultCacheTTL]; negative
	// disables the cache (every Validate runs every check); above [MaxCacheTTL] is
	// an error. An entry also ends at the earliest notAfter of the presented and
	// verified certificates, so the cache never outlives a certificate.
	//
	// Revocation freshness: a cached result is reused for at most CacheTTL without
	// asking the revocation checker and, when the checker implements
	// [RevocationCheckerUntil], never past the time until which its answers for the
	// chain may be relied on; a certificate revoked at its CA is then refused within the
	// checker's own reuse window (package revocation: Options.MaxGoodAge). With a
	// checker without that capability, the window is CacheTTL plus the checker's. Under a soft-fail
	// anchor, an acceptance made while no revocation status was obtainable is
	// cached like any other. [Validator.Invalidate] drops every entry at once.
	// Failures are never cached.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached validations; the least recently used
	// is dropped first. Zero means [DefaultCacheSize]; negative disables the
	// cache.
	CacheSize int

	// Timeout bounds one validation that is not answered from the cache, revocation
	// lookups included: when it passes, Validate fails with [ErrRevocationUnavailable]
	// (could not check), so that a caller answering a request does so before its own
	// deadline (the listener's write timeout) rather than losing the connection. The
	// revocation checker may keep resolving in the background for the next call. Zero
	// means no bound but ctx's; negative is an error.
	Timeout time.Duration
}

// Validator validates presented certificate chains against configured trust anchors.
// It is safe for concurrent use; its pools are built once, in NewValidator.
type Validator struct {
	anchors       []Anchor
	anchorIndex   map[string]int // anchor certificate DER → index in anchors
	roots         *x509.CertPool
	intermediates *x509.CertPool // configured intermediates; nil when none
	revocation    RevocationChecker
	clock         clock.Clock
	maxChainLen   int
	timeout       time.Duration // Options.Timeout
	cache         *chainCache   // nil when disabled
}

// NewValidator checks opts and builds the certificate pools. It fails when there is
// no anchor, an anchor is invalid (no name, no or a non-CA certificate, unknown
// profile), the same anchor certificate is configured twice, an intermediate is nil
// or not a CA certificate, MaxChainLen or Timeout is negative, or CacheTTL exceeds
// [MaxCacheTTL].
func NewValidator(opts Options) (*Validator, error) {
	if len(opts.Anchors) == 0 {
		return nil, errors.New("pki: no trust anchor configured")
	}
	if opts.MaxChainLen < 0 {
		return nil, fmt.Errorf("pki: MaxChainLen %d is negative", opts.MaxChainLen)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("pki: Timeout %s is negative", opts.Timeout)
	}
	if opts.CacheTTL > MaxCacheTTL {
		return nil, fmt.Errorf("pki: CacheTTL %s exceeds %s", opts.CacheTTL, MaxCacheTTL)
	}
	v := &Validator{
		anchors:     slices.Clone(opts.Anchors),
		anchorIndex: make(map[string]int, len(opts.Anchors)),
		roots:       x509.NewCertPool(),
		revocation:  opts.Revocation,
		clock:       opts.Clock,
		maxChainLen: opts.MaxChainLen,
		timeout:     opts.Timeout,
	}
	if v.clock == nil {
		v.clock = clock.Real{}
	}
	if v.maxChainLen == 0 {
		v.maxChainLen = DefaultMaxChainLen
	}
	if opts.CacheTTL >= 0 && opts.CacheSize >= 0 {
		ttl, size := opts.CacheTTL, opts.CacheSize
		if ttl == 0 {
			ttl = DefaultCacheTTL
		}
		if size == 0 {
			size = DefaultCacheSize
		}
		v.cache = newChainCache(ttl, size)
	}
	for i := range v.anchors {
		a := &v.anchors[i]
		if err := a.validate(); err != nil {
			return nil, err
		}
		if j, dup := v.anchorIndex[string(a.Cert.Raw)]; dup {
			return nil, fmt.Errorf("pki: anchor %q: certificate %q already configured as anchor %q",
				a.Name, a.Cert.Subject.CommonName, v.anchors[j].Name)
		}
		v.anchorIndex[string(a.Cert.Raw)] = i
		v.roots.AddCert(a.Cert)
	}
	if len(opts.Intermediates) > 0 {
		v.intermediates = x509.NewCertPool()
		for i, c := range opts.Intermediates {
			if c == nil {
				return nil, fmt.Errorf("pki: intermediate %d is nil", i)
			}
			if !c.BasicConstraintsValid || !c.IsCA {
				return nil, fmt.Errorf("pki: intermediate %q is not a CA certificate", c.Subject.CommonName)
			}
			v.intermediates.AddCert(c)
		}
	}
	return v, nil
}

// String returns "transport" or "signing".
func (p Purpose) String() string {
	switch p {
	case PurposeTransport:
		return "transport"
	case PurposeSigning:
		return "signing"
	}
	return "Purpose(" + strconv.Itoa(int(p)) + ")"
}

// Validate decides whether chain (leaf first, as presented: by the TLS handshake or a
// trusted proxy header) is good for purpose, and returns the leaf's [Identity]
// (pki.md §1, §2). The checks run in this order, and the first failure is returned as
// a *[ValidationError] with that Reason:
//
//  1. the chain is not empty and holds no nil and no certificate without its DER
//     encoding (Raw) ([ErrNoCertificate]) and is at most MaxChainLen long
//     ([ErrChainTooLong]);
//  2. every presented certificate is within its validity period ([ErrExpired],
//     [ErrNotYetValid]) — checked before path building so that the reason is exact;
//  3. the leaf chains to a configured anchor, through presented or configured
//     intermediates, by x509 path validation at the clock's time
//     ([ErrUnknownAuthority]; [ErrExpired] / [ErrNotYetValid] for an intermediate or
//     anchor outside its validity; [ErrInvalidChain] for anything else x509
//     refuses). Extended key usage is not checked by x509 here but in step 4;
//  4. key usage for the purpose ([ErrKeyUsage]): the leaf is not a CA; transport
//     needs the clientAuth EKU on the leaf, digitalSignature if keyUsage is present,
//     and intermediates whose EKU extension allows clientAuth (or any); signing needs
//     digitalSignature or nonRepudiation;
//  5. the anchor's profile rules (see [Profile]): eidas — qcStatements valid
//     ([ErrQCStatements]), QcCompliance ([ErrNotQualified]), QcType exactly web for
//     transport or eseal for signing ([ErrQcTypeMismatch]), PSD2 statement
//     ([ErrNoPSD2Statement]), organizationIdentifier in PSD form
//     ([ErrOrganizationIdentifier]) whose country and NCA equal nCAId
//     ([ErrNCAMismatch]); ob — the same without QcCompliance and without the
//     organizationIdentifier requirement, the OB org_id taken from the single CN;
//     plain — nothing;
//  6. the subject renders as RFC 4514 ([ErrSubject]);
//  7. revocation of every certificate of the verified chain except the anchor, leaf
//     first, under the anchor's SoftFail policy ([ErrRevoked] or
//     [ErrRevocationUnavailable] wrapping the checker's error, both matching
//     [ErrRevocation]; [ErrNoRevocationChecker] without a checker).
//
// A purpose other than PurposeTransport and PurposeSigning is a programming error and
// returns ErrInvalidPurpose.
//
// Unless Options.CacheTTL or CacheSize disables it, a success is cached under the
// purpose and the exact DER of every presented certificate, and a later call with
// the same purpose and the same bytes returns the cached result without running
// steps 2–7 for as long as Options.CacheTTL describes (which bounds how late a
// revocation is noticed). Step 1 always runs, and failures are never cached. The
// cache key is each certificate's Raw: the certificates must be as
// x509.ParseCertificate (or crypto/tls) returned them, not modified since.
//
// Every call returns a new Identity that the caller may modify; the certificates it
// points to are shared (its Leaf and the presented ones in Chain are the caller's
// own chain elements) and must not be modified.
func (v *Validator) Validate(ctx context.Context, chain []*x509.Certificate, purpose Purpose) (*Identity, error) {
	if purpose != PurposeTransport && purpose != PurposeSigning {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPurpose, purpose)
	}
	if len(chain) == 0 {
		return nil, fail(ErrNoCertificate, nil, nil)
	}
	if len(chain) > v.maxChainLen {
		return nil, fail(ErrChainTooLong, nil, fmt.Errorf("%d certificates, limit %d", len(chain), v.maxChainLen))
	}
	for _, c := range chain {
		if c == nil {
			return nil, fail(ErrNoCertificate, nil, errors.New("nil certificate in chain"))
		}
		if len(c.Raw) == 0 {
			// Not a parsed certificate: it has no thumbprint and no cache key.
			return nil, fail(ErrNoCertificate, c, errors.New("certificate without its DER encoding"))
		}
	}
	now := v.clock.Now()
	if v.cache == nil {
		id, _, err := v.validateBounded(ctx, chain, purpose, now)
		return id, err
	}
	key := newCacheKey(purpose, chain)
	cached, gen := v.cache.get(key, chain, now)
	if cached != nil {
		return cached, nil
	}
	id, until, err := v.validateBounded(ctx, chain, purpose, now)
	if err != nil {
		return nil, err
	}
	v.cache.put(key, id, chain, now, until, gen)
	return id, nil
}

// validateBounded is validate under Options.Timeout: the deadline (a timer) is paid only
// by validations that do the work, never by cache hits.
func (v *Validator) validateBounded(ctx context.Context, chain []*x509.Certificate, purpose Purpose, now time.Time) (*Identity, time.Time, error) {
	if v.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, v.timeout)
		defer cancel()
	}
	return v.validate(ctx, chain, purpose, now)
}

// validate runs steps 2–7 of Validate on a chain that passed step 1. On success it also
// returns the earliest time until which the revocation checker's answers may be relied
// on (zero: no bound known).
func (v *Validator) validate(ctx context.Context, chain []*x509.Certificate, purpose Purpose, now time.Time) (*Identity, time.Time, error) {
	leaf := chain[0]

	for _, c := range chain {
		if err := checkValidity(c, now); err != nil {
			return nil, time.Time{}, err
		}
	}

	verified, anchor, err := v.verify(leaf, chain[1:], now)
	if err != nil {
		return nil, time.Time{}, err
	}

	if err := checkPurpose(verified, purpose); err != nil {
		return nil, time.Time{}, err
	}

	id := &Identity{
		Leaf:           leaf,
		Chain:          verified,
		DNSNames:       slices.Clone(leaf.DNSNames),
		EmailAddresses: slices.Clone(leaf.EmailAddresses),
		IPAddresses:    cloneIPs(leaf.IPAddresses), // x509 parses them as sub-slices of leaf.Raw
		Thumbprint:     Thumbprint(leaf),
		Profile:        anchor.Profile,
		Anchor:         anchor.Name,
	}
	for _, u := range leaf.URIs {
		id.URIs = append(id.URIs, u.String())
	}
	if err := applyProfile(id, leaf, anchor.Profile, purpose); err != nil {
		return nil, time.Time{}, err
	}
	if id.Subject, err = dn.Render(leaf.RawSubject); err != nil {
		return nil, time.Time{}, fail(ErrSubject, leaf, err)
	}

	if v.revocation == nil {
		return nil, time.Time{}, fail(ErrNoRevocationChecker, leaf, nil)
	}
	withUntil, _ := v.revocation.(RevocationCheckerUntil)
	var until time.Time
	for i := 0; i < len(verified)-1; i++ {
		var u time.Time
		var err error
		if withUntil != nil {
			u, err = withUntil.CheckUntil(ctx, verified[i], verified[i+1], anchor.SoftFail)
		} else {
			err = v.revocation.Check(ctx, verified[i], verified[i+1], anchor.SoftFail)
		}
		if err != nil {
			return nil, time.Time{}, fail(revocationReason(err), verified[i], err)
		}
		if !u.IsZero() && (until.IsZero() || u.Before(until)) {
			until = u
		}
	}
	return id, until, nil
}

// Invalidate drops every cached validation result, so that the next Validate of any
// chain runs every check again (for instance after revoking a certificate, or in
// tests). A validation already running when Invalidate is called does not cache its
// result. Without a cache it does nothing.
func (v *Validator) Invalidate() {
	if v.cache != nil {
		v.cache.invalidate()
	}
}

// CacheStats returns the validated-chain cache's counters; all zero when the cache
// is disabled.
func (v *Validator) CacheStats() CacheStats {
	if v.cache == nil {
		return CacheStats{}
	}
	return v.cache.statistics()
}

// checkValidity applies RFC 5280 §4.1.2.5: notBefore <= now <= notAfter.
func checkValidity(c *x509.Certificate, now time.Time) *ValidationError {
	if now.Before(c.NotBefore) {
		return fail(ErrNotYetValid, c, fmt.Errorf("valid from %s", c.NotBefore.UTC().Format(time.RFC3339)))
	}
	if now.After(c.NotAfter) {
		return fail(ErrExpired, c, fmt.Errorf("expired at %s", c.NotAfter.UTC().Format(time.RFC3339)))
	}
	return nil
}

// verify builds and verifies the paths from leaf to the anchors and picks the one
// ending at the first-configured anchor (shortest on a tie).
func (v *Validator) verify(leaf *x509.Certificate, presented []*x509.Certificate, now time.Time) ([]*x509.Certificate, *Anchor, error) {
	pool := v.intermediates
	if len(presented) > 0 {
		if pool != nil {
			pool = pool.Clone()
		} else {
			pool = x509.NewCertPool()
		}
		for _, c := range presented {
			pool.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: pool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, nil, verifyError(leaf, err, now)
	}
	best, bestIdx := []*x509.Certificate(nil), len(v.anchors)
	for _, ch := range chains {
		if len(ch) > v.maxChainLen {
			continue
		}
		idx, ok := v.anchorIndex[string(ch[len(ch)-1].Raw)]
		if !ok {
			continue
		}
		if idx < bestIdx || (idx == bestIdx && len(ch) < len(best)) {
			best, bestIdx = ch, idx
		}
	}
	if best == nil {
		if len(chains) > 0 {
			return nil, nil, fail(ErrChainTooLong, leaf, fmt.Errorf("every path to an anchor is longer than %d", v.maxChainLen))
		}
		return nil, nil, fail(ErrUnknownAuthority, leaf, nil)
	}
	return best, &v.anchors[bestIdx], nil
}

// verifyError maps an error of x509.Certificate.Verify to a ValidationError.
func verifyError(leaf *x509.Certificate, err error, now time.Time) *ValidationError {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return fail(ErrUnknownAuthority, leaf, err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		c := invalid.Cert
		if c == nil {
			c = leaf
		}
		if now.Before(c.NotBefore) {
			return fail(ErrNotYetValid, c, err)
		}
		return fail(ErrExpired, c, err)
	case errors.As(err, &invalid):
		c := invalid.Cert
		if c == nil {
			c = leaf
		}
		return fail(ErrInvalidChain, c, err)
	}
	return fail(ErrInvalidChain, leaf, err)
}

// checkPurpose applies the key usage rules of pki.md §1.5 to a verified chain.
func checkPurpose(chain []*x509.Certificate, purpose Purpose) *ValidationError {
	leaf := chain[0]
	if leaf.IsCA {
		return fail(ErrKeyUsage, leaf, errors.New("leaf is a CA certificate"))
	}
	switch purpose {
	case PurposeTransport:
		if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
			return fail(ErrKeyUsage, leaf, errors.New("no clientAuth extended key usage"))
		}
		if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return fail(ErrKeyUsage, leaf, errors.New("keyUsage without digitalSignature"))
		}
		// Intermediates that restrict EKU must allow clientAuth (the anchor is not
		// constrained, as in RFC 5280).
		for _, c := range chain[1 : len(chain)-1] {
			if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
				continue
			}
			if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
				return fail(ErrKeyUsage, c, errors.New("intermediate does not allow clientAuth"))
			}
		}
	case PurposeSigning:
		if leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
			return fail(ErrKeyUsage, leaf, errors.New("keyUsage has neither digitalSignature nor nonRepudiation"))
		}
	}
	return nil
}

// Thumbprint returns the RFC 8705 §3.1 x5t#S256 value of cert:
// base64url(SHA-256(DER)) without padding.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
