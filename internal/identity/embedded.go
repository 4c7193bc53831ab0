package identity

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

// MaxUsernameLen bounds a username (a customer id), in bytes.
const MaxUsernameLen = 128

// CustomerStore is what [Embedded] reads and writes of the embedded customers (the store
// implements it).
type CustomerStore interface {
	// GetCustomer returns the customer, or an error wrapping store.ErrNotFound.
	GetCustomer(ctx context.Context, id string) (store.Customer, error)
	// UseTOTPStep records an accepted time step: nil once per step and customer, an error
	// wrapping store.ErrReplay for a step at or before the last one accepted.
	UseTOTPStep(ctx context.Context, id string, step int64) error
}

// EmbeddedOptions configure [NewEmbedded].
type EmbeddedOptions struct {
	// Customers is where customers are kept. Required.
	Customers CustomerStore
	// Failures keeps the rate-limit counters. Required.
	Failures FailureCounter
	// SecretKey opens the customers' sealed TOTP keys. Required.
	SecretKey *SecretKey
	// Clock tells the TOTP time step and Retry-After. Nil means clock.Real.
	Clock clock.Clock
	// RateLimit bounds failed attempts; the zero value means the defaults.
	RateLimit RateLimit
	// MaxConcurrentHashes bounds the argon2id computations running at once (each holds its
	// memory cost, 19 MiB by default); further logins wait. Zero means GOMAXPROCS.
	MaxConcurrentHashes int
}

// Embedded authenticates customers kept in the store: password (argon2id) then TOTP. It is
// safe for concurrent use, on any number of nodes sharing one store.
type Embedded struct {
	customers CustomerStore
	key       *SecretKey
	clk       clock.Clock
	limits    limiter
	slots     hashSlots
	// dummy is verified for unknown usernames, so they cost what a wrong password costs.
	dummy phcHash
	// verifications counts argon2id verifications (for tests).
	verifications atomic.Int64
}

// NewEmbedded returns the embedded authenticator. It computes one argon2id hash (the dummy
// verified for unknown usernames) with [DefaultArgon2id].
func NewEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	if opts.Customers == nil || opts.Failures == nil || opts.SecretKey == nil {
		return nil, errors.New("identity: NewEmbedded needs Customers, Failures and SecretKey")
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	n := opts.MaxConcurrentHashes
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	dummyPassword := make([]byte, 32)
	rand.Read(dummyPassword)
	phc, err := HashPassword(string(dummyPassword), DefaultArgon2id, rand.Reader)
	if err != nil {
		return nil, err
	}
	dummy, err := parsePHC(phc)
	if err != nil {
		return nil, err
	}
	return &Embedded{
		customers: opts.Customers,
		key:       opts.SecretKey,
		clk:       clk,
		limits:    limiter{counts: opts.Failures, clk: clk, limit: opts.RateLimit.withDefaults()},
		slots:     make(hashSlots, n),
		dummy:     dummy,
	}, nil
}

// CheckPassword checks the first factor of a login: username and password, attempted from
// clientAddr (the client's IP address, as the pages determine it; a port is ignored). It
// returns the customer's id, to be kept in the page session for [Embedded.CheckOTP].
//
// It returns a [*RateLimitedError] (errors.Is [ErrRateLimited]) without checking anything
// when clientAddr or username is over its limit of failed attempts, and
// [ErrInvalidCredentials] for an unknown username and for a wrong password alike, after the
// same argon2id work; a failure counts against both limits. Any other error means the check
// could not be made (the caller fails closed).
func (e *Embedded) CheckPassword(ctx context.Context, username, password, clientAddr string) (string, error) {
	addr, cust := e.limits.address(clientAddr), e.limits.customer(username)
	if err := e.limits.reserve(ctx, addr, cust); err != nil {
		return "", err
	}
	if username == "" || len(username) > MaxUsernameLen || password == "" || len(password) > MaxPasswordLen {
		return "", ErrInvalidCredentials
	}
	c, err := e.customers.GetCustomer(ctx, username)
	h := e.dummy
	switch {
	case errors.Is(err, store.ErrNotFound):
		// h stays the dummy: same work, same answer as a wrong password.
	case err != nil:
		return "", fmt.Errorf("identity: check password: %w", err)
	default:
		if h, err = parsePHC(c.PasswordHash); err != nil {
			return "", fmt.Errorf("identity: customer %q: %w", c.ID, err)
		}
	}
	var ok bool
	if err := e.slots.do(ctx, func() { e.verifications.Add(1); ok = h.verify(password) }); err != nil {
		return "", err
	}
	if c.ID == "" || !ok {
		return "", ErrInvalidCredentials
	}
	if err := e.limits.forgive(ctx, addr, cust); err != nil {
		return "", err
	}
	return c.ID, nil
}

// CheckOTP checks the second factor of customerID's login (as returned by
// [Embedded.CheckPassword]): code, a 6-digit RFC 6238 TOTP, attempted from clientAddr.
// On success the customer's failure counter is cleared.
//
// It returns a [*RateLimitedError] without checking anything when clientAddr or the customer
// is over its limit of failed attempts; [ErrInvalidOTP] when code is not six digits, is not
// the customer's code for the current time step or one step either side, or the customer has
// no TOTP key; [ErrOTPReplayed] when the code is right but its step (or a later one) was
// already accepted for this customer — of concurrent calls with one code, on any nodes,
// exactly one succeeds; and [ErrInvalidCredentials] when the customer no longer exists. Each of
// these counts as a failure. Any other error means the check could not be made (the caller
// fails closed).
func (e *Embedded) CheckOTP(ctx context.Context, customerID, code, clientAddr string) error {
	addr, cust := e.limits.address(clientAddr), e.limits.customer(customerID)
	if err := e.limits.reserve(ctx, addr, cust); err != nil {
		return err
	}
	if !validOTPFormat(code) {
		return ErrInvalidOTP
	}
	c, err := e.customers.GetCustomer(ctx, customerID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalidCredentials
	}
	if err != nil {
		return fmt.Errorf("identity: check one-time code: %w", err)
	}
	if c.TOTPSecret == "" {
		return ErrInvalidOTP
	}
	secret, err := e.key.open(c.ID, c.TOTPSecret)
	if err != nil {
		return fmt.Errorf("identity: customer %q: %w", c.ID, err)
	}
	step, ok, err := matchTOTP(secret, code, e.clk.Now())
	if err != nil {
		return fmt.Errorf("identity: customer %q: %w", c.ID, err)
	}
	if !ok {
		return ErrInvalidOTP
	}
	if step <= c.TOTPLastStep {
		return ErrOTPReplayed
	}
	switch err := e.customers.UseTOTPStep(ctx, c.ID, step); {
	case errors.Is(err, store.ErrReplay):
		return ErrOTPReplayed
	case errors.Is(err, store.ErrNotFound):
		return ErrInvalidCredentials
	case err != nil:
		return fmt.Errorf("identity: check one-time code: %w", err)
	}
	if err := e.limits.counts.ClearLoginFailures(ctx, cust.key); err != nil {
		return fmt.Errorf("identity: rate limit: %w", err)
	}
	return e.limits.forgive(ctx, addr)
}
