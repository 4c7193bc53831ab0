package clientauth

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki"
)

func TestKeyResolverKeys(t *testing.T) {
	ctx := context.Background()
	js := newJWKSServer(t)
	pool := x509.NewCertPool()
	pool.AddCert(js.srv.Certificate())
	f := newFixture(t)
	remote := jose.NewRemoteJWKS(jose.RemoteJWKSOptions{Clock: f.clk, RootCAs: pool, AllowPrivateNetworks: true})
	key := newEC(t)
	doc := jwksJSON(t, ecJWK(&key.PublicKey, "k1"))
	js.set("/k", doc)

	tests := []struct {
		name   string
		remote RemoteKeySets
		c      client.Client
		want   error // nil: one key, kid k1
	}{
		{name: "jwks by value", remote: remote, c: client.Client{JWKS: doc}},
		{name: "jwks by value without a remote cache", c: client.Client{JWKS: doc}},
		{name: "jwks_uri", remote: remote, c: client.Client{JWKSURI: js.srv.URL + "/k"}},
		{name: "jwks by value wins over jwks_uri", remote: remote, c: client.Client{JWKS: doc, JWKSURI: js.srv.URL + "/broken"}},
		{name: "jwks_uri unavailable", remote: remote, c: client.Client{JWKSURI: js.srv.URL + "/broken"}, want: jose.ErrJWKSFetch},
		{name: "jwks_uri without a remote cache", c: client.Client{JWKSURI: js.srv.URL + "/k"}, want: ErrKeysUnavailable},
		{name: "malformed jwks", remote: remote, c: client.Client{JWKS: []byte(`{"keys":`)}, want: ErrKeysUnavailable},
		{name: "no keys registered", remote: remote, c: client.Client{}, want: ErrKeysUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := NewKeyResolver(tt.remote).Keys(ctx, &tt.c)
			if tt.want != nil {
				if !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, tt.want) {
					t.Fatalf("Keys = %v, want an error matching ErrKeysUnavailable and %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Keys: %v", err)
			}
			if got := keys.Keys(); len(got) != 1 || got[0].KeyID() != "k1" || !got[0].Equal(&key.PublicKey) {
				t.Fatalf("Keys() = %v, want the registered key k1", got)
			}
			k, err := keys.ResolveKey(ctx, jose.Header{Alg: "ES256", KeyID: "k1"})
			if err != nil || !k.Equal(&key.PublicKey) {
				t.Fatalf("ResolveKey(k1) = %v, %v", k, err)
			}
		})
	}
}

// TestKeyResolverShared checks that both authentication methods resolve keys through the one
// KeyResolver passed in Options.Keys: a private_key_jwt client and a
// self_signed_tls_client_auth client behind the same jwks_uri cost one fetch between them.
func TestKeyResolverShared(t *testing.T) {
	ctx := context.Background()
	f, js := remoteFixture(t)
	pool := x509.NewCertPool()
	pool.AddCert(js.srv.Certificate())
	remote := jose.NewRemoteJWKS(jose.RemoteJWKSOptions{Clock: f.clk, RootCAs: pool, AllowPrivateNetworks: true})
	keys := NewKeyResolver(remote)
	auth, err := New(Options{Clients: f.clients, JTIs: f.jtis, Keys: keys, Clock: f.clk, Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	signer := newEC(t)
	js.set("/shared", jwksJSON(t, ecJWK(&signer.PublicKey, "k1"), ecJWK(&f.selfKey.PublicKey, "s1")))
	f.clients.clients["uri-client"].JWKSURI = js.srv.URL + "/shared"
	f.clients.clients["uri-self-client"].JWKSURI = js.srv.URL + "/shared"

	tok := testSigner{alg: "ES256", kid: "k1", key: signer}.sign(t, f.claims("uri-client", issuer))
	if _, err := auth.Authenticate(ctx, Request{Form: assertionForm(tok, ""), IdentityErr: noCert, Endpoint: EndpointToken}); err != nil {
		t.Fatalf("private_key_jwt: %v", err)
	}
	if _, err := auth.Authenticate(ctx, Request{Form: idForm("uri-self-client"),
		IdentityErr:    &pki.ValidationError{Reason: pki.ErrUnknownAuthority},
		PresentedChain: []*x509.Certificate{f.selfCert}, Endpoint: EndpointToken}); err != nil {
		t.Fatalf("self_signed_tls_client_auth: %v", err)
	}
	if _, err := keys.Keys(ctx, f.clients.clients["uri-client"]); err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if n := js.count("/shared"); n != 1 {
		t.Errorf("%d fetches of the shared set, want 1", n)
	}
}
