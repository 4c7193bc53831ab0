package nca

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// Defaults of [RegisterOptions].
const (
	// DefaultRefreshInterval is how often [Register.Run] reloads the register. NCAs notify
	// the EBA of withdrawals the same day (RTS 2019/411 Art. 6(5)); the EBA republishes
	// at least daily.
	DefaultRefreshInterval = time.Hour
	// DefaultMaxAge is the freshness bound: data older than this is stale.
	DefaultMaxAge = 26 * time.Hour
	// MinRefreshInterval is the smallest RefreshInterval [NewRegister] accepts.
	MinRefreshInterval = time.Second
)

// RegisterOptions configure [NewRegister].
type RegisterOptions struct {
	// Load reads the register document (EBA JSON shape, at most [MaxRegisterSize] bytes):
	// a file, or an https URL fetched under the SSRF rules of client jwks_uris. Required.
	Load func(ctx context.Context) ([]byte, error)
	// Clock is the source of now. Nil means clock.Real.
	Clock clock.Clock
	// RefreshInterval is the period of [Register.Run]. Zero means
	// [DefaultRefreshInterval]; at least [MinRefreshInterval].
	RefreshInterval time.Duration
	// MaxAge is the freshness bound: when the last successful load is older, Policy
	// decides. Zero means [DefaultMaxAge]. It must exceed RefreshInterval.
	MaxAge time.Duration
	// Policy applies when the data is stale. Empty means [PolicyFailClosed].
	Policy Policy
	// AllowUnlisted treats a TPP the register does not list (or that has no NCA
	// identifier) as authorised for every role. For the dev sandbox only: a listed
	// withdrawal or removed role still refuses. False in every production deployment.
	AllowUnlisted bool
}

// Register is a snapshot of a register file, reloaded by [Register.Refresh] (and on a
// schedule by [Register.Run]). Lookups never touch the network or the disk. Safe for
// concurrent use.
type Register struct {
	o RegisterOptions

	mu       sync.RWMutex
	entries  map[string]*Entry
	loadedAt time.Time // zero: never loaded
	lastErr  error
}

// NewRegister checks o and returns a Register with no data: call [Register.Refresh]
// before serving (until the first load every check is [ErrUnavailable]).
func NewRegister(o RegisterOptions) (*Register, error) {
	if o.Load == nil {
		return nil, errors.New("nca: RegisterOptions.Load is required")
	}
	if err := o.Policy.check(); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	switch {
	case o.RefreshInterval < MinRefreshInterval:
		return nil, fmt.Errorf("nca: RegisterOptions.RefreshInterval must be at least %v", MinRefreshInterval)
	case o.MaxAge <= o.RefreshInterval:
		return nil, errors.New("nca: RegisterOptions.MaxAge must be longer than RefreshInterval")
	}
	return &Register{o: o}, nil
}

// Refresh loads and parses the register now. On error the previous data stays in use
// (subject to the freshness bound) and the error is returned.
func (r *Register) Refresh(ctx context.Context) error {
	data, err := r.o.Load(ctx)
	if err == nil {
		var entries map[string]*Entry
		if entries, err = ParseEBA(data); err == nil {
			r.mu.Lock()
			r.entries, r.loadedAt, r.lastErr = entries, r.o.Clock.Now(), nil
			r.mu.Unlock()
			return nil
		}
	}
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
	return fmt.Errorf("nca: register refresh: %w", err)
}

// Run refreshes every RefreshInterval until ctx ends; failures are reported through
// onError (may be nil) and retried at the next tick.
func (r *Register) Run(ctx context.Context, onError func(error)) {
	t := time.NewTicker(r.o.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && onError != nil {
				onError(err)
			}
		}
	}
}

// LoadedAt returns when the data in use was loaded (zero: never) and the error of the
// last failed refresh since, if any.
func (r *Register) LoadedAt() (time.Time, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.loadedAt, r.lastErr
}

// Len returns the number of TPP entries in use.
func (r *Register) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.entries)
}

// Check answers whether the TPP id may act in roles now. It returns nil, a
// [*RefusedError], or an error matching [ErrUnavailable] when the register was never
// loaded, or its data is older than MaxAge under [PolicyFailClosed]. A zero (invalid) id
// is ErrNotListed — unless AllowUnlisted.
func (r *Register) Check(_ context.Context, id ID, roles []eidas.Role) error {
	now := r.o.Clock.Now()
	r.mu.RLock()
	entries, loadedAt, lastErr := r.entries, r.loadedAt, r.lastErr
	r.mu.RUnlock()
	switch {
	case loadedAt.IsZero():
		return fmt.Errorf("%w: never loaded: %v", ErrUnavailable, lastErr)
	case now.Sub(loadedAt) > r.o.MaxAge && r.o.Policy != PolicyLastKnown:
		return fmt.Errorf("%w: data loaded at %s is older than %v (last error: %v)", ErrUnavailable, loadedAt.Format(time.RFC3339), r.o.MaxAge, lastErr)
	}
	var e *Entry
	if id.Valid() {
		e = entries[id.Key()]
	}
	if e == nil && r.o.AllowUnlisted {
		return nil
	}
	return Decide(id, e, roles, now)
}
