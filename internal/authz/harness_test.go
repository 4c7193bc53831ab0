package authz_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
	"github.com/portcullis/portcullis/internal/token"
)

// The identifiers of the fixture's registered clients.
const (
	clientTLS        = "tls-client"        // tls_client_auth by subject DN, FAPI 1
	clientTLSOther   = "tls-client-2"      // tls_client_auth, another subject
	clientPKJ        = "pkj-client"        // private_key_jwt (ES256), FAPI 1
	clientPKJ2       = "pkj-client-2"      // private_key_jwt (ES256), FAPI 1, another key
	clientFAPI2      = "pkj-fapi2"         // private_key_jwt (ES256), FAPI 2
	clientSelfSigned = "self-signed"       // self_signed_tls_client_auth
	clientCodeOnly   = "code-only"         // private_key_jwt without client_credentials
	clientOpenID     = "openid-by-default" // tls_client_auth registered with openid only
	clientJourney2   = "journey-fapi2"     // private_key_jwt, FAPI 2, authorization_code + refresh
	clientJourney2MS = "journey-fapi2-ms"  // as clientJourney2, registered for signed requests (Message Signing)
	clientHybrid     = "journey-hybrid"    // tls_client_auth, FAPI 1, code id_token and code + JARM
	clientJourneyEnc = "journey-enc"       // as clientJourney2, ID tokens encrypted (RSA-OAEP-256) to its key
)

// The redirect URI registered for the journey clients.
const testRedirect = "https://tpp.example.com/cb"

// testClient is a registered client and everything it needs to call the server.
type testClient struct {
	id     string
	method string        // token_endpoint_auth_method
	cert   *pkitest.Leaf // the certificate it presents (nil: none)
	// self is a self-signed certificate (self_signed_tls_client_auth) instead of cert.
	self *tls.Certificate
	key  *ecdsa.PrivateKey // assertion key (private_key_jwt), or the self-signed cert's key
	kid  string
}

// thumbprint is the cnf.x5t#S256 of the certificate the client presents.
func (c *testClient) thumbprint() string {
	if c.self != nil {
		return pki.Thumbprint(c.self.Leaf)
	}
	return pki.Thumbprint(c.cert.Cert)
}

// tlsCert is the certificate to configure in the client's TLS stack.
func (c *testClient) tlsCert() []tls.Certificate {
	switch {
	case c.self != nil:
		return []tls.Certificate{*c.self}
	case c.cert != nil:
		return []tls.Certificate{c.cert.TLS}
	}
	return nil
}

// fixture is the PKI and the client credentials, independent of any server: two servers
// sharing one database share one fixture.
type fixture struct {
	clk     clock.Clock
	fake    *clock.Fake // nil with the real clock
	ca      *pkitest.CA
	server  *pkitest.Leaf // the servers' TLS certificate (127.0.0.1)
	clients map[string]*testClient
	// revoked is a certificate matching clientTLS's subject DN but revoked at the CA.
	revoked *pkitest.Leaf
	// stranger is a valid certificate of a subject no client registered.
	stranger *pkitest.Leaf
	// rsaKey signs assertions in RS256 / PS256 for the algorithm rows.
	rsaKey *rsa.PrivateKey
}

