package identity_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// epoch is the fake clock's start: 10 s into a TOTP step, so one step back and forward are
// both whole steps away.
var epoch = time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)

const (
	alicePassword = "alice-password-1"
	addr          = "192.0.2.10"
)

// env is an embedded authenticator over a real, migrated store on a fake clock, with one
// customer "alice" whose TOTP key is RFC 6238's test seed.
type env struct {
	st  *store.Store
	clk *clock.Fake
	key *identity.SecretKey
	cs  *identity.Customers
	e   *identity.Embedded
}

type opener func(t testing.TB, clk clock.Clock) *store.Store

func newEnv(t *testing.T, open opener, rl identity.RateLimit) *env {
	t.Helper()
	clk := clock.NewFake(epoch)
	st := open(t, clk)
	key, err := identity.NewSecretKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cs := identity.NewCustomers(st, key)
	if _, err := cs.Add(t.Context(), identity.NewCustomer{ID: "alice", Password: alicePassword, TOTPSecret: rfc6238Secret}); err != nil {
		t.Fatal(err)
	}
	return &env{st: st, clk: clk, key: key, cs: cs, e: newEmbedded(t, st, key, clk, rl)}
}

func newEmbedded(t *testing.T, st *store.Store, key *identity.SecretKey, clk clock.Clock, rl identity.RateLimit) *identity.Embedded {
	t.Helper()
	e, err := identity.NewEmbedded(identity.EmbeddedOptions{Customers: st, Failures: st, SecretKey: key, Clock: clk, RateLimit: rl})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// code is alice's TOTP code `steps` steps from the fake clock's now.
func (v *env) code(t *testing.T, steps int) string {
	t.Helper()
	c, err := identity.TOTPCode(rfc6238Secret, v.clk.Now().Add(time.Duration(steps)*identity.TOTPPeriod))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantErr fails unless got is want (nil for nil, else errors.Is).
func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if want == nil && got != nil || want != nil && !errors.Is(got, want) {
		t.Fatalf("%s: error = %v, want %v", what, got, want)
	}
}

// wantLimited fails unless err is a *RateLimitedError with exactly retryAfter.
func wantLimited(t *testing.T, what string, err error, retryAfter time.Duration) {
	t.Helper()
	var rl *identity.RateLimitedError
	if !errors.As(err, &rl) || !errors.Is(err, identity.ErrRateLimited) {
		t.Fatalf("%s: error = %v, want ErrRateLimited", what, err)
	}
	if rl.RetryAfter != retryAfter {
		t.Fatalf("%s: RetryAfter = %v, want %v", what, rl.RetryAfter, retryAfter)
	}
}

func TestCheckPassword(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{PerCustomer: 100, PerAddress: 100})
	tests := []struct {
		name, username, password string
		wantID                   string
		wantErr                  error
		hashes                   int64 // argon2id verifications the attempt must run
	}{
		{"right password", "alice", alicePassword, "alice", nil, 1},
		{"wrong password", "alice", "alice-password-2", "", identity.ErrInvalidCredentials, 1},
		{"unknown user: same error, same work", "mallory", alicePassword, "", identity.ErrInvalidCredentials, 1},
		{"username case matters", "Alice", alicePassword, "", identity.ErrInvalidCredentials, 1},
		{"empty password", "alice", "", "", identity.ErrInvalidCredentials, 0},
		{"empty username", "", alicePassword, "", identity.ErrInvalidCredentials, 0},
		{"oversize password", "alice", strings.Repeat("p", identity.MaxPasswordLen+1), "", identity.ErrInvalidCredentials, 0},
		{"oversize username", strings.Repeat("u", identity.MaxUsernameLen+1), alicePassword, "", identity.ErrInvalidCredentials, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := v.e.Verifications()
			id, err := v.e.CheckPassword(t.Context(), tt.username, tt.password, addr)
			wantErr(t, "CheckPassword", err, tt.wantErr)
			if id != tt.wantID {
				t.Fatalf("customer id = %q, want %q", id, tt.wantID)
			}
			if got := v.e.Verifications() - before; got != tt.hashes {
				t.Fatalf("ran %d argon2id verifications, want %d", got, tt.hashes)
			}
		})
	}
}

