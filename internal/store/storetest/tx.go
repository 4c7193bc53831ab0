package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

// errInjected is the failure the suite injects in the middle of a transaction.
var errInjected = errors.New("storetest: injected failure")

// testTx covers InTx (commit, rollback on error and on panic) and the atomic grant methods:
// RotateRefreshToken, RevokeConsent, RevokeFamily.
func testTx(t *testing.T, open Opener) {
	t.Run("Commit", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent("c")))
		err := s.InTx(ctx(t), func(tx *store.Tx) error {
			if _, err := tx.TransitionConsent(ctx(t), "c", []string{awaiting}, authorised, "user-1", nil); err != nil {
				return err
			}
			// The transaction reads its own writes.
			c, err := tx.GetConsent(ctx(t), "c")
			if err != nil || c.Status != authorised {
				return fmt.Errorf("GetConsent in the transaction: %+v, %v", c, err)
			}
			return tx.PutRefreshToken(ctx(t), newRefresh("rt", "fam", "c"))
		})
		must(t, "InTx", err)
		c, err := s.GetConsent(ctx(t), "c")
		must(t, "GetConsent", err)
		if c.Status != authorised {
			t.Fatalf("status after commit = %q", c.Status)
		}
		_, err = s.GetRefreshToken(ctx(t), store.HashSecret("rt"))
		must(t, "GetRefreshToken after commit", err)
	})
	t.Run("RollbackOnError", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent("c")))
		must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), newRefresh("old", "fam", "c")))
		code := newCode("code")
		must(t, "PutAuthorizationCode", s.PutAuthorizationCode(ctx(t), code))
		err := s.InTx(ctx(t), func(tx *store.Tx) error {
			if _, err := tx.ConsumeAuthorizationCode(ctx(t), code.Hash); err != nil {
				return err
			}
			if _, err := tx.RotateRefreshToken(ctx(t), store.HashSecret("old"), store.RefreshToken{
				Hash: store.HashSecret("new"), ExpiresAt: epoch.Add(time.Hour)}); err != nil {
				return err
			}
			if _, _, err := tx.RevokeConsent(ctx(t), "c", []string{awaiting}, revoked); err != nil {
				return err
			}
			if _, err := tx.RevokeFamily(ctx(t), store.Revocation{FamilyID: "fam", ExpiresAt: epoch.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.RevokeToken(ctx(t), store.Revocation{JTI: "at-1", ExpiresAt: epoch.Add(time.Hour)}); err != nil {
				return err
			}
			return errInjected
		})
		wantErr(t, "InTx", err, errInjected)
		assertUntouched(t, s, code)
	})
	t.Run("RollbackOnPanic", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent("c")))
		must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), newRefresh("old", "fam", "c")))
		code := newCode("code")
		must(t, "PutAuthorizationCode", s.PutAuthorizationCode(ctx(t), code))
		func() {
			defer func() {
				if p := recover(); p != errInjected {
					t.Fatalf("recovered %v, want the injected panic", p)
				}
			}()
			_ = s.InTx(ctx(t), func(tx *store.Tx) error {
				if _, err := tx.ConsumeAuthorizationCode(ctx(t), code.Hash); err != nil {
					return err
				}
				if _, _, err := tx.RevokeConsent(ctx(t), "c", []string{awaiting}, revoked); err != nil {
					return err
				}
				panic(errInjected)
			})
		}()
		assertUntouched(t, s, code)
		// The store still works: the transaction's connection was given back.
		_, _, err := s.RevokeConsent(ctx(t), "c", []string{awaiting}, revoked)
		must(t, "RevokeConsent after the panic", err)
	})
	t.Run("Rotate", func(t *testing.T) {
		s, clk := fresh(t, open)
		old := newRefresh("old", "fam", "c")
		must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), old))
		clk.Advance(time.Minute)
		next := store.RefreshToken{Hash: store.HashSecret("new"), ExpiresAt: epoch.Add(refreshTTL)}
		got, err := s.RotateRefreshToken(ctx(t), old.Hash, next)
		must(t, "RotateRefreshToken", err)
		if got.Hash != old.Hash || !got.ConsumedAt.Equal(epoch.Add(time.Minute)) {
			t.Fatalf("RotateRefreshToken returned %+v, want the consumed old token", got)
		}
		stored, err := s.GetRefreshToken(ctx(t), next.Hash)
		must(t, "GetRefreshToken new", err)
		want := old // inherited: client, family, consent, user, scope, data
		want.Hash, want.CreatedAt, want.ExpiresAt = next.Hash, epoch.Add(time.Minute), next.ExpiresAt
		if d := cmp.Diff(want, stored); d != "" {
			t.Fatalf("rotated token (-want +got):\n%s", d)
		}
		// Replay of the old token: ErrConsumed with the record, and nothing stored.
		again := store.RefreshToken{Hash: store.HashSecret("new-2"), ExpiresAt: epoch.Add(refreshTTL)}
		got, err = s.RotateRefreshToken(ctx(t), old.Hash, again)
		wantErr(t, "RotateRefreshToken replay", err, store.ErrConsumed)
		if got.FamilyID != "fam" {
			t.Fatalf("replay returned family %q", got.FamilyID)
		}
		_, err = s.GetRefreshToken(ctx(t), again.Hash)
		wantErr(t, "GetRefreshToken after the refused rotation", err, store.ErrNotFound)
		_, err = s.RotateRefreshToken(ctx(t), store.HashSecret("nope"), again)
		wantErr(t, "RotateRefreshToken unknown", err, store.ErrNotFound)
	})
	t.Run("RotateFailureRollsBack", func(t *testing.T) {
		s, _ := fresh(t, open)
		old := newRefresh("old", "fam", "c")
		must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), old))
		must(t, "PutRefreshToken taken", s.PutRefreshToken(ctx(t), newRefresh("taken", "fam", "c")))
		for _, tt := range []struct {
			name string
			next store.RefreshToken
			want error
		}{
			{"other family", store.RefreshToken{Hash: store.HashSecret("n1"), FamilyID: "other", ExpiresAt: epoch.Add(time.Hour)}, store.ErrInvalidInput},
			{"other client", store.RefreshToken{Hash: store.HashSecret("n2"), ClientID: "client-2", ExpiresAt: epoch.Add(time.Hour)}, store.ErrInvalidInput},
			{"other consent", store.RefreshToken{Hash: store.HashSecret("n3"), ConsentID: "c2", ExpiresAt: epoch.Add(time.Hour)}, store.ErrInvalidInput},
			{"no expiry", store.RefreshToken{Hash: store.HashSecret("n4")}, store.ErrInvalidInput},
			{"duplicate hash", store.RefreshToken{Hash: store.HashSecret("taken"), ExpiresAt: epoch.Add(time.Hour)}, store.ErrDuplicate},
		} {
			_, err := s.RotateRefreshToken(ctx(t), old.Hash, tt.next)
			wantErr(t, "RotateRefreshToken "+tt.name, err, tt.want)
			// The consumption in the same transaction was rolled back.
			_, err = s.GetRefreshToken(ctx(t), old.Hash)
			must(t, "old token after the failed rotation ("+tt.name+")", err)
		}
	})
	t.Run("RevokeConsent", func(t *testing.T) {
		s, clk := fresh(t, open)
		must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent("c")))
		_, err := s.TransitionConsent(ctx(t), "c", []string{awaiting}, authorised, "user-1", nil)
		must(t, "TransitionConsent", err)
		for _, rt := range []store.RefreshToken{newRefresh("a", "f1", "c"), newRefresh("b", "f2", "c"), newRefresh("x", "f3", "other")} {
			must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), rt))
		}
		// A conflicting transition revokes nothing.
		cur, n, err := s.RevokeConsent(ctx(t), "c", []string{awaiting}, revoked)
		wantErr(t, "RevokeConsent from a stale status", err, store.ErrConflict)
		if cur.Status != authorised || n != 0 {
			t.Fatalf("RevokeConsent conflict: %q, %d", cur.Status, n)
		}
		_, err = s.GetRefreshToken(ctx(t), store.HashSecret("a"))
		must(t, "GetRefreshToken after the conflict", err)
		_, _, err = s.RevokeConsent(ctx(t), "nope", []string{authorised}, revoked)
		wantErr(t, "RevokeConsent unknown", err, store.ErrNotFound)

		clk.Advance(time.Minute)
		c, n, err := s.RevokeConsent(ctx(t), "c", []string{authorised}, revoked)
		must(t, "RevokeConsent", err)
		if c.Status != revoked || c.UserID != "user-1" || n != 2 {
			t.Fatalf("RevokeConsent = %q user %q, %d revoked; want %q, 2", c.Status, c.UserID, n, revoked)
		}
		for secret, want := range map[string]error{"a": store.ErrRevoked, "b": store.ErrRevoked, "x": nil} {
			_, err := s.GetRefreshToken(ctx(t), store.HashSecret(secret))
			wantErr(t, "GetRefreshToken "+secret, err, want)
		}
	})
	t.Run("RevokeFamily", func(t *testing.T) {
		s, clk := fresh(t, open)
		for _, rt := range []store.RefreshToken{newRefresh("a1", "fam-a", "c"), newRefresh("a2", "fam-a", "c"), newRefresh("b", "fam-b", "c")} {
			must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), rt))
		}
		clk.Advance(time.Minute)
		r := store.Revocation{FamilyID: "fam-a", ClientID: "client-1", ExpiresAt: epoch.Add(time.Hour)}
		n, err := s.RevokeFamily(ctx(t), r)
		must(t, "RevokeFamily", err)
		if n != 2 {
			t.Fatalf("RevokeFamily revoked %d, want 2", n)
		}
		for secret, want := range map[string]error{"a1": store.ErrRevoked, "a2": store.ErrRevoked, "b": nil} {
			_, err := s.GetRefreshToken(ctx(t), store.HashSecret(secret))
			wantErr(t, "GetRefreshToken "+secret, err, want)
		}
		must(t, "RevokeToken", s.RevokeToken(ctx(t), store.Revocation{JTI: "jti-1", ExpiresAt: epoch.Add(time.Hour)}))
		got, err := s.RevocationsSince(ctx(t), epoch, 0)
		must(t, "RevocationsSince", err)
		r.RevokedAt = epoch.Add(time.Minute)
		// Same RevokedAt: ordered by jti, the family entry's being empty.
		want := []store.Revocation{r, {JTI: "jti-1", RevokedAt: epoch.Add(time.Minute), ExpiresAt: epoch.Add(time.Hour)}}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("RevocationsSince (-want +got):\n%s", d)
		}
		// Again: idempotent, and a later expiry extends the entry.
		clk.Advance(time.Minute)
		n, err = s.RevokeFamily(ctx(t), r)
		must(t, "RevokeFamily again", err)
		if n != 0 {
			t.Fatalf("RevokeFamily again revoked %d", n)
		}
		longer := store.Revocation{FamilyID: "fam-a", ExpiresAt: epoch.Add(2 * time.Hour)}
		_, err = s.RevokeFamily(ctx(t), longer)
		must(t, "RevokeFamily longer", err)
		got, err = s.RevocationsSince(ctx(t), epoch.Add(2*time.Minute), 0)
		must(t, "RevocationsSince", err)
		if len(got) != 1 || got[0].FamilyID != "fam-a" || !got[0].ExpiresAt.Equal(longer.ExpiresAt) {
			t.Fatalf("after extending: %+v", got)
		}
		for _, bad := range []store.Revocation{
			{ExpiresAt: epoch.Add(time.Hour)},
			{FamilyID: "f", JTI: "j", ExpiresAt: epoch.Add(time.Hour)},
			{FamilyID: "f"},
		} {
			_, err := s.RevokeFamily(ctx(t), bad)
			wantErr(t, fmt.Sprintf("RevokeFamily(%+v)", bad), err, store.ErrInvalidInput)
		}
		wantErr(t, "RevokeToken with a family", s.RevokeToken(ctx(t), store.Revocation{JTI: "j", FamilyID: "f", ExpiresAt: epoch.Add(time.Hour)}), store.ErrInvalidInput)
		// Family entries are swept like token entries.
		clk.Set(epoch.Add(3 * time.Hour))
		_, err = s.Sweep(ctx(t))
		must(t, "Sweep", err)
		got, err = s.RevocationsSince(ctx(t), time.Time{}, 0)
		must(t, "RevocationsSince after Sweep", err)
		if len(got) != 0 {
			t.Fatalf("after Sweep: %+v", got)
		}
	})
}

