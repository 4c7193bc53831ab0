package sandbox

import (
	"context"
	"testing"
	"time"
)

// TestWatchRevocations: a revocation written by another CA value on the same directory
// (as `portcullis pki revoke` in another process does) reaches the watcher of a running
// one, once; revocations that predate the watcher are not reported.
func TestWatchRevocations(t *testing.T) {
	ca, clk := newTestCA(t)
	old := mustIssue(t, ca, KindQWAC, qwacOptions())
	if err := ca.Revoke(old.Certificate.SerialNumber, ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	leaf := mustIssue(t, ca, KindQWAC, qwacOptions())
	other, err := Open(ca.Dir(), clk) // the CLI's CA value
	if err != nil {
		t.Fatal(err)
	}

	revoked := make(chan Record, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := ca.WatchRevocations(ctx, 10*time.Millisecond, func(r Record) { revoked <- r })
	t.Cleanup(func() { cancel(); <-done })

	// A revocation through the watched CA value itself.
	first := mustIssue(t, ca, KindQWAC, qwacOptions())
	if err := ca.Revoke(first.Certificate.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	wait := func(want string) {
		t.Helper()
		select {
		case r := <-revoked:
			if r.Serial != want || !r.Revoked() {
				t.Fatalf("onRevoke(%s, revoked %v), want %s", r.Serial, r.Revoked(), want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("revocation of %s not reported within 5s", want)
		}
	}
	wait(serialKey(first.Certificate.SerialNumber))

	if err := other.Revoke(leaf.Certificate.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	wait(serialKey(leaf.Certificate.SerialNumber))
	select {
	case r := <-revoked:
		t.Fatalf("unexpected report of %s", r.Serial)
	default:
	}
}
