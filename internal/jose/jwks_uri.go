package jose

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/portcullis/portcullis/internal/clock"
)

// Defaults for [RemoteJWKSOptions].
const (
	DefaultJWKSTimeout         = 5 * time.Second
	DefaultJWKSTTL             = 5 * time.Minute
	DefaultJWKSMinTTL          = time.Minute
	DefaultJWKSMaxTTL          = time.Hour
	DefaultJWKSRefetchInterval = 30 * time.Second
	DefaultJWKSErrorBackoff    = 5 * time.Second
	DefaultJWKSMaxEntries      = 10000
)

// RemoteJWKSOptions configures a [RemoteJWKS]. The zero value is the production
// setting: https only, public addresses only, system roots.
type RemoteJWKSOptions struct {
	Clock  clock.Clock  // nil: clock.Real
	Logger *slog.Logger // nil: discard. Logs URLs and errors, never key material.

	// Timeout bounds one fetch, connection to last byte. Zero: 5 s.
	Timeout time.Duration
	// TTL is how long a fetched set is used when the response has no usable
	// Cache-Control max-age. A max-age is honoured but clamped to [MinTTL, MaxTTL];
	// no-store / no-cache mean MinTTL. Zero: 5 min, 1 min, 1 h.
	TTL, MinTTL, MaxTTL time.Duration
	// RefetchInterval is the least time between two fetches of one URL triggered by
	// a kid the cached set does not have (a client that just rotated). Zero: 30 s.
	RefetchInterval time.Duration
	// ErrorBackoff is how long a failed fetch is remembered before the URL is tried
	// again. Zero: 5 s.
	ErrorBackoff time.Duration
	// StaleIfError lets an expired set be used for this long past its expiry while
	// refetching fails. Zero: never (fail closed).
	StaleIfError time.Duration
	// MaxEntries bounds the number of cached URLs. Zero: 10000.
	MaxEntries int

	// RootCAs verifies the servers' certificates. Nil: the system roots.
	RootCAs *x509.CertPool
	// AllowHTTP permits http:// URLs. Tests only.
	AllowHTTP bool
	// AllowPrivateNetworks permits connecting to loopback, private, link-local and
	// other non-public addresses. Tests and development only: it opens the
	// server-side request forgery that the default refuses.
	AllowPrivateNetworks bool
}

// RemoteJWKS fetches and caches clients' JWK Sets from their jwks_uri, one cache
// for all clients (keyed by URL). Fetches are https GETs of at most MaxJWKSSize
// bytes with a 5 s timeout, to public addresses only (checked when connecting, so
// DNS rebinding does not help), following at most three https redirects;
// concurrent fetches of one URL are merged. Safe for concurrent use.
type RemoteJWKS struct {
	opts   RemoteJWKSOptions
	clock  clock.Clock
	log    *slog.Logger
	client *http.Client
	group  singleflight.Group

	mu      sync.Mutex
	entries map[string]*remoteEntry
}

type remoteEntry struct {
	set       *JWKSet // last good set; nil if never fetched successfully
	fetchedAt time.Time
	expiresAt time.Time
	attempt   time.Time // last fetch attempt, successful or not
	err       error     // last fetch error, cleared on success
}

// NewRemoteJWKS returns an empty cache.
func NewRemoteJWKS(opts RemoteJWKSOptions) *RemoteJWKS {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Timeout, DefaultJWKSTimeout)
	def(&opts.TTL, DefaultJWKSTTL)
	def(&opts.MinTTL, DefaultJWKSMinTTL)
	def(&opts.MaxTTL, DefaultJWKSMaxTTL)
	def(&opts.RefetchInterval, DefaultJWKSRefetchInterval)
	def(&opts.ErrorBackoff, DefaultJWKSErrorBackoff)
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultJWKSMaxEntries
	}
	r := &RemoteJWKS{opts: opts, clock: opts.Clock, log: opts.Logger, entries: make(map[string]*remoteEntry)}
	dialer := &net.Dialer{Timeout: opts.Timeout}
	if !opts.AllowPrivateNetworks {
		dialer.Control = refusePrivate
	}
	r.client = &http.Client{
		Timeout: opts.Timeout,
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.RootCAs},
			TLSHandshakeTimeout:   opts.Timeout,
			ResponseHeaderTimeout: opts.Timeout,
			MaxIdleConns:          16,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return r.checkURL(req.URL)
		},
	}
	return r
}

