package token

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

func newDenyList(t testing.TB, src RevocationSource, clk clock.Clock, mod func(*DenyListOptions)) *DenyList {
	t.Helper()
	o := DenyListOptions{Source: src, Clock: clk}
	if mod != nil {
		mod(&o)
	}
	d, err := NewDenyList(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func rev(jti string, revokedAt, exp time.Time) store.Revocation {
	return store.Revocation{JTI: jti, ClientID: "tpp-1", RevokedAt: revokedAt, ExpiresAt: exp}
}

func TestDenyListRefresh(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	src := &fakeSource{}
	d := newDenyList(t, src, clk, nil)

	if err := d.Check(); !errors.Is(err, ErrRevocationStateUnavailable) {
		t.Fatalf("never refreshed: err = %v", err)
	}
	src.revoke(rev("a", t0.Add(-time.Minute), t0.Add(time.Minute)))
	src.revoke(rev("old", t0.Add(-2*time.Hour), t0.Add(-time.Hour))) // expired long ago
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Check(); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	if !d.IsRevoked("a") || d.IsRevoked("old") || d.IsRevoked("b") {
		t.Fatalf("entries wrong: a=%v old=%v b=%v", d.IsRevoked("a"), d.IsRevoked("old"), d.IsRevoked("b"))
	}

	// A revocation committed late, stamped before the last refresh, is still
	// caught thanks to the overlap window.
	clk.Advance(2 * time.Second)
	src.revoke(rev("late", t0.Add(-10*time.Second), t0.Add(time.Hour)))
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !d.IsRevoked("late") {
		t.Fatal("late-committed revocation missed")
	}

	// Entries go once their token is dead (exp + the largest skew), at the next
	// sweep (at most every pruneInterval).
	clk.Set(t0.Add(time.Minute + MaxClockSkewLimit))
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !d.IsRevoked("a") {
		t.Fatal("entry dropped before exp + max skew")
	}
	clk.Advance(pruneInterval)
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if d.IsRevoked("a") || !d.IsRevoked("late") || d.Len() != 1 {
		t.Fatalf("after expiry: a=%v late=%v len=%d", d.IsRevoked("a"), d.IsRevoked("late"), d.Len())
	}
}

func TestDenyListAdd(t *testing.T) {
	d := newDenyList(t, &fakeSource{}, clock.NewFake(t0), nil)
	d.Add("local", t0.Add(time.Minute))
	d.Add("", t0.Add(time.Minute))
	if !d.IsRevoked("local") || d.Len() != 1 {
		t.Fatal("local revocation not immediate")
	}
}

func TestDenyListStaleness(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	src := &fakeSource{}
	var logs bytes.Buffer
	d := newDenyList(t, src, clk, func(o *DenyListOptions) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	src.revoke(rev("a", t0, t0.Add(time.Hour)))
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	boom := errors.New("database down")
	src.fail(boom)
	clk.Advance(DefaultMaxStaleness)
	if err := d.Refresh(ctx); !errors.Is(err, boom) {
		t.Fatalf("refresh err = %v", err)
	}
	if err := d.Check(); err != nil {
		t.Fatalf("at exactly MaxStaleness: %v", err)
	}
	if !d.IsRevoked("a") {
		t.Fatal("content lost on a failed refresh")
	}
	clk.Advance(time.Second)
	_ = d.Refresh(ctx)
	if err := d.Check(); !errors.Is(err, ErrRevocationStateUnavailable) {
		t.Fatalf("past MaxStaleness: err = %v", err)
	}
	if !strings.Contains(logs.String(), "deny-list stale") || !strings.Contains(logs.String(), "deny-list refresh failing") {
		t.Fatalf("logs: %s", logs.String())
	}

	src.fail(nil)
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Check(); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if !strings.Contains(logs.String(), "recovered") {
		t.Fatalf("no recovery log: %s", logs.String())
	}
}

func TestDenyListPaging(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	src := &fakeSource{}
	for i := range 7 {
		src.revoke(rev(fmt.Sprintf("j%d", i), t0.Add(-time.Duration(10-i)*time.Second), t0.Add(time.Hour)))
	}
	d := newDenyList(t, src, clk, func(o *DenyListOptions) { o.PageSize = 3 })
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 7 {
		t.Fatalf("%d entries after paging, want 7", d.Len())
	}

	// A full page at a single instant cannot be paged past: the refresh fails
	// (and the list goes stale) rather than silently skipping entries.
	stuck := &fakeSource{}
	for i := range 3 {
		stuck.revoke(rev(fmt.Sprintf("s%d", i), t0, t0.Add(time.Hour)))
	}
	d2 := newDenyList(t, stuck, clk, func(o *DenyListOptions) { o.PageSize = 3 })
	d2.cursor = t0.Add(time.Minute) // since = t0 exactly
	if err := d2.Refresh(ctx); err == nil {
		t.Fatal("stuck paging accepted")
	}
}

func TestNewDenyListRejects(t *testing.T) {
	tests := []struct {
		name string
		opts DenyListOptions
	}{
		{"no source", DenyListOptions{}},
		{"interval over 5 s", DenyListOptions{Source: &fakeSource{}, RefreshInterval: 6 * time.Second}},
		{"negative interval", DenyListOptions{Source: &fakeSource{}, RefreshInterval: -time.Second}},
		{"staleness below interval", DenyListOptions{Source: &fakeSource{}, RefreshInterval: 5 * time.Second, MaxStaleness: 4 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewDenyList(tc.opts); !errors.Is(err, ErrInvalidClaims) {
				t.Fatalf("err = %v, want ErrInvalidClaims", err)
			}
		})
	}
}

// Run polls the source on its interval and stops with its context. This is the one
// test on real time: a 5 ms interval and bounded polling for the outcome.
func TestDenyListRun(t *testing.T) {
	src := &fakeSource{}
	src.revoke(rev("r", time.Now(), time.Now().Add(time.Hour)))
	d := newDenyList(t, src, clock.Real{}, func(o *DenyListOptions) {
		o.RefreshInterval = 5 * time.Millisecond
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for src.calls.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("Run made %d refreshes in 5 s", src.calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if !d.IsRevoked("r") || d.Check() != nil {
		t.Fatal("Run did not load the list")
	}
}
