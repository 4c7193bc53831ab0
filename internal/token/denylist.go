package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

// RevocationSource lists revoked access tokens (entries with a JTI) and revoked
// grant families (entries with a FamilyID); *store.Store implements it.
// RevocationsSince returns the entries with RevokedAt at or after since (inclusive),
// ordered by RevokedAt, at most limit of them.
type RevocationSource interface {
	RevocationsSince(ctx context.Context, since time.Time, limit int) ([]store.Revocation, error)
}

// Deny-list defaults and bounds.
const (
	DefaultRefreshInterval = 2 * time.Second
	MaxRefreshInterval     = 5 * time.Second // the cross-node bound
	DefaultMaxStaleness    = 30 * time.Second
	DefaultOverlap         = time.Minute
	DefaultPageSize        = 1000
	maxPagesPerRefresh     = 100
	refreshTimeout         = 5 * time.Second
	pruneInterval          = 30 * time.Second
)

// DenyListOptions configures a [DenyList].
type DenyListOptions struct {
	// Source is the store's revocation table. Required.
	Source RevocationSource
	// Clock is read for staleness and expiry. Nil means clock.Real.
	Clock clock.Clock
	// Logger receives refresh failures and recoveries (never token values). Nil
	// discards.
	Logger *slog.Logger
	// RefreshInterval is the polling period of Run. Zero means 2 s; more than 5 s is
	// refused, so a revocation on one node takes effect on every node within 5 s.
	RefreshInterval time.Duration
	// MaxStaleness is how long after the last successful refresh the list is still
	// trusted. Past it, [DenyList.Check] (and so [Verifier.Verify]) fails with
	// ErrRevocationStateUnavailable. Zero means 30 s; it must be at least
	// RefreshInterval.
	MaxStaleness time.Duration
	// Overlap is how far before the previous refresh each refresh reads again, to
	// catch entries committed late or stamped by a node whose clock is behind.
	// Zero means 1 min.
	Overlap time.Duration
	// PageSize is the limit passed to RevocationsSince. Zero means 1000.
	PageSize int
}

// DenyList is the in-memory set of revoked access tokens, fed from the store
// (Run/Refresh) and by local revocations (Add, AddFamily): single tokens by jti, and
// whole grants by family id (the grant_id claim; store.Store.RevokeFamily), each
// looked up in O(1). Entries are dropped once their tokens have expired (plus the
// largest clock skew a verifier allows). It is never trimmed otherwise: dropping a
// live entry would un-revoke a token. Safe for concurrent use; IsRevoked takes a
// read lock only.
type DenyList struct {
	src      RevocationSource
	clock    clock.Clock
	log      *slog.Logger
	interval time.Duration
	stale    time.Duration
	overlap  time.Duration
	page     int

	mu       sync.RWMutex
	entries  map[string]time.Time // jti → token exp
	families map[string]time.Time // family id → exp of the family's last token

	// lastOK is the start time (UnixNano) of the last successful refresh, 0 for
	// never. Atomic so that Check, on every request, never waits for a refresh.
	lastOK atomic.Int64

	stateMu   sync.Mutex // serialises Refresh and guards the bookkeeping below
	cursor    time.Time  // start time of the last successful refresh
	lastPrune time.Time  // when expired entries were last swept
	failing   bool
	staleLogs bool
}