var testNow = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// newFixture creates a CA (root, issuing CA, loopback OCSP responder) and the clients'
// certificates and keys. realClock makes everything run on the real clock (for interop
// with clients that stamp assertions with their own time).
func newFixture(t testing.TB, realClock bool) *fixture {
	t.Helper()
	f := &fixture{clients: map[string]*testClient{}}
	if realClock {
		f.clk = clock.Real{}
	} else {
		f.fake = clock.NewFake(testNow)
		f.clk = f.fake
	}
	f.ca = pkitest.NewCA(t, pkitest.CAOptions{Clock: f.clk, Intermediate: true, OCSP: true})
	f.server = f.ca.Issue(t, pkitest.LeafOptions{
		Subject:     pkix.Name{CommonName: "as.test"},
		EKU:         []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	qwac := func(cn string) *pkitest.Leaf {
		o := pkitest.QWACOptions()
		o.Subject.CommonName = cn
		return f.ca.Issue(t, o)
	}
	for _, id := range []string{clientTLS, clientTLSOther, clientPKJ, clientPKJ2, clientFAPI2, clientCodeOnly, clientOpenID,
		clientJourney2, clientJourney2MS, clientHybrid, clientJourneyEnc} {
		c := &testClient{id: id, cert: qwac(id), method: client.AuthPrivateKeyJWT, key: newECKey(t), kid: id + "-key"}
		if id == clientTLS || id == clientTLSOther || id == clientOpenID || id == clientHybrid {
			c.method = client.AuthTLSClientAuth
		}
		f.clients[id] = c
	}
	f.clients[clientSelfSigned] = newSelfSignedClient(t, f.clk, clientSelfSigned)

	o := pkitest.QWACOptions()
	o.Subject.CommonName = clientTLS
	f.revoked = f.ca.Issue(t, o)
	f.ca.Revoke(t, f.revoked.Cert.SerialNumber, 1)
	f.stranger = qwac("stranger")
	f.rsaKey = testRSAKey(t)
	return f
}

// now is the fixture's current time.
func (f *fixture) now() time.Time { return f.clk.Now() }

// metadata returns the registered metadata of the fixture's clients.
func (f *fixture) metadata(t testing.TB) []*client.Client {
	t.Helper()
	subject := func(id string) string {
		s, err := dn.Render(f.clients[id].cert.Cert.RawSubject)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	jwks := func(id string) json.RawMessage { return ecJWKS(t, f.clients[id].key, f.clients[id].kid) }
	cc := []string{client.GrantClientCredentials}
	journey := []string{client.GrantAuthorizationCode, client.GrantRefreshToken, client.GrantClientCredentials}
	scope := client.ScopeList{"accounts", "payments", "openid"}
	return []*client.Client{
		{ID: clientTLS, TokenEndpointAuthMethod: client.AuthTLSClientAuth, TLSClientAuthSubjectDN: subject(clientTLS), GrantTypes: cc, Scope: scope},
		{ID: clientTLSOther, TokenEndpointAuthMethod: client.AuthTLSClientAuth, TLSClientAuthSubjectDN: subject(clientTLSOther), GrantTypes: cc, Scope: scope},
		{ID: clientPKJ, TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: jwks(clientPKJ), GrantTypes: cc, Scope: scope},
		{ID: clientPKJ2, TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: jwks(clientPKJ2), GrantTypes: cc, Scope: scope},
		{ID: clientFAPI2, TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: jwks(clientFAPI2), GrantTypes: cc, Scope: scope, Profile: client.ProfileFAPI2},
		{ID: clientSelfSigned, TokenEndpointAuthMethod: client.AuthSelfSignedTLSClientAuth, JWKS: jwks(clientSelfSigned), GrantTypes: cc, Scope: scope},
		{ID: clientCodeOnly, TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: jwks(clientCodeOnly), Scope: scope,
			GrantTypes: []string{client.GrantAuthorizationCode}, RedirectURIs: []string{"https://tpp.example.com/cb"}},
		{ID: clientOpenID, TokenEndpointAuthMethod: client.AuthTLSClientAuth, TLSClientAuthSubjectDN: subject(clientOpenID), GrantTypes: cc, Scope: client.ScopeList{"openid"}},
		{ID: clientJourney2, TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: jwks(clientJourney2), Scope: scope, Profile: client.ProfileFAPI2,
			GrantTypes: journey, RedirectURIs: []string{testRedirect}},
		{ID: clientJourney2MS, TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: jwks(clientJourney2MS), Scope: scope, Profile: client.ProfileFAPI2,
			GrantTypes: journey, RedirectURIs: []string{testRedirect}, RequestObjectSigningAlg: "ES256"},
		{ID: clientJourneyEnc, TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: withEncKey(t, jwks(clientJourneyEnc), &f.rsaKey.PublicKey),
			Scope: scope, Profile: client.ProfileFAPI2, GrantTypes: journey, RedirectURIs: []string{testRedirect},
			IDTokenEncryptedResponseAlg: "RSA-OAEP-256"},
		{ID: clientHybrid, TokenEndpointAuthMethod: client.AuthTLSClientAuth, TLSClientAuthSubjectDN: subject(clientHybrid), JWKS: jwks(clientHybrid),
			Scope: scope, GrantTypes: journey, RedirectURIs: []string{testRedirect},
			ResponseTypes: []string{client.ResponseTypeCodeIDToken, client.ResponseTypeCode}},
	}
}

// register writes the fixture's clients into st.
func (f *fixture) register(t testing.TB, st *store.Store) {
	t.Helper()
	reg := client.NewRegistry(st, client.RegistryOptions{})
	for _, c := range f.metadata(t) {
		if _, err := reg.Add(context.Background(), c); err != nil {
			t.Fatalf("register %s: %v", c.ID, err)
		}
	}
}

// testAS is one authorization server over real TLS on 127.0.0.1, with the mtls Extractor,
// a pki Validator with a revocation Checker against the fixture's OCSP responder, a real
// store, and the obs middleware in front, as in production.
type testAS struct {
	f        *fixture
	store    *store.Store
	srv      *httptest.Server
	base     string // where the server listens: https://127.0.0.1:port
	issuer   string // its issuer identifier: base unless asOptions.issuer says otherwise
	server   *authz.Server
	keys     *jose.KeyStore
	verifier *token.Verifier
	deny     *token.DenyList
	audit    *auditLog
	logs     *lockedBuffer
	pushed   *countingPushed
	reg      *prometheus.Registry // the server's metrics
}

type asOptions struct {
	scopesSupported []string
	lifetime        time.Duration
	// issuer overrides the issuer identifier (nodes behind one load balancer share one);
	// requests still go to the server's own listener.
	issuer string
	// manualDenyList leaves the deny-list to explicit Refresh calls (no background Run),
	// for tests that make it stale on purpose.
	manualDenyList bool
	// production wires the server as package app does, for benchmarks: the client
	// registry's read cache (client.DefaultCacheTTL), and the audit log sink plus the batch
	// store sink instead of the in-memory auditLog (whose events the test then cannot see).
	production bool
	// consents is Options.Consents (nil: not asked).
	consents authz.ConsentStatuser
}

// newTestAS builds a fixture, a SQLite store with the fixture's clients, and a server.
func newTestAS(t testing.TB) *testAS { return newTestASWith(t, asOptions{}) }

// newTestASWith is newTestAS with options.
func newTestASWith(t testing.TB, o asOptions) *testAS {
	t.Helper()
	f := newFixture(t, false)
	return newServer(t, f, openStore(t, f), o)
}

// openStore opens a SQLite store on the fixture's clock with the fixture's clients.
func openStore(t testing.TB, f *fixture) *store.Store {
	t.Helper()
	st := storetest.OpenSQLiteClock(t, f.clk)
	f.register(t, st)
	return st
}

// nopIssuer and nopAuth stand in where a test never reaches token issuance or client
// authentication; they refuse.
type nopIssuer struct{}

func (nopIssuer) Issue(context.Context, token.Claims) (string, *token.AccessToken, error) {
	return "", nil, errors.New("nopIssuer")
}

type nopAuth struct{}

func (nopAuth) Authenticate(context.Context, clientauth.Request) (*clientauth.Result, error) {
	return nil, errors.New("nopAuth")
}

// newServer starts an authorization server over st, with its own key store, token issuer,
// verifier, deny-list, client registry and authenticator (nothing shared with another
// server but the store and the fixture).
func newServer(t testing.TB, f *fixture, st *store.Store, o asOptions) *testAS {
	t.Helper()
	as := &testAS{f: f, store: st, audit: &auditLog{}, logs: &lockedBuffer{}, pushed: &countingPushed{Store: st}}
	logger := obs.NewLogger(as.logs, "debug")
	if o.production {
		logger = obs.NewLogger(io.Discard, "info") // as shipped; a benchmark's lines are not kept
	}

	checker := revocation.New(revocation.Options{Clock: f.clk})
	t.Cleanup(checker.Close)
	validator, err := pki.NewValidator(pki.Options{
		Anchors:    []pki.Anchor{{Name: "test-qtsp", Cert: f.ca.Root, Profile: pki.ProfileEIDAS}},
		Revocation: checker,
		Clock:      f.clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	extractor, err := mtls.NewExtractor(mtls.Options{Validator: validator, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	as.srv = httptest.NewUnstartedServer(obs.Middleware(logger, nil)(extractor.Middleware(mux)))
	as.srv.TLS = mtls.ServerTLSConfig(mtls.TLSOptions{Certificates: []tls.Certificate{f.server.TLS}, ClientCAs: f.ca.Pool()})
	as.base = "https://" + as.srv.Listener.Addr().String()
	as.issuer = as.base
	if o.issuer != "" {
		as.issuer = o.issuer
	}

	sk, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if as.keys, err = jose.NewKeyStore(jose.KeyStoreOptions{Clock: f.clk}, sk); err != nil {
		t.Fatal(err)
	}
	if as.deny, err = token.NewDenyList(token.DenyListOptions{Source: st, Clock: f.clk, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	if err := as.deny.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !o.manualDenyList {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = as.deny.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	issuer, err := token.NewIssuer(token.IssuerOptions{Keys: as.keys, Issuer: as.issuer, Clock: f.clk, AccessTokenLifetime: o.lifetime, Subjects: testSubjects})
	if err != nil {
		t.Fatal(err)
	}
	if as.verifier, err = token.NewVerifier(token.VerifierOptions{Keys: as.keys, Issuer: as.issuer, Clock: f.clk, DenyList: as.deny}); err != nil {
		t.Fatal(err)
	}
	regOpts := client.RegistryOptions{}
	var auditSink audit.Sink = as.audit
	if o.production {
		regOpts = client.RegistryOptions{CacheTTL: client.DefaultCacheTTL, Clock: f.clk}
		batch, err := audit.NewBatchStoreSink(st, f.clk, logger, audit.BatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := batch.Close(context.Background()); err != nil {
				t.Error(err)
			}
		})
		auditSink = audit.Multi(audit.NewLogSink(logger), batch)
	}
	auth, err := clientauth.New(clientauth.Options{
		Clients:       client.NewRegistry(st, regOpts),
		JTIs:          st,
		Issuer:        as.issuer,
		TokenEndpoint: as.issuer + authz.PathToken,
		PAREndpoint:   as.issuer + authz.PathPAR,
		Clock:         f.clk,
		JWKS:          dcrFor(t, f).remote(f), // register_test.go: registered software JWKS
	})
	if err != nil {
		t.Fatal(err)
	}
	as.reg = prometheus.NewRegistry()
	as.server, err = authz.New(authz.Options{
		Registerer:      as.reg,
		Issuer:          as.issuer,
		Keys:            as.keys,
		Tokens:          issuer,
		Verifier:        as.verifier,
		ClientAuth:      auth,
		Revocations:     st,
		DenyList:        as.deny,
		Audit:           auditSink,
		Logger:          logger,
		ScopesSupported: o.scopesSupported,
		Clock:           f.clk,
		PushedRequests:  as.pushed,
		ClientKeys:      clientauth.NewKeyResolver(nil),
		Signer:          issuer,
		IDTokens:        issuer,
		Codes:           st,
		Subjects:        authz.ClientSubjects{S: testSubjects},
		Clients:         client.NewRegistry(st, client.RegistryOptions{}),
		RefreshTokens:   st,
		Families:        st,
		Intents:         testIntents{"aac-123": clientHybrid, "aac-other": clientJourney2},
		Consents:        o.consents,
		Registration:    registrationFor(t, f, st, as.issuer), // register_test.go
	})
	if err != nil {
		t.Fatal(err)
	}
	as.server.Register(mux)
	as.srv.StartTLS()
	t.Cleanup(as.srv.Close)
	return as
}

// httpClient returns an HTTP client trusting the test CA and presenting certs.
func (as *testAS) httpClient(t testing.TB, certs []tls.Certificate) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: as.f.ca.Pool(), MinVersion: tls.VersionTLS12}
	if len(certs) > 0 {
		// Present the certificate whatever the server's list of acceptable CAs says: Go's
		// default selection withholds a certificate not issued by one of them, which is
		// exactly what a self_signed_tls_client_auth client must not do (RFC 8705 §2.2).
		cert := certs[0]
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// response is a decoded HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body %q: %v", r.body, err)
	}
	return m
}

// do sends req and reads the whole response.
func do(t testing.TB, hc *http.Client, req *http.Request) *response {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}
}

// postForm posts form to path with certs presented; hdr adds request headers.
func (as *testAS) postForm(t testing.TB, certs []tls.Certificate, path string, form url.Values, hdr http.Header) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, as.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	return do(t, as.httpClient(t, certs), req)
}

// get fetches path without a client certificate.
func (as *testAS) get(t testing.TB, path string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, as.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, as.httpClient(t, nil), req)
}

// assertion returns claims of a valid client assertion of client id for audience aud.
func (as *testAS) assertion(id string, aud any) map[string]any {
	now := as.f.now()
	return map[string]any{
		"iss": id, "sub": id, "aud": aud, "jti": randomID(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
}

// clientCredentials returns a client_credentials form for c: a signed assertion for
// private_key_jwt clients (claims edited by edit, which may be nil), client_id otherwise.
func (as *testAS) clientCredentials(t testing.TB, c *testClient, edit func(map[string]any)) url.Values {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if c.method != client.AuthPrivateKeyJWT {
		form.Set("client_id", c.id)
		return form
	}
	claims := as.assertion(c.id, as.issuer)
	if edit != nil {
		edit(claims)
	}
	form.Set("client_assertion_type", clientauth.AssertionType)
	form.Set("client_assertion", signJWT(t, "ES256", c.key, c.kid, claims))
	return form
}

// auditLog is an audit.Sink that keeps the events, with the interaction id resolved from
// the context as the real sinks do.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *auditLog) Record(ctx context.Context, e audit.Event) {
	if e.InteractionID == "" {
		e.InteractionID = obs.InteractionID(ctx)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *auditLog) all() []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]audit.Event(nil), a.events...)
}

// ofType returns the events of type typ.
func (a *auditLog) ofType(typ string) []audit.Event {
	var out []audit.Event
	for _, e := range a.all() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// byJTI returns the events about the token with jti.
func (a *auditLog) byJTI(jti any) []audit.Event {
	var out []audit.Event
	for _, e := range a.all() {
		if e.Data["jti"] == jti {
			out = append(out, e)
		}
	}
	return out
}

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ---- keys, certificates and JWTs ----

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var rsaOnce struct {
	sync.Once
	key *rsa.PrivateKey
	err error
}

func testRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() { rsaOnce.key, rsaOnce.err = rsa.GenerateKey(rand.Reader, 2048) })
	if rsaOnce.err != nil {
		t.Fatal(rsaOnce.err)
	}
	return rsaOnce.key
}

// newSelfSignedClient makes a self_signed_tls_client_auth client: a self-signed
// certificate whose key is the client's registered key.
func newSelfSignedClient(t testing.TB, clk clock.Clock, id string) *testClient {
	t.Helper()
	key := newECKey(t)
	now := clk.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: id},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testClient{id: id, method: client.AuthSelfSignedTLSClientAuth, key: key, kid: id + "-key", self: &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// ecJWKS is a JWK Set holding the public half of key.
func ecJWKS(t testing.TB, key *ecdsa.PrivateKey, kid string) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": []any{ecJWK(t, key, kid)}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func ecJWK(t testing.TB, key *ecdsa.PrivateKey, kid string) map[string]any {
	t.Helper()
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	x, y := pub[1:33], pub[33:]
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y), "kid": kid, "use": "sig", "alg": "ES256"}
}

// signJWT signs claims as a compact JWS with alg, the stdlib way (the tests must not share
// the code under test's JOSE library to forge or make assertions). key is an
// *ecdsa.PrivateKey (ES256), *rsa.PrivateKey (RS256, PS256), []byte (HS256) or nil ("none").
func signJWT(t testing.TB, alg string, key any, kid string, claims map[string]any) string {
	t.Helper()
	hdr := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(hb) + "." + b64(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "none":
	default:
		t.Fatalf("signJWT: alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// newUUID returns a random UUIDv4 (an x-fapi-interaction-id).
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// refusalCause returns the cause the server logged when it refused the request with
// interaction id id.
func (as *testAS) refusalCause(t testing.TB, id string) string {
	t.Helper()
	for _, line := range strings.Split(as.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["msg"] == "oauth request refused" && rec[obs.LogKeyInteractionID] == id {
			cause, _ := rec["cause"].(string)
			return cause
		}
	}
	t.Fatalf("no refusal logged for interaction id %s", id)
	return ""
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return b64(b[:])
}

// jwtPart decodes segment i (0 header, 1 payload) of a compact JWS.
func jwtPart(t testing.TB, raw string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
