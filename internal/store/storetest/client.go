package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

func testClient(t *testing.T, open Opener) {
	t.Run("CreateGet", func(t *testing.T) {
		s, _ := fresh(t, open)
		c := store.Client{ID: "client-1", Metadata: json.RawMessage(`{"redirect_uris":["https://tpp.example/cb"]}`)}
		must(t, "CreateClient", s.CreateClient(ctx(t), c))
		got, err := s.GetClient(ctx(t), "client-1")
		must(t, "GetClient", err)
		c.CreatedAt, c.UpdatedAt = epoch, epoch
		if d := cmp.Diff(c, got); d != "" {
			t.Fatalf("GetClient (-want +got):\n%s", d)
		}
	})
	t.Run("ExplicitTimesKeptToTheMillisecond", func(t *testing.T) {
		s, _ := fresh(t, open)
		at := time.Date(2025, 1, 2, 3, 4, 5, 678_901_234, time.FixedZone("X", 3600))
		must(t, "CreateClient", s.CreateClient(ctx(t), store.Client{ID: "c", Metadata: json.RawMessage(`{}`), CreatedAt: at, UpdatedAt: at}))
		got, err := s.GetClient(ctx(t), "c")
		must(t, "GetClient", err)
		want := at.Truncate(time.Millisecond).UTC()
		if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC || !got.UpdatedAt.Equal(want) {
			t.Fatalf("times = %v, %v; want %v UTC", got.CreatedAt, got.UpdatedAt, want)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		s, _ := fresh(t, open)
		c := store.Client{ID: "client-1", Metadata: json.RawMessage(`{"a":1}`)}
		must(t, "CreateClient", s.CreateClient(ctx(t), c))
		c.Metadata = json.RawMessage(`{"a":2}`)
		wantErr(t, "CreateClient again", s.CreateClient(ctx(t), c), store.ErrDuplicate)
		got, err := s.GetClient(ctx(t), "client-1")
		must(t, "GetClient", err)
		if string(got.Metadata) != `{"a":1}` {
			t.Fatalf("metadata = %s, the duplicate overwrote it", got.Metadata)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s, _ := fresh(t, open)
		_, err := s.GetClient(ctx(t), "nobody")
		wantErr(t, "GetClient", err, store.ErrNotFound)
		wantErr(t, "UpdateClient", s.UpdateClient(ctx(t), store.Client{ID: "nobody", Metadata: json.RawMessage(`{}`)}), store.ErrNotFound)
		wantErr(t, "DeleteClient", s.DeleteClient(ctx(t), "nobody"), store.ErrNotFound)
	})
	t.Run("Update", func(t *testing.T) {
		s, clk := fresh(t, open)
		must(t, "CreateClient", s.CreateClient(ctx(t), store.Client{ID: "c", Metadata: json.RawMessage(`{"v":1}`)}))
		clk.Advance(time.Hour)
		must(t, "UpdateClient", s.UpdateClient(ctx(t), store.Client{ID: "c", Metadata: json.RawMessage(`{"v":2}`)}))
		got, err := s.GetClient(ctx(t), "c")
		must(t, "GetClient", err)
		want := store.Client{ID: "c", Metadata: json.RawMessage(`{"v":2}`), CreatedAt: epoch, UpdatedAt: epoch.Add(time.Hour)}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("after UpdateClient (-want +got):\n%s", d)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "CreateClient", s.CreateClient(ctx(t), store.Client{ID: "c", Metadata: json.RawMessage(`{}`)}))
		must(t, "DeleteClient", s.DeleteClient(ctx(t), "c"))
		_, err := s.GetClient(ctx(t), "c")
		wantErr(t, "GetClient after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteClient again", s.DeleteClient(ctx(t), "c"), store.ErrNotFound)
		must(t, "CreateClient after delete", s.CreateClient(ctx(t), store.Client{ID: "c", Metadata: json.RawMessage(`{}`)}))
	})
	t.Run("List", func(t *testing.T) {
		s, _ := fresh(t, open)
		got, err := s.ListClients(ctx(t))
		must(t, "ListClients empty", err)
		if len(got) != 0 {
			t.Fatalf("ListClients on an empty store = %v", got)
		}
		for _, id := range []string{"b", "c", "a"} {
			must(t, "CreateClient", s.CreateClient(ctx(t), store.Client{ID: id, Metadata: json.RawMessage(`{"id":"` + id + `"}`)}))
		}
		got, err = s.ListClients(ctx(t))
		must(t, "ListClients", err)
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
			if string(c.Metadata) != `{"id":"`+c.ID+`"}` {
				t.Errorf("client %s metadata = %s", c.ID, c.Metadata)
			}
		}
		if d := cmp.Diff([]string{"a", "b", "c"}, ids); d != "" {
			t.Fatalf("ListClients order (-want +got):\n%s", d)
		}
	})
}
