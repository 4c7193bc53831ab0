package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

func testRevocation(t *testing.T, open Opener) {
	t.Run("RevokeAndCheck", func(t *testing.T) {
		s, clk := fresh(t, open)
		revokedBefore, err := s.IsTokenRevoked(ctx(t), "at-1")
		must(t, "IsTokenRevoked", err)
		if revokedBefore {
			t.Fatal("IsTokenRevoked before RevokeToken = true")
		}
		r := store.Revocation{JTI: "at-1", ClientID: "client-1", ExpiresAt: epoch.Add(time.Hour)}
		must(t, "RevokeToken", s.RevokeToken(ctx(t), r))
		revokedAfter, err := s.IsTokenRevoked(ctx(t), "at-1")
		must(t, "IsTokenRevoked", err)
		if !revokedAfter {
			t.Fatal("IsTokenRevoked after RevokeToken = false")
		}
		// Idempotent: the first entry and its RevokedAt stay.
		clk.Advance(time.Minute)
		must(t, "RevokeToken again", s.RevokeToken(ctx(t), r))
		got, err := s.RevocationsSince(ctx(t), time.Time{}, 0)
		must(t, "RevocationsSince", err)
		r.RevokedAt = epoch
		if d := cmp.Diff([]store.Revocation{r}, got); d != "" {
			t.Fatalf("RevocationsSince (-want +got):\n%s", d)
		}
		other, err := s.IsTokenRevoked(ctx(t), "at-2")
		must(t, "IsTokenRevoked other", err)
		if other {
			t.Fatal("IsTokenRevoked of another jti = true")
		}
	})
	t.Run("Since", func(t *testing.T) {
		s, _ := fresh(t, open)
		at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
		// Inserted out of order, two sharing a RevokedAt.
		entries := []store.Revocation{
			{JTI: "d", RevokedAt: at(3), ExpiresAt: at(3600)},
			{JTI: "b", RevokedAt: at(2), ExpiresAt: at(3600)},
			{JTI: "a", RevokedAt: at(1), ExpiresAt: at(3600)},
			{JTI: "c", RevokedAt: at(2), ExpiresAt: at(3600), ClientID: "client-9"},
		}
		for _, r := range entries {
			must(t, "RevokeToken", s.RevokeToken(ctx(t), r))
		}
		tests := []struct {
			since time.Time
			limit int
			want  []string
		}{
			{time.Time{}, 0, []string{"a", "b", "c", "d"}},
			{at(2), 0, []string{"b", "c", "d"}}, // inclusive
			{at(2).Add(time.Millisecond), 0, []string{"d"}},
			{at(4), 0, nil},
			{time.Time{}, 3, []string{"a", "b", "c"}},
			{at(2), 1, []string{"b"}},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("since=%v,limit=%d", tt.since.Sub(epoch), tt.limit), func(t *testing.T) {
				got, err := s.RevocationsSince(ctx(t), tt.since, tt.limit)
				must(t, "RevocationsSince", err)
				var jtis []string
				for _, r := range got {
					jtis = append(jtis, r.JTI)
				}
				if d := cmp.Diff(tt.want, jtis); d != "" {
					t.Fatalf("RevocationsSince (-want +got):\n%s", d)
				}
			})
		}
		got, err := s.RevocationsSince(ctx(t), at(2), 2)
		must(t, "RevocationsSince", err)
		want := []store.Revocation{entries[1], entries[3]}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("RevocationsSince records (-want +got):\n%s", d)
		}
	})
	t.Run("PurgedAfterExpiry", func(t *testing.T) {
		s, clk := fresh(t, open)
		must(t, "RevokeToken", s.RevokeToken(ctx(t), store.Revocation{JTI: "short", ExpiresAt: epoch.Add(time.Minute)}))
		must(t, "RevokeToken", s.RevokeToken(ctx(t), store.Revocation{JTI: "long", ExpiresAt: epoch.Add(time.Hour)}))
		clk.Advance(time.Minute)
		n, err := s.Sweep(ctx(t))
		must(t, "Sweep", err)
		if n != 1 {
			t.Fatalf("Sweep deleted %d rows, want 1", n)
		}
		for jti, want := range map[string]bool{"short": false, "long": true} {
			got, err := s.IsTokenRevoked(ctx(t), jti)
			must(t, "IsTokenRevoked", err)
			if got != want {
				t.Errorf("IsTokenRevoked(%s) after sweep = %v, want %v", jti, got, want)
			}
		}
	})
}

