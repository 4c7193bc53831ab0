package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/internal/jose"
)

// TestSectorIdentifierURI: a pairwise client's sector_identifier_uri is fetched (over https,
// by the jwks_uri fetcher) and must list every redirect_uri (OIDC Registration §5).
func TestSectorIdentifierURI(t *testing.T) {
	docs := map[string]string{
		"/all":     `["https://a.tpp.example/cb","https://b.tpp.example/cb"]`,
		"/partial": `["https://a.tpp.example/cb"]`,
		"/object":  `{"redirect_uris":["https://a.tpp.example/cb"]}`,
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, d)
	}))
	defer srv.Close()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	fetcher := jose.NewRemoteJWKS(jose.RemoteJWKSOptions{AllowPrivateNetworks: true, RootCAs: pool})
	c := func(id, sector string) *Client {
		return &Client{ID: id, TokenEndpointAuthMethod: AuthPrivateKeyJWT, JWKS: testJWKS(t),
			GrantTypes: []string{GrantAuthorizationCode}, SubjectType: SubjectTypePairwise,
			RedirectURIs:        []string{"https://a.tpp.example/cb", "https://b.tpp.example/cb"},
			SectorIdentifierURI: sector}
	}
	ctx := context.Background()
	reg := NewRegistry(newFakeStore(), RegistryOptions{Sectors: fetcher})
	if _, err := reg.Add(ctx, c("ok", srv.URL+"/all")); err != nil {
		t.Fatalf("a sector listing every redirect_uri: %v", err)
	}
	for _, tc := range []struct{ name, sector string }{
		{"a redirect_uri not listed", srv.URL + "/partial"},
		{"not an array", srv.URL + "/object"},
		{"not found", srv.URL + "/missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reg.Add(ctx, c("bad", tc.sector))
			var me *MetadataError
			if !errors.As(err, &me) || me.Field != "sector_identifier_uri" {
				t.Fatalf("Add = %v, want invalid_client_metadata on sector_identifier_uri", err)
			}
		})
	}
	// Without a fetcher the URI cannot be checked: refused.
	if _, err := NewRegistry(newFakeStore(), RegistryOptions{}).Add(ctx, c("unchecked", srv.URL+"/all")); err == nil {
		t.Error("a sector_identifier_uri that could not be checked was accepted")
	}
	// Pairwise without a sector_identifier_uri: the redirect URIs must share one host.
	if _, err := reg.Add(ctx, c("two-hosts", "")); err == nil {
		t.Error("pairwise client with two redirect hosts and no sector_identifier_uri accepted")
	}
}
