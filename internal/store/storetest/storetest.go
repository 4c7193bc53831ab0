// Package storetest is the contract test suite of package store, run against every backend
// (SQLite always, PostgreSQL in CI), and the helpers other packages' tests use to get a real,
// migrated store: [OpenSQLite], [OpenPostgres], their *Clock variants and [PostgresURL].
//
// [Run] exercises every method and every sentinel error of the store contract, expiry through a
// fake clock, input bounds, the sweeper, and the atomicity of single use: 50 goroutines
// consuming one authorization code, request_uri, refresh token or jti, or moving one consent
// out of AwaitingAuthorisation, see exactly one winner; and UseJTI's group commit: crowds of
// concurrent calls, duplicates among them, cancellation and Close while calls are in flight.
// It also covers transactions ([store.Store.InTx]: commit, rollback when the function fails or
// panics half-way) and the atomic grant methods; [RunPair] races those from two Store instances
// on one database.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

// Opener returns a fresh, migrated, empty store that reads time from clk and is closed when
// the test ends. [OpenSQLiteClock] and [OpenPostgresClock] are Openers.
type Opener func(t testing.TB, clk clock.Clock) *store.Store

// epoch is the fake clock's start. Its milliseconds are non-zero so that truncation bugs show.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 123_000_000, time.UTC)

// Run runs the store contract suite against the backend that open returns.
func Run(t *testing.T, open Opener) {
	groups := []struct {
		name string
		test func(t *testing.T, open Opener)
	}{
		{"Lifecycle", testLifecycle},
		{"Client", testClient},
		{"Consent", testConsent},
		{"AuthorizationCode", testAuthorizationCode},
		{"PushedRequest", testPushedRequest},
		{"RefreshToken", testRefreshToken},
		{"JTI", testJTI},
		{"JTIGroupCommit", testJTIGroupCommit},
		{"Revocation", testRevocation},
		{"Audit", testAudit},
		{"AuditBatch", testAuditBatch},
		{"InputBounds", testInputBounds},
		{"Concurrency", testConcurrency},
		{"Tx", testTx},
		{"Sweeper", testSweeper},
		{"Customer", testCustomer},
		{"LoginFailures", testLoginFailures},
		{"Idempotency", testIdempotency},
		{"SigningKey", testSigningKey},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.test(t, open)
		})
	}
}

// fresh returns a new store on a fake clock set to epoch.
func fresh(t *testing.T, open Opener) (*store.Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(epoch)
	return open(t, clk), clk
}

// wantErr fails the test unless got is want: nil for nil, else errors.Is.
func wantErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: unexpected error %v", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("%s: error = %v, want %v", what, got, want)
	}
}

// must fails the test on a non-nil error.
func must(t testing.TB, what string, err error) {
	t.Helper()
	wantErr(t, what, err, nil)
}

// ctx is the context of every store call in the suite.
func ctx(t testing.TB) context.Context { return t.Context() }

// testLifecycle covers Dialect, Ping, Migrate and Close.
func testLifecycle(t *testing.T, open Opener) {
	s, _ := fresh(t, open)
	switch d := s.Dialect(); d {
	case store.DialectSQLite, store.DialectPostgres:
	default:
		t.Fatalf("Dialect() = %q", d)
	}
	must(t, "Ping", s.Ping(ctx(t)))
	must(t, "Migrate again", s.Migrate(ctx(t)))
	must(t, "Ping after Migrate", s.Ping(ctx(t)))
	// The hot statements (prepared and cached on SQLite) work before Close and fail after it.
	must(t, "UseJTI", s.UseJTI(ctx(t), "iss", "before-close", epoch.Add(time.Hour)))
	_, err := s.GetClient(ctx(t), "nobody")
	wantErr(t, "GetClient", err, store.ErrNotFound)
	must(t, "Close", s.Close())
	must(t, "Close again", s.Close())
	if err := s.Ping(ctx(t)); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
	if err := s.UseJTI(ctx(t), "iss", "after-close", epoch.Add(time.Hour)); err == nil || errors.Is(err, store.ErrReplay) {
		t.Fatalf("UseJTI after Close = %v, want a store failure", err)
	}
	if _, err := s.GetClient(ctx(t), "nobody"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetClient after Close = %v, want a store failure", err)
	}
	if err := s.AppendAuditBatch(ctx(t), []store.AuditEvent{{Type: "t"}}); err == nil {
		t.Fatal("AppendAuditBatch after Close succeeded")
	}
}
