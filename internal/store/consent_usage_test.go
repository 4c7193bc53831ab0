package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// TestConsentUsage: counters add up to their limit and no further, all or nothing across
// several counters, and concurrent additions from two Store instances on one database never
// exceed a limit together.
func TestConsentUsage(t *testing.T) {
	for _, b := range []struct {
		name string
		pair func(testing.TB, clock.Clock) (*store.Store, *store.Store)
	}{{"sqlite", storetest.OpenSQLitePair}, {"postgres", storetest.OpenPostgresPair}} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			s1, s2 := b.pair(t, clk)
			exp := clk.Now().Add(24 * time.Hour)
			day := store.ConsentUsage{Period: "Day/2026-03-01", Amount: 40, Limit: 100, ExpiresAt: exp}
			month := store.ConsentUsage{Period: "Month/2026-03", Amount: 40, Limit: 90, ExpiresAt: exp}
			if tot, err := s1.AddConsentUsage(ctx, "vrp-1", day, month); err != nil || tot[0] != 40 || tot[1] != 40 {
				t.Fatalf("first: %v %v", tot, err)
			}
			if tot, err := s2.AddConsentUsage(ctx, "vrp-1", day, month); err != nil || tot[0] != 80 || tot[1] != 80 {
				t.Fatalf("second: %v %v", tot, err)
			}
			// The day counter has room for 20 more, the month counter only for 10: nothing is added.
			small := func(u store.ConsentUsage) store.ConsentUsage { u.Amount = 20; return u }
			if _, err := s1.AddConsentUsage(ctx, "vrp-1", small(day), small(month)); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("over the month limit: %v, want ErrConflict", err)
			}
			if got, _ := s2.ConsentUsageTotal(ctx, "vrp-1", day.Period); got != 80 {
				t.Fatalf("day total after a refused addition = %d, want 80 (all or nothing)", got)
			}
			over := day
			over.Amount = 101
			if _, err := s1.AddConsentUsage(ctx, "vrp-2", over); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("single amount over the limit: %v", err)
			}
			if _, err := s1.AddConsentUsage(ctx, "vrp-2"); !errors.Is(err, store.ErrInvalidInput) {
				t.Fatalf("no counter: %v", err)
			}

			// 20 concurrent payments of 10 against a limit of 55, from two nodes: exactly 5 pass.
			race := store.ConsentUsage{Period: "Day/race", Amount: 10, Limit: 55, ExpiresAt: exp}
			var ok atomic.Int64
			var wg sync.WaitGroup
			for i := range 20 {
				s := s1
				if i%2 == 1 {
					s = s2
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.AddConsentUsage(ctx, "vrp-race", race)
					switch {
					case err == nil:
						ok.Add(1)
					case !errors.Is(err, store.ErrConflict):
						t.Errorf("race: %v", err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 5 {
				t.Fatalf("%d payments passed, want 5", ok.Load())
			}
			if got, _ := s1.ConsentUsageTotal(ctx, "vrp-race", race.Period); got != 50 {
				t.Fatalf("total %d, want 50", got)
			}
			// Expired counters are swept.
			clk.Advance(25 * time.Hour)
			if _, err := s1.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := s1.ConsentUsageTotal(ctx, "vrp-race", race.Period); got != 0 {
				t.Fatalf("swept total %d, want 0", got)
			}
		})
	}
}
