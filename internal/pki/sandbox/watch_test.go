package sandbox

import (
	"context"
	"testing"
	"time"
)

// TestRevocationFeed: a revocation written by another CA value on the same directory (as
// `portcullis pki revoke` in another process does) is reported by the next Poll of a
// running one, before Poll returns, and once; revocations that predate the feed are not
// reported.
func TestRevocationFeed(t *testing.T) {
	ca, clk := newTestCA(t)
	old := mustIssue(t, ca, KindQWAC, qwacOptions())
	if err := ca.Revoke(old.Certificate.SerialNumber, ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	leaf := mustIssue(t, ca, KindQWAC, qwacOptions())
	own := mustIssue(t, ca, KindQWAC, qwacOptions())
	other, err := Open(ca.Dir(), clk) // the CLI's CA value
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	feed := ca.RevocationFeed(func(r Record) {
		if !r.Revoked() {
			t.Errorf("reported %s, not revoked", r.Serial)
		}
		got = append(got, r.Serial)
	})
	feed.Poll()
	if len(got) != 0 {
		t.Fatalf("reported %v before any new revocation", got)
	}
	if err := other.Revoke(leaf.Certificate.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	feed.Poll()
	feed.Poll()
	if err := ca.Revoke(own.Certificate.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	feed.Poll()
	want := []string{serialKey(leaf.Certificate.SerialNumber), serialKey(own.Certificate.SerialNumber)}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("reported %v, want %v", got, want)
	}
}

// TestRevocationFeedRun: Run polls on its own, so a revocation reaches onRevoke without
// anyone calling Poll; it returns when its context ends.
func TestRevocationFeedRun(t *testing.T) {
	ca, clk := newTestCA(t)
	leaf := mustIssue(t, ca, KindQWAC, qwacOptions())
	other, err := Open(ca.Dir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	revoked := make(chan Record, 1)
	feed := ca.RevocationFeed(func(r Record) { revoked <- r })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(ctx, 10*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })

	if err := other.Revoke(leaf.Certificate.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-revoked:
		if r.Serial != serialKey(leaf.Certificate.SerialNumber) {
			t.Fatalf("reported %s", r.Serial)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("revocation not reported within 5s")
	}
}
