package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
)

// recordingUpstream is an httptest upstream that records the last request it saw
// and counts new connections.
type recordingUpstream struct {
	*httptest.Server
	mu      sync.Mutex
	last    *http.Request
	body    []byte
	conns   atomic.Int32
	handler func(w http.ResponseWriter, r *http.Request)
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last, u.body = r.Clone(context.Background()), b
		h := u.handler
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(HeaderFAPIInteractionID, "upstream-chose-this")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) lastRequest(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		t.Fatal("upstream was not called")
	}
	return u.last, u.body
}

// errSink records the error a Proxy hands to its ErrorHandler, and the identity
// its request carries.
type errSink struct {
	mu  sync.Mutex
	err error
	id  *Identity
}

func (s *errSink) handle(w http.ResponseWriter, r *http.Request, err error) {
	s.mu.Lock()
	s.err, s.id = err, ForwardedIdentity(r.Context())
	s.mu.Unlock()
	w.WriteHeader(http.StatusBadGateway)
}

func (s *errSink) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *errSink) identity() *Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

func newProxy(t *testing.T, o Options) (*Proxy, *errSink) {
	t.Helper()
	sink := &errSink{}
	if o.Identity == nil {
		id, err := NewIdentifier(IdentityOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o.Identity = id
	}
	if o.ErrorHandler == nil {
		o.ErrorHandler = sink.handle
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p, sink
}

func sampleIdentity() *Identity {
	return &Identity{
		Route: "accounts", ClientID: "tpp-1", ConsentID: "aac-1", PSUID: "psu-7f3a",
		Roles: []string{"PSP_AI", "PSP_PI"}, Scopes: []string{"openid", "accounts"}, TokenUse: "APPLICATION_USER",
		OrgID: "PSDGB-FCA-123456", CertThumbprint: "x5t-value", InteractionID: "93bac548-d2de-4546-b106-880a5018460d",
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestForwardHeaders: what the upstream sees is exactly this hop's forwarding
// headers and our identity; every inbound identity, certificate, credential and
// hop-by-hop header is gone.
func TestForwardHeaders(t *testing.T) {
	tests := []struct {
		name     string
		passAuth bool
		strip    []string
		noPublic bool
	}{
		{name: "default"},
		{name: "pass authorization", passAuth: true},
		{name: "configured strip header", strip: []string{"x_my_cert"}},
		{name: "no public URL", noPublic: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newRecordingUpstream(t)
			o := Options{PassAuthorization: tt.passAuth, StripHeaders: tt.strip, PublicURL: mustURL(t, "https://api.bank.example:8443")}
			if tt.noPublic {
				o.PublicURL = nil
			}
			p, sink := newProxy(t, o)
			in := httptest.NewRequest(http.MethodGet, "https://gw.example/open-banking/v3.1/aisp/accounts?x=1", nil)
			in.RemoteAddr = "192.0.2.10:4444"
			forged := map[string]string{
				"Authorization":           "Bearer the-tpp-token",
				"Proxy-Authorization":     "Basic eDp5",
				"X-Portcullis-Client-Id":  "forged",
				"X-Portcullis-Identity":   "forged",
				"x-portcullis-psu-id":     "forged",
				"X-Forwarded-Client-Cert": "Hash=abc",
				"Client-Cert":             ":AAAA:",
				"X-Client-Id":             "forged",
				"X-Forwarded-For":         "10.9.9.9",
				"Forwarded":               "for=10.9.9.9",
				"X-Forwarded-Host":        "evil.example",
				"X-Real-Ip":               "10.9.9.9",
				"X-Original-Uri":          "/admin",
				"X-Fapi-Interaction-Id":   "caller-chose-this",
				"Connection":              "X-Hop",
				"X-Hop":                   "hop",
				"Upgrade":                 "websocket",
				"X-My-Cert":               "custom",
				"Accept":                  "application/json",
				"X-Idempotency-Key":       "k-1",
				// Underscore and mixed spellings that CGI/WSGI servers fold into
				// the reserved names.
				"X_Portcullis_Psu_Id":     "forged",
				"X-Portcullis_Org_Id":     "forged",
				"x_portcullis-consent-id": "forged",
				"X_Client_Cert":           "forged",
				"X_Forwarded_Host":        "evil.example",
				"X_Forwarded_Proto":       "http",
				"Forwarded_":              "kept: folds to forwarded-, not a reserved name",
				"X_Fapi_Interaction_Id":   "caller-chose-this",
				"X-Http-Method-Override":  "DELETE",
				"X_HTTP_Method_Override":  "DELETE",
				"X-Method-Override":       "DELETE",
				"X-Http-Method":           "DELETE",
				"X_Remote_User":           "forged",
				"X_Ssl_Client_S_Dn":       "CN=forged",
			}
			in.Host = "evil.example"
			for k, v := range forged {
				in.Header[k] = []string{v}
			}
			rec := httptest.NewRecorder()
			p.Forward(rec, in, Target{URL: mustURL(t, up.URL), Timeout: 5 * time.Second}, sampleIdentity())
			if err := sink.get(); err != nil {
				t.Fatalf("forward failed: %v", err)
			}
			got, _ := up.lastRequest(t)
			want := map[string]string{
				"Accept":                "application/json",
				"X-Idempotency-Key":     "k-1",
				"X-Forwarded-For":       "192.0.2.10",
				"X-Forwarded-Host":      "api.bank.example:8443",
				"X-Forwarded-Proto":     "https",
				"Forwarded_":            "kept: folds to forwarded-, not a reserved name",
				HeaderFAPIInteractionID: "93bac548-d2de-4546-b106-880a5018460d",
				HeaderRoute:             "accounts",
				HeaderClientID:          "tpp-1",
				HeaderConsentID:         "aac-1",
				HeaderPSUID:             "psu-7f3a",
				HeaderRoles:             "PSP_AI,PSP_PI",
				HeaderScope:             "openid accounts",
				HeaderTokenUse:          "APPLICATION_USER",
				HeaderOrgID:             "PSDGB-FCA-123456",
				HeaderCertThumbprint:    "x5t-value",
				HeaderInteractionID:     "93bac548-d2de-4546-b106-880a5018460d",
				"X-My-Cert":             "custom",
			}
			if tt.passAuth {
				want["Authorization"] = "Bearer the-tpp-token"
			}
			if tt.strip != nil {
				delete(want, "X-My-Cert")
			}
			if tt.noPublic {
				delete(want, "X-Forwarded-Host")
				delete(want, "X-Forwarded-Proto")
			}
			gotFlat := map[string]string{}
			for k, v := range got.Header {
				if k == "User-Agent" {
					continue
				}
				gotFlat[k] = strings.Join(v, "|")
			}
			if diff := cmp.Diff(want, gotFlat); diff != "" {
				t.Errorf("upstream headers (-want +got):\n%s", diff)
			}
			if got.URL.RawQuery != "x=1" || got.URL.Path != "/open-banking/v3.1/aisp/accounts" {
				t.Errorf("upstream URL = %v", got.URL)
			}
			if v := rec.Header().Values(HeaderFAPIInteractionID); len(v) != 0 {
				t.Errorf("the upstream's interaction id reached the response: %q", v)
			}
		})
	}
}

func TestForwardPathPrefixAndBody(t *testing.T) {
	up := newRecordingUpstream(t)
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.Copy(w, bytes.NewReader([]byte("echo")))
	}
	p, sink := newProxy(t, Options{})
	body := strings.Repeat("x", 200<<10)
	in := httptest.NewRequest(http.MethodPost, "https://gw.example/open-banking/v3.1/pisp/domestic-payments", io.NopCloser(strings.NewReader(body)))
	in.ContentLength = -1 // streamed, unknown length
	rec := httptest.NewRecorder()
	p.Forward(rec, in, Target{URL: mustURL(t, up.URL+"/bank-api"), Timeout: 5 * time.Second}, sampleIdentity())
	if err := sink.get(); err != nil {
		t.Fatal(err)
	}
	got, gotBody := up.lastRequest(t)
	if got.URL.Path != "/bank-api/open-banking/v3.1/pisp/domestic-payments" {
		t.Errorf("path = %q", got.URL.Path)
	}
	if string(gotBody) != body {
		t.Errorf("body: got %d bytes, want %d", len(gotBody), len(body))
	}
	if rec.Code != http.StatusCreated || rec.Body.String() != "echo" {
		t.Errorf("response = %d %q", rec.Code, rec.Body.String())
	}
}

// TestTransportProtocols: to an https upstream that offers HTTP/2, the transport
// speaks HTTP/1.1 unless TransportOptions.HTTP2 is set, even when the caller's
// TLS config lists "h2".
func TestTransportProtocols(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	roots := up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	tests := []struct {
		name       string
		http2      bool
		nextProtos []string
		want       string
	}{
		{name: "default", want: "HTTP/1.1"},
		{name: "caller offers h2", nextProtos: []string{"h2", "http/1.1"}, want: "HTTP/1.1"},
		{name: "HTTP2 on", http2: true, want: "HTTP/2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTransport(TransportOptions{HTTP2: tt.http2, TLSClientConfig: &tls.Config{RootCAs: roots, NextProtos: tt.nextProtos}})
			t.Cleanup(tr.CloseIdleConnections)
			p, sink := newProxy(t, Options{Transport: tr})
			rec := httptest.NewRecorder()
			p.Forward(rec, httptest.NewRequest(http.MethodGet, "https://gw.example/a", nil),
				Target{URL: mustURL(t, up.URL), Timeout: 5 * time.Second}, sampleIdentity())
			if err := sink.get(); err != nil || rec.Code != 200 || rec.Body.String() != tt.want {
				t.Fatalf("upstream saw %q (%d, %v), want %s", rec.Body.String(), rec.Code, err, tt.want)
			}
		})
	}
}

// TestForwardConnectionReuse: sequential forwards share one kept-alive connection.
func TestForwardConnectionReuse(t *testing.T) {
	up := newRecordingUpstream(t)
	p, sink := newProxy(t, Options{Transport: NewTransport(TransportOptions{})})
	for range 20 {
		in := httptest.NewRequest(http.MethodGet, "https://gw.example/a", nil)
		rec := httptest.NewRecorder()
		p.Forward(rec, in, Target{URL: mustURL(t, up.URL), Timeout: 5 * time.Second}, sampleIdentity())
		if err := sink.get(); err != nil || rec.Code != 200 {
			t.Fatalf("forward: %d %v", rec.Code, err)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 20 sequential requests, want 1", n)
	}
}

func TestForwardErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler func(release <-chan struct{}) func(http.ResponseWriter, *http.Request)
		closed  bool // upstream is down
		cancel  bool // the caller goes away
		noURL   bool // Target.URL is nil
		want    error
	}{
		{name: "no upstream URL", noURL: true, want: ErrUnavailable},
		{name: "connection refused", closed: true, want: ErrUnavailable},
		{name: "timeout", handler: func(release <-chan struct{}) func(http.ResponseWriter, *http.Request) {
			return func(_ http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		}, want: ErrTimeout},
		{name: "hijacked and closed", handler: func(<-chan struct{}) func(http.ResponseWriter, *http.Request) {
			return func(w http.ResponseWriter, _ *http.Request) {
				c, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = c.Close()
				}
			}
		}, want: ErrUnavailable},
		{name: "protocol switch", handler: func(<-chan struct{}) func(http.ResponseWriter, *http.Request) {
			return func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Connection", "Upgrade")
				w.Header().Set("Upgrade", "websocket")
				w.WriteHeader(http.StatusSwitchingProtocols)
			}
		}, want: ErrUnavailable},
		{name: "caller canceled", cancel: true, handler: func(release <-chan struct{}) func(http.ResponseWriter, *http.Request) {
			return func(_ http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		}, want: ErrCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newRecordingUpstream(t)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			if tt.handler != nil {
				up.handler = tt.handler(release)
			}
			target := mustURL(t, up.URL)
			if tt.closed {
				up.Close()
			}
			if tt.noURL {
				target = nil
			}
			p, sink := newProxy(t, Options{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			in := httptest.NewRequest(http.MethodGet, "https://gw.example/a", nil).WithContext(ctx)
			if tt.cancel {
				up.handler = func(_ http.ResponseWriter, r *http.Request) {
					cancel() // the caller gives up while the upstream works
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}
			}
			rec := httptest.NewRecorder()
			id := sampleIdentity()
			p.Forward(rec, in, Target{URL: target, Timeout: 200 * time.Millisecond}, id)
			if err := sink.get(); !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if got := sink.identity(); got != id {
				t.Errorf("ForwardedIdentity in the ErrorHandler = %v, want the forwarded identity", got)
			}
			if got := ForwardedIdentity(in.Context()); got != nil {
				t.Errorf("ForwardedIdentity of the caller's context = %v, want nil", got)
			}
		})
	}
}

// TestIdentityJWT: in jwt mode the upstream gets one signed JWT, verifiable with
// Portcullis's keys, bound to the request, and no individual identity headers.
func TestIdentityJWT(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	key, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := jose.NewKeyStore(jose.KeyStoreOptions{Clock: clk}, key)
	if err != nil {
		t.Fatal(err)
	}
	idf, err := NewIdentifier(IdentityOptions{Mode: IdentityJWT, Signer: ks, Issuer: "https://portcullis.example", Audience: "bank-api", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	up := newRecordingUpstream(t)
	p, sink := newProxy(t, Options{Identity: idf})
	in := httptest.NewRequest(http.MethodGet, "https://gw.example/open-banking/v3.1/aisp/accounts/22289?x=1", nil)
	in.Header.Set(HeaderIdentity, "forged")
	p.Forward(httptest.NewRecorder(), in, Target{URL: mustURL(t, up.URL), Timeout: 5 * time.Second}, sampleIdentity())
	if err := sink.get(); err != nil {
		t.Fatal(err)
	}
	got, _ := up.lastRequest(t)
	for k := range got.Header {
		if strings.HasPrefix(k, "X-Portcullis-") && k != HeaderIdentity {
			t.Errorf("jwt mode sent %s", k)
		}
	}
	raw := got.Header.Get(HeaderIdentity)
	v, err := jose.VerifyJWT(context.Background(), raw, ks, jose.VerifyOptions{Types: []string{IdentityJWTType}})
	if err != nil {
		t.Fatalf("identity JWT does not verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(v.Payload, &claims); err != nil {
		t.Fatal(err)
	}
	delete(claims, "jti")
	want := map[string]any{
		"iss": "https://portcullis.example", "aud": "bank-api",
		"iat": float64(now.Unix()), "exp": float64(now.Add(60 * time.Second).Unix()),
		"sub": "psu-7f3a", "client_id": "tpp-1", "consent_id": "aac-1",
		"roles": []any{"PSP_AI", "PSP_PI"}, "scope": "openid accounts", "aut": "APPLICATION_USER",
		"org_id": "PSDGB-FCA-123456", "x5t#S256": "x5t-value", "txn": "93bac548-d2de-4546-b106-880a5018460d",
		"route": "accounts", "htm": "GET", "htu": "/open-banking/v3.1/aisp/accounts/22289",
	}
	if diff := cmp.Diff(want, claims); diff != "" {
		t.Errorf("identity claims (-want +got):\n%s", diff)
	}
	if got.Header.Get(HeaderFAPIInteractionID) != "93bac548-d2de-4546-b106-880a5018460d" {
		t.Errorf("x-fapi-interaction-id = %q", got.Header.Get(HeaderFAPIInteractionID))
	}
}

// failingSigner cannot sign: the request must not be forwarded.
type failingSigner struct{}

func (failingSigner) Sign([]byte, string) (string, error) { return "", errors.New("HSM offline") }

func TestIdentityJWTSignFailureNotForwarded(t *testing.T) {
	idf, err := NewIdentifier(IdentityOptions{Mode: IdentityJWT, Signer: failingSigner{}, Issuer: "i", Audience: "a"})
	if err != nil {
		t.Fatal(err)
	}
	up := newRecordingUpstream(t)
	p, sink := newProxy(t, Options{Identity: idf})
	p.Forward(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/a", nil), Target{URL: mustURL(t, up.URL)}, sampleIdentity())
	if err := sink.get(); !errors.Is(err, ErrIdentity) {
		t.Fatalf("error = %v, want ErrIdentity", err)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.last != nil {
		t.Fatal("request forwarded without an identity")
	}
}

func TestNewIdentifierOptions(t *testing.T) {
	tests := []struct {
		name string
		o    IdentityOptions
		ok   bool
	}{
		{name: "zero", o: IdentityOptions{}, ok: true},
		{name: "jwt", o: IdentityOptions{Mode: IdentityJWT, Signer: failingSigner{}, Issuer: "i", Audience: "a"}, ok: true},
		{name: "jwt without signer", o: IdentityOptions{Mode: IdentityJWT, Issuer: "i", Audience: "a"}},
		{name: "jwt without issuer", o: IdentityOptions{Mode: IdentityJWT, Signer: failingSigner{}, Audience: "a"}},
		{name: "jwt without audience", o: IdentityOptions{Mode: IdentityJWT, Signer: failingSigner{}, Issuer: "i"}},
		{name: "unknown mode", o: IdentityOptions{Mode: "cookie"}},
		{name: "lifetime too long", o: IdentityOptions{Lifetime: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewIdentifier(tt.o)
			if (err == nil) != tt.ok {
				t.Fatalf("NewIdentifier error = %v, want ok = %v", err, tt.ok)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	idf, _ := NewIdentifier(IdentityOptions{})
	eh := func(http.ResponseWriter, *http.Request, error) {}
	if _, err := New(Options{ErrorHandler: eh}); err == nil {
		t.Error("New without Identity succeeded")
	}
	if _, err := New(Options{Identity: idf}); err == nil {
		t.Error("New without ErrorHandler succeeded")
	}
	if _, err := New(Options{Identity: idf, ErrorHandler: eh, StripHeaders: []string{"Bad Header"}}); err == nil {
		t.Error("New with an invalid StripHeaders name succeeded")
	}
}

// TestIdentityHeadersIndependent: headers mode writes every value under its
// canonical name, each in a slice of its own: appending to one header's values
// (as a later h.Add would) leaves the others alone.
func TestIdentityHeadersIndependent(t *testing.T) {
	idf, err := NewIdentifier(IdentityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := idf.Set(h, sampleIdentity(), http.MethodGet, "/a"); err != nil {
		t.Fatal(err)
	}
	if len(h) != identityHeaders {
		t.Errorf("%d headers set, want %d: %v", len(h), identityHeaders, h)
	}
	want := h.Clone()
	for k := range h {
		if ck := http.CanonicalHeaderKey(k); ck != k {
			t.Errorf("header name %q is not canonical (%q)", k, ck)
		}
	}
	for k := range h {
		h[k] = append(h[k], "appended")
		want[k] = append(want[k], "appended")
		if diff := cmp.Diff(want, h); diff != "" {
			t.Fatalf("appending to %s changed other headers (-want +got):\n%s", k, diff)
		}
	}
}

// countingTransport counts the requests handed to the real transport it wraps.
type countingTransport struct {
	http.RoundTripper
	n atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.RoundTripper.RoundTrip(r)
}

// TestForwardCanceledBeforeSending: a request whose client has already gone away (an
// HTTP/2 stream reset during the gateway's checks) is not handed to the transport at
// all, and the ErrorHandler learns why.
func TestForwardCanceledBeforeSending(t *testing.T) {
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"reset by the client", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, ErrCanceled},
		{"deadline passed", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Unix(0, 0))
		}, ErrTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := newRecordingUpstream(t)
			tr := &countingTransport{RoundTripper: NewTransport(TransportOptions{})}
			p, sink := newProxy(t, Options{Transport: tr})
			ctx, cancel := tt.ctx()
			defer cancel()
			in := httptest.NewRequest(http.MethodPost, "https://gw.example/a", strings.NewReader("{}")).WithContext(ctx)
			p.Forward(httptest.NewRecorder(), in, Target{URL: mustURL(t, up.URL), Timeout: 5 * time.Second}, sampleIdentity())
			if err := sink.get(); !errors.Is(err, tt.want) {
				t.Errorf("ErrorHandler got %v, want %v", err, tt.want)
			}
			if n := tr.n.Load(); n != 0 {
				t.Errorf("%d requests handed to the transport, want 0", n)
			}
			if n := up.conns.Load(); n != 0 {
				t.Errorf("upstream saw %d connections, want 0", n)
			}
		})
	}
}
