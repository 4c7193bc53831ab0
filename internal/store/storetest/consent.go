package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

// Consent statuses used by the suite (the store gives them no meaning).
const (
	awaiting   = "AwaitingAuthorisation"
	authorised = "Authorised"
	rejected   = "Rejected"
	revoked    = "Revoked"
)

func newConsent(id string) store.Consent {
	return store.Consent{
		ID: id, Kind: "account-access", ClientID: "client-1", Status: awaiting,
		Data: json.RawMessage(`{"Permissions":["ReadAccountsBasic"]}`),
	}
}

func testConsent(t *testing.T, open Opener) {
	t.Run("CreateGet", func(t *testing.T) {
		s, _ := fresh(t, open)
		for _, exp := range []time.Time{{}, epoch.Add(90 * 24 * time.Hour)} {
			c := newConsent(fmt.Sprint("c-", exp.Unix()))
			c.ExpiresAt = exp
			must(t, "CreateConsent", s.CreateConsent(ctx(t), c))
			got, err := s.GetConsent(ctx(t), c.ID)
			must(t, "GetConsent", err)
			c.CreatedAt, c.UpdatedAt = epoch, epoch
			if d := cmp.Diff(c, got); d != "" {
				t.Fatalf("GetConsent (-want +got):\n%s", d)
			}
		}
	})
	t.Run("NoData", func(t *testing.T) {
		s, _ := fresh(t, open)
		c := newConsent("c")
		c.Data = nil
		must(t, "CreateConsent", s.CreateConsent(ctx(t), c))
		got, err := s.GetConsent(ctx(t), "c")
		must(t, "GetConsent", err)
		if got.Data != nil {
			t.Fatalf("Data = %q, want nil", got.Data)
		}
	})
	t.Run("UserID", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent("c")))
		user, err := s.ConsentUserID(ctx(t), "c")
		must(t, "ConsentUserID before authorisation", err)
		if user != "" {
			t.Fatalf("ConsentUserID before authorisation = %q", user)
		}
		_, err = s.TransitionConsent(ctx(t), "c", []string{awaiting}, authorised, "customer-42", nil)
		must(t, "TransitionConsent", err)
		user, err = s.ConsentUserID(ctx(t), "c")
		must(t, "ConsentUserID", err)
		if user != "customer-42" {
			t.Fatalf("ConsentUserID = %q, want customer-42", user)
		}
		for _, id := range []string{"nope", "", strings.Repeat("x", store.MaxKeyLen+1)} {
			_, err = s.ConsentUserID(ctx(t), id)
			wantErr(t, "ConsentUserID unknown", err, store.ErrNotFound)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent("c")))
		wantErr(t, "CreateConsent again", s.CreateConsent(ctx(t), newConsent("c")), store.ErrDuplicate)
	})
	t.Run("NotFound", func(t *testing.T) {
		s, _ := fresh(t, open)
		_, err := s.GetConsent(ctx(t), "nope")
		wantErr(t, "GetConsent", err, store.ErrNotFound)
		_, err = s.TransitionConsent(ctx(t), "nope", []string{awaiting}, authorised, "u", nil)
		wantErr(t, "TransitionConsent", err, store.ErrNotFound)
	})
	t.Run("Transition", func(t *testing.T) {
		s, clk := fresh(t, open)
		must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent("c")))
		clk.Advance(time.Minute)
		data := json.RawMessage(`{"Permissions":["ReadAccountsBasic"],"Accounts":["a1"]}`)
		got, err := s.TransitionConsent(ctx(t), "c", []string{awaiting}, authorised, "user-1", data)
		must(t, "TransitionConsent", err)
		want := newConsent("c")
		want.Status, want.UserID, want.Data = authorised, "user-1", data
		want.CreatedAt, want.UpdatedAt = epoch, epoch.Add(time.Minute)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("TransitionConsent result (-want +got):\n%s", d)
		}
		stored, err := s.GetConsent(ctx(t), "c")
		must(t, "GetConsent", err)
		if d := cmp.Diff(want, stored); d != "" {
			t.Fatalf("stored after TransitionConsent (-want +got):\n%s", d)
		}

		// Nil data and empty user leave both unchanged; one of several source statuses matches.
		clk.Advance(time.Minute)
		got, err = s.TransitionConsent(ctx(t), "c", []string{awaiting, authorised}, revoked, "", nil)
		must(t, "TransitionConsent to Revoked", err)
		want.Status, want.UpdatedAt = revoked, epoch.Add(2*time.Minute)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("TransitionConsent keeping data (-want +got):\n%s", d)
		}
	})
	t.Run("Conflict", func(t *testing.T) {
		s, clk := fresh(t, open)
		must(t, "CreateConsent", s.CreateConsent(ctx(t), newConsent("c")))
		_, err := s.TransitionConsent(ctx(t), "c", []string{awaiting}, rejected, "", nil)
		must(t, "TransitionConsent to Rejected", err)
		clk.Advance(time.Minute)
		cur, err := s.TransitionConsent(ctx(t), "c", []string{awaiting}, authorised, "user-1", json.RawMessage(`{}`))
		wantErr(t, "TransitionConsent from a stale status", err, store.ErrConflict)
		want := newConsent("c")
		want.Status, want.CreatedAt, want.UpdatedAt = rejected, epoch, epoch
		if d := cmp.Diff(want, cur); d != "" {
			t.Fatalf("consent returned with ErrConflict (-want +got):\n%s", d)
		}
		stored, err := s.GetConsent(ctx(t), "c")
		must(t, "GetConsent", err)
		if d := cmp.Diff(want, stored); d != "" {
			t.Fatalf("a conflicting transition changed the consent (-want +got):\n%s", d)
		}
	})
	t.Run("List", func(t *testing.T) {
		s, clk := fresh(t, open)
		rows := []struct{ id, client, user, status string }{
			{"c1", "client-a", "", awaiting},
			{"c2", "client-a", "u1", authorised},
			{"c3", "client-b", "u1", authorised},
			{"c4", "client-b", "u2", rejected},
		}
		for _, r := range rows {
			c := newConsent(r.id)
			c.ClientID, c.UserID, c.Status = r.client, r.user, r.status
			must(t, "CreateConsent", s.CreateConsent(ctx(t), c))
			clk.Advance(time.Second)
		}
		tests := []struct {
			name string
			f    store.ConsentFilter
			want []string
		}{
			{"all, newest first", store.ConsentFilter{}, []string{"c4", "c3", "c2", "c1"}},
			{"by client", store.ConsentFilter{ClientID: "client-a"}, []string{"c2", "c1"}},
			{"by user", store.ConsentFilter{UserID: "u1"}, []string{"c3", "c2"}},
			{"by status", store.ConsentFilter{Status: authorised}, []string{"c3", "c2"}},
			{"by client and status", store.ConsentFilter{ClientID: "client-b", Status: rejected}, []string{"c4"}},
			{"by client, user and status", store.ConsentFilter{ClientID: "client-b", UserID: "u1", Status: authorised}, []string{"c3"}},
			{"no match", store.ConsentFilter{UserID: "u9"}, nil},
			{"limit", store.ConsentFilter{Limit: 2}, []string{"c4", "c3"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListConsents(ctx(t), tt.f)
				must(t, "ListConsents", err)
				var ids []string
				for _, c := range got {
					ids = append(ids, c.ID)
				}
				if d := cmp.Diff(tt.want, ids); d != "" {
					t.Fatalf("ListConsents(%+v) (-want +got):\n%s", tt.f, d)
				}
			})
		}
	})
}
