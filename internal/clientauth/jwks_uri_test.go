package clientauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki"
)

// jwksServer serves client key sets over TLS on loopback and counts the fetches per path.
type jwksServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	bodies  map[string][]byte
	fetches map[string]int
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{bodies: map[string][]byte{}, fetches: map[string]int{}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body, ok := s.bodies[r.URL.Path]
		s.fetches[r.URL.Path]++
		s.mu.Unlock()
		if !ok {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) set(path string, body []byte) {
	s.mu.Lock()
	s.bodies[path] = body
	s.mu.Unlock()
}

func (s *jwksServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[path]
}

// remoteFixture is the standard fixture plus clients whose keys are behind a jwks_uri.
func remoteFixture(t *testing.T) (*fixture, *jwksServer) {
	t.Helper()
	f := newFixture(t)
	js := newJWKSServer(t)
	pool := x509.NewCertPool()
	pool.AddCert(js.srv.Certificate())
	remote := jose.NewRemoteJWKS(jose.RemoteJWKSOptions{Clock: f.clk, RootCAs: pool, AllowPrivateNetworks: true})
	for _, c := range []*client.Client{
		{ID: "uri-client", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, Profile: client.ProfileFAPI2, JWKSURI: js.srv.URL + "/uri-client"},
		{ID: "broken-client", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKSURI: js.srv.URL + "/broken"},
		{ID: "uri-self-client", TokenEndpointAuthMethod: client.AuthSelfSignedTLSClientAuth, JWKSURI: js.srv.URL + "/uri-self"},
	} {
		c.GrantTypes = []string{client.GrantClientCredentials}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		f.clients.clients[c.ID] = c
	}
	var err error
	f.auth, err = New(Options{Clients: f.clients, JTIs: f.jtis, JWKS: remote, Clock: f.clk, Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	return f, js
}

func TestJWKSURIRotation(t *testing.T) {
	f, js := remoteFixture(t)
	ctx := context.Background()
	k1, k2 := newEC(t), newEC(t)
	js.set("/uri-client", jwksJSON(t, ecJWK(&k1.PublicKey, "k1")))
	auth := func(kid string, key *ecdsa.PrivateKey) error {
		tok := testSigner{alg: "ES256", kid: kid, key: key}.sign(t, f.claims("uri-client", issuer))
		_, err := f.auth.Authenticate(ctx, Request{Form: assertionForm(tok, ""), IdentityErr: noCert, Endpoint: EndpointToken})
		return err
	}

	steps := []struct {
		name        string
		advance     time.Duration
		kid         string
		key         *ecdsa.PrivateKey
		rotate      bool // the client publishes k2 instead of k1 before this step
		want        error
		wantFetches int
	}{
		{name: "first use fetches", kid: "k1", key: k1, wantFetches: 1},
		{name: "second use is cached", advance: 20 * time.Second, kid: "k1", key: k1, wantFetches: 1},
		{name: "rotated key: unknown kid refetches once", advance: 20 * time.Second, kid: "k2", key: k2, rotate: true, wantFetches: 2},
		{name: "old key after rotation", kid: "k1", key: k1, want: ErrUnknownKey, wantFetches: 2},
		{name: "another unknown kid right after: no refetch", kid: "k3", key: newEC(t), want: ErrUnknownKey, wantFetches: 2},
		{name: "new key keeps working", kid: "k2", key: k2, wantFetches: 2},
		{name: "right kid, wrong key", kid: "k2", key: k1, want: ErrBadSignature, wantFetches: 2},
	}
	for _, st := range steps {
		if st.rotate {
			js.set("/uri-client", jwksJSON(t, ecJWK(&k2.PublicKey, "k2")))
		}
		f.clk.Advance(st.advance)
		err := auth(st.kid, st.key)
		if st.want == nil && err != nil {
			t.Errorf("%s: Authenticate: %v", st.name, err)
		}
		if st.want != nil {
			checkFailure(t, nil, err, st.want)
		}
		if n := js.count("/uri-client"); n != st.wantFetches {
			t.Errorf("%s: %d fetches, want %d", st.name, n, st.wantFetches)
		}
	}
}

func TestJWKSURIUnavailable(t *testing.T) {
	f, js := remoteFixture(t)
	ctx := context.Background()
	js.set("/good", jwksJSON(t, ecJWK(&newEC(t).PublicKey, "k1")))
	js.set("/big", []byte(`{"keys":[],"pad":"`+strings.Repeat("x", jose.MaxJWKSSize)+`"}`))
	f.clients.clients["broken-client"].JWKSURI = js.srv.URL + "/broken"
	tests := []struct {
		name string
		uri  string
	}{
		{"server error", js.srv.URL + "/broken"},
		{"oversize set", js.srv.URL + "/big"},
		// The same server under a name its certificate does not carry: refused in TLS, although
		// the path serves a good set (with it, the result would be ErrBadSignature).
		{"untrusted TLS certificate", strings.Replace(js.srv.URL, "https://127.0.0.1", "https://localhost", 1) + "/good"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clients.clients["broken-client"].JWKSURI = tt.uri
			tok := testSigner{alg: "ES256", kid: "k1", key: newEC(t)}.sign(t, f.claims("broken-client", issuer))
			res, err := f.auth.Authenticate(ctx, Request{Form: assertionForm(tok, ""), IdentityErr: noCert, Endpoint: EndpointToken})
			checkFailure(t, res, err, ErrKeysUnavailable)
		})
	}

	// Without a remote key cache, jwks_uri clients cannot authenticate by key.
	noRemote, err := New(Options{Clients: f.clients, JTIs: f.jtis, Clock: f.clk, Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	tok := testSigner{alg: "ES256", kid: "k1", key: newEC(t)}.sign(t, f.claims("uri-client", issuer))
	res, err := noRemote.Authenticate(ctx, Request{Form: assertionForm(tok, ""), IdentityErr: noCert, Endpoint: EndpointToken})
	checkFailure(t, res, err, ErrKeysUnavailable)
}

func TestSelfSignedWithJWKSURI(t *testing.T) {
	f, js := remoteFixture(t)
	ctx := context.Background()
	// The client's set also holds the certificate as x5c, as RFC 8705 §2.2 clients publish it.
	jwk := ecJWK(&f.selfKey.PublicKey, "s1")
	jwk["x5c"] = []string{b64std(f.selfCert.Raw)}
	js.set("/uri-self", jwksJSON(t, jwk))
	req := Request{Form: idForm("uri-self-client"), IdentityErr: &pki.ValidationError{Reason: pki.ErrUnknownAuthority},
		PresentedChain: []*x509.Certificate{f.selfCert}, Endpoint: EndpointToken}
	res, err := f.auth.Authenticate(ctx, req)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if res.Certificate != f.selfCert || res.Identity != nil || res.Method != client.AuthSelfSignedTLSClientAuth {
		t.Errorf("Authenticate = %+v", res)
	}
	// A certificate for a key the set does not hold: no refetch per unknown certificate.
	other := selfSignedCert(t, newEC(t), epoch.Add(-time.Hour), epoch.Add(time.Hour))
	req.PresentedChain = []*x509.Certificate{other}
	for i := 0; i < 3; i++ {
		res, err = f.auth.Authenticate(ctx, req)
		checkFailure(t, res, err, ErrSubjectMismatch)
	}
	if n := js.count("/uri-self"); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

// b64std is the standard, padded base64 of x5c (RFC 7517 §4.7).
func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestJWKSURIRevokedKeys: a dynamically registered client's key listed at its
// software_jwks_revoked_endpoint no longer authenticates (OB-DCR-12), others still do, and
// an unreadable revocation list makes the client's keys unavailable.
func TestJWKSURIRevokedKeys(t *testing.T) {
	f, js := remoteFixture(t)
	ctx := context.Background()
	k1, k2 := newEC(t), newEC(t)
	js.set("/uri-client", jwksJSON(t, ecJWK(&k1.PublicKey, "k1"), ecJWK(&k2.PublicKey, "k2")))
	js.set("/revoked", jwksJSON(t, ecJWK(&k1.PublicKey, "k1")))
	f.clients.clients["uri-client"].Registration = &client.Registration{SSAIssuer: "Test Directory", SoftwareJWKSRevokedEndpoint: js.srv.URL + "/revoked"}
	auth := func(kid string, key *ecdsa.PrivateKey) error {
		tok := testSigner{alg: "ES256", kid: kid, key: key}.sign(t, f.claims("uri-client", issuer))
		_, err := f.auth.Authenticate(ctx, Request{Form: assertionForm(tok, ""), IdentityErr: noCert, Endpoint: EndpointToken})
		return err
	}
	checkFailure(t, nil, auth("k1", k1), ErrUnknownKey)
	if err := auth("k2", k2); err != nil {
		t.Fatalf("key not revoked refused: %v", err)
	}
	keys, err := NewKeyResolver(jose.NewRemoteJWKS(jose.RemoteJWKSOptions{RootCAs: certPool(js), AllowPrivateNetworks: true})).Keys(ctx, f.clients.clients["uri-client"])
	if err != nil || len(keys.Keys()) != 1 || keys.Keys()[0].KeyID() != "k2" {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	f.clients.clients["uri-client"].Registration.SoftwareJWKSRevokedEndpoint = js.srv.URL + "/broken"
	checkFailure(t, nil, auth("k2", k2), ErrKeysUnavailable)
}

func certPool(js *jwksServer) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(js.srv.Certificate())
	return pool
}