func testAudit(t *testing.T, open Opener) {
	s, clk := fresh(t, open)
	events := []store.AuditEvent{
		{Type: "client.registered", ClientID: "c1", Subject: "admin", InteractionID: "i-1", Data: json.RawMessage(`{"auth":"private_key_jwt"}`)},
		{Type: "token.issued", ClientID: "c1", Subject: "user-1"},
		{Type: "token.issued", ClientID: "c2", Subject: "user-2", Time: epoch.Add(2 * time.Second)},
		{Type: "consent.revoked", ClientID: "c2"},
	}
	for i, e := range events {
		must(t, "AppendAudit", s.AppendAudit(ctx(t), e))
		if i < 2 {
			clk.Advance(time.Second)
		}
	}
	all, err := s.ListAudit(ctx(t), store.AuditFilter{})
	must(t, "ListAudit", err)
	if len(all) != 4 {
		t.Fatalf("ListAudit returned %d events, want 4", len(all))
	}
	// Times: epoch, epoch+1s, explicit epoch+2s, clock epoch+2s; ties ordered by ID.
	wantTimes := []time.Time{epoch, epoch.Add(time.Second), epoch.Add(2 * time.Second), epoch.Add(2 * time.Second)}
	for i, e := range all {
		if i > 0 && e.ID <= all[i-1].ID {
			t.Errorf("event %d ID %d not after %d", i, e.ID, all[i-1].ID)
		}
		want := events[i]
		want.ID, want.Time = e.ID, wantTimes[i]
		if d := cmp.Diff(want, e); d != "" {
			t.Errorf("event %d (-want +got):\n%s", i, d)
		}
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want []int // indexes into all
	}{
		{"by type", store.AuditFilter{Type: "token.issued"}, []int{1, 2}},
		{"by client", store.AuditFilter{ClientID: "c2"}, []int{2, 3}},
		{"by type and client", store.AuditFilter{Type: "token.issued", ClientID: "c2"}, []int{2}},
		{"since, inclusive", store.AuditFilter{Since: epoch.Add(time.Second)}, []int{1, 2, 3}},
		{"since and type", store.AuditFilter{Since: epoch.Add(2 * time.Second), Type: "token.issued"}, []int{2}},
		{"limit", store.AuditFilter{Limit: 2}, []int{0, 1}},
		{"no match", store.AuditFilter{Type: "nothing"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx(t), tt.f)
			must(t, "ListAudit", err)
			var want []store.AuditEvent
			for _, i := range tt.want {
				want = append(want, all[i])
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("ListAudit(%+v) (-want +got):\n%s", tt.f, d)
			}
		})
	}
}

// testAuditBatch covers AppendAuditBatch: order and IDs across the multi-row chunks, clock
// stamping, atomicity (a refused batch writes nothing) and interleaving with AppendAudit.
func testAuditBatch(t *testing.T, open Opener) {
	s, clk := fresh(t, open)
	must(t, "AppendAuditBatch empty", s.AppendAuditBatch(ctx(t), nil))
	must(t, "AppendAudit first", s.AppendAudit(ctx(t), store.AuditEvent{Type: "first"}))
	clk.Advance(time.Second)

	// More than two chunks of the multi-row INSERT, with a partial last chunk; every other
	// event carries its own time and data.
	const n = 150
	batch := make([]store.AuditEvent, n)
	for i := range batch {
		batch[i] = store.AuditEvent{Type: "token.issued", ClientID: fmt.Sprintf("c%03d", i), InteractionID: fmt.Sprint("i-", i)}
		if i%2 == 1 {
			batch[i].Time = epoch.Add(time.Second) // explicit, equal to the clock's: order falls to the ID
			batch[i].Data = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
			batch[i].Subject = "user"
		}
	}
	must(t, "AppendAuditBatch", s.AppendAuditBatch(ctx(t), batch))
	must(t, "AppendAudit last", s.AppendAudit(ctx(t), store.AuditEvent{Type: "last"}))

	all, err := s.ListAudit(ctx(t), store.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	if len(all) != n+2 {
		t.Fatalf("ListAudit returned %d events, want %d", len(all), n+2)
	}
	if all[0].Type != "first" || all[n+1].Type != "last" {
		t.Fatalf("first/last = %q/%q, want the single appends around the batch", all[0].Type, all[n+1].Type)
	}
	for i, e := range all[1 : n+1] {
		want := batch[i]
		want.ID, want.Time = e.ID, epoch.Add(time.Second)
		if d := cmp.Diff(want, e); d != "" {
			t.Fatalf("batch event %d (-want +got):\n%s", i, d)
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("event %d ID %d not after %d: the batch's order is not kept", i, all[i].ID, all[i-1].ID)
		}
	}

	// A batch with one invalid event is refused whole: nothing of it is written.
	bad := []store.AuditEvent{{Type: "a"}, {Type: ""}, {Type: "c"}}
	wantErr(t, "AppendAuditBatch invalid", s.AppendAuditBatch(ctx(t), bad), store.ErrInvalidInput)
	after, err := s.ListAudit(ctx(t), store.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	if len(after) != len(all) {
		t.Fatalf("a refused batch wrote %d events", len(after)-len(all))
	}
}
