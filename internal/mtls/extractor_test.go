package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/pki"
)

// logRecord is one captured slog record.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// captureHandler is a slog.Handler that keeps every record.
type captureHandler struct {
	mu      sync.Mutex
	records []logRecord
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *captureHandler) WithGroup(string) slog.Handler            { return h }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	h.records = append(h.records, rec)
	h.mu.Unlock()
	return nil
}

func (h *captureHandler) all() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logRecord(nil), h.records...)
}

// auditSink collects audit events.
type auditSink struct {
	mu     sync.Mutex
	events []AuditEvent
}

func (a *auditSink) record(_ context.Context, ev AuditEvent) {
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
}

func (a *auditSink) all() []AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AuditEvent(nil), a.events...)
}

// counterValue reads portcullis_mtls_untrusted_forwarded_cert_total{header} from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, header string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "portcullis_mtls_untrusted_forwarded_cert_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "header" && l.GetValue() == header {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// seen is what the handler behind the middleware observed.
type seen struct {
	called  bool
	headers http.Header
	id      *pki.Identity
	err     error
}

// serve runs req through ex.Middleware to a handler that asks for the client identity.
func serve(ex *Extractor, req *http.Request) (*seen, *httptest.ResponseRecorder) {
	s := &seen{}
	h := ex.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called = true
		s.headers = r.Header.Clone()
		s.id, s.err = ClientIdentity(r)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return s, rec
}

type extractorEnv struct {
	ex    *Extractor
	val   *fakeValidator
	logs  *captureHandler
	audit *auditSink
	reg   *prometheus.Registry
}

func newExtractorEnv(t *testing.T, o Options) *extractorEnv {
	t.Helper()
	env := &extractorEnv{val: &fakeValidator{}, logs: &captureHandler{}, audit: &auditSink{}, reg: prometheus.NewRegistry()}
	o.Validator = env.val
	o.Logger = slog.New(env.logs)
	o.Audit = env.audit.record
	o.Registerer = env.reg
	ex, err := NewExtractor(o)
	if err != nil {
		t.Fatalf("NewExtractor: %v", err)
	}
	env.ex = ex
	return env
}

// The pki Validator satisfies the interface this package declares.
var _ Validator = (*pki.Validator)(nil)

var trustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}

