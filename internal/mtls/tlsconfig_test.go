package mtls

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestServerTLSConfig(t *testing.T) {
	ca := newTestCA(t, "CA", newECKey(t))
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	cert := ca.serverLeaf(t, newECKey(t))

	cfg := ServerTLSConfig(TLSOptions{Certificates: []tls.Certificate{cert}, ClientCAs: pool})
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x", cfg.MinVersion)
	}
	if cfg.MaxVersion != 0 {
		t.Errorf("MaxVersion = %x, want 0 (TLS 1.3 allowed)", cfg.MaxVersion)
	}
	want := []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	}
	if diff := cmp.Diff(want, cfg.CipherSuites); diff != "" {
		t.Errorf("CipherSuites (-want +got):\n%s", diff)
	}
	for _, c := range []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384} {
		if !contains(cfg.CurvePreferences, c) {
			t.Errorf("CurvePreferences lacks %v", c)
		}
	}
	if contains(cfg.CurvePreferences, tls.CurveP521) {
		t.Error("CurvePreferences has P-521")
	}
	if diff := cmp.Diff([]string{"h2", "http/1.1"}, cfg.NextProtos); diff != "" {
		t.Errorf("NextProtos (-want +got):\n%s", diff)
	}
	if cfg.ClientAuth != tls.RequestClientCert {
		t.Errorf("ClientAuth = %v, want RequestClientCert", cfg.ClientAuth)
	}
	if cfg.ClientCAs != pool {
		t.Error("ClientCAs not set")
	}
	if cfg.SessionTicketsDisabled {
		t.Error("session tickets disabled")
	}
	if cfg.VerifyPeerCertificate != nil || cfg.VerifyConnection != nil {
		t.Error("verification hooks set: certificates are validated per request")
	}
	if len(cfg.Certificates) != 1 || cfg.GetCertificate != nil {
		t.Errorf("Certificates = %d, GetCertificate set = %v", len(cfg.Certificates), cfg.GetCertificate != nil)
	}

	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
	cfg = ServerTLSConfig(TLSOptions{Certificates: []tls.Certificate{cert}, GetCertificate: get})
	if cfg.GetCertificate == nil || cfg.Certificates != nil {
		t.Error("GetCertificate does not take precedence over Certificates")
	}
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// tlsEnv is an https listener configured by ServerTLSConfig with the Extractor in front of
// a handler reporting ClientIdentity, and a client certificate for it.
type tlsEnv struct {
	srv        *httptest.Server
	ca         *testCA
	roots      *x509.CertPool // the CA: trusts the server, signs the client
	clientCert tls.Certificate
	clientLeaf *x509.Certificate
	val        *fakeValidator
}

var (
	rsaKeyOnce sync.Once
	rsaKey     crypto.Signer
)

// identityHandler answers "ok <thumbprint>", or 401 "no_certificate" / "rejected <reason>".
func identityHandler(w http.ResponseWriter, r *http.Request) {
	id, err := ClientIdentity(r)
	var ve *fakeValidationError
	switch {
	case err == nil:
		fmt.Fprintf(w, "ok %s", id.Thumbprint)
	case errors.Is(err, ErrNoClientCertificate):
		http.Error(w, "no_certificate", http.StatusUnauthorized)
	case errors.As(err, &ve):
		http.Error(w, "rejected "+ve.reason, http.StatusUnauthorized)
	default:
		http.Error(w, "error", http.StatusInternalServerError)
	}
}

func newTLSEnv(t *testing.T) *tlsEnv {
	t.Helper()
	rsaKeyOnce.Do(func() { rsaKey = newRSAKey(t) })
	ca := newTestCA(t, "Test CA", newECKey(t))
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	clientKey := newECKey(t)
	leaf := ca.clientLeaf(t, "client-1", clientKey)

	env := &tlsEnv{
		ca:         ca,
		roots:      roots,
		clientCert: tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.cert.Raw}, PrivateKey: clientKey, Leaf: leaf},
		clientLeaf: leaf,
		val:        &fakeValidator{},
	}
	ex, err := NewExtractor(Options{Validator: env.val})
	if err != nil {
		t.Fatal(err)
	}
	env.srv = httptest.NewUnstartedServer(ex.Middleware(http.HandlerFunc(identityHandler)))
	env.srv.EnableHTTP2 = true
	env.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	env.srv.TLS = ServerTLSConfig(TLSOptions{
		// An ECDSA and an RSA certificate, so that every allowed suite can be negotiated.
		Certificates: []tls.Certificate{ca.serverLeaf(t, newECKey(t)), ca.serverLeaf(t, rsaKey)},
		ClientCAs:    roots,
	})
	env.srv.StartTLS()
	t.Cleanup(env.srv.Close)
	return env
}

