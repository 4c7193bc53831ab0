package consent_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
	"github.com/portcullis/portcullis/internal/token"
)

const testIssuer = "https://as.portcullis.test"

// env is a deployment of the consent service on loopback with real TLS: a test QTSP
// with OCSP, QWACs with PSD2 roles, the authorization server's keys and token issuer,
// one store, and one or more gateway nodes (each with its own consent service, state
// cache and validator) serving the consent APIs and the sandbox bank's routes.
type env struct {
	clk     *clock.Fake
	ca      *pkitest.CA
	certs   map[string]*pkitest.Leaf // AIS, PIS, CBPII, ALL (every role)
	issuer  *token.Issuer
	certVal *pki.Validator
	nodes   []*node
}

// node is one Portcullis instance: its store handle, service, validator and listener.
type node struct {
	store    *store.Store
	deny     *token.DenyList
	verifier *token.Verifier
	svc      *consent.Service
	cache    *consent.StateCache
	val      *consent.ResourceValidator
	srv      *httptest.Server
}

type envOpts struct {
	postgres bool // share one PostgreSQL schema (else one SQLite file)
	nodes    int  // default 1
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{clk: clock.NewFake(time.Now().UTC().Truncate(time.Second))}
	e.ca = pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, OCSP: true})
	e.certs = map[string]*pkitest.Leaf{
		"AIS":   e.ca.QWAC(t, eidas.RoleAISP),
		"PIS":   e.ca.QWAC(t, eidas.RolePISP),
		"CBPII": e.ca.QWAC(t, eidas.RoleCBPII),
		"ALL":   e.ca.QWAC(t),
	}
	serverLeaf := e.ca.Issue(t, pkitest.LeafOptions{
		Subject: pkix.Name{CommonName: "localhost"}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	checker := revocation.New(revocation.Options{Clock: e.clk})
	t.Cleanup(checker.Close)
	certVal, err := pki.NewValidator(pki.Options{
		Anchors:    []pki.Anchor{{Name: "test-qtsp", Cert: e.ca.Root, Profile: pki.ProfileEIDAS}},
		Revocation: checker, Clock: e.clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.certVal = certVal
	key, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := jose.NewKeyStore(jose.KeyStoreOptions{Clock: e.clk}, key)
	if err != nil {
		t.Fatal(err)
	}
	if e.issuer, err = token.NewIssuer(token.IssuerOptions{Keys: keys, Issuer: testIssuer, Clock: e.clk}); err != nil {
		t.Fatal(err)
	}

	n := max(o.nodes, 1)
	var stores []*store.Store
	switch {
	case o.postgres && n == 1:
		stores = []*store.Store{storetest.OpenPostgresClock(t, e.clk)}
	case o.postgres:
		a, b := storetest.OpenPostgresPair(t, e.clk)
		stores = []*store.Store{a, b}
	case n == 1:
		stores = []*store.Store{storetest.OpenSQLiteClock(t, e.clk)}
	default:
		a, b := storetest.OpenSQLitePair(t, e.clk)
		stores = []*store.Store{a, b}
	}

	upstream := httptest.NewServer(bank.New(e.clk))
	t.Cleanup(upstream.Close)
	var bankRoutes []gateway.Route
	for _, rc := range bank.Routes(upstream.URL) {
		r, err := gateway.RouteFromConfig(rc, nil)
		if err != nil {
			t.Fatal(err)
		}
		bankRoutes = append(bankRoutes, r)
	}

	for _, st := range stores[:n] {
		nd := &node{store: st}
		deny, err := token.NewDenyList(token.DenyListOptions{Source: st, Clock: e.clk})
		if err != nil {
			t.Fatal(err)
		}
		if err := deny.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		verifier, err := token.NewVerifier(token.VerifierOptions{Keys: keys, Issuer: testIssuer, Clock: e.clk, DenyList: deny})
		if err != nil {
			t.Fatal(err)
		}
		nd.deny, nd.verifier = deny, verifier
		if nd.svc, err = consent.NewService(consent.Options{Store: st, Clock: e.clk}); err != nil {
			t.Fatal(err)
		}
		if nd.cache, err = consent.NewStateCache(nd.svc, 0, nil); err != nil {
			t.Fatal(err)
		}
		if nd.val, err = consent.NewResourceValidator(nd.svc, nd.cache, st); err != nil {
			t.Fatal(err)
		}
		routes := append([]gateway.Route(nil), bankRoutes...)
		api := consent.NewAPI(nd.svc, consent.APIOptions{BaseURL: "https://gw.portcullis.test", Funds: bank.Funds{}})
		routes = append(routes, apiRoutes(api)...)
		gw, err := gateway.New(gateway.Options{Routes: routes, Verifier: verifier, ConsentValidator: nd.val, Customers: st})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := mtls.NewExtractor(mtls.Options{Validator: certVal})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(obs.Middleware(slog.New(slog.DiscardHandler), nil)(ex.Middleware(gw)))
		srv.TLS = mtls.ServerTLSConfig(mtls.TLSOptions{Certificates: []tls.Certificate{serverLeaf.TLS}})
		srv.TLS.NextProtos = []string{"http/1.1"}
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		nd.srv = srv
		e.nodes = append(e.nodes, nd)
	}
	return e
}

// advance moves the clock and refreshes every node's deny-list (as its Run loop would).
func (e *env) advance(t testing.TB, d time.Duration) {
	t.Helper()
	e.clk.Advance(d)
	for _, nd := range e.nodes {
		if err := nd.deny.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// apiRoutes is the consent API as gateway routes, as internal/app mounts it.
func apiRoutes(api *consent.API) []gateway.Route {
	var out []gateway.Route
	for _, ep := range consent.Endpoints() {
		use := gateway.TokenUseApplication
		if ep.CustomerToken {
			use = gateway.TokenUseUser
		}
		out = append(out, gateway.Route{Name: ep.Name, Method: ep.Method, Pattern: ep.Pattern, Scopes: []string{ep.Scope},
			TokenUse: use, Roles: []eidas.Role{ep.Role}, Handler: api})
	}
	return out
}

// appToken issues a client_credentials token of client bound to cert.
func (e *env) appToken(t testing.TB, cert, client string, scopes ...string) string {
	t.Helper()
	raw, _, err := e.issuer.Issue(context.Background(), token.Claims{ClientID: client, Use: token.UseApplication,
		Scopes: scopes, CertThumbprint: pki.Thumbprint(e.certs[cert].Cert)})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// userToken issues a customer token of client for consentID bound to cert.
func (e *env) userToken(t testing.TB, cert, client, consentID string, scopes ...string) string {
	t.Helper()
	raw, _, err := e.issuer.Issue(context.Background(), token.Claims{ClientID: client, Use: token.UseUser, UserID: "demo",
		Scopes: scopes, ConsentID: consentID, CertThumbprint: pki.Thumbprint(e.certs[cert].Cert)})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// call is one HTTP request to a node.
type call struct {
	node                int
	cert                string // key of env.certs
	method, path, token string
	body                string
	contentType         string // default application/json when there is a body
	header              http.Header
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r reply) errorCode() string {
	errs, _ := r.json["Errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	m, _ := errs[0].(map[string]any)
	s, _ := m["ErrorCode"].(string)
	return s
}

func (r reply) data() map[string]any {
	m, _ := r.json["Data"].(map[string]any)
	return m
}

func (e *env) do(t testing.TB, c call) reply {
	t.Helper()
	nd := e.nodes[c.node]
	var body io.Reader
	if c.body != "" {
		body = bytes.NewBufferString(c.body)
	}
	req, err := http.NewRequest(c.method, nd.srv.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if c.body != "" && req.Header.Get("Content-Type") == "" {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	tc := &tls.Config{RootCAs: e.ca.Pool(), MinVersion: tls.VersionTLS12}
	if c.cert != "" {
		tc.Certificates = []tls.Certificate{e.certs[c.cert].TLS}
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
	defer cl.CloseIdleConnections()
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: b}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &r.json)
	}
	return r
}

// Request bodies.
const (
	accountAccessBody = `{"Data":{"Permissions":["ReadAccountsDetail","ReadBalances","ReadTransactionsBasic","ReadTransactionsCredits","ReadTransactionsDebits"],
		"TransactionFromDateTime":"2026-01-01T00:00:00Z","TransactionToDateTime":"2026-12-31T00:00:00Z"},"Risk":{}}`
	initiation = `{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20",
		"InstructedAmount":{"Amount":"165.88","Currency":"GBP"},
		"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"},
		"RemittanceInformation":{"Reference":"FRESCO-101","Unstructured":"Internal ops code 5120101"}}`
	paymentConsentBody = `{"Data":{"Initiation":` + initiation + `},"Risk":{"PaymentContextCode":"EcommerceGoods"}}`
	fundsConsentBody   = `{"Data":{"DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"80200110203345","Name":"Mr Demo"}}}`
	vrpInitiation      = `{"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"30949330000010","Name":"Marcus Sweepimus"}}`
	vrpConsentBody     = `{"Data":{"ControlParameters":{"PSUAuthenticationMethods":["UK.OBIE.SCANotRequired"],"VRPType":["UK.OBIE.VRPType.Sweeping"],
		"MaximumIndividualAmount":{"Amount":"50.00","Currency":"GBP"},
		"PeriodicLimits":[{"PeriodType":"Day","PeriodAlignment":"Calendar","Amount":"100.00","Currency":"GBP"}]},
		"Initiation":` + vrpInitiation + `},"Risk":{}}`
)

// paymentBody is a domestic payment submission for consentID with initiation in.
func paymentBody(consentID, in string) string {
	return `{"Data":{"ConsentId":"` + consentID + `","Initiation":` + in + `},"Risk":{"PaymentContextCode":"EcommerceGoods"}}`
}
