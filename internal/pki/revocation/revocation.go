// Package revocation establishes whether a certificate has been revoked by its issuer
// (pki.md §2): it asks the OCSP responder named in the certificate's Authority
// Information Access extension, falls back to the CRL named in its CRL Distribution
// Points, caches every signed answer until it goes stale, refreshes hot answers in the
// background, and collapses concurrent lookups of the same certificate (or the same CRL)
// into one fetch. [Checker] is the one type; package pki calls it through its
// RevocationChecker interface for the leaf and every intermediate of a validated chain.
//
// What it checks beyond golang.org/x/crypto/ocsp (pki.md §2.2): that a delegated OCSP
// responder certificate was issued by the certificate's issuer, carries
// id-kp-OCSPSigning and is within its validity period; that the response's CertID names
// the issuer (name and key hash), not just the serial; that thisUpdate is not in the
// future and nextUpdate not in the past, each beyond a bounded clock skew. For CRLs
// (pki.md §2.3): issuer name, signature by the issuer, thisUpdate/nextUpdate freshness,
// a CRL number that never decreases, the scope of an issuing distribution point, and a
// size limit on the download.
//
// What it refuses to do: it does not build or verify chains (the caller passes the
// issuer it already verified), it does not fetch over anything but plain http (https
// revocation URLs would need revocation checking themselves; ldap is not supported), it
// does not follow indirect CRLs, delta CRLs or CRLs signed by a key other than the
// issuer's, it does not send OCSP nonces (freshness comes from thisUpdate/nextUpdate as
// in RFC 5019), and it does not check the revocation status of a delegated OCSP
// responder certificate (such certificates are short-lived and carry
// id-pkix-ocsp-nocheck). It never turns "could not check" into "good" unless the caller
// asked for soft-fail (pki.md §2.4), and never soft-fails a definite "revoked" or
// "unknown".
//
// Caching (pki.md §2.4): a definite answer is kept per certificate (issuer name and
// key, serial) until min(nextUpdate, thisUpdate+MaxOCSPAge) for OCSP, or the CRL's
// nextUpdate, and a "good" one for at most Options.MaxGoodAge after it was obtained
// ([Checker.Forget] drops one certificate's answers at once); parsed CRLs are kept per (issuer, URL) until their nextUpdate, with the
// last accepted CRL number remembered separately. "unknown" answers and failures are
// not cached. Both caches are bounded LRUs. A hit on a "good" answer or a CRL past
// Options.RefreshAhead of its lifetime returns the cached value and starts one
// background refetch (bounded concurrency, stopped by [Checker.Close]).
//
// Errors keep "checked and bad" ([RevokedError], [ErrUnknownStatus]) apart from "could
// not check" ([UnavailableError], [ErrNoRevocationInfo]), so the fail policy is one line
// in [Checker.Check]. The "could not check" errors say so through a
// RevocationUnavailable() bool method (pki.RevocationUnavailable), which is how package pki
// turns them into pki.ErrRevocationUnavailable and everything else into pki.ErrRevoked:
// callers of pki never need this package to tell the two apart.
package revocation

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/portcullis/portcullis/internal/clock"
)

// Defaults applied by [New] to zero (or out-of-range) [Options] fields.
const (
	DefaultOCSPTimeout          = 3 * time.Second
	DefaultCRLTimeout           = 5 * time.Second
	DefaultMaxOCSPBytes         = 64 << 10
	DefaultMaxCRLBytes          = 10 << 20
	DefaultCacheSize            = 10000
	DefaultCRLCacheSize         = 64
	DefaultMaxClockSkew         = 5 * time.Minute
	DefaultOCSPValidity         = time.Hour
	DefaultMaxOCSPAge           = 10 * 24 * time.Hour // CA/Browser Forum BR maximum OCSP validity
	DefaultMaxGoodAge           = 5 * time.Minute
	DefaultRefreshAhead         = 0.75
	DefaultMaxBackgroundFetches = 4
)

// maxURLsPerSource bounds how many OCSP responders (and how many CRL distribution
// points) of one certificate are tried.
const maxURLsPerSource = 3

