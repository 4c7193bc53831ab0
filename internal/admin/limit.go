package admin

import (
	"errors"
	"math"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// Defaults of [Limits].
const (
	DefaultPerAddress = 5
	DefaultGlobal     = 50
	DefaultWindow     = time.Minute
)

// maxAddresses bounds the per-address table. Only addresses with recent failures are kept,
// and every failure also takes from the global bucket, so the table holds at most about
// 2 × Global addresses at a time; past the bound, an address is held to the global limit only.
const maxAddresses = 10000

// Limits bound failed authentications to the admin API with two token buckets (failures, not
// requests, are counted: an operator with the right token is never slowed down by their own
// calls): one per client address and one for the API as a whole. Each failure takes one token
// from the caller's address bucket and one from the global bucket; each bucket refills at its
// capacity per Window. While the caller's bucket or the global bucket is empty, every request
// from that address (for the global bucket: from every address) is answered 429 with
// Retry-After, and its token is not even compared — also the right one. The global bucket
// bounds guessing from many addresses at the price of locking the operator out for up to
// Window during such an attack; the admin listener's default loopback address keeps that
// attack local.
type Limits struct {
	// PerAddress is the capacity of one address's bucket: that many failures in a burst, and
	// that many per Window after. Zero means [DefaultPerAddress].
	PerAddress int
	// Global is the capacity of the API's bucket. Zero means [DefaultGlobal].
	Global int
	// Window is the time a bucket takes to refill from empty. Zero means [DefaultWindow].
	Window time.Duration
}

// limiter implements [Limits].
type limiter struct {
	clk          clock.Clock
	perAddr      bucketSpec
	global       bucket
	globalSpec   bucketSpec
	mu           sync.Mutex
	addrs        map[string]*bucket
	maxAddresses int
}

type bucketSpec struct {
	capacity float64
	perSec   float64 // refill rate
}

// bucket is a token bucket; tokens is the level at time at.
type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(l Limits, clk clock.Clock) (*limiter, error) {
	if l.PerAddress < 0 || l.Global < 0 || l.Window < 0 {
		return nil, errors.New("admin: Limits must not be negative")
	}
	if l.PerAddress == 0 {
		l.PerAddress = DefaultPerAddress
	}
	if l.Global == 0 {
		l.Global = DefaultGlobal
	}
	if l.Window == 0 {
		l.Window = DefaultWindow
	}
	if clk == nil {
		clk = clock.Real{}
	}
	spec := func(n int) bucketSpec {
		return bucketSpec{capacity: float64(n), perSec: float64(n) / l.Window.Seconds()}
	}
	lim := &limiter{
		clk:          clk,
		perAddr:      spec(l.PerAddress),
		globalSpec:   spec(l.Global),
		addrs:        map[string]*bucket{},
		maxAddresses: maxAddresses,
	}
	lim.global = bucket{tokens: lim.globalSpec.capacity, at: clk.Now()}
	return lim, nil
}

// level is b's token count at now.
func (b *bucket) level(s bucketSpec, now time.Time) float64 {
	elapsed := now.Sub(b.at).Seconds()
	if elapsed < 0 {
		elapsed = 0
	}
	return math.Min(s.capacity, b.tokens+elapsed*s.perSec)
}

// wait is how long until b holds a whole token again (0 if it does).
func (b *bucket) wait(s bucketSpec, now time.Time) time.Duration {
	lvl := b.level(s, now)
	if lvl >= 1 {
		return 0
	}
	return time.Duration((1 - lvl) / s.perSec * float64(time.Second))
}

// take removes one token at now (not below zero).
func (b *bucket) take(s bucketSpec, now time.Time) {
	b.tokens, b.at = math.Max(0, b.level(s, now)-1), now
}

// limited reports whether addr must be refused now, and for how long.
func (l *limiter) limited(addr string) (time.Duration, bool) {
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := l.global.wait(l.globalSpec, now)
	if b := l.addrs[addr]; b != nil {
		wait = max(wait, b.wait(l.perAddr, now))
	}
	return wait, wait > 0
}

// fail counts a failed authentication from addr.
func (l *limiter) fail(addr string) {
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.global.take(l.globalSpec, now)
	b := l.addrs[addr]
	if b == nil {
		if len(l.addrs) >= l.maxAddresses {
			for a, ob := range l.addrs {
				if ob.level(l.perAddr, now) >= l.perAddr.capacity {
					delete(l.addrs, a)
				}
			}
		}
		if len(l.addrs) >= l.maxAddresses {
			return // held to the global limit only
		}
		b = &bucket{tokens: l.perAddr.capacity, at: now}
		l.addrs[addr] = b
	}
	b.take(l.perAddr, now)
}

// retryAfterSeconds is wait as a Retry-After delay (RFC 9110 §10.2.3): whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(wait time.Duration) int {
	s := int(math.Ceil(wait.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
