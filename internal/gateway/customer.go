package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// CustomerLookup tells the gateway which of the bank's customers a customer token acts
// for. Access tokens, which the TPP can read, name the customer only by an opaque
// subject (package token's Subjects); the customer id lives in the consent the token
// names (consent_id). *store.Store implements it.
type CustomerLookup interface {
	// ConsentUserID returns the id of the customer who authorised the consent ("" while
	// nobody has), an error matching store.ErrNotFound for an unknown consent, or any
	// other error when the consent could not be read.
	ConsentUserID(ctx context.Context, consentID string) (string, error)
}

// ErrCustomerUnavailable: the customer behind a customer token could not be looked up
// (the consent store did not answer, or no CustomerLookup is configured). It is a
// consent-service failure: 503, never a request forwarded without its customer.
var ErrCustomerUnavailable = fmt.Errorf("%w: customer lookup failed", ErrConsentUnavailable)

// Customer cache bounds.
const (
	// CustomerCacheTTL is how long a looked-up customer is reused: the same bound as the
	// deny-list's refresh (token.MaxRefreshInterval).
	CustomerCacheTTL = token.MaxRefreshInterval
	// customerCacheSize bounds the cache; when full, expired entries go first, then all.
	customerCacheSize = 10000
)

// customerStage: for a customer token bound to a consent, the customer who authorised
// that consent, for the upstream's identity (upstream.HeaderPSUID or the identity JWT).
// A consent nobody authorised, or that does not exist, is refused (403); a lookup that
// fails is ErrCustomerUnavailable (503). Application tokens, and customer tokens without
// a consent, name no customer.
type customerStage struct{ cache *customerCache }

func (s customerStage) Check(ctx context.Context, x *exchange) error {
	if x.at.Use != token.UseUser || x.at.ConsentID == "" {
		return nil
	}
	if s.cache == nil {
		return fmt.Errorf("%w: no customer lookup configured", ErrCustomerUnavailable)
	}
	id, err := s.cache.customer(ctx, x.at.ConsentID)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && id == "":
		return &ConsentError{Decision: consent.Decision{
			ErrorCode: obDefaultConsentMismatch, ErrorMessage: "The consent has not been authorised by a customer",
		}}
	case err != nil:
		return fmt.Errorf("%w: %w", ErrCustomerUnavailable, err)
	}
	x.customer = id
	return nil
}

// customerCache remembers consent → customer for at most ttl. Only answers naming a
// customer are kept: the customer of a consent never changes once set, and a consent
// not yet authorised is asked again on the next request.
type customerCache struct {
	src   CustomerLookup
	clock clock.Clock
	ttl   time.Duration
	max   int

	mu sync.Mutex
	m  map[string]customerEntry
}

type customerEntry struct {
	id      string
	expires time.Time
}

// newCustomerCache returns a cache over src, or nil when src is nil.
func newCustomerCache(src CustomerLookup, clk clock.Clock) *customerCache {
	if src == nil {
		return nil
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &customerCache{src: src, clock: clk, ttl: CustomerCacheTTL, max: customerCacheSize, m: make(map[string]customerEntry)}
}

// customer returns the customer of consentID, from the cache if fresh.
func (c *customerCache) customer(ctx context.Context, consentID string) (string, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.m[consentID]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.id, nil
	}
	id, err := c.src.ConsentUserID(ctx, consentID)
	if err != nil || id == "" {
		return id, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[consentID] = customerEntry{id: id, expires: now.Add(c.ttl)}
	return id, nil
}