// Options configures a [Checker]. The zero value is safe: every zero field takes the
// default named in its comment.
type Options struct {
	// HTTPClient fetches OCSP responses and CRLs. Nil means a client with dial,
	// header and overall timeouts, no proxy taken from the environment, and at most
	// three redirects, each to an http or https URL.
	HTTPClient *http.Client
	// Clock decides freshness and cache expiry. Nil means [clock.Real].
	Clock clock.Clock
	// Logger receives soft-fail warnings and background refresh failures. Nil
	// discards them.
	Logger *slog.Logger
	// Registerer receives the package's metrics. Nil leaves them unregistered.
	Registerer prometheus.Registerer

	// OCSPTimeout bounds the whole OCSP attempt (all responders of one certificate).
	// Zero or negative means [DefaultOCSPTimeout].
	OCSPTimeout time.Duration
	// CRLTimeout bounds one CRL download. Zero or negative means [DefaultCRLTimeout].
	CRLTimeout time.Duration
	// MaxOCSPBytes is the largest OCSP response body accepted. Zero or negative
	// means [DefaultMaxOCSPBytes].
	MaxOCSPBytes int64
	// MaxCRLBytes is the largest CRL body accepted. Zero or negative means
	// [DefaultMaxCRLBytes].
	MaxCRLBytes int64

	// CacheSize is the number of per-certificate answers kept. Zero means
	// [DefaultCacheSize]; negative disables the answer cache (every check goes to
	// the network or the CRL cache).
	CacheSize int
	// CRLCacheSize is the number of parsed CRLs kept. Zero means
	// [DefaultCRLCacheSize]; negative disables the CRL cache. The last accepted CRL
	// number of each (issuer, URL) is remembered separately, for CacheSize entries.
	CRLCacheSize int

	// MaxClockSkew is how far thisUpdate may lie in the future, and nextUpdate in
	// the past, before an answer counts as stale. Zero or negative means
	// [DefaultMaxClockSkew].
	MaxClockSkew time.Duration
	// DefaultOCSPValidity is how long an OCSP answer without nextUpdate stays
	// usable after its thisUpdate. Zero or negative means [DefaultOCSPValidity].
	DefaultOCSPValidity time.Duration
	// MaxOCSPAge caps how long after its thisUpdate an OCSP answer is used, however
	// far away its nextUpdate is. Zero or negative means [DefaultMaxOCSPAge].
	MaxOCSPAge time.Duration
	// MaxGoodAge caps how long a cached "good" answer is used before the certificate
	// is checked again (with the responder, or the CRL), however long the answer itself
	// stays valid: it bounds how late a revocation is noticed when the responder
	// already says "revoked" but an earlier "good" answer is still fresh. Revoked
	// answers are final and keep their own lifetime. Zero means [DefaultMaxGoodAge];
	// negative means "good" answers are not cached at all.
	MaxGoodAge time.Duration
	// RefreshAhead is the fraction of a cached answer's lifetime after which a
	// cache hit starts one background refetch. Zero, negative or NaN means
	// [DefaultRefreshAhead]; 1 or more disables background refresh.
	RefreshAhead float64
	// MaxBackgroundFetches bounds concurrent background refreshes; a refresh that
	// finds no free slot is skipped. Zero or negative means
	// [DefaultMaxBackgroundFetches].
	MaxBackgroundFetches int
}

// withDefaults returns o with every zero or out-of-range field replaced by its
// default.
func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OCSPTimeout <= 0 {
		o.OCSPTimeout = DefaultOCSPTimeout
	}
	if o.CRLTimeout <= 0 {
		o.CRLTimeout = DefaultCRLTimeout
	}
	if o.MaxOCSPBytes <= 0 {
		o.MaxOCSPBytes = DefaultMaxOCSPBytes
	}
	if o.MaxCRLBytes <= 0 {
		o.MaxCRLBytes = DefaultMaxCRLBytes
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.CRLCacheSize == 0 {
		o.CRLCacheSize = DefaultCRLCacheSize
	}
	if o.MaxClockSkew <= 0 {
		o.MaxClockSkew = DefaultMaxClockSkew
	}
	if o.DefaultOCSPValidity <= 0 {
		o.DefaultOCSPValidity = DefaultOCSPValidity
	}
	if o.MaxOCSPAge <= 0 {
		o.MaxOCSPAge = DefaultMaxOCSPAge
	}
	if o.MaxGoodAge == 0 {
		o.MaxGoodAge = DefaultMaxGoodAge
	}
	if !(o.RefreshAhead > 0) { // also catches NaN
		o.RefreshAhead = DefaultRefreshAhead
	}
	if o.MaxBackgroundFetches <= 0 {
		o.MaxBackgroundFetches = DefaultMaxBackgroundFetches
	}
	return o
}

