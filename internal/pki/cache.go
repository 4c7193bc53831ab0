package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"time"
)

// Defaults and limits of the validated-chain cache (see [Options].CacheTTL).
const (
	// DefaultCacheTTL is how long a successful validation is reused when
	// Options.CacheTTL is zero.
	DefaultCacheTTL = 30 * time.Second
	// MaxCacheTTL is the largest Options.CacheTTL accepted: it bounds how much the
	// cache can add to the time a revoked certificate is still accepted.
	MaxCacheTTL = 5 * time.Minute
	// DefaultCacheSize is the number of cached validations when Options.CacheSize
	// is zero.
	DefaultCacheSize = 10000
)

// cacheKeyDomain separates the cache key's hash from every other SHA-256 in the
// program. Changing the key's layout means changing this string.
const cacheKeyDomain = "portcullis pki.Validator validated-chain cache v1\x00"

// CacheStats counts what the validated-chain cache did since the [Validator] was
// built. All fields are zero when the cache is disabled.
type CacheStats struct {
	// Hits is the number of Validate calls answered from the cache.
	Hits uint64
	// Misses is the number of Validate calls that ran the full validation: no
	// entry, an expired one, or a clock that went back past the entry's time.
	Misses uint64
	// Evictions is the number of unexpired entries dropped to stay within
	// CacheSize.
	Evictions uint64
	// Entries is the number of entries held now (some may have expired and not yet
	// been dropped).
	Entries int
}

// cacheKey is SHA-256 over cacheKeyDomain, the purpose, and the presented chain:
// the certificate count and each certificate's DER, length-prefixed (all lengths
// and the purpose as 8-byte big-endian integers). The encoding is injective, so
// two different (purpose, chain) pairs never share a preimage: the key commits to
// every byte of input the result depends on. Everything else the result depends on
// is either the Validator's fixed configuration or time, which the entry's expiry
// covers.
type cacheKey [sha256.Size]byte