func TestRateLimitPerCustomer(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
	// Five failures (the default limit), each from another address, a minute apart.
	for i := range 5 {
		_, err := v.e.CheckPassword(t.Context(), "alice", "wrong-password", fmt.Sprintf("198.51.100.%d", i))
		wantErr(t, fmt.Sprint("failure ", i+1), err, identity.ErrInvalidCredentials)
		v.clk.Advance(time.Minute)
	}
	// The sixth attempt is refused unchecked, even with the right password and a fresh address.
	before := v.e.Verifications()
	_, err := v.e.CheckPassword(t.Context(), "alice", alicePassword, "203.0.113.1")
	wantLimited(t, "right password after 5 failures", err, 10*time.Minute)
	if v.e.Verifications() != before {
		t.Fatal("a rate-limited attempt ran argon2id")
	}
	// The second factor is limited by the same counter.
	wantLimited(t, "CheckOTP after 5 failures", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), "203.0.113.1"), 10*time.Minute)
	// Another customer is not affected.
	if _, err := v.cs.Add(t.Context(), identity.NewCustomer{ID: "bob", Password: "bob-password"}); err != nil {
		t.Fatal(err)
	}
	id, err := v.e.CheckPassword(t.Context(), "bob", "bob-password", "203.0.113.1")
	wantErr(t, "bob", err, nil)
	if id != "bob" {
		t.Fatalf("bob's id = %q", id)
	}
	// An unknown username is limited like a known one (the answer tells nothing).
	for i := range 5 {
		_, err := v.e.CheckPassword(t.Context(), "nobody", "wrong-password", fmt.Sprintf("198.51.100.%d", 100+i))
		wantErr(t, "unknown user failure", err, identity.ErrInvalidCredentials)
	}
	_, err = v.e.CheckPassword(t.Context(), "nobody", "wrong-password", "203.0.113.1")
	wantLimited(t, "unknown user after 5 failures", err, 15*time.Minute)
	// When the window ends, alice can log in again.
	v.clk.Set(epoch.Add(15 * time.Minute))
	id, err = v.e.CheckPassword(t.Context(), "alice", alicePassword, "203.0.113.1")
	wantErr(t, "after the window", err, nil)
	if id != "alice" {
		t.Fatalf("id = %q", id)
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{PerAddress: 3, PerCustomer: 100})
	// Three failures for three usernames from one /64 (ports and hosts differ).
	for i, a := range []string{"[2001:db8:1:2::1]:4000", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"} {
		_, err := v.e.CheckPassword(t.Context(), fmt.Sprint("user-", i), "wrong-password", a)
		wantErr(t, "failure from "+a, err, identity.ErrInvalidCredentials)
	}
	_, err := v.e.CheckPassword(t.Context(), "alice", alicePassword, "2001:db8:1:2::77")
	wantLimited(t, "fourth attempt from the /64", err, 15*time.Minute)
	wantLimited(t, "CheckOTP from the /64", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), "2001:db8:1:2::77"), 15*time.Minute)
	// Another /64 and an IPv4 address are not affected.
	_, err = v.e.CheckPassword(t.Context(), "alice", alicePassword, "2001:db8:1:3::1")
	wantErr(t, "another /64", err, nil)
	_, err = v.e.CheckPassword(t.Context(), "alice", alicePassword, addr)
	wantErr(t, "an IPv4 address", err, nil)
	// A limited address does not charge the customer's counter: alice still has her attempts.
	for range 10 {
		_, err = v.e.CheckPassword(t.Context(), "alice", "wrong-password", "2001:db8:1:2::77")
		wantLimited(t, "limited address", err, 15*time.Minute)
	}
	_, err = v.e.CheckPassword(t.Context(), "alice", alicePassword, addr)
	wantErr(t, "alice from elsewhere", err, nil)
}

