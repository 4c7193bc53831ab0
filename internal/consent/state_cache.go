package consent

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// State cache bounds: the same propagation bound as the access-token deny-list
// (token.MaxRefreshInterval), so that a consent revoked on one node stops its
// access tokens on every node within 5 s.
const (
	DefaultCacheTTL  = 2 * time.Second
	MaxCacheTTL      = 5 * time.Second
	defaultCacheSize = 10000
)

// StateCache keeps the consents the gateway validates against, each for at most
// its TTL (≤ 5 s): an entry older than that is never used, it is read again from the
// store, and when that read fails the caller gets the error (the gateway answers
// 503) — fail closed, never a stale allow. Changes made on this node are seen at once
// ([StateCache.Invalidate], wired to [Options].OnChange). Safe for concurrent use.
type StateCache struct {
	svc   *Service
	clock clock.Clock
	ttl   time.Duration
	max   int

	mu sync.Mutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	c       *Consent
	fetched time.Time
}

// NewStateCache returns a cache over svc with entries kept for ttl (zero: 2 s; more
// than 5 s is refused). clk nil means svc's clock.
func NewStateCache(svc *Service, ttl time.Duration, clk clock.Clock) (*StateCache, error) {
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	if ttl < 0 || ttl > MaxCacheTTL {
		return nil, errors.New("consent: cache TTL outside (0, 5s]")
	}
	if clk == nil {
		clk = svc.clock
	}
	sc := &StateCache{svc: svc, clock: clk, ttl: ttl, max: defaultCacheSize, m: make(map[string]cacheEntry)}
	svc.listen(sc.Invalidate)
	return sc, nil
}

// Get returns consent id, from the cache when fetched less than TTL ago. Errors are
// [Service.Get]'s (ErrNotFound is not cached).
func (sc *StateCache) Get(ctx context.Context, id string) (*Consent, error) {
	now := sc.clock.Now()
	sc.mu.Lock()
	e, ok := sc.m[id]
	sc.mu.Unlock()
	if ok && now.Sub(e.fetched) < sc.ttl && !now.Before(e.fetched) {
		return e.c, nil
	}
	c, err := sc.svc.Get(ctx, id)
	if err != nil {
		sc.Invalidate(id)
		return nil, err
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.m) >= sc.max {
		for k, e := range sc.m {
			if now.Sub(e.fetched) >= sc.ttl {
				delete(sc.m, k)
			}
		}
		if len(sc.m) >= sc.max {
			clear(sc.m)
		}
	}
	sc.m[id] = cacheEntry{c: c, fetched: now}
	return c, nil
}

// Invalidate drops consent id, so the next Get reads the store.
func (sc *StateCache) Invalidate(id string) {
	sc.mu.Lock()
	delete(sc.m, id)
	sc.mu.Unlock()
}
