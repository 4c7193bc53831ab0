package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/httpserver"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

const testIssuer = "https://as.portcullis.test"

// testCustomer is the bank's customer id behind every test customer token, and
// testConsentIDs the consents (in the fixture's store) those tokens name.
const testCustomer = "demo"

var testConsentIDs = []string{"aac-ok", "pdc-ok", "pdc-rewrite", "aac-revoked", "aac-400", "aac-bad", "aac-down", "aac-77"}

// testPublicURL is the gateway's configured public URL in the fixture.
const testPublicURL = "https://gw.portcullis.test:8443"

// sandboxRoutes is the sandbox bank's route table (bank.Routes) for the bank at up,
// converted as the gateway converts configured routes.
func sandboxRoutes(t testing.TB, up *url.URL) []Route {
	t.Helper()
	var routes []Route
	for _, rc := range bank.Routes(up.String()) {
		r, err := RouteFromConfig(rc, nil)
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, r)
	}
	return routes
}

// fakeConsent is a hand-written consent.Validator: decisions by consent id, and a
// record of every request.
type fakeConsent struct {
	mu        sync.Mutex
	decisions map[string]consent.Decision
	errs      map[string]error
	calls     []consent.Request
}

func newFakeConsent() *fakeConsent {
	return &fakeConsent{
		decisions: map[string]consent.Decision{
			"aac-ok":      {Valid: true},
			"pdc-ok":      {Valid: true},
			"aac-revoked": {ErrorCode: "UK.OBIE.Resource.InvalidConsentStatus", ErrorMessage: "Consent revoked"},
			"aac-400":     {ErrorCode: "UK.OBIE.Field.Invalid", ErrorMessage: "Bad field", HTTPStatus: 400},
			"aac-bad":     {ErrorCode: "not a code!"}, // unusable decision
			"pdc-rewrite": {Valid: true, ModifiedPayload: json.RawMessage(`{"rewritten":true}`)},
		},
		errs: map[string]error{"aac-down": consent.ErrUnavailable},
	}
}

func (f *fakeConsent) Validate(_ context.Context, req consent.Request) (consent.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	if err := f.errs[req.ConsentID]; err != nil {
		return consent.Decision{}, err
	}
	if d, ok := f.decisions[req.ConsentID]; ok {
		return d, nil
	}
	return consent.Decision{ErrorCode: "UK.OBIE.Resource.NotFound", ErrorMessage: "Unknown consent"}, nil
}

func (f *fakeConsent) last() (consent.Request, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return consent.Request{}, 0
	}
	return f.calls[len(f.calls)-1], len(f.calls)
}

// auditLog records the gateway's audit events.
type auditLog struct {
	mu     sync.Mutex
	events []AuditEvent
}

func (a *auditLog) record(_ context.Context, ev AuditEvent) {
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
}

func (a *auditLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.events)
}

func (a *auditLog) since(n int) []AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AuditEvent(nil), a.events[n:]...)
}

// countingUpstream wraps the sandbox bank and counts what reaches it.
type countingUpstream struct {
	*httptest.Server
	n    atomic.Int64
	mu   sync.Mutex
	last *http.Request
	body []byte
}

