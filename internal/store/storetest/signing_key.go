package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

// newSigningKey returns a stored signing key with every required field set.
func newSigningKey(kid, state string) store.SigningKey {
	k := store.SigningKey{KeyID: kid, Alg: "ES256", State: state, KEKID: "kek-1", PrivateKey: "v1.sealed-" + kid}
	if state == store.SigningKeyRetired {
		k.RetireAt = epoch.Add(time.Hour)
	}
	return k
}

func testSigningKey(t *testing.T, open Opener) {
	t.Run("CreateList", func(t *testing.T) {
		s, clk := fresh(t, open)
		a := newSigningKey("a", store.SigningKeyActive)
		n := newSigningKey("n", store.SigningKeyNext)
		n.ActivateAt = epoch.Add(time.Minute)
		must(t, "ChangeSigningKeys", s.ChangeSigningKeys(ctx(t), nil, []store.SigningKey{a}))
		clk.Advance(time.Second)
		must(t, "ChangeSigningKeys next", s.ChangeSigningKeys(ctx(t), nil, []store.SigningKey{n}))
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		a.CreatedAt, a.ActivatedAt = epoch, epoch
		n.CreatedAt = epoch.Add(time.Second)
		if d := cmp.Diff([]store.SigningKey{a, n}, got); d != "" {
			t.Fatalf("ListSigningKeys (-want +got):\n%s", d)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		s, _ := fresh(t, open)
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		if len(got) != 0 {
			t.Fatalf("ListSigningKeys = %v, want none", got)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "create a", s.ChangeSigningKeys(ctx(t), nil, []store.SigningKey{newSigningKey("a", store.SigningKeyActive)}))
		wantErr(t, "same kid", s.ChangeSigningKeys(ctx(t), nil, []store.SigningKey{newSigningKey("a", store.SigningKeyNext)}), store.ErrDuplicate)
		// A second active key of the same algorithm is refused by the database itself.
		wantErr(t, "second active", s.ChangeSigningKeys(ctx(t), nil, []store.SigningKey{newSigningKey("b", store.SigningKeyActive)}), store.ErrDuplicate)
		other := newSigningKey("c", store.SigningKeyActive)
		other.Alg = "PS256"
		must(t, "active of another alg", s.ChangeSigningKeys(ctx(t), nil, []store.SigningKey{other}))
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		if len(got) != 2 || got[0].State != store.SigningKeyActive || got[0].PrivateKey != "v1.sealed-a" {
			t.Fatalf("after refused inserts: %+v", got)
		}
	})
	t.Run("Rotate", func(t *testing.T) {
		s, clk := fresh(t, open)
		must(t, "create", s.ChangeSigningKeys(ctx(t), nil, []store.SigningKey{
			newSigningKey("old", store.SigningKeyActive), newSigningKey("new", store.SigningKeyNext),
		}))
		clk.Advance(time.Minute)
		retireAt := epoch.Add(2 * time.Hour)
		// Listed next → active first: the store still applies active → retired before it.
		must(t, "rotate", s.ChangeSigningKeys(ctx(t), []store.SigningKeyChange{
			{KeyID: "new", From: store.SigningKeyNext, To: store.SigningKeyActive},
			{KeyID: "old", From: store.SigningKeyActive, To: store.SigningKeyRetired, RetireAt: retireAt},
		}, nil))
		got, err := s.ListSigningKeys(ctx(t))
		must(t, "ListSigningKeys", err)
		byKID := map[string]store.SigningKey{}
		for _, k := range got {
			byKID[k.KeyID] = k
		}
		now := epoch.Add(time.Minute)
		if k := byKID["new"]; k.State != store.SigningKeyActive || !k.ActivatedAt.Equal(now) {
			t.Fatalf("new key = %+v, want active since %v", k, now)
		}
		if k := byKID["old"]; k.State != store.SigningKeyRetired || !k.RetiredAt.Equal(now) || !k.RetireAt.Equal(retireAt) {
			t.Fatalf("old key = %+v, want retired at %v until %v", k, now, retireAt)
		}
		// A node acting on the earlier view loses the compare-and-set, and changes nothing.
		wantErr(t, "stale rotate", s.ChangeSigningKeys(ctx(t), []store.SigningKeyChange{
			{KeyID: "old", From: store.SigningKeyActive, To: store.SigningKeyRetired, RetireAt: retireAt},
		}, nil), store.ErrConflict)
		// All or nothing: a valid delete followed by a stale change rolls back with it.
		wantErr(t, "half stale", s.ChangeSigningKeys(ctx(t), []store.SigningKeyChange{
			{KeyID: "old", From: store.SigningKeyRetired},
			{KeyID: "gone", From: store.SigningKeyNext, To: store.SigningKeyActive},
		}, nil), store.ErrConflict)
		if got, _ := s.ListSigningKeys(ctx(t)); len(got) != 2 {
			t.Fatalf("after a rolled-back change: %d keys, want 2", len(got))
		}
		must(t, "delete retired", s.ChangeSigningKeys(ctx(t), []store.SigningKeyChange{{KeyID: "old", From: store.SigningKeyRetired}}, nil))
		wantErr(t, "delete again", s.ChangeSigningKeys(ctx(t), []store.SigningKeyChange{{KeyID: "old", From: store.SigningKeyRetired}}, nil), store.ErrConflict)
		if got, _ := s.ListSigningKeys(ctx(t)); len(got) != 1 || got[0].KeyID != "new" {
			t.Fatalf("after delete: %+v", got)
		}
	})
	t.Run("InvalidInput", func(t *testing.T) {
		s, _ := fresh(t, open)
		long := strings.Repeat("k", store.MaxKeyLen+1)
		rows := []struct {
			name string
			mut  func(*store.SigningKey)
		}{
			{"empty kid", func(k *store.SigningKey) { k.KeyID = "" }},
			{"long kid", func(k *store.SigningKey) { k.KeyID = long }},
			{"empty alg", func(k *store.SigningKey) { k.Alg = "" }},
			{"bad state", func(k *store.SigningKey) { k.State = "revoked" }},
			{"empty kek id", func(k *store.SigningKey) { k.KEKID = "" }},
			{"no private key", func(k *store.SigningKey) { k.PrivateKey = "" }},
			{"huge private key", func(k *store.SigningKey) { k.PrivateKey = strings.Repeat("k", store.MaxSealedKeyLen+1) }},
			{"NUL in private key", func(k *store.SigningKey) { k.PrivateKey = "a\x00b" }},
			{"retired without retire_at", func(k *store.SigningKey) { k.State = store.SigningKeyRetired }},
			{"created before 1970", func(k *store.SigningKey) { k.CreatedAt = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }},
		}
		for _, r := range rows {
			k := newSigningKey("k", store.SigningKeyNext)
			r.mut(&k)
			wantErr(t, r.name, s.ChangeSigningKeys(ctx(t), nil, []store.SigningKey{k}), store.ErrInvalidInput)
		}
		changes := []store.SigningKeyChange{
			{KeyID: "", From: store.SigningKeyNext, To: store.SigningKeyActive},
			{KeyID: "k", From: "", To: store.SigningKeyActive},
			{KeyID: "k", From: store.SigningKeyNext, To: "bogus"},
			{KeyID: "k", From: store.SigningKeyActive, To: store.SigningKeyRetired},
		}
		for i, c := range changes {
			wantErr(t, "change "+string(rune('0'+i)), s.ChangeSigningKeys(ctx(t), []store.SigningKeyChange{c}, nil), store.ErrInvalidInput)
		}
		if got, _ := s.ListSigningKeys(ctx(t)); len(got) != 0 {
			t.Fatalf("refused input was stored: %+v", got)
		}
	})
}