func TestAddressBucket(t *testing.T) {
	tests := map[string]string{
		"192.0.2.1":              "192.0.2.1",
		"192.0.2.1:51234":        "192.0.2.1",
		"::ffff:192.0.2.1":       "192.0.2.1",
		"[::ffff:192.0.2.1]:443": "192.0.2.1",
		"2001:db8:a:b:c:d:e:f":   "2001:db8:a:b::/64",
		"[2001:db8:a:b::1]:8443": "2001:db8:a:b::/64",
		"fe80::1%eth0":           "fe80::/64",
		"not an address":         "unparsed:not an address",
		"":                       "unparsed:",
	}
	for in, want := range tests {
		if got := identity.AddressBucket(in); got != want {
			t.Errorf("AddressBucket(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSuccessTakesItsAttemptBack: a right password does not count as a failure, but the
// failures before it still do.
func TestSuccessTakesItsAttemptBack(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
	for range 4 {
		_, err := v.e.CheckPassword(t.Context(), "alice", "wrong-password", addr)
		wantErr(t, "failure", err, identity.ErrInvalidCredentials)
	}
	_, err := v.e.CheckPassword(t.Context(), "alice", alicePassword, addr)
	wantErr(t, "right password", err, nil)
	_, err = v.e.CheckPassword(t.Context(), "alice", "wrong-password", addr)
	wantErr(t, "fifth failure", err, identity.ErrInvalidCredentials)
	_, err = v.e.CheckPassword(t.Context(), "alice", alicePassword, addr)
	wantLimited(t, "after the fifth failure", err, 15*time.Minute)
}

// TestCompletedLoginClearsCustomerCounter: a right TOTP code after a right password resets
// the customer's failures; a right password alone does not.
func TestCompletedLoginClearsCustomerCounter(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
	for range 3 {
		_, err := v.e.CheckPassword(t.Context(), "alice", "wrong-password", addr)
		wantErr(t, "failure", err, identity.ErrInvalidCredentials)
	}
	_, err := v.e.CheckPassword(t.Context(), "alice", alicePassword, addr)
	wantErr(t, "password", err, nil)
	wantErr(t, "otp", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), addr), nil)
	for i := range 5 {
		_, err := v.e.CheckPassword(t.Context(), "alice", "wrong-password", addr)
		wantErr(t, fmt.Sprint("failure after login ", i+1), err, identity.ErrInvalidCredentials)
	}
	_, err = v.e.CheckPassword(t.Context(), "alice", alicePassword, addr)
	wantLimited(t, "sixth", err, 15*time.Minute)
}

func TestCheckOTPSkew(t *testing.T) {
	tests := []struct {
		steps   int
		wantErr error
	}{
		{-2, identity.ErrInvalidOTP},
		{-1, nil},
		{0, nil},
		{1, nil},
		{2, identity.ErrInvalidOTP},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("step ", tt.steps), func(t *testing.T) {
			v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
			wantErr(t, "CheckOTP", v.e.CheckOTP(t.Context(), "alice", v.code(t, tt.steps), addr), tt.wantErr)
		})
	}
}

func TestCheckOTPInvalid(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{PerCustomer: 100, PerAddress: 100})
	right := v.code(t, 0)
	wrong := right[:5] + string(rune('0'+(right[5]-'0'+1)%10))
	for _, code := range []string{wrong, "", "12345", "1234567", "abcdef", "12345a", " " + right[:5], right + " ", "１２３４５６"} {
		wantErr(t, fmt.Sprintf("CheckOTP(%q)", code), v.e.CheckOTP(t.Context(), "alice", code, addr), identity.ErrInvalidOTP)
	}
	// The failures above used no step: the right code still works.
	wantErr(t, "right code", v.e.CheckOTP(t.Context(), "alice", right, addr), nil)
	// A customer without a TOTP key has no second factor.
	if err := v.st.CreateCustomer(t.Context(), store.Customer{ID: "no-otp", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "no TOTP key", v.e.CheckOTP(t.Context(), "no-otp", right, addr), identity.ErrInvalidOTP)
	// A customer removed between the two steps.
	wantErr(t, "removed", v.cs.Remove(t.Context(), "alice"), nil)
	wantErr(t, "removed customer", v.e.CheckOTP(t.Context(), "alice", v.code(t, 1), addr), identity.ErrInvalidCredentials)
}

func TestCheckOTPReplay(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{PerCustomer: 100, PerAddress: 100})
	wantErr(t, "first use", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), addr), nil)
	wantErr(t, "same code again", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), addr), identity.ErrOTPReplayed)
	wantErr(t, "previous step's code (within skew)", v.e.CheckOTP(t.Context(), "alice", v.code(t, -1), addr), identity.ErrOTPReplayed)
	wantErr(t, "from another address", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), "203.0.113.5"), identity.ErrOTPReplayed)
	// A later step's code (skew) is accepted once, and then the current one is spent too.
	wantErr(t, "next step's code", v.e.CheckOTP(t.Context(), "alice", v.code(t, 1), addr), nil)
	v.clk.Advance(identity.TOTPPeriod)
	wantErr(t, "that code in its own step", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), addr), identity.ErrOTPReplayed)
	v.clk.Advance(identity.TOTPPeriod)
	wantErr(t, "a new step", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), addr), nil)
}