// refusePrivate is the dialer's Control hook: it refuses every address that is
// not a public unicast address.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused address %q", address)
	}
	a := ap.Addr().Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return fmt.Errorf("refused non-public address %s", a)
	}
	for _, p := range specialPurpose {
		if p.Contains(a) {
			return fmt.Errorf("refused non-public address %s", a)
		}
	}
	return nil
}

// specialPurpose are IANA special-purpose ranges that IsGlobalUnicast and IsPrivate
// do not cover (RFC 6890 and successors).
var specialPurpose = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

func (r *RemoteJWKS) checkURL(u *url.URL) error {
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && r.opts.AllowHTTP:
	default:
		return fmt.Errorf("jwks_uri must be https")
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("bad jwks_uri")
	}
	return nil
}

// Resolver returns a [KeyResolver] for the JWK Set at uri. A kid the cached set
// does not have triggers one refetch, at most once per RefetchInterval per URL;
// if the kid is still unknown the result is ErrUnknownKey.
func (r *RemoteJWKS) Resolver(uri string) KeyResolver { return remoteResolver{r, uri} }

type remoteResolver struct {
	r   *RemoteJWKS
	uri string
}

func (rr remoteResolver) ResolveKey(ctx context.Context, hdr Header) (*PublicKey, error) {
	set, err := rr.r.Get(ctx, rr.uri)
	if err != nil {
		return nil, err
	}
	k, err := set.ResolveKey(ctx, hdr)
	if !errors.Is(err, ErrUnknownKey) {
		return k, err
	}
	set, err = rr.r.refetch(ctx, rr.uri)
	if err != nil {
		return nil, err
	}
	if set == nil { // rate-limited
		return nil, fmt.Errorf("%w: kid %q (JWK Set fetched less than %s ago)", ErrUnknownKey, truncate(hdr.KeyID), rr.r.opts.RefetchInterval)
	}
	return set.ResolveKey(ctx, hdr)
}

// Get returns the JWK Set at uri, from the cache while it is fresh. Errors wrap
// ErrJWKSFetch (joined with the document's error — ErrTooLarge,
// ErrPrivateKeyInJWKS, ErrWeakKey, ErrMalformed — when it was fetched but bad).
func (r *RemoteJWKS) Get(ctx context.Context, uri string) (*JWKSet, error) {
	now := r.clock.Now()
	r.mu.Lock()
	e := r.entries[uri]
	var cached *remoteEntry
	if e != nil {
		c := *e
		cached = &c
	}
	r.mu.Unlock()
	if cached != nil {
		if cached.set != nil && now.Before(cached.expiresAt) {
			return cached.set, nil
		}
		if cached.err != nil && now.Sub(cached.attempt) < r.opts.ErrorBackoff {
			return r.staleOr(cached, now, cached.err)
		}
	}
	set, err := r.fetchShared(ctx, uri)
	if err != nil {
		return r.staleOr(cached, now, err)
	}
	return set, nil
}

// staleOr serves a stale set within StaleIfError, or returns err.
func (r *RemoteJWKS) staleOr(e *remoteEntry, now time.Time, err error) (*JWKSet, error) {
	if e != nil && e.set != nil && r.opts.StaleIfError > 0 && now.Before(e.expiresAt.Add(r.opts.StaleIfError)) {
		return e.set, nil
	}
	return nil, err
}

// refetch fetches uri again unless it was attempted within RefetchInterval, in
// which case it returns (nil, nil).
func (r *RemoteJWKS) refetch(ctx context.Context, uri string) (*JWKSet, error) {
	now := r.clock.Now()
	r.mu.Lock()
	e := r.entries[uri]
	recent := e != nil && now.Sub(e.attempt) < r.opts.RefetchInterval
	r.mu.Unlock()
	if recent {
		return nil, nil
	}
	return r.fetchShared(ctx, uri)
}

// Invalidate forgets the cached set for uri (e.g. after the client's registration
// changed).
func (r *RemoteJWKS) Invalidate(uri string) {
	r.mu.Lock()
	delete(r.entries, uri)
	r.mu.Unlock()
}