func newCountingUpstream(t testing.TB, clk clock.Clock, production bool) *countingUpstream {
	t.Helper()
	u := &countingUpstream{}
	b := bank.New(clk)
	if production {
		// As app.startSandboxBank serves it: the bank behind httpserver's body
		// limit, nothing recorded.
		u.Server = httptest.NewServer(httpserver.LimitBody(httpserver.DefaultMaxBodyBytes, b))
		t.Cleanup(u.Close)
		return u
	}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.n.Add(1)
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last, u.body = r.Clone(context.Background()), body
		u.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		b.ServeHTTP(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *countingUpstream) lastRequest() (*http.Request, []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.body
}

// fixture is a whole resource-server deployment on loopback with real TLS: a test
// PKI with an OCSP responder, the pki validator with the real revocation checker,
// an authorization server's keys, issuer and deny-list (on a SQLite store), the
// sandbox bank, the gateway, and three listeners: proxy mode (handshake
// certificates), and ext-authz mode behind an "Envoy" (XFCC header) and behind an
// "nginx"/"Traefik" (URL-encoded PEM header).
type fixture struct {
	clk      *clock.Fake
	ca       *pkitest.CA
	certs    map[string]*pkitest.Leaf // A: AISP+PISP, B: all roles, C: PISP only, R: revoked
	keys     *jose.KeyStore
	issuer   *token.Issuer
	store    *store.Store
	deny     *token.DenyList
	verifier *token.Verifier
	certVal  *pki.Validator
	consent  *fakeConsent
	audit    *auditLog
	bank     *countingUpstream
	gw       *Gateway
	reg      *prometheus.Registry // the gateway's metrics

	proxySrv, envoySrv, nginxSrv *httptest.Server
	clients                      map[string]*http.Client // by cert name; "none" has no certificate
}

type fixtureOpts struct {
	cacheSize int // token verifier cache (0: default, -1: off)
	validator consent.Validator
	identity  bool  // jwt identity mode
	maxBody   int64 // Options.MaxBodyBytes
	noPeers   bool  // no ext-authz peers
	// noPublicURL leaves Options.PublicURL nil (default: testPublicURL).
	noPublicURL bool
	// http2 offers HTTP/2 on the listeners (default: HTTP/1.1 only).
	http2 bool
	// routes replaces the sandbox route table (bank is the sandbox bank's URL).
	routes func(bank *url.URL) []Route
	// production serves the listeners as internal/app does: obs.Middleware with a
	// JSON logger at info level (writing to io.Discard) and Prometheus metrics,
	// httpserver's body limit, the mtls extractor; and the bank as
	// app.startSandboxBank does, without the recording wrapper (bank.n stays 0).
	production bool
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{clk: clock.NewFake(time.Now().UTC().Truncate(time.Second)), consent: newFakeConsent(), audit: &auditLog{}}

	// PKI: a QTSP with an OCSP responder, client QWACs, a server certificate.
	f.ca = pkitest.NewCA(t, pkitest.CAOptions{Clock: f.clk, OCSP: true})
	f.certs = map[string]*pkitest.Leaf{
		"A": f.ca.QWAC(t, eidas.RoleAISP, eidas.RolePISP),
		"B": f.ca.QWAC(t),
		"C": f.ca.QWAC(t, eidas.RolePISP),
		"R": f.ca.QWAC(t, eidas.RoleAISP, eidas.RolePISP),
	}
	f.ca.Revoke(t, f.certs["R"].Cert.SerialNumber, 1)
	serverLeaf := f.ca.Issue(t, pkitest.LeafOptions{
		Subject: pkix.Name{CommonName: "localhost"}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	checker := revocation.New(revocation.Options{Clock: f.clk})
	t.Cleanup(checker.Close)
	validator, err := pki.NewValidator(pki.Options{
		Anchors:    []pki.Anchor{{Name: "test-qtsp", Cert: f.ca.Root, Profile: pki.ProfileEIDAS}},
		Revocation: checker, Clock: f.clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.certVal = validator

	// Authorization server: keys, issuer, deny-list on a real store.
	key, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if f.keys, err = jose.NewKeyStore(jose.KeyStoreOptions{Clock: f.clk}, key); err != nil {
		t.Fatal(err)
	}
	if f.issuer, err = token.NewIssuer(token.IssuerOptions{Keys: f.keys, Issuer: testIssuer, Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	if f.store, err = store.Open(ctx, "", store.Options{SQLitePath: filepath.Join(t.TempDir(), "p.db"), Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.store.Close() })
	if err := f.store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// The consents the tokens name, authorised by the customer "demo" (the tokens carry
	// only an opaque subject; the gateway looks the customer up here).
	for _, id := range testConsentIDs {
		if err := f.store.CreateConsent(ctx, store.Consent{ID: id, Kind: "account-access", ClientID: "tpp-1", Status: "Authorised", UserID: testCustomer}); err != nil {
			t.Fatal(err)
		}
	}
	if f.deny, err = token.NewDenyList(token.DenyListOptions{Source: f.store, Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	if err := f.deny.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if f.verifier, err = token.NewVerifier(token.VerifierOptions{Keys: f.keys, Issuer: testIssuer, Clock: f.clk, DenyList: f.deny, CacheSize: o.cacheSize}); err != nil {
		t.Fatal(err)
	}

	// The bank and the gateway.
	f.bank = newCountingUpstream(t, f.clk, o.production)
	up, _ := url.Parse(f.bank.URL)
	var cv consent.Validator = f.consent
	if o.validator != nil {
		cv = o.validator
	}
	logger, middleware := slog.New(slog.DiscardHandler), obs.Middleware(slog.New(slog.DiscardHandler), nil)
	if o.production {
		logger = obs.NewLogger(io.Discard, "info")
		middleware = obs.Middleware(logger, obs.NewMetrics())
	}
	opts := Options{
		Routes: sandboxRoutes(t, up), Verifier: f.verifier, ConsentValidator: cv,
		ExtAuthzPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Logger:        logger, Audit: f.audit.record, MaxBodyBytes: o.maxBody,
		Customers: f.store,
	}
	f.reg = prometheus.NewRegistry()
	opts.Registerer = f.reg
	if o.routes != nil {
		opts.Routes = o.routes(up)
	}
	if o.noPeers {
		opts.ExtAuthzPeers = nil
	}
	if !o.noPublicURL {
		opts.PublicURL, _ = url.Parse(testPublicURL)
	}
	if o.identity {
		opts.Identity.Mode, opts.Identity.Signer, opts.Identity.Issuer, opts.Identity.Audience = "jwt", f.keys, testIssuer, "sandbox-bank"
	}
	if f.gw, err = New(opts); err != nil {
		t.Fatal(err)
	}

	// Listeners.
	serve := func(ex mtls.Options) *httptest.Server {
		ex.Validator = validator
		e, err := mtls.NewExtractor(ex)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/", f.gw)
		mux.Handle(ExtAuthzPath, f.gw.ExtAuthz())
		mux.Handle(ExtAuthzPath+"/", f.gw.ExtAuthz())
		var h http.Handler = e.Middleware(mux)
		if o.production {
			h = httpserver.LimitBody(httpserver.DefaultMaxBodyBytes, h)
		}
		srv := httptest.NewUnstartedServer(middleware(h))
		srv.TLS = mtls.ServerTLSConfig(mtls.TLSOptions{Certificates: []tls.Certificate{serverLeaf.TLS}})
		srv.TLS.NextProtos = []string{"http/1.1"}
		if o.http2 {
			srv.EnableHTTP2 = true
			srv.TLS.NextProtos = []string{"h2", "http/1.1"}
		}
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short at Close
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	f.proxySrv = serve(mtls.Options{})
	f.envoySrv = serve(mtls.Options{Header: "X-Forwarded-Client-Cert", Format: mtls.FormatXFCC, TrustedProxies: loopback})
	f.nginxSrv = serve(mtls.Options{Header: "X-SSL-Client-Cert", Format: mtls.FormatPEMURLEncoded, TrustedProxies: loopback})

	f.clients = map[string]*http.Client{"none": f.client(nil)}
	for name, leaf := range f.certs {
		f.clients[name] = f.client(leaf)
	}
	return f
}

// client returns an HTTP client trusting the test CA, presenting leaf (if any).
func (f *fixture) client(leaf *pkitest.Leaf) *http.Client {
	tc := &tls.Config{RootCAs: f.ca.Pool(), MinVersion: tls.VersionTLS12}
	if leaf != nil {
		tc.Certificates = []tls.Certificate{leaf.TLS}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 4}}
}

func thumbprint(l *pkitest.Leaf) string { return pki.Thumbprint(l.Cert) }

// userToken issues a customer token bound to cert.
func (f *fixture) userToken(t testing.TB, cert, consentID string, scopes ...string) string {
	t.Helper()
	raw, _, err := f.issuer.Issue(context.Background(), token.Claims{
		ClientID: "tpp-1", Use: token.UseUser, UserID: "demo", Scopes: scopes, ConsentID: consentID,
		CertThumbprint: thumbprint(f.certs[cert]), ACR: "urn:openbanking:psd2:sca",
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// appToken issues a client-credentials token bound to cert.
func (f *fixture) appToken(t testing.TB, cert string, scopes ...string) string {
	t.Helper()
	raw, _, err := f.issuer.Issue(context.Background(), token.Claims{
		ClientID: "tpp-1", Use: token.UseApplication, Scopes: scopes, CertThumbprint: thumbprint(f.certs[cert]),
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// otherIssuerToken issues a customer token with another issuer's settings: its own
// clock, iss, or keys.
func (f *fixture) otherIssuerToken(t testing.TB, clk clock.Clock, iss string, keys *jose.KeyStore) string {
	t.Helper()
	if keys == nil {
		keys = f.keys
	}
	is, err := token.NewIssuer(token.IssuerOptions{Keys: keys, Issuer: iss, Clock: clk, Audience: []string{testIssuer}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := is.Issue(context.Background(), token.Claims{
		ClientID: "tpp-1", Use: token.UseUser, UserID: "demo", Scopes: []string{"accounts"}, ConsentID: "aac-ok",
		CertThumbprint: thumbprint(f.certs["A"]),
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// revokedToken issues a customer token and revokes it in the store; the deny-list
// picks it up on its next refresh.
func (f *fixture) revokedToken(t testing.TB) string {
	t.Helper()
	raw, at, err := f.issuer.Issue(context.Background(), token.Claims{
		ClientID: "tpp-1", Use: token.UseUser, UserID: "demo", Scopes: []string{"accounts"}, ConsentID: "aac-ok",
		CertThumbprint: thumbprint(f.certs["A"]),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.store.RevokeToken(ctx, store.Revocation{JTI: at.JTI, ClientID: at.ClientID, ExpiresAt: at.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	if err := f.deny.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	return raw
}

func revocationOf(at *token.AccessToken) store.Revocation {
	return store.Revocation{JTI: at.JTI, ClientID: at.ClientID, ExpiresAt: at.ExpiresAt}
}

// tampered changes the scope claim of a valid token, keeping its signature.
func tampered(t testing.TB, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	claims["scope"] = "accounts payments"
	payload, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// algNone builds an unsigned token ("alg":"none") with valid-looking claims and a
// non-empty signature segment, so that the algorithm check is what refuses it.
func (f *fixture) algNone(t testing.TB) string {
	t.Helper()
	now := f.clk.Now().Unix()
	hdr, _ := json.Marshal(map[string]string{"alg": "none", "typ": "at+jwt"})
	claims, _ := json.Marshal(map[string]any{
		"iss": testIssuer, "sub": "demo", "aud": testIssuer, "client_id": "tpp-1", "scope": "accounts",
		"jti": "none-1", "iat": now, "nbf": now, "exp": now + 300, "aut": "APPLICATION_USER", "consent_id": "aac-ok",
		"cnf": map[string]string{"x5t#S256": thumbprint(f.certs["A"])},
	})
	enc := base64.RawURLEncoding.EncodeToString
	return enc(hdr) + "." + enc(claims) + "." + enc([]byte("not a signature"))
}

// signed signs a customer-token claims set (edited by edit) with the
// authorization server's key and the given JOSE typ.
func (f *fixture) signed(t testing.TB, typ string, edit func(map[string]any)) string {
	t.Helper()
	now := f.clk.Now().Unix()
	claims := map[string]any{
		"iss": testIssuer, "sub": "demo", "aud": testIssuer, "client_id": "tpp-1", "scope": "accounts",
		"jti": fmt.Sprintf("hand-%d", time.Now().UnixNano()), "iat": now, "nbf": now, "exp": now + 300,
		"aut": "APPLICATION_USER", "consent_id": "aac-ok", "cnf": map[string]string{"x5t#S256": thumbprint(f.certs["A"])},
	}
	edit(claims)
	payload, _ := json.Marshal(claims)
	raw, err := f.keys.Sign(payload, typ)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// xfcc renders leaf as Envoy's X-Forwarded-Client-Cert element.
func xfcc(leaf *pkitest.Leaf) string {
	sum := sha256.Sum256(leaf.Cert.Raw)
	return "By=spiffe://envoy;Hash=" + hex.EncodeToString(sum[:]) + `;Cert="` + percentEncode(string(pkitest.CertificatesPEM(leaf.Cert))) + `"`
}

// percentEncode escapes everything but RFC 3986 unreserved characters.
func percentEncode(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

// response is what a test needs of an answer.
type response struct {
	status    int
	header    http.Header
	body      []byte
	ob        obie.ErrorBody
	obDecoded bool
}

func readResponse(t testing.TB, resp *http.Response, err error) response {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && resp.StatusCode >= 400 {
		r.obDecoded = json.Unmarshal(b, &r.ob) == nil
	}
	return r
}