// defaultHTTPClient is the client used when [Options.HTTPClient] is nil.
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil, // never from the environment: revocation traffic goes straight to the CA
			DialContext: (&net.Dialer{
				Timeout:   5 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			MaxIdleConns:           100,
			MaxIdleConnsPerHost:    4,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    5 * time.Second,
			ResponseHeaderTimeout:  10 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		Timeout:       30 * time.Second, // backstop; each fetch has its own shorter deadline
		CheckRedirect: checkRedirect,
	}
}

// checkRedirect follows at most three redirects, each to an http or https URL.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("too many redirects")
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("redirect to a %q URL refused", s)
	}
	return nil
}

// Source says where an answer came from.
type Source string

// The sources of an answer.
const (
	SourceOCSP  Source = "ocsp"  // a live OCSP response
	SourceCRL   Source = "crl"   // a CRL (downloaded now or cached from an earlier download)
	SourceCache Source = "cache" // an answer cached from an earlier check; see [Result.Origin]
)

// Status is a certificate's revocation status as its issuer stated it.
type Status int

// The revocation statuses.
const (
	StatusGood    Status = iota + 1 // not revoked (as of ThisUpdate)
	StatusRevoked                   // revoked; see RevokedAt and Reason
	StatusUnknown                   // the OCSP responder does not know the certificate
)

