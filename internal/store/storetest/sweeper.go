package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// sweepRows is how many expired jti rows the sweeper test stores: more than two batches.
const sweepRows = 1234

// sweepReaders is how many goroutines read live rows while the sweep runs.
const sweepReaders = 4

func testSweeper(t *testing.T, open Opener) {
	t.Run("ExpiredGoLiveStay", func(t *testing.T) {
		s, clk := fresh(t, open)
		live := epoch.Add(time.Hour)
		dead := epoch.Add(time.Minute)

		// Expired rows of every kind, and one live row of every kind.
		expired := 0
		putJTIs(t, s, "dead", sweepRows, dead)
		expired += sweepRows
		for i := range 3 {
			c := newCode(fmt.Sprint("dead-code-", i))
			must(t, "PutAuthorizationCode", s.PutAuthorizationCode(ctx(t), c))
			p := newRequest(fmt.Sprint("dead-request-", i))
			must(t, "PutPushedRequest", s.PutPushedRequest(ctx(t), p))
			rt := newRefresh(fmt.Sprint("dead-refresh-", i), "fam", "c")
			rt.ExpiresAt = dead
			must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), rt))
			must(t, "RevokeToken", s.RevokeToken(ctx(t), store.Revocation{JTI: fmt.Sprint("dead-at-", i), ExpiresAt: dead}))
			expired += 4
		}
		liveCode := newCode("live-code")
		liveCode.ExpiresAt = live
		must(t, "PutAuthorizationCode", s.PutAuthorizationCode(ctx(t), liveCode))
		liveReq := newRequest("live-request")
		liveReq.ExpiresAt = live
		must(t, "PutPushedRequest", s.PutPushedRequest(ctx(t), liveReq))
		liveRT := newRefresh("live-refresh", "fam", "c")
		must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), liveRT))
		must(t, "RevokeToken", s.RevokeToken(ctx(t), store.Revocation{JTI: "live-at", ExpiresAt: live}))
		must(t, "UseJTI", s.UseJTI(ctx(t), "iss", "live-jti", live))
		must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent("consent")))
		must(t, "AppendAudit", s.AppendAudit(ctx(t), store.AuditEvent{Type: "t"}))

		clk.Advance(time.Minute) // the dead ones expire exactly now

		// Readers of live rows run throughout the sweep and must never fail.
		sweepCtx, stop := context.WithCancel(ctx(t))
		readErrs := make(chan error, sweepReaders)
		reads := make([]atomic.Int64, sweepReaders)
		var wg sync.WaitGroup
		for r := range sweepReaders {
			wg.Go(func() {
				for {
					_, err := s.GetPushedRequest(sweepCtx, liveReq.Hash)
					if err == nil {
						_, err = s.GetRefreshToken(sweepCtx, liveRT.Hash)
					}
					if err == nil {
						var revoked bool
						revoked, err = s.IsTokenRevoked(sweepCtx, "live-at")
						if err == nil && !revoked {
							err = errors.New("live revocation not found")
						}
					}
					if sweepCtx.Err() != nil {
						return
					}
					if err != nil {
						readErrs <- err
						return
					}
					reads[r].Add(1)
				}
			})
		}
		n, err := s.Sweep(ctx(t))
		// Let every reader finish at least one read that overlapped or followed the sweep.
		for r := range sweepReaders {
			for i := 0; reads[r].Load() == 0 && i < 1000 && len(readErrs) == 0; i++ {
				time.Sleep(time.Millisecond) // bounded wait for a real goroutine, not for expiry
			}
		}
		stop()
		wg.Wait()
		close(readErrs)
		for err := range readErrs {
			t.Errorf("read during sweep: %v", err)
		}
		must(t, "Sweep", err)
		if n != int64(expired) {
			t.Fatalf("Sweep deleted %d rows, want %d", n, expired)
		}

		// Everything live is intact; everything dead is gone.
		_, err = s.ConsumeAuthorizationCode(ctx(t), liveCode.Hash)
		must(t, "ConsumeAuthorizationCode live", err)
		_, err = s.ConsumePushedRequest(ctx(t), liveReq.Hash)
		must(t, "ConsumePushedRequest live", err)
		_, err = s.ConsumeRefreshToken(ctx(t), liveRT.Hash)
		must(t, "ConsumeRefreshToken live", err)
		wantErr(t, "UseJTI live", s.UseJTI(ctx(t), "iss", "live-jti", live), store.ErrReplay)
		_, err = s.GetConsent(ctx(t), "consent")
		must(t, "GetConsent", err)
		events, err := s.ListAudit(ctx(t), store.AuditFilter{})
		must(t, "ListAudit", err)
		if len(events) != 1 {
			t.Fatalf("audit events after sweep = %d, want 1", len(events))
		}
		_, err = s.ConsumeAuthorizationCode(ctx(t), newCode("dead-code-0").Hash)
		wantErr(t, "ConsumeAuthorizationCode swept", err, store.ErrNotFound)
		_, err = s.GetPushedRequest(ctx(t), newRequest("dead-request-0").Hash)
		wantErr(t, "GetPushedRequest swept", err, store.ErrNotFound)
		_, err = s.GetRefreshToken(ctx(t), newRefresh("dead-refresh-0", "", "").Hash)
		wantErr(t, "GetRefreshToken swept", err, store.ErrNotFound)
		revoked, err := s.IsTokenRevoked(ctx(t), "dead-at-0")
		must(t, "IsTokenRevoked", err)
		if revoked {
			t.Fatal("swept revocation still listed")
		}
		must(t, "UseJTI swept", s.UseJTI(ctx(t), "iss", "dead-0", live))

		n, err = s.Sweep(ctx(t))
		must(t, "Sweep again", err)
		if n != 0 {
			t.Fatalf("second Sweep deleted %d rows, want 0", n)
		}
	})
	t.Run("StopsOnCancel", func(t *testing.T) {
		s, clk := fresh(t, open)
		putJTIs(t, s, "x", 10, epoch)
		clk.Advance(time.Second)
		cancelled, cancel := context.WithCancel(ctx(t))
		cancel()
		_, err := s.Sweep(cancelled)
		wantErr(t, "Sweep with a cancelled context", err, context.Canceled)
	})
	t.Run("RunSweeper", func(t *testing.T) {
		s, clk := fresh(t, open)
		p := newRequest("r")
		must(t, "PutPushedRequest", s.PutPushedRequest(ctx(t), p))
		clk.Advance(codeTTL)
		runCtx, stop := context.WithCancel(ctx(t))
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.RunSweeper(runCtx, 5*time.Millisecond)
		}()
		// Bounded polling for the background goroutine (the fake clock already expired p).
		var err error
		for range 2000 {
			if _, err = s.GetPushedRequest(ctx(t), p.Hash); errors.Is(err, store.ErrNotFound) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		wantErr(t, "GetPushedRequest after RunSweeper", err, store.ErrNotFound)
		stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("RunSweeper did not return after its context was cancelled")
		}
	})
}

// putJTIs stores n used jtis "prefix-0"… with the given expiry, from a few goroutines.
func putJTIs(t *testing.T, s *store.Store, prefix string, n int, exp time.Time) {
	t.Helper()
	const workers = 4
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := s.UseJTI(ctx(t), "iss", fmt.Sprint(prefix, "-", i), exp); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("UseJTI: %v", err)
	}
}