// TestForwardedHeaderTrust is acceptance 3: a forwarded-certificate header from an
// address outside the trusted proxy list is removed and the request treated as having no
// certificate (or only its own handshake certificate); from a trusted address it is used.
func TestForwardedHeaderTrust(t *testing.T) {
	chain := loadChain(t)
	leaf, issuing := chain[0], chain[1]
	xfcc := xfccElement("spiffe://lb", leaf, chain[:2])
	const header = "X-Forwarded-Client-Cert"

	handshakeCA := newTestCA(t, "Handshake CA", newECKey(t))
	handshakeLeaf := handshakeCA.clientLeaf(t, "direct-client", newECKey(t))
	handshake := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{handshakeLeaf, handshakeCA.cert}}

	type want struct {
		chain       []*x509.Certificate // passed to the validator; nil: validator not called
		err         error               // from ClientIdentity
		alsoErr     error               // a second error the result must match, if any
		warnHeaders []string            // headers logged/counted/audited as untrusted
	}
	tests := []struct {
		name       string
		remoteAddr string
		headers    map[string][]string
		tls        *tls.ConnectionState
		want       want
	}{
		{
			name: "forged header from untrusted address is removed: no certificate", remoteAddr: "127.0.0.2:51234",
			headers: map[string][]string{header: {xfcc}},
			want:    want{err: ErrNoClientCertificate, warnHeaders: []string{header}},
		},
		{
			name: "forged header from untrusted address next to a handshake certificate: handshake wins", remoteAddr: "192.0.2.7:443",
			headers: map[string][]string{header: {xfcc}}, tls: handshake,
			want: want{chain: handshake.PeerCertificates, warnHeaders: []string{header}},
		},
		{
			name: "header from trusted proxy is used", remoteAddr: "10.1.2.3:40000",
			headers: map[string][]string{header: {xfcc}},
			want:    want{chain: []*x509.Certificate{leaf, issuing}},
		},
		{
			name: "header from trusted IPv6 proxy is used", remoteAddr: "[fd00::1]:40000",
			headers: map[string][]string{header: {xfcc}},
			want:    want{chain: []*x509.Certificate{leaf, issuing}},
		},
		{
			name: "IPv4-mapped IPv6 peer in a trusted IPv4 prefix", remoteAddr: "[::ffff:10.9.9.9]:40000",
			headers: map[string][]string{header: {xfcc}},
			want:    want{chain: []*x509.Certificate{leaf, issuing}},
		},
		{
			name: "header from trusted proxy beats the proxy's own handshake certificate", remoteAddr: "10.1.2.3:40000",
			headers: map[string][]string{header: {xfcc}}, tls: handshake,
			want: want{chain: []*x509.Certificate{leaf, issuing}},
		},
		{
			name: "trusted proxy without header: the proxy's handshake certificate is not the client's", remoteAddr: "10.1.2.3:40000",
			tls:  handshake,
			want: want{err: ErrNoClientCertificate},
		},
		{
			name: "trusted proxy forwarding an empty header (no client certificate)", remoteAddr: "10.1.2.3:40000",
			headers: map[string][]string{header: {""}},
			want:    want{err: ErrNoClientCertificate, alsoErr: ErrNoCertificateInHeader},
		},
		{
			name: "malformed header from trusted proxy", remoteAddr: "10.1.2.3:40000",
			headers: map[string][]string{header: {`Cert="unterminated`}},
			want:    want{err: ErrMalformedHeader},
		},
		{
			name: "two header lines from trusted proxy", remoteAddr: "10.1.2.3:40000",
			headers: map[string][]string{header: {xfcc, xfcc}},
			want:    want{err: ErrMalformedHeader},
		},
		{
			name: "oversized header from trusted proxy", remoteAddr: "10.1.2.3:40000",
			headers: map[string][]string{header: {strings.Repeat("a", MaxForwardedCertBytes+1)}},
			want:    want{err: ErrTooLarge},
		},
		{
			name: "well-known alias header from untrusted address is removed too", remoteAddr: "127.0.0.2:1",
			headers: map[string][]string{"X-Ssl-Client-Cert": {escapeURIComponent(pemOf(leaf))}, "Client-Cert": {":AAAA:"}},
			want:    want{err: ErrNoClientCertificate, warnHeaders: []string{"Client-Cert", "X-Ssl-Client-Cert"}},
		},
		{
			name: "alias header from trusted proxy is removed and not used", remoteAddr: "10.1.2.3:1",
			headers: map[string][]string{"X-Ssl-Client-Cert": {escapeURIComponent(pemOf(leaf))}},
			want:    want{err: ErrNoClientCertificate},
		},
		{
			name: "unparsable remote address is untrusted", remoteAddr: "10.1.2.3",
			headers: map[string][]string{header: {xfcc}},
			want:    want{err: ErrNoClientCertificate, warnHeaders: []string{header}},
		},
		{
			name: "address just outside the trusted prefix", remoteAddr: "11.0.0.1:1",
			headers: map[string][]string{header: {xfcc}},
			want:    want{err: ErrNoClientCertificate, warnHeaders: []string{header}},
		},
		{
			name: "no header, no TLS", remoteAddr: "127.0.0.2:1",
			want: want{err: ErrNoClientCertificate},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newExtractorEnv(t, Options{Header: "x-forwarded-client-cert", Format: FormatXFCC, TrustedProxies: trustedProxies})
			req := httptest.NewRequest(http.MethodPost, "https://portcullis.example/token", nil)
			req.RemoteAddr = tc.remoteAddr
			req.TLS = tc.tls
			for k, vs := range tc.headers {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			s, _ := serve(env.ex, req)
			if !s.called {
				t.Fatal("next handler not called")
			}

			// No certificate header ever reaches the handler.
			for _, h := range append([]string{header}, wellKnownCertHeaders...) {
				if v, ok := s.headers[http.CanonicalHeaderKey(h)]; ok {
					t.Errorf("handler saw header %s: %q", h, v)
				}
			}

			calls := env.val.recorded()
			if tc.want.chain == nil {
				if len(calls) != 0 {
					t.Errorf("validator called %d times, want 0", len(calls))
				}
			} else {
				if len(calls) != 1 {
					t.Fatalf("validator called %d times, want 1", len(calls))
				}
				if diff := cmp.Diff(rawOf(tc.want.chain), rawOf(calls[0].chain)); diff != "" {
					t.Errorf("validated chain (-want +got):\n%s", diff)
				}
				if calls[0].purpose != pki.PurposeTransport {
					t.Errorf("purpose = %v, want PurposeTransport", calls[0].purpose)
				}
			}

			if tc.want.err != nil {
				if !errors.Is(s.err, tc.want.err) || s.id != nil {
					t.Fatalf("ClientIdentity = %v, %v; want error %v", s.id, s.err, tc.want.err)
				}
				if tc.want.alsoErr != nil && !errors.Is(s.err, tc.want.alsoErr) {
					t.Errorf("error %v does not match %v", s.err, tc.want.alsoErr)
				}
			} else {
				if s.err != nil {
					t.Fatalf("ClientIdentity error: %v", s.err)
				}
				if got, want := s.id.Thumbprint, thumbprintOf(tc.want.chain[0]); got != want {
					t.Errorf("identity thumbprint = %s, want %s", got, want)
				}
			}

			// Untrusted headers: one warning each (name and address, never the value),
			// one count each, one audit event each.
			var warned []string
			for _, r := range env.logs.all() {
				if r.level != slog.LevelWarn {
					continue
				}
				warned = append(warned, r.attrs["header"])
				if r.attrs["remote_addr"] != tc.remoteAddr {
					t.Errorf("warning remote_addr = %q, want %q", r.attrs["remote_addr"], tc.remoteAddr)
				}
				for k, vs := range tc.headers {
					for _, v := range vs {
						for _, a := range r.attrs {
							if v != "" && strings.Contains(a, v) {
								t.Errorf("warning logs the value of %s", k)
							}
						}
					}
				}
			}
			if diff := cmp.Diff(tc.want.warnHeaders, warned, sortStrings); diff != "" {
				t.Errorf("warned headers (-want +got):\n%s", diff)
			}
			var audited []string
			for _, ev := range env.audit.all() {
				if ev.Kind == AuditUntrustedForwardedCert {
					audited = append(audited, ev.Header)
					if ev.RemoteAddr != tc.remoteAddr {
						t.Errorf("audit remote addr = %q", ev.RemoteAddr)
					}
				}
			}
			if diff := cmp.Diff(tc.want.warnHeaders, audited, sortStrings); diff != "" {
				t.Errorf("audited headers (-want +got):\n%s", diff)
			}
			// Parse failures of a trusted header are audited as rejected certificates;
			// "no certificate" is not a rejection.
			var rejected []AuditEvent
			for _, ev := range env.audit.all() {
				if ev.Kind == AuditCertificateRejected {
					rejected = append(rejected, ev)
				}
			}
			if e := tc.want.err; e != nil && !errors.Is(e, ErrNoClientCertificate) {
				if len(rejected) != 1 || !errors.Is(rejected[0].Err, e) || rejected[0].Source != SourceForwardedHeader {
					t.Errorf("rejection audit events = %+v, want one for %v", rejected, e)
				}
			} else if len(rejected) != 0 {
				t.Errorf("rejection audit events = %+v, want none", rejected)
			}
			for _, h := range tc.want.warnHeaders {
				if got := counterValue(t, env.reg, h); got != 1 {
					t.Errorf("counter{header=%s} = %v, want 1", h, got)
				}
			}
		})
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := slices.Sorted(slices.Values(in))
	if len(out) == 0 {
		return nil
	}
	return out
})

