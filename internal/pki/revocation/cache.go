package revocation

import (
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// lru is a bounded, mutex-guarded least-recently-used map. A capacity of zero or
// less disables it: get always misses and add does nothing.
type lru[V comparable] struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[string]*list.Element
}

type lruItem[V comparable] struct {
	key string
	val V
}

func newLRU[V comparable](capacity int) *lru[V] {
	return &lru[V]{max: capacity, ll: list.New(), m: make(map[string]*list.Element)}
}

// get returns the value for key and marks it most recently used.
func (c *lru[V]) get(key string) (v V, ok bool) {
	if c.max <= 0 {
		return v, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return v, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*lruItem[V]).val, true
}

// add stores v under key, evicting the least recently used entry when full.
func (c *lru[V]) add(key string, v V) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		el.Value.(*lruItem[V]).val = v
		c.ll.MoveToFront(el)
		return
	}
	c.m[key] = c.ll.PushFront(&lruItem[V]{key: key, val: v})
	for c.ll.Len() > c.max {
		oldest := c.ll.Back()
		c.ll.Remove(oldest)
		delete(c.m, oldest.Value.(*lruItem[V]).key)
	}
}

// removeValue deletes key if it still holds v (and not a newer value).
func (c *lru[V]) removeValue(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok && el.Value.(*lruItem[V]).val == v {
		c.ll.Remove(el)
		delete(c.m, key)
	}
}

// removeIf deletes every entry for which drop returns true and returns how many it
// deleted. drop runs under the lock and must not call back into c.
func (c *lru[V]) removeIf(drop func(key string, v V) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for el := c.ll.Front(); el != nil; {
		next := el.Next()
		if it := el.Value.(*lruItem[V]); drop(it.key, it.val) {
			c.ll.Remove(el)
			delete(c.m, it.key)
			n++
		}
		el = next
	}
	return n
}

func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

func (c *lru[V]) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.m)
}

// cachedAnswer is a verified per-certificate answer (pki.md §2.4): kept until
// min(nextUpdate, thisUpdate+MaxOCSPAge) for OCSP, until nextUpdate for a CRL.
type cachedAnswer struct {
	res          Result // Source is the origin (OCSP or CRL)
	stored       time.Time
	expires      time.Time
	refreshing   atomic.Bool // a background refresh was started for this entry
	cert, issuer *x509.Certificate
}

// storeAnswer caches a definite answer until it expires, a "good" one for at most
// Options.MaxGoodAge.
//
// gen is the value of c.forgets when the lookup that produced a started: if a
// [Checker.Forget] ran since, the answer may predate it and is not stored.
func (c *Checker) storeAnswer(key string, a answer, cert, issuer *x509.Certificate, gen uint64) {
	if c.forgets.Load() != gen {
		return
	}
	now := c.clock.Now()
	a.expires = c.reuseUntil(a, now)
	if !now.Before(a.expires) {
		return // accepted within the clock skew only; not worth keeping
	}
	c.answers.add(key, &cachedAnswer{res: a.res, stored: now, expires: a.expires, cert: cert, issuer: issuer})
}

// reuseUntil is when a, obtained at now, stops being usable without asking again: its
// own expiry, and for a "good" answer at most Options.MaxGoodAge after now (now itself
// when MaxGoodAge is negative).
func (c *Checker) reuseUntil(a answer, now time.Time) time.Time {
	if a.res.Status != StatusGood {
		return a.expires
	}
	limit := now.Add(max(c.opts.MaxGoodAge, 0))
	if limit.Before(a.expires) {
		return limit
	}
	return a.expires
}