// assertUntouched checks that a rolled-back transaction left the fixtures of the rollback
// tests as they were.
func assertUntouched(t *testing.T, s *store.Store, code store.AuthorizationCode) {
	t.Helper()
	_, err := s.GetRefreshToken(ctx(t), store.HashSecret("old"))
	must(t, "old refresh token after rollback", err)
	_, err = s.GetRefreshToken(ctx(t), store.HashSecret("new"))
	wantErr(t, "new refresh token after rollback", err, store.ErrNotFound)
	c, err := s.GetConsent(ctx(t), "c")
	must(t, "GetConsent", err)
	if c.Status != awaiting {
		t.Fatalf("consent status after rollback = %q", c.Status)
	}
	revs, err := s.RevocationsSince(ctx(t), time.Time{}, 0)
	must(t, "RevocationsSince", err)
	if len(revs) != 0 {
		t.Fatalf("deny-list after rollback: %+v", revs)
	}
	got, err := s.ConsumeAuthorizationCode(ctx(t), code.Hash)
	must(t, "code after rollback (unconsumed)", err)
	if got.FamilyID != code.FamilyID {
		t.Fatalf("code family = %q", got.FamilyID)
	}
}

// PairOpener returns two stores, each with its own connections, on one fresh, migrated, empty
// database, reading time from clk: two nodes of one deployment. [OpenSQLitePair] and
// [OpenPostgresPair] are PairOpeners.
type PairOpener func(t testing.TB, clk clock.Clock) (a, b *store.Store)