// fetchShared runs one fetch per URL at a time; concurrent callers share it. The
// fetch itself is not cancelled when one caller gives up.
func (r *RemoteJWKS) fetchShared(ctx context.Context, uri string) (*JWKSet, error) {
	ch := r.group.DoChan(uri, func() (any, error) {
		return r.fetch(uri)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*JWKSet), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrJWKSFetch, ctx.Err())
	}
}

// fetch downloads and parses uri and records the outcome in the cache.
func (r *RemoteJWKS) fetch(uri string) (*JWKSet, error) {
	start := r.clock.Now()
	set, ttl, err := r.download(uri)
	now := r.clock.Now()

	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[uri]
	if e == nil {
		if len(r.entries) >= r.opts.MaxEntries {
			for k := range r.entries { // evict an arbitrary entry
				delete(r.entries, k)
				break
			}
		}
		e = &remoteEntry{}
		r.entries[uri] = e
	}
	e.attempt = start
	if err != nil {
		e.err = err
		r.log.Warn("jwks_uri fetch failed", "jwks_uri", uri, "err", err)
		return nil, err
	}
	e.set, e.err, e.fetchedAt, e.expiresAt = set, nil, now, now.Add(ttl)
	return set, nil
}

func (r *RemoteJWKS) download(uri string) (*JWKSet, time.Duration, error) {
	body, h, err := r.get(context.Background(), uri, "jwks_uri", "application/jwk-set+json, application/json", MaxJWKSSize)
	if err != nil {
		return nil, 0, err
	}
	set, err := ParseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrJWKSFetch, err)
	}
	return set, r.ttl(h.Get("Cache-Control")), nil
}

// get is one GET of uri under the cache's rules (the URL checked, the timeout, status
// 200), reading at most max+1 bytes of the body: the caller refuses more than max. what
// names the URL in the error for one that does not parse. Errors wrap ErrJWKSFetch.
func (r *RemoteJWKS) get(ctx context.Context, uri, what, accept string, max int64) ([]byte, http.Header, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: bad %s", ErrJWKSFetch, what)
	}
	if err := r.checkURL(u); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrJWKSFetch, err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrJWKSFetch, err)
	}
	req.Header.Set("Accept", accept)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrJWKSFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%w: HTTP status %d", ErrJWKSFetch, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading body: %v", ErrJWKSFetch, err)
	}
	return body, resp.Header, nil
}

// ttl derives the cache lifetime from a Cache-Control header.
func (r *RemoteJWKS) ttl(cc string) time.Duration {
	ttl := r.opts.TTL
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return r.opts.MinTTL
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64); err == nil && n >= 0 {
				if n > int64(r.opts.MaxTTL/time.Second) {
					ttl = r.opts.MaxTTL
				} else {
					ttl = time.Duration(n) * time.Second
				}
			}
		}
	}
	return min(max(ttl, r.opts.MinTTL), r.opts.MaxTTL)
}

// FetchJSON downloads a small JSON document a client registered by URL other than its JWK
// Set — a sector_identifier_uri (OIDC Registration §5) — under the same rules as a
// jwks_uri: https only (unless AllowHTTP), no private or special-purpose addresses (unless
// AllowPrivateNetworks), at most three redirects, the timeout, and at most max bytes
// (ErrTooLarge beyond). Nothing is cached. Errors wrap ErrJWKSFetch.
func (r *RemoteJWKS) FetchJSON(ctx context.Context, uri string, max int) ([]byte, error) {
	body, _, err := r.get(ctx, uri, "URL", "application/json", int64(max))
	if err != nil {
		return nil, err
	}
	if len(body) > max {
		return nil, fmt.Errorf("%w: %w: document over %d bytes", ErrJWKSFetch, ErrTooLarge, max)
	}
	return body, nil
}

// Client returns an HTTP client under the same rules as the fetches — the dial rules (no
// private or special-purpose addresses unless AllowPrivateNetworks), the roots and the
// timeout — that follows no redirect (a 3xx is returned as it is). It is for the other
// requests made to a party whose keys this cache fetches, such as a federated identity
// provider's token endpoint; the caller checks the URL's scheme and bounds what it reads.
func (r *RemoteJWKS) Client() *http.Client {
	c := *r.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}
