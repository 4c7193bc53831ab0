package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

const refreshTTL = 30 * 24 * time.Hour

func newRefresh(secret, family, consent string) store.RefreshToken {
	return store.RefreshToken{
		Hash: store.HashSecret(secret), ClientID: "client-1", FamilyID: family, ConsentID: consent,
		UserID: "user-1", Scope: "openid accounts", Data: json.RawMessage(`{"cnf":{"x5t#S256":"abc"}}`),
		ExpiresAt: epoch.Add(refreshTTL),
	}
}

func testRefreshToken(t *testing.T, open Opener) {
	t.Run("Rotation", func(t *testing.T) {
		s, clk := fresh(t, open)
		rt := newRefresh("rt-1", "fam", "consent-1")
		must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), rt))
		want := rt
		want.CreatedAt = epoch
		got, err := s.GetRefreshToken(ctx(t), rt.Hash)
		must(t, "GetRefreshToken", err)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("GetRefreshToken (-want +got):\n%s", d)
		}
		clk.Advance(time.Hour)
		got, err = s.ConsumeRefreshToken(ctx(t), rt.Hash)
		must(t, "ConsumeRefreshToken", err)
		want.ConsumedAt = epoch.Add(time.Hour)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("ConsumeRefreshToken (-want +got):\n%s", d)
		}
		// Reuse of the rotated token: ErrConsumed with the record, whose family is then revoked.
		got, err = s.ConsumeRefreshToken(ctx(t), rt.Hash)
		wantErr(t, "ConsumeRefreshToken again", err, store.ErrConsumed)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("record returned with ErrConsumed (-want +got):\n%s", d)
		}
		_, err = s.GetRefreshToken(ctx(t), rt.Hash)
		wantErr(t, "GetRefreshToken after rotation", err, store.ErrConsumed)
		// Consumed and then revoked: the replay signal still wins.
		_, err = s.RevokeRefreshFamily(ctx(t), "fam")
		must(t, "RevokeRefreshFamily", err)
		_, err = s.ConsumeRefreshToken(ctx(t), rt.Hash)
		wantErr(t, "ConsumeRefreshToken consumed and revoked", err, store.ErrConsumed)
	})
	t.Run("RevokeFamily", func(t *testing.T) {
		s, clk := fresh(t, open)
		a1, a2, b := newRefresh("a1", "fam-a", "c1"), newRefresh("a2", "fam-a", "c1"), newRefresh("b", "fam-b", "c1")
		for _, rt := range []store.RefreshToken{a1, a2, b} {
			must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), rt))
		}
		clk.Advance(time.Minute)
		n, err := s.RevokeRefreshFamily(ctx(t), "fam-a")
		must(t, "RevokeRefreshFamily", err)
		if n != 2 {
			t.Fatalf("RevokeRefreshFamily revoked %d, want 2", n)
		}
		got, err := s.GetRefreshToken(ctx(t), a1.Hash)
		wantErr(t, "GetRefreshToken revoked", err, store.ErrRevoked)
		if !got.RevokedAt.Equal(epoch.Add(time.Minute)) || got.Hash != a1.Hash {
			t.Fatalf("record returned with ErrRevoked = %+v", got)
		}
		_, err = s.ConsumeRefreshToken(ctx(t), a2.Hash)
		wantErr(t, "ConsumeRefreshToken revoked", err, store.ErrRevoked)
		_, err = s.ConsumeRefreshToken(ctx(t), b.Hash)
		must(t, "ConsumeRefreshToken of another family", err)
		n, err = s.RevokeRefreshFamily(ctx(t), "fam-a")
		must(t, "RevokeRefreshFamily again", err)
		if n != 0 {
			t.Fatalf("RevokeRefreshFamily again revoked %d, want 0", n)
		}
		n, err = s.RevokeRefreshFamily(ctx(t), "no-such-family")
		must(t, "RevokeRefreshFamily unknown", err)
		if n != 0 {
			t.Fatalf("RevokeRefreshFamily unknown revoked %d, want 0", n)
		}
	})
	t.Run("RevokeByConsent", func(t *testing.T) {
		s, _ := fresh(t, open)
		x1, x2, y, none := newRefresh("x1", "f1", "cx"), newRefresh("x2", "f2", "cx"), newRefresh("y", "f3", "cy"), newRefresh("n", "f4", "")
		for _, rt := range []store.RefreshToken{x1, x2, y, none} {
			must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), rt))
		}
		n, err := s.RevokeRefreshTokensByConsent(ctx(t), "cx")
		must(t, "RevokeRefreshTokensByConsent", err)
		if n != 2 {
			t.Fatalf("RevokeRefreshTokensByConsent revoked %d, want 2", n)
		}
		for _, tt := range []struct {
			rt   store.RefreshToken
			want error
		}{{x1, store.ErrRevoked}, {x2, store.ErrRevoked}, {y, nil}, {none, nil}} {
			_, err := s.GetRefreshToken(ctx(t), tt.rt.Hash)
			wantErr(t, "GetRefreshToken "+tt.rt.FamilyID, err, tt.want)
		}
		_, err = s.RevokeRefreshTokensByConsent(ctx(t), "")
		wantErr(t, "RevokeRefreshTokensByConsent empty", err, store.ErrInvalidInput)
		_, err = s.GetRefreshToken(ctx(t), none.Hash)
		must(t, "GetRefreshToken without consent after the refused revocation", err)
	})
	t.Run("Expiry", func(t *testing.T) {
		s, clk := fresh(t, open)
		rt := newRefresh("rt", "fam", "c")
		must(t, "PutRefreshToken", s.PutRefreshToken(ctx(t), rt))
		clk.Advance(refreshTTL)
		_, err := s.GetRefreshToken(ctx(t), rt.Hash)
		wantErr(t, "GetRefreshToken at ExpiresAt", err, store.ErrExpired)
		_, err = s.ConsumeRefreshToken(ctx(t), rt.Hash)
		wantErr(t, "ConsumeRefreshToken at ExpiresAt", err, store.ErrExpired)
	})
	t.Run("NotFoundAndDuplicate", func(t *testing.T) {
		s, _ := fresh(t, open)
		_, err := s.GetRefreshToken(ctx(t), store.HashSecret("x"))
		wantErr(t, "GetRefreshToken", err, store.ErrNotFound)
		_, err = s.ConsumeRefreshToken(ctx(t), store.HashSecret("x"))
		wantErr(t, "ConsumeRefreshToken", err, store.ErrNotFound)
		must(t, "Put", s.PutRefreshToken(ctx(t), newRefresh("x", "f", "c")))
		wantErr(t, "Put again", s.PutRefreshToken(ctx(t), newRefresh("x", "f", "c")), store.ErrDuplicate)
	})
}