// TestForwardedHeaderFormats: each format, from a trusted proxy, is parsed and the chain
// handed to the validator.
func TestForwardedHeaderFormats(t *testing.T) {
	chain := loadChain(t)
	for _, s := range seeds {
		t.Run(s.file, func(t *testing.T) {
			env := newExtractorEnv(t, Options{Header: "X-Client-Cert", Format: s.format, TrustedProxies: trustedProxies})
			req := httptest.NewRequest(http.MethodGet, "/open-banking/v3.1/aisp/accounts", nil)
			req.RemoteAddr = "10.0.0.5:1234"
			req.Header.Set("X-Client-Cert", readSeed(t, s))
			got, _ := serve(env.ex, req)
			if got.err != nil {
				t.Fatalf("ClientIdentity: %v", got.err)
			}
			calls := env.val.recorded()
			if len(calls) != 1 {
				t.Fatalf("validator called %d times", len(calls))
			}
			if diff := cmp.Diff(rawOf(s.want(chain)), rawOf(calls[0].chain)); diff != "" {
				t.Errorf("validated chain (-want +got):\n%s", diff)
			}
			if got.id.Thumbprint != thumbprintOf(chain[0]) {
				t.Errorf("thumbprint = %s", got.id.Thumbprint)
			}
		})
	}
}