// clientConfig is a client TLS configuration trusting the server; withCert adds the
// client certificate.
func (env *tlsEnv) clientConfig(withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: env.roots, ServerName: "127.0.0.1"}
	if withCert {
		cfg.Certificates = []tls.Certificate{env.clientCert}
	}
	return cfg
}

func (env *tlsEnv) get(t *testing.T, tr *http.Transport, trace *httptrace.ClientTrace) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.srv.URL+"/token", nil)
	if err != nil {
		t.Fatal(err)
	}
	if trace != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, strings.TrimSpace(string(body))
}

// TestHandshake runs real TLS over 127.0.0.1 with the listener configuration.
func TestHandshake(t *testing.T) {
	env := newTLSEnv(t)
	tests := []struct {
		name      string
		withCert  bool
		version   uint16
		suite     uint16 // TLS 1.2 only
		http2     bool
		wantCode  int
		wantBody  func() string
		wantChain bool
	}{
		{name: "TLS 1.3 with certificate", withCert: true, version: tls.VersionTLS13, wantCode: 200, wantChain: true},
		{name: "TLS 1.3 with certificate over h2", withCert: true, version: tls.VersionTLS13, http2: true, wantCode: 200, wantChain: true},
		{name: "TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256", withCert: true, version: tls.VersionTLS12, suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, wantCode: 200, wantChain: true},
		{name: "TLS 1.2 ECDHE-ECDSA-AES256-GCM-SHA384", withCert: true, version: tls.VersionTLS12, suite: tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, wantCode: 200, wantChain: true},
		{name: "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256", withCert: true, version: tls.VersionTLS12, suite: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, wantCode: 200, wantChain: true},
		{name: "TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384", withCert: true, version: tls.VersionTLS12, suite: tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, wantCode: 200, wantChain: true},
		{name: "TLS 1.3 without certificate", version: tls.VersionTLS13, wantCode: 401},
		{name: "TLS 1.2 without certificate", version: tls.VersionTLS12, suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, wantCode: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(env.val.recorded())
			cfg := env.clientConfig(tc.withCert)
			cfg.MinVersion, cfg.MaxVersion = tc.version, tc.version
			if tc.suite != 0 {
				cfg.CipherSuites = []uint16{tc.suite}
			}
			tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: tc.http2}
			defer tr.CloseIdleConnections()
			resp, body := env.get(t, tr, nil)

			if resp.TLS.Version != tc.version {
				t.Errorf("version = %x, want %x", resp.TLS.Version, tc.version)
			}
			if tc.suite != 0 && resp.TLS.CipherSuite != tc.suite {
				t.Errorf("suite = %s", tls.CipherSuiteName(resp.TLS.CipherSuite))
			}
			if wantProto := map[bool]int{true: 2, false: 1}[tc.http2]; resp.ProtoMajor != wantProto {
				t.Errorf("protocol = %s, want HTTP/%d", resp.Proto, wantProto)
			}
			wantBody := "no_certificate"
			if tc.wantCode == 200 {
				wantBody = "ok " + thumbprintOf(env.clientLeaf)
			}
			if resp.StatusCode != tc.wantCode || body != wantBody {
				t.Fatalf("response %d %q, want %d %q", resp.StatusCode, body, tc.wantCode, wantBody)
			}

			calls := env.val.recorded()[before:]
			if !tc.wantChain {
				if len(calls) != 0 {
					t.Errorf("validator called %d times", len(calls))
				}
				return
			}
			if len(calls) != 1 {
				t.Fatalf("validator called %d times", len(calls))
			}
			// The chain as the client sent it: leaf, then the CA.
			if diff := cmp.Diff([][]byte{env.clientLeaf.Raw, env.ca.cert.Raw}, rawOf(calls[0].chain)); diff != "" {
				t.Errorf("validated chain (-want +got):\n%s", diff)
			}
		})
	}
}

// wantAlert fails unless err is the TLS alert code the peer sent.
func wantAlert(t *testing.T, err error, code uint8) {
	t.Helper()
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err.Error() != tls.AlertError(code).Error() {
		t.Fatalf("handshake error = %v, want remote alert %q", err, tls.AlertError(code).Error())
	}
}

const (
	alertHandshakeFailure = 40
	alertProtocolVersion  = 70
)

