package clientauth

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// openTwice opens two independent stores (connection pools) on one database, as two
// Portcullis processes would, and migrates it once.
func openTwice(t *testing.T, url string) (*store.Store, *store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out [2]*store.Store
	for i := range out {
		s, err := store.Open(ctx, url, store.Options{MaxOpenConns: 4})
		if err != nil {
			t.Fatalf("store.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	if err := out[0].Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return out[0], out[1]
}

// TestReplayAcrossProcesses: two Authenticators ("nodes") with their own store connections
// and client registries on one database. A client registered through one node authenticates
// on the other, and an assertion accepted by one node is a replay on the other — also when
// both receive it at the same moment (exactly one of the concurrent requests succeeds).
func TestReplayAcrossProcesses(t *testing.T) {
	backends := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "portcullis.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s1, s2 := openTwice(t, b.url(t))
			ctx := context.Background()
			key := newEC(t)
			reg1 := client.NewRegistry(s1, client.RegistryOptions{})
			reg2 := client.NewRegistry(s2, client.RegistryOptions{})
			if _, err := reg1.Add(ctx, &client.Client{
				ID: "tpp", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, Profile: client.ProfileFAPI2,
				JWKS: jwksJSON(t, ecJWK(&key.PublicKey, "k1")), GrantTypes: []string{client.GrantClientCredentials},
			}); err != nil {
				t.Fatalf("register: %v", err)
			}
			var nodes []*Authenticator
			for _, pair := range []struct {
				reg *client.Registry
				s   *store.Store
			}{{reg1, s1}, {reg2, s2}} {
				a, err := New(Options{Clients: pair.reg, JTIs: pair.s, Issuer: issuer, Clock: clock.Real{}})
				if err != nil {
					t.Fatal(err)
				}
				nodes = append(nodes, a)
			}
			sign := func() Request {
				now := time.Now().Unix()
				tok := testSigner{alg: "ES256", kid: "k1", key: key}.sign(t, map[string]any{
					"iss": "tpp", "sub": "tpp", "aud": issuer, "iat": now, "exp": now + 60, "jti": newJTI(),
				})
				return Request{Form: assertionForm(tok, ""), IdentityErr: noCert, Endpoint: EndpointToken}
			}

			// Sequential: accepted on node 1, replayed on node 2, and again on node 1.
			req := sign()
			if _, err := nodes[0].Authenticate(ctx, req); err != nil {
				t.Fatalf("node 1: %v", err)
			}
			for i, n := range []*Authenticator{nodes[1], nodes[0]} {
				res, err := n.Authenticate(ctx, req)
				checkFailure(t, res, err, ErrReplay)
				if !errors.Is(err, store.ErrReplay) {
					t.Errorf("replay %d: cause %v is not store.ErrReplay", i, err)
				}
			}

			// Concurrent: the same assertion on both nodes at once, four times each.
			req = sign()
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			start := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					_, errs[i] = nodes[i%2].Authenticate(ctx, req)
				}(i)
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, ErrReplay):
					t.Errorf("concurrent use: %v, want nil or ErrReplay", err)
				}
			}
			if ok != 1 {
				t.Errorf("%d of %d concurrent uses succeeded, want exactly 1", ok, n)
			}
		})
	}
}

// The production types satisfy the consumer interfaces.
var (
	_ ClientGetter  = (*client.Registry)(nil)
	_ JTIStore      = (*store.Store)(nil)
	_ RemoteKeySets = (*jose.RemoteJWKS)(nil)
)