// TestHeaderModeOff: with no header configured, certificate headers are stripped from
// everyone (and logged), and the handshake certificate is the only source.
func TestHeaderModeOff(t *testing.T) {
	chain := loadChain(t)
	env := newExtractorEnv(t, Options{})
	req := httptest.NewRequest(http.MethodGet, "/token", nil)
	req.RemoteAddr = "10.0.0.5:1234"
	req.Header.Set("X-Forwarded-Client-Cert", xfccElement("spiffe://lb", chain[2], nil))
	req.TLS = &tls.ConnectionState{PeerCertificates: chain[:2]}
	s, _ := serve(env.ex, req)
	if s.err != nil {
		t.Fatalf("ClientIdentity: %v", s.err)
	}
	if _, ok := s.headers["X-Forwarded-Client-Cert"]; ok {
		t.Error("handler saw X-Forwarded-Client-Cert")
	}
	if s.id.Thumbprint != thumbprintOf(chain[0]) {
		t.Errorf("thumbprint = %s", s.id.Thumbprint)
	}
	if got := counterValue(t, env.reg, "X-Forwarded-Client-Cert"); got != 1 {
		t.Errorf("counter = %v, want 1", got)
	}
}

func TestValidationOutcome(t *testing.T) {
	chain := loadChain(t)
	rejection := &fakeValidationError{reason: "revoked"}
	tests := []struct {
		name    string
		peer    []*x509.Certificate
		reject  error
		wantErr error
		audit   bool
	}{
		{name: "accepted", peer: chain[:2]},
		{name: "rejected by the validator: typed error passed through", peer: chain[:2], reject: rejection, wantErr: rejection, audit: true},
		{name: "no certificate: nothing audited", wantErr: ErrNoClientCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newExtractorEnv(t, Options{})
			env.val.setReject(tc.reject)
			req := httptest.NewRequest(http.MethodGet, "/token", nil)
			if tc.peer != nil {
				req.TLS = &tls.ConnectionState{PeerCertificates: tc.peer}
			}
			s, _ := serve(env.ex, req)
			if tc.wantErr == nil {
				if s.err != nil || s.id == nil {
					t.Fatalf("ClientIdentity = %v, %v", s.id, s.err)
				}
			} else {
				if s.id != nil || !errors.Is(s.err, tc.wantErr) {
					t.Fatalf("ClientIdentity = %v, %v; want %v", s.id, s.err, tc.wantErr)
				}
				var fe *fakeValidationError
				if tc.reject != nil && (!errors.As(s.err, &fe) || fe.reason != "revoked") {
					t.Errorf("validator error not errors.As-able: %v", s.err)
				}
			}
			var rejected []AuditEvent
			for _, ev := range env.audit.all() {
				if ev.Kind == AuditCertificateRejected {
					rejected = append(rejected, ev)
				}
			}
			if !tc.audit {
				if len(rejected) != 0 {
					t.Errorf("audit events: %v", rejected)
				}
				return
			}
			if len(rejected) != 1 || !errors.Is(rejected[0].Err, tc.wantErr) || rejected[0].Source != SourceHandshake {
				t.Fatalf("rejection audit events = %+v", rejected)
			}
			if tc.reject != nil && rejected[0].Thumbprint != thumbprintOf(chain[0]) {
				t.Errorf("audit thumbprint = %q", rejected[0].Thumbprint)
			}
		})
	}
}