func TestCheckOTPRateLimit(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
	for i := range 5 {
		wantErr(t, fmt.Sprint("wrong code ", i+1), v.e.CheckOTP(t.Context(), "alice", "000000", addr), identity.ErrInvalidOTP)
		v.clk.Advance(time.Minute)
	}
	wantLimited(t, "right code after 5 failures", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), addr), 10*time.Minute)
	// Refused unchecked: the code's step was not spent.
	v.clk.Set(epoch.Add(15 * time.Minute))
	wantErr(t, "after the window", v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), addr), nil)
}

// TestConcurrentOTPOneWinner: one code presented many times at once, to two authenticators
// (two nodes) sharing one database: exactly one succeeds, every other is a replay.
func TestConcurrentOTPOneWinner(t *testing.T) {
	backends := map[string]opener{"SQLite": storetest.OpenSQLiteClock, "Postgres": storetest.OpenPostgresClock}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			rl := identity.RateLimit{PerCustomer: 1000, PerAddress: 1000}
			v := newEnv(t, open, rl)
			nodes := []*identity.Embedded{v.e, newEmbedded(t, v.st, v.key, v.clk, rl)}
			code := v.code(t, 0)
			const perNode = 20
			errs := make(chan error, perNode*len(nodes))
			var wg sync.WaitGroup
			for _, n := range nodes {
				for range perNode {
					wg.Go(func() { errs <- n.CheckOTP(t.Context(), "alice", code, addr) })
				}
			}
			wg.Wait()
			close(errs)
			wins := 0
			for err := range errs {
				switch {
				case err == nil:
					wins++
				case errors.Is(err, identity.ErrOTPReplayed):
				default:
					t.Errorf("CheckOTP: %v", err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d of %d concurrent uses of one code succeeded, want exactly 1", wins, cap(errs))
			}
		})
	}
}

// TestFailClosed: when the check cannot be made the error is none of the customer errors.
func TestFailClosed(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
	// A TOTP key sealed under another data-dir key does not open.
	otherKey, _ := identity.NewSecretKey(bytes.Repeat([]byte{8}, 32))
	other := newEmbedded(t, v.st, otherKey, v.clk, identity.RateLimit{})
	err := other.CheckOTP(t.Context(), "alice", v.code(t, 0), addr)
	if err == nil || errors.Is(err, identity.ErrInvalidOTP) || errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("CheckOTP with the wrong data-dir key = %v, want a failure to check", err)
	}
	// A closed store.
	if err := v.st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = v.e.CheckPassword(t.Context(), "alice", alicePassword, addr)
	if err == nil || errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, identity.ErrRateLimited) {
		t.Fatalf("CheckPassword on a closed store = %v, want a failure to check", err)
	}
	err = v.e.CheckOTP(t.Context(), "alice", v.code(t, 0), addr)
	if err == nil || errors.Is(err, identity.ErrInvalidOTP) {
		t.Fatalf("CheckOTP on a closed store = %v, want a failure to check", err)
	}
}

func TestNewEmbeddedRequiresDependencies(t *testing.T) {
	if _, err := identity.NewEmbedded(identity.EmbeddedOptions{}); err == nil {
		t.Fatal("NewEmbedded without a store succeeded")
	}
}