func newCacheKey(purpose Purpose, chain []*x509.Certificate) cacheKey {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte(cacheKeyDomain))
	binary.BigEndian.PutUint64(n[:], uint64(purpose))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(len(chain)))
	h.Write(n[:])
	for _, c := range chain {
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// chainCache is a bounded LRU map of successful validations. Only successes are
// stored. An entry's Identity and links are written once, before the entry is
// published under mu, and never modified afterwards, so they are read without the
// lock.
type chainCache struct {
	ttl  time.Duration
	size int

	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	lru     cacheEntry // sentinel of the recency ring: lru.next is the most recent
	gen     uint64     // bumped by invalidate; a validation stores only under the generation it started in
	stats   CacheStats // Entries is not maintained here (len(entries) is)
}

// cacheEntry is one validated (purpose, chain). It holds no certificate the client
// presented: those are taken from the current call's chain on every hit, through
// links.
type cacheEntry struct {
	key cacheKey
	// id is the validation's Identity without Leaf and Chain; its slices are the
	// cache's own and never leave it.
	id Identity
	// links rebuilds Identity.Chain: each element is either an index into the
	// presented chain or a certificate the Validator owns (anchor, configured
	// intermediate).
	links []chainLink
	// validatedAt is the clock reading the validation ran at; expires is
	// min(validatedAt + TTL, the earliest notAfter of the presented and verified
	// certificates, the revocation checker's reuse limit). The entry is used for validatedAt <= now < expires.
	validatedAt, expires time.Time

	prev, next *cacheEntry
}

type chainLink struct {
	presented int               // index into the presented chain, or -1
	cert      *x509.Certificate // when presented < 0
}

func newChainCache(ttl time.Duration, size int) *chainCache {
	c := &chainCache{ttl: ttl, size: size, entries: make(map[cacheKey]*cacheEntry)}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// get returns a fresh copy of the Identity cached under key, rebuilt on the
// presented chain, or nil. It also returns the cache generation the caller must pass
// to put.
func (c *chainCache) get(key cacheKey, presented []*x509.Certificate, now time.Time) (*Identity, uint64) {
	c.mu.Lock()
	gen := c.gen
	e := c.entries[key]
	if e == nil {
		c.stats.Misses++
		c.mu.Unlock()
		return nil, gen
	}
	if !now.Before(e.expires) || now.Before(e.validatedAt) {
		c.remove(e)
		c.stats.Misses++
		c.mu.Unlock()
		return nil, gen
	}
	c.unlink(e)
	c.pushFront(e)
	c.stats.Hits++
	c.mu.Unlock()
	return e.identity(presented), gen
}

// put stores a copy of id, the result of validating presented at validatedAt,
// unless the cache was invalidated since the get that returned gen, or the result
// would already have expired. revocationUntil, when not zero, is the time until which
// the revocation answers the result rests on may be relied on: the entry ends then at
// the latest.
func (c *chainCache) put(key cacheKey, id *Identity, presented []*x509.Certificate, validatedAt, revocationUntil time.Time, gen uint64) {
	expires := validatedAt.Add(c.ttl)
	if !revocationUntil.IsZero() && revocationUntil.Before(expires) {
		expires = revocationUntil
	}
	for _, certs := range [2][]*x509.Certificate{presented, id.Chain} {
		for _, cert := range certs {
			if cert.NotAfter.Before(expires) {
				expires = cert.NotAfter
			}
		}
	}
	if !validatedAt.Before(expires) {
		return
	}
	e := &cacheEntry{key: key, id: cloneIdentity(id), validatedAt: validatedAt, expires: expires}
	e.id.Leaf, e.id.Chain = nil, nil
	e.links = make([]chainLink, len(id.Chain))
	for i, cert := range id.Chain {
		e.links[i] = chainLink{presented: slices.Index(presented, cert), cert: cert}
		if e.links[i].presented >= 0 {
			e.links[i].cert = nil // never keep what the client sent
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if old := c.entries[key]; old != nil {
		c.remove(old)
	}
	c.entries[key] = e
	c.pushFront(e)
	for len(c.entries) > c.size {
		c.remove(c.lru.prev)
		c.stats.Evictions++
	}
}

// invalidate drops every entry and makes in-flight validations not store theirs.
func (c *chainCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	c.lru.prev, c.lru.next = &c.lru, &c.lru
}

func (c *chainCache) statistics() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = len(c.entries)
	return s
}

// remove, unlink and pushFront need c.mu.

func (c *chainCache) remove(e *cacheEntry) {
	c.unlink(e)
	delete(c.entries, e.key)
}

func (c *chainCache) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *chainCache) pushFront(e *cacheEntry) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

// identity returns a copy of the cached Identity whose Leaf and Chain are the
// certificates of presented (the current caller's), the anchor and configured
// intermediates being the Validator's own, as on the uncached path.
func (e *cacheEntry) identity(presented []*x509.Certificate) *Identity {
	id := cloneIdentity(&e.id)
	id.Leaf = presented[0]
	id.Chain = make([]*x509.Certificate, len(e.links))
	for i, l := range e.links {
		if l.presented >= 0 {
			id.Chain[i] = presented[l.presented]
		} else {
			id.Chain[i] = l.cert
		}
	}
	return &id
}

// cloneIdentity copies id so that no slice (nor the bytes of an IP address) is
// shared with it. Certificates are shared: they are read-only. A field added to
// Identity that holds a slice, map or pointer must be copied here
// (TestValidateCacheReturnsCopies finds one that is not).
func cloneIdentity(id *Identity) Identity {
	c := *id
	c.Chain = slices.Clone(id.Chain)
	c.DNSNames = slices.Clone(id.DNSNames)
	c.EmailAddresses = slices.Clone(id.EmailAddresses)
	c.URIs = slices.Clone(id.URIs)
	c.Roles = slices.Clone(id.Roles)
	c.IPAddresses = cloneIPs(id.IPAddresses)
	return c
}

// cloneIPs copies ips and the bytes of each address.
func cloneIPs(ips []net.IP) []net.IP {
	if ips == nil {
		return nil
	}
	out := make([]net.IP, len(ips))
	for i, ip := range ips {
		out[i] = slices.Clone(ip)
	}
	return out
}
