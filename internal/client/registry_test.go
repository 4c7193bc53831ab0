package client

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

func newTestRegistry(s Store) (*Registry, *auditLog) {
	log := &auditLog{}
	return NewRegistry(s, RegistryOptions{Audit: log.record}), log
}

// registryBackends runs fn against the fake store and a real SQLite store.
func registryBackends(t *testing.T, fn func(t *testing.T, s Store)) {
	t.Run("fake", func(t *testing.T) { fn(t, newFakeStore()) })
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.OpenSQLite(t)) })
}

func TestRegistryLifecycle(t *testing.T) {
	registryBackends(t, func(t *testing.T, s Store) {
		reg, audit := newTestRegistry(s)
		ctx := WithActor(context.Background(), "test")

		in := &Client{
			ID:                      "tpp-1",
			TokenEndpointAuthMethod: AuthPrivateKeyJWT,
			JWKS:                    testJWKS(t),
			GrantTypes:              []string{GrantClientCredentials},
			Scope:                   ScopeList{"accounts"},
			CreatedAt:               fixedTime, // ignored on input
		}
		added, err := reg.Add(ctx, in)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		if added.CreatedAt.IsZero() || added.CreatedAt.Equal(fixedTime) {
			t.Errorf("CreatedAt = %v, want the store's time", added.CreatedAt)
		}
		if in.Profile != "" {
			t.Errorf("Add changed its argument: Profile = %q", in.Profile)
		}
		want := *in
		want.ApplyDefaults()
		want.CreatedAt = added.CreatedAt
		if diff := cmp.Diff(&want, added); diff != "" {
			t.Errorf("Add (-want +got):\n%s", diff)
		}

		got, err := reg.Get(ctx, "tpp-1")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if diff := cmp.Diff(added, got); diff != "" {
			t.Errorf("Get (-want +got):\n%s", diff)
		}

		if _, err := reg.Add(ctx, in); !errors.Is(err, ErrExists) {
			t.Errorf("second Add = %v, want ErrExists", err)
		}

		upd := *got
		upd.Scope = ScopeList{"accounts", "payments"}
		updated, err := reg.Update(ctx, &upd)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if !updated.Scope.Contains("payments") || !updated.CreatedAt.Equal(added.CreatedAt) {
			t.Errorf("Update = %+v", updated)
		}
		bad := upd
		bad.TokenEndpointAuthMethod = "client_secret_basic"
		if _, err := reg.Update(ctx, &bad); !errors.Is(err, ErrInvalidClientMetadata) {
			t.Errorf("Update with a secret method = %v, want ErrInvalidClientMetadata", err)
		}
		ghost := upd
		ghost.ID = "ghost"
		if _, err := reg.Update(ctx, &ghost); !errors.Is(err, ErrNotFound) {
			t.Errorf("Update of unknown client = %v, want ErrNotFound", err)
		}

		second := *in
		second.ID = "tpp-0"
		if _, err := reg.Add(ctx, &second); err != nil {
			t.Fatalf("Add second: %v", err)
		}
		all, err := reg.List(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var ids []string
		for _, c := range all {
			ids = append(ids, c.ID)
		}
		if diff := cmp.Diff([]string{"tpp-0", "tpp-1"}, ids); diff != "" {
			t.Errorf("List ids (-want +got):\n%s", diff)
		}

		if err := reg.Remove(ctx, "tpp-1"); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if _, err := reg.Get(ctx, "tpp-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Remove = %v, want ErrNotFound", err)
		}
		if err := reg.Remove(ctx, "tpp-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second Remove = %v, want ErrNotFound", err)
		}

		wantEvents := []Event{
			{EventClientRegistered, "tpp-1", "test"},
			{EventClientUpdated, "tpp-1", "test"},
			{EventClientRegistered, "tpp-0", "test"},
			{EventClientRemoved, "tpp-1", "test"},
		}
		if diff := cmp.Diff(wantEvents, audit.all()); diff != "" {
			t.Errorf("audit events (-want +got):\n%s", diff)
		}
	})
}

