package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// racers is how many goroutines try to use one single-use item at once.
const racers = 50

// rounds repeats each race on fresh items, to give interleavings more chances to go wrong.
const rounds = 3

// race runs attempt(i) in racers goroutines released together and returns their errors.
func race(attempt func(i int) error) []error { return together(racers, attempt) }

// oneWinner checks that exactly one error is nil and every other one is loser; it returns the
// winner's index.
func oneWinner(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: goroutines %d and %d both won", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Fatalf("%s: goroutine %d: error = %v, want %v", what, i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no goroutine won", what)
	}
	return winner
}

// testConcurrency races 50 goroutines for each kind of single-use item and for one consent
// transition; exactly one may win, every other must see the "already used" sentinel.
func testConcurrency(t *testing.T, open Opener) {
	t.Run("AuthorizationCode", func(t *testing.T) {
		t.Parallel()
		s, _ := fresh(t, open)
		for r := range rounds {
			c := newCode(fmt.Sprint("race-code-", r))
			must(t, "PutAuthorizationCode", s.PutAuthorizationCode(ctx(t), c))
			recs := make([]store.AuthorizationCode, racers)
			errs := race(func(i int) error {
				var err error
				recs[i], err = s.ConsumeAuthorizationCode(ctx(t), c.Hash)
				return err
			})
			oneWinner(t, "ConsumeAuthorizationCode", errs, store.ErrConsumed)
			for i, rec := range recs { // winners and losers alike learn the family
				if rec.FamilyID != c.FamilyID {
					t.Fatalf("goroutine %d got family %q, want %q", i, rec.FamilyID, c.FamilyID)
				}
			}
		}
	})
	t.Run("PushedRequest", func(t *testing.T) {
		t.Parallel()
		s, _ := fresh(t, open)
		for r := range rounds {
			p := newRequest(fmt.Sprint("race-request-", r))
			must(t, "PutPushedRequest", s.PutPushedRequest(ctx(t), p))
			errs := race(func(int) error {
				_, err := s.ConsumePushedRequest(ctx(t), p.Hash)
				return err
			})
			oneWinner(t, "ConsumePushedRequest", errs, store.ErrConsumed)
		}
	})
	t.Run("RefreshToken", func(t *testing.T) {
		t.Parallel()
		s, _ := fresh(t, open)
		for r := range rounds {
			rt := newRefresh(fmt.Sprint("race-refresh-", r), "fam", "consent")
			must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), rt))
			errs := race(func(int) error {
				_, err := s.ConsumeRefreshToken(ctx(t), rt.Hash)
				return err
			})
			oneWinner(t, "ConsumeRefreshToken", errs, store.ErrConsumed)
		}
	})
	t.Run("JTI", func(t *testing.T) {
		t.Parallel()
		s, _ := fresh(t, open)
		for r := range rounds {
			jti := fmt.Sprint("race-jti-", r)
			errs := race(func(int) error {
				return s.UseJTI(ctx(t), "client-1", jti, epoch.Add(time.Minute))
			})
			oneWinner(t, "UseJTI", errs, store.ErrReplay)
		}
	})
	t.Run("ConsentTransition", func(t *testing.T) {
		t.Parallel()
		s, _ := fresh(t, open)
		for r := range rounds {
			id := fmt.Sprint("race-consent-", r)
			must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent(id)))
			errs := race(func(i int) error {
				_, err := s.TransitionConsent(ctx(t), id, []string{awaiting}, authorised, fmt.Sprint("user-", i), nil)
				return err
			})
			w := oneWinner(t, "TransitionConsent", errs, store.ErrConflict)
			c, err := s.GetConsent(ctx(t), id)
			must(t, "GetConsent", err)
			if c.Status != authorised || c.UserID != fmt.Sprint("user-", w) {
				t.Fatalf("consent after the race: status %q user %q, want %q user-%d", c.Status, c.UserID, authorised, w)
			}
		}
	})
}
