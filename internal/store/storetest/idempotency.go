package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

func newIdem(client, key, hash, owner string) store.IdempotencyRecord {
	return store.IdempotencyRecord{ClientID: client, Key: key, RequestHash: hash, Owner: owner, ExpiresAt: epoch.Add(24 * time.Hour)}
}

// testIdempotency covers the x-idempotency-key record: claim, the live record for a second
// claim, completion by the owner only, release, scoping per client, expiry and reclaiming,
// the sweeper, input bounds, and one winner among concurrent claims.
func testIdempotency(t *testing.T, open Opener) {
	s, clk := fresh(t, open)
	first := newIdem("c1", "key-1", "hash-a", "owner-1")

	got, claimed, err := s.ClaimIdempotencyKey(ctx(t), first)
	must(t, "ClaimIdempotencyKey", err)
	if !claimed || got.Status != 0 || got.Owner != "owner-1" || !got.CreatedAt.Equal(epoch.Truncate(time.Millisecond)) {
		t.Fatalf("first claim = %+v, %v", got, claimed)
	}
	// A second claim, with any hash, gets the running record.
	got, claimed, err = s.ClaimIdempotencyKey(ctx(t), newIdem("c1", "key-1", "hash-b", "owner-2"))
	must(t, "second ClaimIdempotencyKey", err)
	if claimed || got.Owner != "owner-1" || got.RequestHash != "hash-a" || got.Status != 0 {
		t.Fatalf("second claim = %+v, %v", got, claimed)
	}
	// The same key of another client is another record.
	_, claimed, err = s.ClaimIdempotencyKey(ctx(t), newIdem("c2", "key-1", "hash-a", "owner-3"))
	must(t, "other client's claim", err)
	if !claimed {
		t.Fatal("the same key of another client was not claimable")
	}

	headers := map[string][]string{"Content-Type": {"application/json"}, "Location": {"/x/1"}}
	body := []byte(`{"Data":{"ConsentId":"pdc-1"}}` + "\x00\xff")
	wantErr(t, "Complete by another owner", s.CompleteIdempotencyKey(ctx(t), "c1", "key-1", "owner-2", 201, headers, body), store.ErrNotFound)
	wantErr(t, "Complete unknown key", s.CompleteIdempotencyKey(ctx(t), "c1", "nope", "owner-1", 201, headers, body), store.ErrNotFound)
	wantErr(t, "Complete with status 0", s.CompleteIdempotencyKey(ctx(t), "c1", "key-1", "owner-1", 0, headers, body), store.ErrInvalidInput)
	wantErr(t, "Complete oversize", s.CompleteIdempotencyKey(ctx(t), "c1", "key-1", "owner-1", 201, headers, make([]byte, store.MaxIdempotentResponse+1)), store.ErrInvalidInput)
	must(t, "Complete", s.CompleteIdempotencyKey(ctx(t), "c1", "key-1", "owner-1", 201, headers, body))
	wantErr(t, "Complete twice", s.CompleteIdempotencyKey(ctx(t), "c1", "key-1", "owner-1", 200, nil, nil), store.ErrNotFound)
	wantErr(t, "Release a completed key", s.ReleaseIdempotencyKey(ctx(t), "c1", "key-1", "owner-1"), store.ErrNotFound)

	got, err = s.GetIdempotencyKey(ctx(t), "c1", "key-1")
	must(t, "GetIdempotencyKey", err)
	if got.Status != 201 || !bytes.Equal(got.Body, body) || got.Headers["Location"][0] != "/x/1" || got.RequestHash != "hash-a" {
		t.Fatalf("completed record = %+v", got)
	}
	got, claimed, err = s.ClaimIdempotencyKey(ctx(t), newIdem("c1", "key-1", "hash-a", "owner-4"))
	must(t, "claim after completion", err)
	if claimed || got.Status != 201 || !bytes.Equal(got.Body, body) {
		t.Fatalf("claim after completion = %+v, %v", got, claimed)
	}

	// Release lets the next request claim afresh; only the owner releases.
	wantErr(t, "Release by another owner", s.ReleaseIdempotencyKey(ctx(t), "c2", "key-1", "owner-1"), store.ErrNotFound)
	must(t, "Release", s.ReleaseIdempotencyKey(ctx(t), "c2", "key-1", "owner-3"))
	_, err = s.GetIdempotencyKey(ctx(t), "c2", "key-1")
	wantErr(t, "Get released", err, store.ErrNotFound)
	_, claimed, err = s.ClaimIdempotencyKey(ctx(t), newIdem("c2", "key-1", "hash-z", "owner-5"))
	must(t, "claim after release", err)
	if !claimed {
		t.Fatal("a released key was not claimable")
	}

	// Expiry: from ExpiresAt on the record is gone, a new claim replaces it.
	clk.Advance(24 * time.Hour)
	_, err = s.GetIdempotencyKey(ctx(t), "c1", "key-1")
	wantErr(t, "Get expired", err, store.ErrNotFound)
	wantErr(t, "Complete expired", s.CompleteIdempotencyKey(ctx(t), "c2", "key-1", "owner-5", 201, nil, nil), store.ErrNotFound)
	again := newIdem("c1", "key-1", "hash-new", "owner-6")
	again.ExpiresAt = clk.Now().Add(24 * time.Hour)
	got, claimed, err = s.ClaimIdempotencyKey(ctx(t), again)
	must(t, "claim after expiry", err)
	if !claimed || got.RequestHash != "hash-new" || got.Status != 0 || got.Body != nil {
		t.Fatalf("claim after expiry = %+v, %v", got, claimed)
	}
	// The sweeper removes the expired record of c2, not the fresh one of c1.
	n, err := s.Sweep(ctx(t))
	must(t, "Sweep", err)
	if n != 1 {
		t.Fatalf("Sweep deleted %d rows, want 1", n)
	}
	_, err = s.GetIdempotencyKey(ctx(t), "c1", "key-1")
	must(t, "Get after sweep", err)

	// Input bounds.
	for name, rec := range map[string]store.IdempotencyRecord{
		"empty client":   newIdem("", "k", "h", "o"),
		"empty key":      newIdem("c", "", "h", "o"),
		"empty hash":     newIdem("c", "k", "", "o"),
		"empty owner":    newIdem("c", "k", "h", ""),
		"oversize key":   newIdem("c", strings.Repeat("k", store.MaxKeyLen+1), "h", "o"),
		"zero expiry":    {ClientID: "c", Key: "k", RequestHash: "h", Owner: "o"},
		"NUL in the key": newIdem("c", "k\x00", "h", "o"),
	} {
		_, _, err := s.ClaimIdempotencyKey(ctx(t), rec)
		wantErr(t, "Claim "+name, err, store.ErrInvalidInput)
	}

	// Concurrent claims of one key: exactly one wins.
	for r := range rounds {
		key := fmt.Sprint("race-", r)
		errs := race(func(i int) error {
			_, claimed, err := s.ClaimIdempotencyKey(ctx(t), newIdemAt(clk, "c1", key, fmt.Sprint("owner-", i)))
			if err == nil && !claimed {
				return store.ErrDuplicate
			}
			return err
		})
		oneWinner(t, "ClaimIdempotencyKey", errs, store.ErrDuplicate)
	}
}

func newIdemAt(clk clock.Clock, client, key, owner string) store.IdempotencyRecord {
	rec := newIdem(client, key, "hash", owner)
	rec.ExpiresAt = clk.Now().Add(24 * time.Hour)
	return rec
}

// testIdempotencyPair races claims of one key from two Store instances on one database.
func testIdempotencyPair(t *testing.T, open PairOpener) {
	clk := clock.NewFake(epoch)
	a, b := open(t, clk)
	nodes := []*store.Store{a, b}
	for r := range rounds {
		key := fmt.Sprint("pair-race-", r)
		errs := race(func(i int) error {
			_, claimed, err := nodes[i%2].ClaimIdempotencyKey(ctx(t), newIdemAt(clk, "c1", key, fmt.Sprint("owner-", i)))
			if err == nil && !claimed {
				return store.ErrDuplicate
			}
			return err
		})
		oneWinner(t, "ClaimIdempotencyKey on two nodes", errs, store.ErrDuplicate)
	}
}
