package identity

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

// FailureCounter keeps the failed-attempt counters, shared by every node (the store
// implements it; see [store.Store.CountLoginFailure] for the window semantics).
type FailureCounter interface {
	// CountLoginFailure adds one to the counter key and returns its state.
	CountLoginFailure(ctx context.Context, key string, window time.Duration) (store.LoginFailures, error)
	// ForgiveLoginFailure takes one back from the live counter key.
	ForgiveLoginFailure(ctx context.Context, key string) error
	// ClearLoginFailures deletes the counter key.
	ClearLoginFailures(ctx context.Context, key string) error
}

// RateLimit bounds failed attempts (wrong passwords, unknown usernames, wrong or replayed
// codes) per fixed window. The zero value means the defaults, each field on its own.
type RateLimit struct {
	// Window is the counting window. Zero means 15 minutes.
	Window time.Duration
	// PerCustomer is how many attempts one username may fail in a window before further
	// attempts are refused unchecked. Zero means 5: with three codes valid at a time, a
	// TOTP guesser then has a chance of about 3 in 10⁶ per attempt, ~0.15 % a day.
	PerCustomer int
	// PerAddress is the same for one client address (an IPv6 /64). Zero means 20: higher,
	// because several customers may share an address (NAT).
	PerAddress int
}

func (r RateLimit) withDefaults() RateLimit {
	if r.Window <= 0 {
		r.Window = 15 * time.Minute
	}
	if r.PerCustomer <= 0 {
		r.PerCustomer = 5
	}
	if r.PerAddress <= 0 {
		r.PerAddress = 20
	}
	return r
}

// counter is one failure counter: its store key (hashed name) and its limit.
type counter struct {
	key   string
	limit int
}

// limiter applies a RateLimit through a FailureCounter.
type limiter struct {
	counts FailureCounter
	clk    clock.Clock
	limit  RateLimit
}

func (l *limiter) customer(id string) counter {
	return counter{key: store.HashSecret("identity customer\x00" + id), limit: l.limit.PerCustomer}
}

func (l *limiter) address(addr string) counter {
	return counter{key: store.HashSecret("identity address\x00" + addressBucket(addr)), limit: l.limit.PerAddress}
}

// reserve counts one attempt against each counter in turn, before the attempt is checked, so
// that parallel attempts cannot overrun a limit. At the first counter over its limit it stops
// (later counters are not charged) and returns a [*RateLimitedError].
func (l *limiter) reserve(ctx context.Context, cs ...counter) error {
	for _, c := range cs {
		lf, err := l.counts.CountLoginFailure(ctx, c.key, l.limit.Window)
		if err != nil {
			return fmt.Errorf("identity: rate limit: %w", err)
		}
		if lf.Count > int64(c.limit) {
			wait := lf.ExpiresAt.Sub(l.clk.Now()).Round(time.Second)
			return &RateLimitedError{RetryAfter: max(wait, time.Second)}
		}
	}
	return nil
}

// forgive takes the reserved attempt back from each counter (the attempt succeeded).
func (l *limiter) forgive(ctx context.Context, cs ...counter) error {
	for _, c := range cs {
		if err := l.counts.ForgiveLoginFailure(ctx, c.key); err != nil {
			return fmt.Errorf("identity: rate limit: %w", err)
		}
	}
	return nil
}

// addressBucket is the rate-limit bucket of a client address: the IP (a port, if given, is
// dropped), IPv4-mapped IPv6 as IPv4, other IPv6 addresses by their /64 (one subscriber's
// allocation). Anything unparseable is one bucket of its own text.
func addressBucket(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "unparsed:" + addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	return netip.PrefixFrom(ip, 64).Masked().String()
}