// cachedAnswer returns a fresh cached answer for key and when it expires. A hit on a "good" answer past
// Options.RefreshAhead of its lifetime starts one background refresh; the cached
// answer is still returned (it is valid until it expires).
func (c *Checker) cachedAnswer(key string) (Result, time.Time, bool) {
	now := c.clock.Now()
	e, ok := c.answers.get(key)
	if ok && !now.Before(e.expires) {
		c.answers.removeValue(key, e)
		ok = false
	}
	if !ok {
		c.metrics.cacheMisses.WithLabelValues(cacheAnswers).Inc()
		return Result{}, time.Time{}, false
	}
	c.metrics.cacheHits.WithLabelValues(cacheAnswers).Inc()
	c.metrics.checks.WithLabelValues(string(SourceCache), e.res.Status.String()).Inc()
	// A revocation is final; only "good" answers are worth refreshing.
	if e.res.Status == StatusGood && c.dueForRefresh(e.stored, e.expires, now) && e.refreshing.CompareAndSwap(false, true) {
		started := c.goBackground(func(ctx context.Context) {
			_, err, _ := c.certFlight.Do(key, func() (any, error) {
				return c.resolve(ctx, key, e.cert, e.issuer)
			})
			c.refreshDone(err, "answer", slog.String("serial", serialHex(e.cert.SerialNumber)))
		})
		if !started {
			e.refreshing.Store(false)
		}
	}
	res := e.res
	res.Source = SourceCache
	return res, e.expires, true
}

// dueForRefresh reports whether at least Options.RefreshAhead of the lifetime
// stored..expires has passed at now.
func (c *Checker) dueForRefresh(stored, expires, now time.Time) bool {
	if c.opts.RefreshAhead >= 1 {
		return false
	}
	return float64(now.Sub(stored)) >= c.opts.RefreshAhead*float64(expires.Sub(stored))
}

// goBackground runs fn in a goroutine if the Checker is open and a background slot
// is free; fn's context is cancelled by Close. It reports whether fn was started.
func (c *Checker) goBackground(fn func(ctx context.Context)) bool {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.bgClosed {
		return false
	}
	select {
	case c.bgSem <- struct{}{}:
	default:
		c.metrics.refreshes.WithLabelValues("skipped").Inc()
		return false
	}
	c.bgWG.Add(1)
	go func() {
		defer func() {
			<-c.bgSem
			c.bgWG.Done()
		}()
		fn(c.bgCtx)
	}()
	return true
}

// refreshDone records the outcome of a background refresh.
func (c *Checker) refreshDone(err error, what string, attr slog.Attr) {
	if err != nil {
		c.metrics.refreshes.WithLabelValues("error").Inc()
		c.log.Warn("background revocation refresh failed; cached answer kept until it expires",
			slog.String("cache", what), attr, slog.String("error", err.Error()))
		return
	}
	c.metrics.refreshes.WithLabelValues("ok").Inc()
}

// Forget drops what the Checker has cached about the certificate with the given serial
// number, so that its next check asks the OCSP responder (or downloads the CRL) again:
// its cached answers and, for each issuer it had an answer from, that issuer's cached
// CRLs. issuerSHA256, when not empty, restricts it to the issuer certificate with that
// SHA-256 fingerprint of its DER (`openssl x509 -noout -fingerprint -sha256`); empty
// means any issuer. A lookup running while Forget is called does not cache its answer.
//
// It returns the number of cached answers dropped (0 when nothing was cached). Forget
// never makes a certificate acceptable: it only discards earlier answers. It acts on
// this Checker only: each node of a cluster has its own cache.
func (c *Checker) Forget(serial *big.Int, issuerSHA256 []byte) int {
	if serial == nil {
		return 0
	}
	c.forgets.Add(1)
	suffix := serialKey(serial)
	var issuers []string
	n := c.answers.removeIf(func(key string, e *cachedAnswer) bool {
		if len(key) != sha256.Size+len(suffix) || key[sha256.Size:] != suffix {
			return false
		}
		if len(issuerSHA256) > 0 {
			sum := sha256.Sum256(e.issuer.Raw)
			if subtle.ConstantTimeCompare(sum[:], issuerSHA256) != 1 {
				return false
			}
		}
		issuers = append(issuers, key[:sha256.Size])
		return true
	})
	if len(issuers) > 0 {
		c.crls.removeIf(func(key string, _ *crlEntry) bool {
			return len(key) >= sha256.Size && slices.Contains(issuers, key[:sha256.Size])
		})
	}
	return n
}