// RunPair runs the part of the contract that needs two nodes: the atomic grant methods raced
// from two Store instances on one database.
func RunPair(t *testing.T, open PairOpener) {
	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		a, b := open(t, clock.NewFake(epoch))
		nodes := []*store.Store{a, b}
		for r := range rounds {
			old := newRefresh(fmt.Sprint("pair-rotate-", r), "fam", "c")
			must(t, "PutRefreshToken", a.PutRefreshToken(ctx(t), old))
			next := func(i int) store.RefreshToken {
				return store.RefreshToken{Hash: store.HashSecret(fmt.Sprint("pair-next-", r, "-", i)), ExpiresAt: epoch.Add(time.Hour)}
			}
			errs := race(func(i int) error {
				_, err := nodes[i%2].RotateRefreshToken(ctx(t), old.Hash, next(i))
				return err
			})
			w := oneWinner(t, "RotateRefreshToken", errs, store.ErrConsumed)
			for i := range racers {
				_, err := b.GetRefreshToken(ctx(t), next(i).Hash)
				if i == w {
					must(t, "the winner's new token", err)
				} else {
					wantErr(t, fmt.Sprint("loser ", i, "'s new token"), err, store.ErrNotFound)
				}
			}
		}
	})
	// A rotation racing the revocation of its grant: whichever commits first, no refresh
	// token of the grant survives.
	t.Run("RotationAgainstRevokeConsent", func(t *testing.T) {
		t.Parallel()
		raceRotation(t, open, func(s *store.Store, r int) error {
			_, _, err := s.RevokeConsent(ctx(t), fmt.Sprint("pair-consent-", r), []string{awaiting}, revoked)
			return err
		})
	})
	t.Run("RotationAgainstRevokeFamily", func(t *testing.T) {
		t.Parallel()
		raceRotation(t, open, func(s *store.Store, r int) error {
			_, err := s.RevokeFamily(ctx(t), store.Revocation{FamilyID: fmt.Sprint("pair-fam-", r), ExpiresAt: epoch.Add(time.Hour)})
			return err
		})
	})
}

