package jose

import (
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// TestSyncedKeyStore: mutations of a synced store write through its persister and take effect
// only if it succeeds; Replace installs a validated key set without persisting it and leaves
// the store unchanged when the set is invalid.
func TestSyncedKeyStore(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	k0, _ := GenerateSigningKey(ES256)
	k1, _ := GenerateSigningKey(ES256)
	var calls [][2][]KeyRecord
	fail := error(nil)
	persist := func(prev, next []KeyRecord) error {
		calls = append(calls, [2][]KeyRecord{prev, next})
		return fail
	}
	ks, rep, err := NewSyncedKeyStore(KeyStoreOptions{Clock: clk}, persist, KeyRecord{Key: k0, State: StateActive})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 0 {
		t.Fatal("construction persisted")
	}
	fail = errors.New("conflict")
	if err := ks.Publish(k1); !errors.Is(err, fail) {
		t.Fatalf("Publish with a failing persister = %v", err)
	}
	if ks.HasKey(k1.KeyID()) {
		t.Fatal("a change the persister refused took effect")
	}
	fail = nil
	if err := ks.Rotate(k1); err != nil {
		t.Fatal(err)
	}
	last := calls[len(calls)-1]
	if len(last[0]) != 1 || len(last[1]) != 2 {
		t.Fatalf("persisted %d → %d keys, want 1 → 2", len(last[0]), len(last[1]))
	}
	n := len(calls)
	// Replace: back to k0 active alone (what another node wrote), without persisting.
	if err := rep.Replace([]KeyRecord{{Key: k0, State: StateActive}}); err != nil {
		t.Fatal(err)
	}
	if len(calls) != n || ks.HasKey(k1.KeyID()) {
		t.Fatal("Replace persisted, or did not install")
	}
	for name, recs := range map[string][]KeyRecord{
		"no active key":    {{Key: k0, State: StateNext}},
		"two active":       {{Key: k0, State: StateActive}, {Key: k1, State: StateActive}},
		"retired, no time": {{Key: k0, State: StateActive}, {Key: k1, State: StateRetired}},
		"nil key":          {{State: StateActive}},
		"unknown state":    {{Key: k0, State: "revoked"}},
		"same key twice":   {{Key: k0, State: StateActive}, {Key: k0, State: StateNext}},
	} {
		if err := rep.Replace(recs); !errors.Is(err, ErrKeyConfig) {
			t.Errorf("%s: Replace = %v, want ErrKeyConfig", name, err)
		}
		if !ks.HasKey(k0.KeyID()) || ks.HasKey(k1.KeyID()) {
			t.Fatalf("%s: a refused Replace changed the store", name)
		}
	}
	if _, _, err := NewSyncedKeyStore(KeyStoreOptions{}, nil, KeyRecord{Key: k0, State: StateActive}); !errors.Is(err, ErrKeyConfig) {
		t.Fatalf("nil persister = %v", err)
	}
}