// TestLazyValidation: the validator runs only when a handler asks, and once per request.
func TestLazyValidation(t *testing.T) {
	chain := loadChain(t)
	tests := []struct {
		name      string
		asks      int
		wantCalls int
	}{
		{"handler never asks (discovery, JWKS)", 0, 0},
		{"handler asks three times", 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newExtractorEnv(t, Options{})
			var ids []*pki.Identity
			h := env.ex.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for range tc.asks {
					id, err := ClientIdentity(r)
					if err != nil {
						t.Errorf("ClientIdentity: %v", err)
					}
					ids = append(ids, id)
				}
			}))
			req := httptest.NewRequest(http.MethodGet, "/jwks", nil)
			req.TLS = &tls.ConnectionState{PeerCertificates: chain[:1]}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got := len(env.val.recorded()); got != tc.wantCalls {
				t.Errorf("validator called %d times, want %d", got, tc.wantCalls)
			}
			for _, id := range ids {
				if id == nil || id != ids[0] {
					t.Errorf("identities not memoised: %p", ids)
				}
			}
		})
	}
}

// TestFromContext: From sees the same memoised result as ClientIdentity.
func TestFromContext(t *testing.T) {
	chain := loadChain(t)
	env := newExtractorEnv(t, Options{})
	h := env.ex.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, errA := ClientIdentity(r)
		b, errB := From(r.Context())
		if errA != nil || errB != nil || a == nil || a != b {
			t.Errorf("ClientIdentity = %p, %v; From = %p, %v", a, errA, b, errB)
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/token", nil)
	req.TLS = &tls.ConnectionState{PeerCertificates: chain[:1]}
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got := len(env.val.recorded()); got != 1 {
		t.Errorf("validator called %d times, want 1", got)
	}
}

func TestWithoutMiddleware(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/token", nil)
	if id, err := ClientIdentity(req); id != nil || !errors.Is(err, ErrNoExtractor) {
		t.Errorf("ClientIdentity = %v, %v; want ErrNoExtractor", id, err)
	}
	if c, err := PresentedChain(req); c != nil || !errors.Is(err, ErrNoExtractor) {
		t.Errorf("PresentedChain = %v, %v; want ErrNoExtractor", c, err)
	}
}

// TestPresentedChain: the unvalidated chain is available even when validation fails
// (self_signed_tls_client_auth), and never calls the validator.
func TestPresentedChain(t *testing.T) {
	chain := loadChain(t)
	env := newExtractorEnv(t, Options{Header: "X-Client-Cert", Format: FormatDERBase64, TrustedProxies: trustedProxies})
	env.val.setReject(&fakeValidationError{reason: "self-signed"})
	tests := []struct {
		name    string
		remote  string
		header  string
		want    []*x509.Certificate
		wantErr error
	}{
		{"from trusted proxy", "10.0.0.1:1", derList(base64.StdEncoding, chain[0]), chain[:1], nil},
		{"malformed from trusted proxy", "10.0.0.1:1", "!!", nil, ErrMalformedHeader},
		{"forged", "127.0.0.2:1", derList(base64.StdEncoding, chain[0]), nil, ErrNoClientCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/token", nil)
			req.RemoteAddr = tc.remote
			req.Header.Set("X-Client-Cert", tc.header)
			var got []*x509.Certificate
			var err error
			env.ex.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, err = PresentedChain(r)
			})).ServeHTTP(httptest.NewRecorder(), req)
			if tc.wantErr != nil {
				if got != nil || !errors.Is(err, tc.wantErr) {
					t.Fatalf("PresentedChain = %v, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rawOf(tc.want), rawOf(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if n := len(env.val.recorded()); n != 0 {
		t.Errorf("validator called %d times", n)
	}
}

func TestRequire(t *testing.T) {
	chain := loadChain(t)
	rejection := &fakeValidationError{reason: "expired"}
	tests := []struct {
		name     string
		peer     []*x509.Certificate
		reject   error
		wantNext bool
		wantErr  error
	}{
		{name: "valid certificate reaches the handler", peer: chain[:2], wantNext: true},
		{name: "no certificate", wantErr: ErrNoClientCertificate},
		{name: "invalid certificate", peer: chain[:2], reject: rejection, wantErr: rejection},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newExtractorEnv(t, Options{})
			env.val.setReject(tc.reject)
			var nextCalled bool
			var gotErr error
			onError := func(w http.ResponseWriter, r *http.Request, err error) {
				gotErr = err
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			}
			h := env.ex.Middleware(Require(onError)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				nextCalled = true
				if _, err := ClientIdentity(r); err != nil {
					t.Errorf("next: ClientIdentity: %v", err)
				}
			})))
			req := httptest.NewRequest(http.MethodPost, "/token", nil)
			if tc.peer != nil {
				req.TLS = &tls.ConnectionState{PeerCertificates: tc.peer}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if nextCalled != tc.wantNext {
				t.Fatalf("next called = %v, want %v", nextCalled, tc.wantNext)
			}
			if tc.wantErr == nil {
				if gotErr != nil || rec.Code != http.StatusOK {
					t.Errorf("onError(%v), status %d", gotErr, rec.Code)
				}
				if n := len(env.val.recorded()); n != 1 {
					t.Errorf("validator called %d times, want 1 (memoised)", n)
				}
				return
			}
			if !errors.Is(gotErr, tc.wantErr) {
				t.Errorf("onError got %v, want %v", gotErr, tc.wantErr)
			}
			if rec.Code != http.StatusUnauthorized || rec.Body.String() != `{"error":"invalid_client"}` {
				t.Errorf("response %d %q", rec.Code, rec.Body.String())
			}
		})
	}
}