func TestRegistryRefuses(t *testing.T) {
	registryBackends(t, func(t *testing.T, s Store) {
		reg, audit := newTestRegistry(s)
		ctx := context.Background()
		tls := func(id, dn string) *Client {
			return &Client{ID: id, TokenEndpointAuthMethod: AuthTLSClientAuth, TLSClientAuthSubjectDN: dn,
				GrantTypes: []string{GrantClientCredentials}}
		}
		if _, err := reg.Add(ctx, tls("a", "CN=tpp,O=Example TPP Ltd,C=GB")); err != nil {
			t.Fatalf("Add: %v", err)
		}
		tests := []struct {
			name      string
			c         *Client
			wantField string
		}{
			{"public client", &Client{ID: "p", TokenEndpointAuthMethod: "none", GrantTypes: []string{GrantClientCredentials}}, "token_endpoint_auth_method"},
			// FAPI1-AS-05: the same DN, written differently, belongs to one client only.
			{"same DN as another client", tls("b", "cn=TPP, o=Example  TPP Ltd, c=gb"), "tls_client_auth_subject_dn"},
			{"same SAN DNS in another case", &Client{ID: "c", TokenEndpointAuthMethod: AuthTLSClientAuth,
				TLSClientAuthSANDNS: "TPP.example", GrantTypes: []string{GrantClientCredentials}}, ""},
		}
		// Register a SAN client to collide with.
		if _, err := reg.Add(ctx, &Client{ID: "s", TokenEndpointAuthMethod: AuthTLSClientAuth,
			TLSClientAuthSANDNS: "tpp.example", GrantTypes: []string{GrantClientCredentials}}); err != nil {
			t.Fatalf("Add SAN client: %v", err)
		}
		tests[2].wantField = "tls_client_auth_san_dns"
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := reg.Add(ctx, tt.c)
				var me *MetadataError
				if !errors.As(err, &me) || me.Field != tt.wantField || me.Code != CodeInvalidClientMetadata {
					t.Fatalf("Add = %v, want invalid_client_metadata on %s", err, tt.wantField)
				}
				if _, err := reg.Get(ctx, tt.c.ID); !errors.Is(err, ErrNotFound) {
					t.Errorf("refused client was stored: Get = %v", err)
				}
			})
		}
		// Updating a client with its own DN is not a collision.
		if _, err := reg.Update(ctx, tls("a", "CN=tpp,O=Example TPP Ltd,C=GB")); err != nil {
			t.Errorf("Update with own DN: %v", err)
		}
		if n := len(audit.all()); n != 3 {
			t.Errorf("%d audit events, want 3 (two adds, one update)", n)
		}
	})
}