// String returns "good", "revoked" or "unknown".
func (s Status) String() string {
	switch s {
	case StatusGood:
		return "good"
	case StatusRevoked:
		return "revoked"
	case StatusUnknown:
		return "unknown"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is what [Checker.Status] learned about a certificate.
type Result struct {
	Status Status
	// Source is SourceOCSP or SourceCRL for a live answer, SourceCache for a
	// cached one.
	Source Source
	// Origin is who produced the answer: SourceOCSP or SourceCRL (equal to Source
	// for a live answer).
	Origin Source
	// URL is the OCSP responder or CRL distribution point that answered.
	URL string
	// ThisUpdate and NextUpdate are the answer's validity window as signed by the
	// issuer or its responder; NextUpdate is zero when an OCSP response left it out.
	ThisUpdate time.Time
	NextUpdate time.Time
	// RevokedAt and Reason (an RFC 5280 CRLReason) are set for StatusRevoked.
	RevokedAt time.Time
	Reason    int
	// OCSPFailure is why OCSP gave no answer when the answer came from the CRL
	// instead (nil when OCSP was not tried because the certificate names no
	// responder).
	OCSPFailure error
}

// Errors returned by [Checker.Check] and [Checker.Status], alone or as causes inside
// [UnavailableError]. Test with errors.Is.
var (
	// ErrRevoked is matched by every [RevokedError].
	ErrRevoked = errors.New("revocation: certificate revoked")
	// ErrUnknownStatus means a correctly signed, fresh OCSP response said
	// "unknown". RFC 6960 §2.2: the responder (the issuer's own or one it
	// delegated to) does not know the serial, which for a certificate chaining to
	// a trusted issuer means it was never issued or the responder is not
	// authoritative. It is a definite rejection: no CRL fallback, no soft-fail.
	ErrUnknownStatus = errors.New("revocation: OCSP responder does not know the certificate")
	// ErrNoRevocationInfo means the certificate names neither an http OCSP
	// responder nor an http CRL distribution point. A soft-fail anchor allows it;
	// under hard-fail it is a definite refusal: the certificate can never be
	// checked, so retrying cannot help (package pki classes it as ErrRevoked, not
	// as "status unavailable").
	ErrNoRevocationInfo error = noRevocationInfoError{}
	// ErrNoOCSPServer is the OCSP cause of an [UnavailableError] when the
	// certificate names no usable (http) OCSP responder.
	ErrNoOCSPServer = errors.New("revocation: no http OCSP responder in the certificate")
	// ErrNoCRLDistributionPoint is the CRL cause of an [UnavailableError] when the
	// certificate names no usable (http) CRL distribution point.
	ErrNoCRLDistributionPoint = errors.New("revocation: no http CRL distribution point in the certificate")
	// ErrOCSPResponderNotAuthorized means the OCSP response was signed by a
	// delegated responder certificate that was not issued by the certificate's
	// issuer, lacks id-kp-OCSPSigning, or is outside its validity period.
	ErrOCSPResponderNotAuthorized = errors.New("revocation: OCSP responder not authorized by the issuer")
	// ErrStaleResponse means an OCSP response or CRL is not fresh: thisUpdate
	// lies in the future, or nextUpdate (or the maximum age) in the past, beyond
	// the allowed clock skew.
	ErrStaleResponse = errors.New("revocation: stale revocation information")
	// ErrCRLNumberDecreased means a CRL's number is lower than that of a CRL
	// already accepted for the same issuer and URL (or is missing after one with a
	// number was accepted): a rollback.
	ErrCRLNumberDecreased = errors.New("revocation: CRL number decreased")
	// ErrCRLTooLarge means a CRL download exceeded Options.MaxCRLBytes.
	ErrCRLTooLarge = errors.New("revocation: CRL too large")
	// ErrOCSPResponseTooLarge means an OCSP response exceeded
	// Options.MaxOCSPBytes.
	ErrOCSPResponseTooLarge = errors.New("revocation: OCSP response too large")
	// ErrBadSignature means an OCSP response or CRL was not signed by the key it
	// must be signed by.
	ErrBadSignature = errors.New("revocation: bad signature")
	// ErrResponderUnavailable wraps a transport error, a non-200 HTTP status, or
	// an OCSP responseStatus other than successful (tryLater, internalError, ...).
	ErrResponderUnavailable = errors.New("revocation: responder unavailable")
	// ErrMalformedResponse means an OCSP response or CRL does not parse, or does
	// not answer for this certificate (serial or issuer hashes differ).
	ErrMalformedResponse = errors.New("revocation: malformed response")
	// ErrUnsupportedCRL means a CRL that this package cannot use for the
	// certificate: a delta or indirect CRL, a different issuer name, an unknown
	// critical extension, or an issuing distribution point whose scope does not
	// cover the certificate.
	ErrUnsupportedCRL = errors.New("revocation: unsupported CRL")
	// ErrIssuerMismatch means the caller passed a nil certificate, or an issuer
	// whose subject is not the certificate's issuer name. It is a programming
	// error, never soft-failed.
	ErrIssuerMismatch = errors.New("revocation: issuer does not match the certificate")
)

// noRevocationInfoError is the type of [ErrNoRevocationInfo]; it tells package pki that
// this is not a transient "could not check" (RevocationUnavailable reports false).
type noRevocationInfoError struct{}

func (noRevocationInfoError) Error() string {
	return "revocation: certificate has neither an OCSP responder nor a CRL distribution point"
}

// RevocationUnavailable reports false: nothing will ever answer for this certificate, so
// it is refused like a bad one (401), not answered "try again later" (503).
func (noRevocationInfoError) RevocationUnavailable() bool { return false }

// RevokedError is a definite "revoked" answer. errors.Is(err, ErrRevoked) holds.
type RevokedError struct {
	Serial    *big.Int
	RevokedAt time.Time
	Reason    int    // RFC 5280 CRLReason (0 unspecified, 1 keyCompromise, ...)
	Source    Source // who said so: SourceOCSP or SourceCRL
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("revocation: certificate serial %s revoked at %s (reason %s) according to %s",
		serialHex(e.Serial), e.RevokedAt.UTC().Format(time.RFC3339), reasonName(e.Reason), e.Source)
}

// Is reports whether target is [ErrRevoked].
func (e *RevokedError) Is(target error) bool { return target == ErrRevoked }

// UnavailableError means neither OCSP nor the CRL gave a usable answer. OCSP and CRL
// hold each source's cause (one of the sentinel errors above, possibly wrapped or
// joined with per-URL detail); errors.Is matches either.
type UnavailableError struct {
	OCSP error
	CRL  error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("revocation: status unavailable: OCSP: %v; CRL: %v", e.OCSP, e.CRL)
}

// RevocationUnavailable reports true: neither source gave a usable answer, so the
// status is "could not check", not "checked and bad" (pki.RevocationUnavailable).
func (e *UnavailableError) RevocationUnavailable() bool { return true }

// Unwrap returns the non-nil causes.
func (e *UnavailableError) Unwrap() []error {
	var errs []error
	if e.OCSP != nil {
		errs = append(errs, e.OCSP)
	}
	if e.CRL != nil {
		errs = append(errs, e.CRL)
	}
	return errs
}

// couldNotCheck reports whether err means "no answer" (as opposed to a definite
// rejection or a caller error): the only results soft-fail may allow.
func couldNotCheck(err error) bool {
	var ue *UnavailableError
	return errors.As(err, &ue) || errors.Is(err, ErrNoRevocationInfo)
}

// answer is a verified revocation answer with the time until which it may be cached.
type answer struct {
	res     Result
	expires time.Time
}

// Checker checks certificates against their issuer's OCSP responder and CRL. It is
// safe for concurrent use. Construct it with [New]; stop it with [Checker.Close].
type Checker struct {
	opts    Options
	client  *http.Client
	clock   clock.Clock
	log     *slog.Logger
	metrics *metrics

	answers    *lru[*cachedAnswer] // per certificate: key certKey
	crls       *lru[*crlEntry]     // per (issuer, URL): key crlKey
	crlNumbers *lru[*big.Int]      // last accepted CRL number per (issuer, URL)
	crlMu      sync.Mutex          // serializes CRL number check + store
	forgets    atomic.Uint64       // bumped by Forget; see storeAnswer

	certFlight singleflight.Group
	crlFlight  singleflight.Group
	// certWaiters and crlWaiters count callers that have joined a flight; tests
	// use them to know every caller is waiting before the responder answers.
	certWaiters atomic.Int64
	crlWaiters  atomic.Int64

	bgCtx    context.Context
	bgCancel context.CancelFunc
	bgSem    chan struct{}
	bgMu     sync.Mutex // guards bgClosed and bgWG.Add
	bgClosed bool
	bgWG     sync.WaitGroup
}

// New returns a Checker configured by opts (zero fields take their defaults). The
// metrics are registered on opts.Registerer; if they are already registered there
// (a second Checker on the same registry), the existing collectors are shared.
func New(opts Options) *Checker {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Checker{
		opts:       opts,
		client:     opts.HTTPClient,
		clock:      opts.Clock,
		log:        opts.Logger,
		metrics:    newMetrics(opts.Registerer, opts.Logger),
		answers:    newLRU[*cachedAnswer](opts.CacheSize),
		crls:       newLRU[*crlEntry](opts.CRLCacheSize),
		crlNumbers: newLRU[*big.Int](max(opts.CacheSize, opts.CRLCacheSize, DefaultCRLCacheSize)),
		bgCtx:      ctx,
		bgCancel:   cancel,
		bgSem:      make(chan struct{}, opts.MaxBackgroundFetches),
	}
}

// Close stops background refreshes and waits for running ones to return. Checks
// keep working after Close, without background refresh. Close is idempotent.
func (c *Checker) Close() {
	c.bgMu.Lock()
	c.bgClosed = true
	c.bgMu.Unlock()
	c.bgCancel()
	c.bgWG.Wait()
}

// Check applies the fail policy of pki.md §2.4 to [Checker.Status]. It returns:
//   - nil if the certificate is good (from a cached answer, OCSP or the CRL);
//   - a *[RevokedError] (errors.Is(err, ErrRevoked)) if OCSP or the CRL says revoked;
//   - an error wrapping [ErrUnknownStatus] if OCSP says unknown;
//   - an *[UnavailableError] (causes: [ErrResponderUnavailable],
//     [ErrOCSPResponderNotAuthorized], [ErrStaleResponse], [ErrBadSignature],
//     [ErrMalformedResponse], [ErrCRLNumberDecreased], [ErrCRLTooLarge], ...) or
//     [ErrNoRevocationInfo] if no answer could be obtained — unless softFail is true,
//     in which case it returns nil, logs a warning and counts
//     portcullis_revocation_softfail_total;
//   - [ErrIssuerMismatch] for bad arguments, or the context's error if ctx ended
//     first (never soft-failed).
//
// A bad OCSP answer (unauthorized responder, stale, bad signature) is treated like no
// OCSP answer: the CRL is consulted, and if it answers, its answer stands (with the
// OCSP failure kept in [Result.OCSPFailure]); if it does not, the [UnavailableError]
// carries both causes.
func (c *Checker) Check(ctx context.Context, cert, issuer *x509.Certificate, softFail bool) error {
	_, err := c.CheckUntil(ctx, cert, issuer, softFail)
	return err
}

// CheckUntil is [Checker.Check] that also reports, when it returns nil for a definite
// "good" answer, until when that answer may be relied on without asking again: the
// answer's cache expiry (its nextUpdate, MaxOCSPAge, and at most Options.MaxGoodAge after
// it was obtained). It returns the zero time when the certificate was allowed by
// soft-fail. Package pki uses it to end a cached chain validation no later than the
// revocation answers it rests on (pki.RevocationCheckerUntil).
func (c *Checker) CheckUntil(ctx context.Context, cert, issuer *x509.Certificate, softFail bool) (time.Time, error) {
	res, until, err := c.status(ctx, cert, issuer)
	if err != nil {
		if softFail && couldNotCheck(err) {
			c.metrics.softFail.Inc()
			c.log.WarnContext(ctx, "revocation status unavailable; certificate allowed by soft-fail policy",
				slog.String("serial", serialHex(cert.SerialNumber)),
				slog.String("issuer", issuer.Subject.String()),
				slog.String("error", err.Error()))
			return time.Time{}, nil
		}
		return time.Time{}, err
	}
	switch res.Status {
	case StatusGood:
		return until, nil
	case StatusRevoked:
		return time.Time{}, &RevokedError{Serial: cert.SerialNumber, RevokedAt: res.RevokedAt, Reason: res.Reason, Source: res.Origin}
	case StatusUnknown:
		return time.Time{}, fmt.Errorf("%w (serial %s, responder %s)", ErrUnknownStatus, serialHex(cert.SerialNumber), res.URL)
	}
	return time.Time{}, fmt.Errorf("revocation: internal error: status %v", res.Status) // unreachable
}

// Status reports what is known about cert's revocation status, in the order of
// pki.md §2.4: a fresh cached answer, then live OCSP, then the CRL. A definite answer
// (good, revoked or unknown) comes back with a nil error. Without one it returns an
// *[UnavailableError] or [ErrNoRevocationInfo]; with bad arguments
// [ErrIssuerMismatch]; if ctx ends first, ctx.Err(). issuer must be the certificate
// that signed cert (already verified by the caller).
func (c *Checker) Status(ctx context.Context, cert, issuer *x509.Certificate) (Result, error) {
	res, _, err := c.status(ctx, cert, issuer)
	return res, err
}

// status is Status that also returns until when the answer may be reused (reuseUntil).
func (c *Checker) status(ctx context.Context, cert, issuer *x509.Certificate) (Result, time.Time, error) {
	if cert == nil || issuer == nil || cert.SerialNumber == nil {
		return Result{}, time.Time{}, fmt.Errorf("%w: nil certificate, issuer or serial", ErrIssuerMismatch)
	}
	if string(cert.RawIssuer) != string(issuer.RawSubject) {
		return Result{}, time.Time{}, ErrIssuerMismatch
	}
	if err := ctx.Err(); err != nil {
		return Result{}, time.Time{}, err
	}
	key := certKey(cert, issuer)
	if res, until, ok := c.cachedAnswer(key); ok {
		return res, until, nil
	}
	ch := c.certFlight.DoChan(key, func() (any, error) {
		return c.resolve(context.WithoutCancel(ctx), key, cert, issuer)
	})
	c.certWaiters.Add(1)
	defer c.certWaiters.Add(-1)
	select {
	case <-ctx.Done():
		return Result{}, time.Time{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return Result{}, time.Time{}, r.Err
		}
		a := r.Val.(answer)
		return a.res, c.reuseUntil(a, c.clock.Now()), nil
	}
}

// resolve asks OCSP, then the CRL, stores a definite answer in the cache and returns
// it. It runs once per flight; ctx carries no caller cancellation, only values.
func (c *Checker) resolve(ctx context.Context, key string, cert, issuer *x509.Certificate) (answer, error) {
	gen := c.forgets.Load()
	ocspURLs, ocspSkipped := httpURLs(cert.OCSPServer)
	crlURLs, crlSkipped := httpURLs(cert.CRLDistributionPoints)
	if len(ocspURLs) == 0 && len(crlURLs) == 0 {
		c.metrics.checks.WithLabelValues("none", "error").Inc()
		return answer{}, ErrNoRevocationInfo
	}

	var ocspErr error
	if len(ocspURLs) == 0 {
		ocspErr = noURL(ErrNoOCSPServer, ocspSkipped)
	} else {
		a, err := c.checkOCSP(ctx, cert, issuer, ocspURLs)
		if err == nil {
			c.metrics.checks.WithLabelValues(string(SourceOCSP), a.res.Status.String()).Inc()
			if a.res.Status != StatusUnknown {
				c.storeAnswer(key, a, cert, issuer, gen)
			}
			return a, nil
		}
		c.metrics.checks.WithLabelValues(string(SourceOCSP), "error").Inc()
		ocspErr = err
	}

	var crlErr error
	if len(crlURLs) == 0 {
		crlErr = noURL(ErrNoCRLDistributionPoint, crlSkipped)
	} else {
		a, err := c.checkCRL(ctx, cert, issuer, crlURLs)
		if err == nil {
			c.metrics.checks.WithLabelValues(string(SourceCRL), a.res.Status.String()).Inc()
			if len(ocspURLs) > 0 {
				a.res.OCSPFailure = ocspErr
			}
			c.storeAnswer(key, a, cert, issuer, gen)
			return a, nil
		}
		c.metrics.checks.WithLabelValues(string(SourceCRL), "error").Inc()
		crlErr = err
	}
	return answer{}, &UnavailableError{OCSP: ocspErr, CRL: crlErr}
}

func noURL(base error, skipped int) error {
	if skipped > 0 {
		return fmt.Errorf("%w (%d non-http URL(s) ignored)", base, skipped)
	}
	return base
}

// httpURLs returns the first maxURLsPerSource plain-http URLs of raw with a host and
// no user info, and how many entries it ignored.
func httpURLs(raw []string) (urls []string, skipped int) {
	for _, s := range raw {
		if len(urls) == maxURLsPerSource {
			break
		}
		if u, err := parseHTTPURL(s); err == nil {
			urls = append(urls, u)
		} else {
			skipped++
		}
	}
	return urls, skipped
}

// certKey identifies a certificate by its issuer (name and public key) and serial.
func certKey(cert, issuer *x509.Certificate) string {
	h := issuerHash(issuer)
	return string(h[:]) + serialKey(cert.SerialNumber)
}

// issuerHash is SHA-256 over the issuer's length-prefixed subject and public key.
func issuerHash(issuer *x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(issuer.RawSubject)))
	h.Write(n[:])
	h.Write(issuer.RawSubject)
	h.Write(issuer.RawSubjectPublicKeyInfo)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// serialKey is a map key for a serial number, distinct for negative values (which
// malformed certificates and CRLs do carry).
func serialKey(n *big.Int) string {
	sign := "+"
	if n.Sign() < 0 {
		sign = "-"
	}
	return sign + string(n.Bytes())
}

// serialHex renders a serial for messages and logs.
func serialHex(n *big.Int) string {
	if n == nil {
		return "<nil>"
	}
	return "0x" + strings.ToUpper(n.Text(16))
}

// reasonName names an RFC 5280 §5.3.1 CRLReason.
func reasonName(r int) string {
	names := [...]string{
		0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged",
		4: "superseded", 5: "cessationOfOperation", 6: "certificateHold", 7: "",
		8: "removeFromCRL", 9: "privilegeWithdrawn", 10: "aACompromise",
	}
	if r >= 0 && r < len(names) && names[r] != "" {
		return names[r]
	}
	return fmt.Sprintf("%d", r)
}
