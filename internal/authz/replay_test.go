package authz_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// TestAssertionReplayAcrossNodes: two authorization servers — each with its own client
// registry, authenticator, keys, deny-list and database pool, on its own listener — share
// one PostgreSQL schema and one issuer, as nodes behind a load balancer do. A client
// assertion accepted by node A is a replay at node B (FAPI1-AS-03, DESIGN.md "Storage and
// scale"), and of the same assertion sent to both at once exactly one succeeds.
func TestAssertionReplayAcrossNodes(t *testing.T) {
	f := newFixture(t, false)
	dbURL := storetest.PostgresURL(t)
	open := func() *store.Store {
		st, err := store.Open(context.Background(), dbURL, store.Options{Clock: f.clk, MaxOpenConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	stA, stB := open(), open()
	if err := stA.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.register(t, stA)
	const issuer = "https://portcullis.test"
	a := newServer(t, f, stA, asOptions{issuer: issuer})
	b := newServer(t, f, stB, asOptions{issuer: issuer})
	c := f.clients[clientPKJ]

	t.Run("sequential", func(t *testing.T) {
		form := a.clientCredentials(t, c, nil)
		if r := a.postForm(t, c.tlsCert(), authz.PathToken, form, nil); r.status != http.StatusOK {
			t.Fatalf("node A: %d %s", r.status, r.body)
		}
		id := newUUID()
		r := b.postForm(t, c.tlsCert(), authz.PathToken, form, http.Header{"X-Fapi-Interaction-Id": {id}})
		checkError(t, r, 401, "invalid_client")
		if cause := b.refusalCause(t, id); !strings.Contains(cause, clientauth.ErrReplay.Error()) {
			t.Errorf("node B refused for %q, want a replay", cause)
		}
		// Node B is healthy: a fresh assertion works there.
		if r := b.postForm(t, c.tlsCert(), authz.PathToken, b.clientCredentials(t, c, nil), nil); r.status != http.StatusOK {
			t.Errorf("node B, fresh assertion: %d %s", r.status, r.body)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		form := a.clientCredentials(t, c, nil)
		var wg sync.WaitGroup
		statuses := make([]int, 6)
		for i := range statuses {
			node := a
			if i%2 == 1 {
				node = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = node.postForm(t, c.tlsCert(), authz.PathToken, form, nil).status
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				ok++
			case http.StatusUnauthorized:
			default:
				t.Errorf("unexpected status %d", s)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent uses of one assertion succeeded, want exactly 1 (%v)", ok, len(statuses), statuses)
		}
	})
}