func TestRegistryInvalidIDsAreNotFound(t *testing.T) {
	s := newFakeStore()
	s.fail = errDatabaseDown // proves the store is not asked
	reg, _ := newTestRegistry(s)
	for _, id := range []string{"", "a b", "../x", string(make([]byte, MaxIDLen+1))} {
		if _, err := reg.Get(context.Background(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
		if err := reg.Remove(context.Background(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Remove(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestRegistryStoreFailure(t *testing.T) {
	s := newFakeStore()
	reg, audit := newTestRegistry(s)
	ctx := context.Background()
	c := &Client{ID: "tpp", TokenEndpointAuthMethod: AuthPrivateKeyJWT, JWKS: testJWKS(t),
		GrantTypes: []string{GrantClientCredentials}}
	if _, err := reg.Add(ctx, c); err != nil {
		t.Fatal(err)
	}
	s.fail = errDatabaseDown
	tests := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := reg.Get(ctx, "tpp"); return err }},
		{"List", func() error { _, err := reg.List(ctx); return err }},
		{"Add", func() error { c2 := *c; c2.ID = "x"; _, err := reg.Add(ctx, &c2); return err }},
		{"Update", func() error { _, err := reg.Update(ctx, c); return err }},
		{"Remove", func() error { return reg.Remove(ctx, "tpp") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, errDatabaseDown) || errors.Is(err, ErrNotFound) {
				t.Errorf("%s = %v, want the store error and not ErrNotFound", tt.name, err)
			}
		})
	}
	if n := len(audit.all()); n != 1 {
		t.Errorf("%d audit events, want 1 (failed changes are not audited)", n)
	}
}

func TestRegistryCorruptRecord(t *testing.T) {
	tests := []struct {
		name     string
		metadata string
	}{
		{"not JSON", `{"client_id":`},
		{"secret method", `{"client_id":"tpp","token_endpoint_auth_method":"client_secret_basic","grant_types":["client_credentials"],"fapi_profile":"fapi1","tls_client_certificate_bound_access_tokens":true}`},
		{"unbound tokens", `{"client_id":"tpp","token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_dns":"a.example","grant_types":["client_credentials"],"fapi_profile":"fapi1","tls_client_certificate_bound_access_tokens":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeStore()
			s.clients["tpp"] = store.Client{ID: "tpp", Metadata: json.RawMessage(tt.metadata)}
			reg, _ := newTestRegistry(s)
			if _, err := reg.Get(context.Background(), "tpp"); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Get = %v, want ErrCorrupt", err)
			}
			if _, err := reg.List(context.Background()); !errors.Is(err, ErrCorrupt) {
				t.Errorf("List = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestRegistryRowIsAuthoritative(t *testing.T) {
	s := newFakeStore()
	// A document claiming another client_id and creation time than its row.
	s.clients["tpp"] = store.Client{ID: "tpp", CreatedAt: fixedTime, Metadata: json.RawMessage(
		`{"client_id":"admin","created_at":"2001-01-01T00:00:00Z","token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_dns":"a.example","grant_types":["client_credentials"],"fapi_profile":"fapi1","tls_client_certificate_bound_access_tokens":true}`)}
	reg, _ := newTestRegistry(s)
	c, err := reg.Get(context.Background(), "tpp")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "tpp" || !c.CreatedAt.Equal(fixedTime) {
		t.Errorf("Get = id %q created %v, want the row's", c.ID, c.CreatedAt)
	}
}

// TestRegistryCopiesAndFollowsStore: callers get their own copies, and a change made by
// another node (another registry over the same database) is seen at once.
func TestRegistryCopiesAndFollowsStore(t *testing.T) {
	s := newFakeStore()
	reg1, _ := newTestRegistry(s)
	reg2, _ := newTestRegistry(s)
	ctx := context.Background()
	c := &Client{ID: "tpp", TokenEndpointAuthMethod: AuthTLSClientAuth, TLSClientAuthSANDNS: "a.example",
		GrantTypes: []string{GrantClientCredentials}, Scope: ScopeList{"accounts"}}
	if _, err := reg1.Add(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := reg1.Get(ctx, "tpp")
	if err != nil {
		t.Fatal(err)
	}
	got.Scope[0] = "payments"
	got.TLSClientAuthSANDNS = "evil.example"
	again, err := reg1.Get(ctx, "tpp")
	if err != nil {
		t.Fatal(err)
	}
	if again.Scope[0] != "accounts" || again.TLSClientAuthSANDNS != "a.example" {
		t.Errorf("caller's change leaked into the registry: %+v", again)
	}

	upd := *again
	upd.TLSClientAuthSANDNS = "b.example"
	if _, err := reg2.Update(ctx, &upd); err != nil {
		t.Fatal(err)
	}
	if got, err := reg1.Get(ctx, "tpp"); err != nil || got.TLSClientAuthSANDNS != "b.example" {
		t.Errorf("other node's update not seen: %v %+v", err, got)
	}

	// A record corrupted in the database after it was cached is refused.
	sc := s.clients["tpp"]
	sc.Metadata = json.RawMessage(`{"token_endpoint_auth_method":"none"}`)
	s.clients["tpp"] = sc
	if _, err := reg1.Get(ctx, "tpp"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get of corrupted record = %v, want ErrCorrupt", err)
	}
	if err := reg2.Remove(ctx, "tpp"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg1.Get(ctx, "tpp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after removal on the other node = %v, want ErrNotFound", err)
	}
}

var _ Store = (*store.Store)(nil)

// newCachedRegistry is a registry with a read cache of ttl on a fake clock.
func newCachedRegistry(s Store, ttl time.Duration) (*Registry, *clock.Fake) {
	clk := clock.NewFake(fixedTime)
	return NewRegistry(s, RegistryOptions{CacheTTL: ttl, Clock: clk}), clk
}

// TestRegistryCache: within the TTL, Get answers from the cache (one store read) with a copy
// of its own; a change on another node is seen once the entry expires, a change through the
// registry itself at once; failed lookups are never cached.
func TestRegistryCache(t *testing.T) {
	ctx := context.Background()
	const ttl = 5 * time.Second
	tpp := func(dns string) *Client {
		return &Client{ID: "tpp", TokenEndpointAuthMethod: AuthTLSClientAuth, TLSClientAuthSANDNS: dns,
			GrantTypes: []string{GrantClientCredentials}, Scope: ScopeList{"accounts"}}
	}
	get := func(t *testing.T, reg *Registry, want string) {
		t.Helper()
		c, err := reg.Get(ctx, "tpp")
		if err != nil || c.TLSClientAuthSANDNS != want {
			t.Fatalf("Get = %v, %v; want the client with SAN %q", c, err, want)
		}
	}

	t.Run("hits, copies and expiry", func(t *testing.T) {
		s := newFakeStore()
		reg, clk := newCachedRegistry(s, ttl)
		other, _ := newTestRegistry(s) // another node
		if _, err := other.Add(ctx, tpp("a.example")); err != nil {
			t.Fatal(err)
		}
		first, err := reg.Get(ctx, "tpp")
		if err != nil {
			t.Fatal(err)
		}
		first.Scope[0] = "payments" // the caller's copy
		first.TLSClientAuthSANDNS = "evil.example"
		reads := s.getCount()
		get(t, reg, "a.example")
		if again, _ := reg.Get(ctx, "tpp"); again.Scope[0] != "accounts" {
			t.Errorf("a caller's change leaked into the cache: %v", again.Scope)
		}
		if n := s.getCount() - reads; n != 0 {
			t.Errorf("%d store reads within the TTL, want 0", n)
		}

		// Another node re-keys the client: unseen until the entry expires.
		if _, err := other.Update(ctx, tpp("b.example")); err != nil {
			t.Fatal(err)
		}
		clk.Advance(ttl - time.Millisecond)
		get(t, reg, "a.example")
		clk.Advance(time.Millisecond)
		get(t, reg, "b.example")

		// Another node removes it: it authenticates here for at most the TTL.
		if err := other.Remove(ctx, "tpp"); err != nil {
			t.Fatal(err)
		}
		get(t, reg, "b.example")
		clk.Advance(ttl)
		if _, err := reg.Get(ctx, "tpp"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after the TTL of a client removed elsewhere = %v, want ErrNotFound", err)
		}
	})

	t.Run("local changes are seen at once", func(t *testing.T) {
		s := newFakeStore()
		reg, _ := newCachedRegistry(s, ttl)
		if _, err := reg.Add(ctx, tpp("a.example")); err != nil {
			t.Fatal(err)
		}
		get(t, reg, "a.example")
		if _, err := reg.Update(ctx, tpp("b.example")); err != nil {
			t.Fatal(err)
		}
		get(t, reg, "b.example")
		if err := reg.Remove(ctx, "tpp"); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Get(ctx, "tpp"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Remove = %v, want ErrNotFound", err)
		}
	})

	t.Run("failures are not cached", func(t *testing.T) {
		s := newFakeStore()
		reg, _ := newCachedRegistry(s, ttl)
		other, _ := newTestRegistry(s)
		if _, err := reg.Get(ctx, "tpp"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of an unknown client = %v, want ErrNotFound", err)
		}
		if _, err := other.Add(ctx, tpp("a.example")); err != nil {
			t.Fatal(err)
		}
		get(t, reg, "a.example") // registered elsewhere: found at once

		s2 := newFakeStore()
		reg2, _ := newCachedRegistry(s2, ttl)
		s2.fail = errDatabaseDown
		if _, err := reg2.Get(ctx, "tpp"); !errors.Is(err, errDatabaseDown) {
			t.Fatalf("Get with the store down = %v, want the store error", err)
		}
		s2.fail = nil
		if _, err := reg2.Add(ctx, tpp("a.example")); err != nil {
			t.Fatal(err)
		}
		get(t, reg2, "a.example")

		// A corrupt record is refused every time, not remembered as anything.
		s3 := newFakeStore()
		s3.clients["tpp"] = store.Client{ID: "tpp", Metadata: json.RawMessage(`{"token_endpoint_auth_method":"none"}`)}
		reg3, _ := newCachedRegistry(s3, ttl)
		for range 2 {
			if _, err := reg3.Get(ctx, "tpp"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get of a corrupt record = %v, want ErrCorrupt", err)
			}
		}
		if n := s3.getCount(); n != 2 {
			t.Errorf("%d store reads for two Gets of a corrupt record, want 2", n)
		}
	})

	t.Run("TTL is clamped", func(t *testing.T) {
		s := newFakeStore()
		reg, clk := newCachedRegistry(s, time.Hour)
		other, _ := newTestRegistry(s)
		if _, err := other.Add(ctx, tpp("a.example")); err != nil {
			t.Fatal(err)
		}
		get(t, reg, "a.example")
		if _, err := other.Update(ctx, tpp("b.example")); err != nil {
			t.Fatal(err)
		}
		clk.Advance(MaxCacheTTL)
		get(t, reg, "b.example")
	})

	t.Run("no cache without a TTL", func(t *testing.T) {
		s := newFakeStore()
		reg, _ := newCachedRegistry(s, 0)
		if _, err := reg.Add(ctx, tpp("a.example")); err != nil {
			t.Fatal(err)
		}
		reads := s.getCount()
		get(t, reg, "a.example")
		get(t, reg, "a.example")
		if n := s.getCount() - reads; n != 2 {
			t.Errorf("%d store reads for two Gets without a cache, want 2", n)
		}
	})
}

// TestRegistryCacheRemoveDuringRead: a Get that read the store before a local Remove
// cannot put the removed client back into the cache.
func TestRegistryCacheRemoveDuringRead(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	reg, _ := newCachedRegistry(s, DefaultCacheTTL)
	if _, err := reg.Add(ctx, &Client{ID: "tpp", TokenEndpointAuthMethod: AuthTLSClientAuth, TLSClientAuthSANDNS: "a.example",
		GrantTypes: []string{GrantClientCredentials}}); err != nil {
		t.Fatal(err)
	}
	reg.invalidate("tpp") // the entry Add cached is gone: the next Get reads the store

	read, resume := make(chan struct{}), make(chan struct{})
	s.afterGet = func() { close(read); <-resume }
	done := make(chan error, 1)
	go func() {
		c, err := reg.Get(ctx, "tpp") // reads the client, then waits
		if err == nil && c.ID != "tpp" {
			err = errors.New("wrong client")
		}
		done <- err
	}()
	<-read
	s.afterGet = nil
	if err := reg.Remove(ctx, "tpp"); err != nil {
		t.Fatal(err)
	}
	close(resume)
	if err := <-done; err != nil {
		t.Fatalf("the Get in flight = %v, want the client it read", err)
	}
	if _, err := reg.Get(ctx, "tpp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v, want ErrNotFound: a read in flight re-cached the removed client", err)
	}
}