// raceRotation races, round after round, the rotation of a refresh token (of consent
// pair-consent-R, family pair-fam-R) on one node against revoke(R) on the other. The
// revocation must succeed; the rotation either lost (ErrRevoked) or stored a token that the
// revocation then revoked.
func raceRotation(t *testing.T, open PairOpener, revoke func(s *store.Store, r int) error) {
	a, b := open(t, clock.NewFake(epoch))
	for r := range 10 {
		consentID := fmt.Sprint("pair-consent-", r)
		must(t, "CreateConsent", a.CreateConsent(ctx(t), newConsent(consentID)))
		old := newRefresh(fmt.Sprint("pair-rt-", r), fmt.Sprint("pair-fam-", r), consentID)
		must(t, "PutRefreshToken", a.PutRefreshToken(ctx(t), old))
		next := store.RefreshToken{Hash: store.HashSecret(fmt.Sprint("pair-rt-next-", r)), ExpiresAt: epoch.Add(time.Hour)}
		errs := together(2, func(i int) error {
			if i == 0 {
				_, err := a.RotateRefreshToken(ctx(t), old.Hash, next)
				return err
			}
			return revoke(b, r)
		})
		must(t, "revocation", errs[1])
		if errs[0] != nil {
			wantErr(t, "RotateRefreshToken after the revocation", errs[0], store.ErrRevoked)
			continue
		}
		_, err := a.GetRefreshToken(ctx(t), next.Hash)
		wantErr(t, "token rotated during the revocation", err, store.ErrRevoked)
	}
}