// NewDenyList checks opts and returns an empty list that reports itself stale
// until its first successful Refresh.
func NewDenyList(opts DenyListOptions) (*DenyList, error) {
	d := &DenyList{src: opts.Source, clock: opts.Clock, log: opts.Logger, interval: opts.RefreshInterval,
		stale: opts.MaxStaleness, overlap: opts.Overlap, page: opts.PageSize,
		entries: make(map[string]time.Time), families: make(map[string]time.Time)}
	if d.src == nil {
		return nil, fmt.Errorf("%w: deny-list without a revocation source", ErrInvalidClaims)
	}
	if d.clock == nil {
		d.clock = clock.Real{}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.interval == 0 {
		d.interval = DefaultRefreshInterval
	}
	if d.interval < 0 || d.interval > MaxRefreshInterval {
		return nil, fmt.Errorf("%w: deny-list refresh interval %v outside (0, %v]", ErrInvalidClaims, d.interval, MaxRefreshInterval)
	}
	if d.stale == 0 {
		d.stale = DefaultMaxStaleness
	}
	if d.stale < d.interval {
		return nil, fmt.Errorf("%w: deny-list max staleness %v below the refresh interval", ErrInvalidClaims, d.stale)
	}
	if d.overlap <= 0 {
		d.overlap = DefaultOverlap
	}
	if d.page <= 0 {
		d.page = DefaultPageSize
	}
	return d, nil
}

// Run refreshes the list at once and then every RefreshInterval until ctx is
// done, returning ctx.Err(). Failures are logged (on change of state) and show up
// through Check once the list is older than MaxStaleness.
func (d *DenyList) Run(ctx context.Context) error {
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		_ = d.Refresh(rctx) // logged inside
		cancel()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Refresh reads the revocations recorded since shortly before the previous
// successful refresh (the first time: since one maximum token lifetime ago) and
// drops expired entries. On error the list keeps its content and its age.
func (d *DenyList) Refresh(ctx context.Context) error {
	d.stateMu.Lock()
	defer d.stateMu.Unlock()
	start := d.clock.Now()
	since := start.Add(-(MaxAccessTokenLifetime + MaxClockSkewLimit))
	if !d.cursor.IsZero() {
		since = d.cursor.Add(-d.overlap)
	}
	var fetched []store.Revocation
	for range maxPagesPerRefresh {
		rs, err := d.src.RevocationsSince(ctx, since, d.page)
		if err != nil {
			return d.failed(start, fmt.Errorf("token: deny-list refresh: %w", err))
		}
		fetched = append(fetched, rs...)
		if len(rs) < d.page {
			prune := start.Sub(d.lastPrune) >= pruneInterval
			if prune {
				d.lastPrune = start
			}
			d.apply(fetched, start, prune)
			d.cursor = start
			d.lastOK.Store(start.UnixNano())
			if d.failing || d.staleLogs {
				d.log.Info("deny-list refresh recovered", "entries", d.Len())
			}
			d.failing, d.staleLogs = false, false
			return nil
		}
		last := rs[len(rs)-1].RevokedAt
		if !last.After(since) {
			return d.failed(start, fmt.Errorf("token: deny-list refresh: a full page of revocations at one instant %v; raise PageSize", last))
		}
		since = last
	}
	return d.failed(start, errors.New("token: deny-list refresh: too many revocations in one refresh"))
}

func (d *DenyList) failed(now time.Time, err error) error {
	if !d.failing {
		d.log.Warn("deny-list refresh failing", "err", err)
		d.failing = true
	}
	if !d.staleLogs && !d.fresh(now) {
		d.log.Error("deny-list stale: rejecting access tokens until it refreshes", "last_refresh", d.last(), "err", err)
		d.staleLogs = true
	}
	return err
}

// apply merges fetched entries and, if prune, drops the ones whose tokens are
// dead (a full sweep holds the write lock, so it runs at most every
// pruneInterval).
func (d *DenyList) apply(rs []store.Revocation, now time.Time, prune bool) {
	horizon := now.Add(-MaxClockSkewLimit)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range rs {
		if r.ExpiresAt.Before(horizon) {
			continue
		}
		switch {
		case r.JTI != "":
			put(d.entries, r.JTI, r.ExpiresAt)
		case r.FamilyID != "":
			put(d.families, r.FamilyID, r.ExpiresAt)
		}
	}
	if !prune {
		return
	}
	for _, m := range []map[string]time.Time{d.entries, d.families} {
		for k, exp := range m {
			if exp.Before(horizon) {
				delete(m, k)
			}
		}
	}
}

// put records key until exp, keeping the later expiry of two entries.
func put(m map[string]time.Time, key string, exp time.Time) {
	if cur, ok := m[key]; !ok || exp.After(cur) {
		m[key] = exp
	}
}

// Add puts a revocation into the list at once (this node revoked the token; the
// store write makes other nodes see it within RefreshInterval). exp is the token's
// expiry.
func (d *DenyList) Add(jti string, exp time.Time) {
	if jti == "" {
		return
	}
	d.mu.Lock()
	put(d.entries, jti, exp)
	d.mu.Unlock()
}

// AddFamily puts a revoked grant family into the list at once (this node revoked
// it; other nodes see it within RefreshInterval). exp is no earlier than the expiry
// of the family's last access token.
func (d *DenyList) AddFamily(familyID string, exp time.Time) {
	if familyID == "" {
		return
	}
	d.mu.Lock()
	put(d.families, familyID, exp)
	d.mu.Unlock()
}

// IsFamilyRevoked reports whether the grant family is on the list (an empty
// family, that of application tokens, never is). It does not say whether the list
// is current: see Check.
func (d *DenyList) IsFamilyRevoked(familyID string) bool {
	if familyID == "" {
		return false
	}
	d.mu.RLock()
	_, ok := d.families[familyID]
	d.mu.RUnlock()
	return ok
}

// IsRevoked reports whether jti is on the list. It does not say whether the list
// is current: see Check.
func (d *DenyList) IsRevoked(jti string) bool {
	d.mu.RLock()
	_, ok := d.entries[jti]
	d.mu.RUnlock()
	return ok
}

// Check returns ErrRevocationStateUnavailable if the list has never been
// refreshed or its last successful refresh is older than MaxStaleness, nil
// otherwise.
func (d *DenyList) Check() error {
	if d.fresh(d.clock.Now()) {
		return nil
	}
	last := d.last()
	if last.IsZero() {
		return fmt.Errorf("%w: deny-list never refreshed", ErrRevocationStateUnavailable)
	}
	return fmt.Errorf("%w: deny-list last refreshed %v", ErrRevocationStateUnavailable, last)
}

func (d *DenyList) fresh(now time.Time) bool {
	last := d.last()
	return !last.IsZero() && now.Sub(last) <= d.stale
}

func (d *DenyList) last() time.Time {
	ns := d.lastOK.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Len returns the number of entries, of tokens and of families.
func (d *DenyList) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.entries) + len(d.families)
}
