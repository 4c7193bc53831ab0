package app_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// jwksServer is a TPP's jwks_uri: an https server with a certificate of the dev server's
// sandbox CA, which the test stops and starts again on the same address.
type jwksServer struct {
	t    *testing.T
	cert tls.Certificate
	body []byte
	addr string

	mu  sync.Mutex
	srv *http.Server
}

func newJWKSServer(t *testing.T, a *app.App, body []byte) *jwksServer {
	t.Helper()
	issued, err := a.Sandbox.Issue(sandbox.KindServer, sandbox.IssueOptions{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(issued.CertPEM, issued.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	s := &jwksServer{t: t, cert: cert, body: body, addr: "127.0.0.1:0"}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *jwksServer) url() string { return "https://" + s.addr + "/jwks.json" }

// start serves on s.addr (the port of the first start once started).
func (s *jwksServer) start() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("jwks_uri listen: %v", err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(s.body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{s.cert}})); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.t.Errorf("jwks_uri: %v", err)
		}
	}()
}

// stop closes the listener and every connection: the URI is down.
func (s *jwksServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// TestFaultClientJWKSURIDown: a private_key_jwt client whose keys are at a jwks_uri that is
// down. As clientauth documents (ErrKeysUnavailable: "could not check" — the client's keys,
// not ours), /token answers 401 invalid_client, and the refused assertion's jti is not
// consumed: once the URI is back (after the fetch-error back-off), the very same assertion
// is accepted, and only once. While the URI is down no token is issued.
func TestFaultClientJWKSURIDown(t *testing.T) {
	a := startApp(t, nil)
	issuer := config.Default(true).Issuer
	key := newSigningKey(t, "faults-jwks-1")
	uri := newJWKSServer(t, a, key.jwks(t))
	qwac, _ := tppCert(t, a, "PSDGB-FCA-700002")
	register(t, a, &client.Client{
		ID: "tpp-faults-jwks", TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlg: "ES256",
		JWKSURI: uri.url(), GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"accounts"},
		Profile: client.ProfileFAPI2,
	})
	hc := mtlsClient(t, a.Sandbox.RootCertificate(), qwac)
	assertion := func() string {
		now := time.Now()
		return key.sign(t, "", map[string]any{
			"iss": "tpp-faults-jwks", "sub": "tpp-faults-jwks", "aud": issuer,
			"jti": randomString(t), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		})
	}
	postAssertion := func(jwt string) tokenResponse {
		t.Helper()
		form := url.Values{
			"grant_type": {"client_credentials"}, "scope": {"accounts"}, "client_id": {"tpp-faults-jwks"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {jwt},
		}
		resp, err := hc.PostForm("https://"+a.HTTPSAddr().String()+"/token", form)
		if err != nil {
			t.Fatalf("POST /token: %v", err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("token response %d: %v", resp.StatusCode, err)
		}
		return tokenResponse{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: body}
	}

	// Down from the start: nothing cached.
	uri.stop()
	held := assertion()
	if r := postAssertion(held); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
		t.Fatalf("jwks_uri down: /token %d %v, want 401 invalid_client", r.status, r.body)
	}
	if r := postAssertion(assertion()); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
		t.Fatalf("jwks_uri down (second request, within the error back-off): /token %d %v, want 401 invalid_client", r.status, r.body)
	}

	// Back: within the fetch-error back-off (5 s) plus a margin, the same assertion — its
	// jti not burnt by the refusals — gets a token.
	uri.start()
	var got tokenResponse
	start := time.Now()
	if !eventually(15*time.Second, func() bool {
		got = postAssertion(held)
		return got.status == http.StatusOK
	}) {
		t.Fatalf("jwks_uri back: /token still %d %v", got.status, got.body)
	}
	t.Logf("jwks_uri back: the held assertion was accepted after %v", time.Since(start))
	if got.body["access_token"] == nil {
		t.Fatalf("no access token: %v", got.body)
	}
	// Accepted once only.
	if r := postAssertion(held); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
		t.Errorf("the same assertion again: /token %d %v, want 401 invalid_client (jti replay)", r.status, r.body)
	}

	// Down again with the key set cached: the cached set keeps serving (its lifetime is
	// bounded by the jwks TTL; Cache-Control no-store means the minimum, 1 min).
	uri.stop()
	if r := postAssertion(assertion()); r.status != http.StatusOK {
		t.Errorf("jwks_uri down with the set cached: /token %d %v, want 200", r.status, r.body)
	}
}