func TestNewExtractorOptions(t *testing.T) {
	v := &fakeValidator{}
	p := trustedProxies
	tests := []struct {
		name    string
		opts    Options
		wantErr string // substring naming the offending field; "" for success
	}{
		{"handshake only", Options{Validator: v}, ""},
		{"header mode", Options{Validator: v, Header: "X-SSL-Client-Cert", Format: FormatPEMURLEncoded, TrustedProxies: p}, ""},
		{"no validator", Options{}, "Options.Validator"},
		{"header without format", Options{Validator: v, Header: "X-Client-Cert", TrustedProxies: p}, "Options.Format"},
		{"header with unknown format", Options{Validator: v, Header: "X-Client-Cert", Format: "base64", TrustedProxies: p}, "Options.Format"},
		{"header without proxies", Options{Validator: v, Header: "X-Client-Cert", Format: FormatXFCC}, "Options.TrustedProxies"},
		{"proxies without header", Options{Validator: v, TrustedProxies: p}, "Options.Header"},
		{"invalid header name", Options{Validator: v, Header: "X Client Cert", Format: FormatXFCC, TrustedProxies: p}, "Options.Header"},
		{"invalid prefix", Options{Validator: v, Header: "X-Client-Cert", Format: FormatXFCC, TrustedProxies: []netip.Prefix{{}}}, "Options.TrustedProxies"},
		{"trust everyone v4", Options{Validator: v, Header: "X-Client-Cert", Format: FormatXFCC, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, "Options.TrustedProxies"},
		{"trust everyone v6", Options{Validator: v, Header: "X-Client-Cert", Format: FormatXFCC, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::/0")}}, "Options.TrustedProxies"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := NewExtractor(tc.opts)
			if tc.wantErr == "" {
				if err != nil || ex == nil {
					t.Fatalf("NewExtractor: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewExtractor error = %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

// TestSharedRegistry: two extractors on one registry share the counter.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for i := range 2 {
		ex, err := NewExtractor(Options{Validator: &fakeValidator{}, Registerer: reg})
		if err != nil {
			t.Fatalf("extractor %d: %v", i, err)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Client-Cert", ":AAAA:")
		serve(ex, req)
	}
	if got := counterValue(t, reg, "Client-Cert"); got != 2 {
		t.Errorf("counter = %v, want 2", got)
	}
}
