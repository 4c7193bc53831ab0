package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

func TestConsentFamilies(t *testing.T) {
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	exp := time.Now().Add(time.Hour)
	for i, rt := range []struct{ fam, consent string }{{"f2", "c1"}, {"f1", "c1"}, {"f1", "c1"}, {"f3", "c2"}} {
		if err := s.PutRefreshToken(ctx, store.RefreshToken{Hash: store.HashSecret(string(rune('a' + i))), ClientID: "tpp",
			FamilyID: rt.fam, ConsentID: rt.consent, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.ConsentFamilies(ctx, "c1"); err != nil || !slices.Equal(got, []string{"f1", "f2"}) {
		t.Fatalf("c1: %v %v", got, err)
	}
	if got, err := s.ConsentFamilies(ctx, "none"); err != nil || len(got) != 0 {
		t.Fatalf("none: %v %v", got, err)
	}
	if _, err := s.ConsentFamilies(ctx, ""); !errors.Is(err, store.ErrInvalidInput) {
		t.Fatalf("empty: %v", err)
	}
}