// TestHandshakeRefused: old protocol versions and non-FAPI TLS 1.2 suites get a TLS alert.
func TestHandshakeRefused(t *testing.T) {
	env := newTLSEnv(t)
	tests := []struct {
		name      string
		min, max  uint16
		suites    []uint16
		curves    []tls.CurveID
		wantAlert uint8
	}{
		{name: "TLS 1.1", min: tls.VersionTLS10, max: tls.VersionTLS11, wantAlert: alertProtocolVersion},
		{name: "TLS 1.0", min: tls.VersionTLS10, max: tls.VersionTLS10, wantAlert: alertProtocolVersion},
		{name: "TLS 1.2 CBC suites only", min: tls.VersionTLS12, max: tls.VersionTLS12, suites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		}, wantAlert: alertHandshakeFailure},
		{name: "TLS 1.2 ChaCha20-Poly1305 only", min: tls.VersionTLS12, max: tls.VersionTLS12, suites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		}, wantAlert: alertHandshakeFailure},
		{name: "TLS 1.2 RSA key transport only", min: tls.VersionTLS12, max: tls.VersionTLS12, suites: []uint16{
			tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		}, wantAlert: alertHandshakeFailure},
		{name: "TLS 1.2 P-521 only", min: tls.VersionTLS12, max: tls.VersionTLS12, curves: []tls.CurveID{tls.CurveP521}, wantAlert: alertHandshakeFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := env.clientConfig(true)
			cfg.MinVersion, cfg.MaxVersion = tc.min, tc.max
			cfg.CipherSuites = tc.suites
			cfg.CurvePreferences = tc.curves
			conn, err := tls.Dial("tcp", env.srv.Listener.Addr().String(), cfg)
			if err == nil {
				st := conn.ConnectionState()
				conn.Close()
				t.Fatalf("handshake succeeded: version %x, suite %s", st.Version, tls.CipherSuiteName(st.CipherSuite))
			}
			wantAlert(t, err, tc.wantAlert)
		})
	}
}

// TestCertificateRequestHint: the CertificateRequest lists the configured ClientCAs.
func TestCertificateRequestHint(t *testing.T) {
	env := newTLSEnv(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			var got [][]byte
			cfg := env.clientConfig(false)
			cfg.MinVersion, cfg.MaxVersion = v, v
			cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
				got = cri.AcceptableCAs
				return &env.clientCert, nil
			}
			conn, err := tls.Dial("tcp", env.srv.Listener.Addr().String(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if diff := cmp.Diff([][]byte{env.ca.cert.RawSubject}, got); diff != "" {
				t.Errorf("acceptable CAs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRevalidatedAfterRevocation is the STYLE.md trap: a certificate accepted in the first
// handshake and "revoked" afterwards (the fake validator starts rejecting) is refused on
// the next request, over a resumed TLS session (no certificate exchange, no verification
// callback) and over a kept-alive connection alike.
func TestRevalidatedAfterRevocation(t *testing.T) {
	tests := []struct {
		name      string
		version   uint16
		keepAlive bool
	}{
		{"TLS 1.3 resumed session", tls.VersionTLS13, false},
		{"TLS 1.2 resumed session", tls.VersionTLS12, false},
		{"TLS 1.3 same connection", tls.VersionTLS13, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTLSEnv(t)
			cfg := env.clientConfig(true)
			cfg.MinVersion, cfg.MaxVersion = tc.version, tc.version
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: !tc.keepAlive}
			defer tr.CloseIdleConnections()
			var reused bool
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}

			resp, body := env.get(t, tr, trace)
			if resp.StatusCode != 200 || body != "ok "+thumbprintOf(env.clientLeaf) {
				t.Fatalf("first request: %d %q", resp.StatusCode, body)
			}
			if resp.TLS.DidResume || reused {
				t.Fatal("first request did not use a fresh handshake")
			}

			env.val.setReject(&fakeValidationError{reason: "revoked"})
			resp, body = env.get(t, tr, trace)
			if tc.keepAlive {
				if !reused {
					t.Fatal("second request did not reuse the connection")
				}
			} else if !resp.TLS.DidResume || reused {
				t.Fatalf("second request: resumed = %v, reused connection = %v; want a resumed session on a new connection", resp.TLS.DidResume, reused)
			}
			if resp.StatusCode != http.StatusUnauthorized || body != "rejected revoked" {
				t.Fatalf("second request: %d %q, want 401 \"rejected revoked\"", resp.StatusCode, body)
			}
			calls := env.val.recorded()
			if len(calls) != 2 {
				t.Fatalf("validator called %d times, want 2", len(calls))
			}
			if !calls[1].chain[0].Equal(env.clientLeaf) {
				t.Error("second validation did not see the client certificate")
			}
		})
	}
}
