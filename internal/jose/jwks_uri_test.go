package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// jwksServer serves whatever body/status/header the test sets, counting hits.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int32

	mu     sync.Mutex
	status int
	body   []byte
	cc     string
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK, body: body, cc: "max-age=300"}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.cc != "" {
			w.Header().Set("Cache-Control", s.cc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(s.status)
		w.Write(s.body)
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected in some tests
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, body []byte, cc string) {
	s.mu.Lock()
	s.status, s.body, s.cc = status, body, cc
	s.mu.Unlock()
}

func (s *jwksServer) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}

func testRemote(srv *jwksServer, clk clock.Clock, mod func(*RemoteJWKSOptions)) *RemoteJWKS {
	o := RemoteJWKSOptions{Clock: clk, RootCAs: srv.roots(), AllowPrivateNetworks: true}
	if mod != nil {
		mod(&o)
	}
	return NewRemoteJWKS(o)
}

func TestRemoteJWKSCache(t *testing.T) {
	c := newClientKeys(t)
	srv := newJWKSServer(t, clientSet(t, "c-es", c.es.Public()))
	srv.set(http.StatusOK, clientSet(t, "c-es", c.es.Public()), "public, max-age=120")
	clk := fakeClock()
	r := testRemote(srv, clk, nil)
	ctx := context.Background()

	tok := craft(`{"alg":"ES256","kid":"c-es"}`, claims, signWith(t, "ES256", c.es))
	for range 3 {
		if _, err := VerifyJWT(ctx, tok, r.Resolver(srv.URL), VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	clk.Advance(119 * time.Second)
	if _, err := r.Get(ctx, srv.URL); err != nil || srv.hits.Load() != 1 {
		t.Fatalf("refetched before max-age: hits %d err %v", srv.hits.Load(), err)
	}
	clk.Advance(2 * time.Second)
	if _, err := r.Get(ctx, srv.URL); err != nil || srv.hits.Load() != 2 {
		t.Fatalf("not refetched after max-age: hits %d err %v", srv.hits.Load(), err)
	}
	r.Invalidate(srv.URL)
	if _, err := r.Get(ctx, srv.URL); err != nil || srv.hits.Load() != 3 {
		t.Fatalf("not refetched after Invalidate: hits %d err %v", srv.hits.Load(), err)
	}
}

// A client that rotated: an unknown kid causes one refetch, rate-limited.
func TestRemoteJWKSUnknownKid(t *testing.T) {
	c := newClientKeys(t)
	newKey := freshES256(t, 0)
	newPriv := newKey.signer.(*ecdsa.PrivateKey)
	srv := newJWKSServer(t, clientSet(t, "old", c.es.Public()))
	clk := fakeClock()
	r := testRemote(srv, clk, nil)
	ctx := context.Background()
	res := r.Resolver(srv.URL)

	tokNew := craft(`{"alg":"ES256","kid":"new"}`, claims, signWith(t, "ES256", newPriv))
	if _, err := VerifyJWT(ctx, tokNew, res, VerifyOptions{}); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches; an unknown kid right after a fetch must not refetch", n)
	}

	srv.set(http.StatusOK, clientSet(t, "old", c.es.Public(), "new", newPriv.Public()), "max-age=300")
	clk.Advance(DefaultJWKSRefetchInterval - time.Second)
	if _, err := VerifyJWT(ctx, tokNew, res, VerifyOptions{}); !errors.Is(err, ErrUnknownKey) || srv.hits.Load() != 1 {
		t.Fatalf("refetch inside the interval: hits %d err %v", srv.hits.Load(), err)
	}
	clk.Advance(time.Second)
	if _, err := VerifyJWT(ctx, tokNew, res, VerifyOptions{}); err != nil {
		t.Fatalf("after refetch: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// Another unknown kid straight away: no fetch.
	tokOther := craft(`{"alg":"ES256","kid":"other"}`, claims, signWith(t, "ES256", newPriv))
	if _, err := VerifyJWT(ctx, tokOther, res, VerifyOptions{}); !errors.Is(err, ErrUnknownKey) || srv.hits.Load() != 2 {
		t.Fatalf("hits %d err %v", srv.hits.Load(), err)
	}
}

func TestRemoteJWKSRefusals(t *testing.T) {
	c := newClientKeys(t)
	good := clientSet(t, "c-es", c.es.Public())
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(good) }))
	t.Cleanup(plain.Close)
	tests := []struct {
		name    string
		status  int
		body    []byte
		url     func(srv *jwksServer) string
		opts    func(*RemoteJWKSOptions)
		wantErr []error
	}{
		{name: "http URL", url: func(*jwksServer) string { return plain.URL }, wantErr: []error{ErrJWKSFetch}},
		{name: "loopback without AllowPrivateNetworks", opts: func(o *RemoteJWKSOptions) { o.AllowPrivateNetworks = false }, wantErr: []error{ErrJWKSFetch}},
		{name: "untrusted certificate", opts: func(o *RemoteJWKSOptions) { o.RootCAs = x509.NewCertPool() }, wantErr: []error{ErrJWKSFetch}},
		{name: "status 500", status: 500, wantErr: []error{ErrJWKSFetch}},
		{name: "body too large", body: []byte(`{"keys":[],"x":"` + strings.Repeat("a", MaxJWKSSize) + `"}`), wantErr: []error{ErrJWKSFetch, ErrTooLarge}},
		{name: "private key", body: setOf(t, privateJWK(t, c.es)), wantErr: []error{ErrJWKSFetch, ErrPrivateKeyInJWKS}},
		{name: "not a JWK Set", body: []byte(`<html>`), wantErr: []error{ErrJWKSFetch, ErrMalformed}},
		{name: "redirect to http", url: func(srv *jwksServer) string { return srv.URL + "/redirect" }, wantErr: []error{ErrJWKSFetch}},
		{name: "URL with fragment", url: func(srv *jwksServer) string { return srv.URL + "#x" }, wantErr: []error{ErrJWKSFetch}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, good)
			if tc.status != 0 || tc.body != nil {
				st, body := tc.status, tc.body
				if st == 0 {
					st = 200
				}
				srv.set(st, body, "")
			}
			if tc.name == "redirect to http" {
				srv.Config.Handler = http.RedirectHandler(plain.URL, http.StatusFound)
			}
			r := testRemote(srv, fakeClock(), tc.opts)
			url := srv.URL
			if tc.url != nil {
				url = tc.url(srv)
			}
			set, err := r.Get(context.Background(), url)
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
			if set != nil {
				t.Fatal("set returned with an error")
			}
		})
	}
}

func TestRemoteJWKSTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	r := NewRemoteJWKS(RemoteJWKSOptions{RootCAs: p, AllowPrivateNetworks: true, Timeout: 100 * time.Millisecond})
	if _, err := r.Get(context.Background(), srv.URL); !errors.Is(err, ErrJWKSFetch) {
		t.Fatalf("err = %v, want ErrJWKSFetch", err)
	}
}

func TestRemoteJWKSFailureHandling(t *testing.T) {
	c := newClientKeys(t)
	good := clientSet(t, "c-es", c.es.Public())
	for _, stale := range []time.Duration{0, 10 * time.Minute} {
		t.Run("StaleIfError="+stale.String(), func(t *testing.T) {
			srv := newJWKSServer(t, good)
			srv.set(200, good, "max-age=60")
			clk := fakeClock()
			r := testRemote(srv, clk, func(o *RemoteJWKSOptions) { o.StaleIfError = stale })
			ctx := context.Background()
			if _, err := r.Get(ctx, srv.URL); err != nil {
				t.Fatal(err)
			}
			srv.set(503, nil, "")
			clk.Advance(61 * time.Second)
			set, err := r.Get(ctx, srv.URL)
			if stale == 0 {
				if !errors.Is(err, ErrJWKSFetch) || set != nil {
					t.Fatalf("expired set used without StaleIfError: %v", err)
				}
			} else if err != nil || set == nil || set.Len() != 1 {
				t.Fatalf("stale set not served: %v", err)
			}
			// Within ErrorBackoff the failure is remembered, not retried.
			hits := srv.hits.Load()
			r.Get(ctx, srv.URL)
			if srv.hits.Load() != hits {
				t.Fatal("retried within ErrorBackoff")
			}
			clk.Advance(DefaultJWKSErrorBackoff)
			srv.set(200, good, "")
			if _, err := r.Get(ctx, srv.URL); err != nil || srv.hits.Load() != hits+1 {
				t.Fatalf("no recovery after backoff: %v", err)
			}
		})
	}
}

func TestRemoteJWKSTTL(t *testing.T) {
	r := NewRemoteJWKS(RemoteJWKSOptions{})
	tests := []struct {
		cc   string
		want time.Duration
	}{
		{"", DefaultJWKSTTL},
		{"max-age=600", 10 * time.Minute},
		{"public, max-age=5", time.Minute},
		{"max-age=86400", time.Hour},
		{"max-age=99999999999999999999", DefaultJWKSTTL},
		{"max-age=9223372036854775807", time.Hour},
		{"no-store", time.Minute},
		{"no-cache, max-age=600", time.Minute},
		{"max-age=-1", DefaultJWKSTTL},
	}
	for _, tc := range tests {
		if got := r.ttl(tc.cc); got != tc.want {
			t.Errorf("ttl(%q) = %v, want %v", tc.cc, got, tc.want)
		}
	}
}

func TestRefusePrivate(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"93.184.216.34:443", true},
		{"[2606:2800:220:1:248:1893:25c8:1946]:443", true},
		{"127.0.0.1:443", false},
		{"10.1.2.3:443", false},
		{"172.16.0.1:443", false},
		{"192.168.1.1:443", false},
		{"169.254.169.254:80", false},
		{"100.64.0.1:443", false},
		{"0.0.0.0:443", false},
		{"[::1]:443", false},
		{"[fd00::1]:443", false},
		{"[fe80::1]:443", false},
		{"[::ffff:127.0.0.1]:443", false},
		{"[64:ff9b::a00:1]:443", false},
		{"224.0.0.1:443", false},
	}
	for _, tc := range tests {
		if err := refusePrivate("tcp", tc.addr, nil); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.addr, err)
		}
	}
}
