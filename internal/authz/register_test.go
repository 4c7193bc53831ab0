package authz_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/dcr"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

const (
	dcrDirectory = "Test Directory"
	dcrSoftware  = "TppSoftware01"
	dcrOrg       = pkitest.DefaultOBOrgID
	dcrRedirect  = "https://tpp.example.com/cb"
	dcrRedirect2 = "https://tpp.example.com/cb2"
)

// dcrFixture is what dynamic registration needs beside the fixture: a trusted directory key,
// a rogue key, the TPP's software key served by a real https JWKS endpoint, and QWACs.
type dcrFixture struct {
	dirKey, rogueKey *rsa.PrivateKey
	swKey            *ecdsa.PrivateKey
	jwks             *httptest.Server
	mu               sync.Mutex
	docs             map[string][]byte // path → JWK Set served
	tpp              *pkitest.Leaf     // QWAC with every role, org PSDGB-FCA-123456
	tpp2             *pkitest.Leaf     // same organisation, another subject (a second TPP app)
	aispOnly         *pkitest.Leaf     // QWAC with AISP only
	otherOrg         *pkitest.Leaf     // QWAC of another organisation
}

var dcrFixtures sync.Map // *fixture → *dcrFixture

// rogueOnce is an RSA key no directory trusts, generated once per test binary.
var rogueOnce struct {
	sync.Once
	key *rsa.PrivateKey
	err error
}

func dcrFor(t testing.TB, f *fixture) *dcrFixture {
	if d, ok := dcrFixtures.Load(f); ok {
		return d.(*dcrFixture)
	}
	t.Helper()
	rogueOnce.Do(func() { rogueOnce.key, rogueOnce.err = rsa.GenerateKey(rand.Reader, 2048) })
	if rogueOnce.err != nil {
		t.Fatal(rogueOnce.err)
	}
	d := &dcrFixture{dirKey: testRSAKey(t), rogueKey: rogueOnce.key, swKey: newECKey(t), docs: map[string][]byte{}}
	d.jwks = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		doc, ok := d.docs[r.URL.Path]
		d.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(d.jwks.Close)
	d.serve("/software.jwks", jwkSet(t, ecJWK(t, d.swKey, "sw-1")))
	d.serve("/revoked.jwks", []byte(`{"keys":[]}`))
	qwac := func(cn string, edit func(*pkitest.LeafOptions), roles ...eidas.Role) *pkitest.Leaf {
		o := pkitest.QWACOptions(roles...)
		o.Subject.CommonName = cn
		if edit != nil {
			edit(&o)
		}
		return f.ca.Issue(t, o)
	}
	d.tpp = qwac("dcr-tpp", nil)
	d.tpp2 = qwac("dcr-tpp-2", nil)
	d.aispOnly = qwac("dcr-aisp", nil, eidas.RoleAISP)
	d.otherOrg = qwac("dcr-other", func(o *pkitest.LeafOptions) { o.OrganizationIdentifier = "PSDGB-FCA-999999" })
	actual, _ := dcrFixtures.LoadOrStore(f, d)
	return actual.(*dcrFixture)
}

func (d *dcrFixture) serve(path string, doc []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.docs[path] = doc
}

func (d *dcrFixture) url(path string) string { return d.jwks.URL + path }

// remote is a jose.RemoteJWKS that trusts the software JWKS server (on loopback).
func (d *dcrFixture) remote(f *fixture) *jose.RemoteJWKS {
	roots := x509.NewCertPool()
	roots.AddCert(d.jwks.Certificate())
	return jose.NewRemoteJWKS(jose.RemoteJWKSOptions{Clock: f.clk, RootCAs: roots, AllowPrivateNetworks: true})
}

// registrationFor is the harness's Options.Registration: a dcr.Verifier trusting the
// fixture's directory, fetching software keys through a real jose.RemoteJWKS.
func registrationFor(t testing.TB, f *fixture, st *store.Store, issuer string) *authz.RegistrationOptions {
	t.Helper()
	d := dcrFor(t, f)
	set, err := jose.ParseJWKS(jwkSet(t, rsaJWK(&d.dirKey.PublicKey, "dir-1")))
	if err != nil {
		t.Fatal(err)
	}
	v, err := dcr.New(dcr.Options{
		Directories:  []dcr.Directory{{Issuer: dcrDirectory, Keys: set}},
		SoftwareKeys: d.remote(f),
		JTIs:         st,
		Audiences:    []string{issuer},
		Clock:        f.clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &authz.RegistrationOptions{Verifier: v, Clients: client.NewRegistry(st, client.RegistryOptions{}), RefreshTokens: st}
}

func (as *testAS) ssaClaims(t testing.TB) map[string]any {
	d := dcrFor(t, as.f)
	return map[string]any{
		"iss": dcrDirectory, "iat": as.f.now().Add(-time.Hour).Unix(), "jti": randomID(),
		"software_id": dcrSoftware, "software_client_name": "TPP app", "software_roles": []string{"AISP", "PISP"},
		"software_redirect_uris": []string{dcrRedirect, dcrRedirect2},
		"software_jwks_endpoint": d.url("/software.jwks"), "software_jwks_revoked_endpoint": d.url("/revoked.jwks"),
		"org_id": dcrOrg, "org_name": "Example TPP Ltd", "org_status": "Active",
		"organisation_competent_authority_claims": map[string]any{"authority_id": "FCAGBR", "registration_id": "123456", "status": "Active"},
	}
}

// registrationBody is a valid tls_client_auth registration JWT for leaf, its claims and its
// SSA's claims edited.
func (as *testAS) registrationBody(t testing.TB, leaf *pkitest.Leaf, editSSA, edit func(map[string]any)) string {
	t.Helper()
	d := dcrFor(t, as.f)
	sc := as.ssaClaims(t)
	if editSSA != nil {
		editSSA(sc)
	}
	ssa := signJWTHdr(t, "PS256", d.dirKey, "dir-1", sc, nil)
	subject, err := dn.Render(leaf.Cert.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	now := as.f.now()
	c := map[string]any{
		"iss": dcrSoftware, "aud": as.issuer, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": randomID(),
		"software_statement": ssa, "redirect_uris": []string{dcrRedirect},
		"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": subject,
		"grant_types": []string{"client_credentials", "authorization_code", "refresh_token"},
		"scope":       "openid accounts payments", "id_token_signed_response_alg": "PS256", "request_object_signing_alg": "PS256",
	}
	if edit != nil {
		edit(c)
	}
	return signJWTHdr(t, "ES256", d.swKey, "sw-1", c, nil)
}

// send sends body to method path with cert and headers.
func (as *testAS) send(t testing.TB, method, path string, cert *pkitest.Leaf, body, contentType, bearer string) *response {
	t.Helper()
	req, err := http.NewRequest(method, as.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	var certs []tls.Certificate
	if cert != nil {
		certs = []tls.Certificate{cert.TLS}
	}
	return do(t, as.httpClient(t, certs), req)
}

func (as *testAS) clientCount(t testing.TB) int {
	t.Helper()
	all, err := as.store.ListClients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// TestRegisterEndpoint is the black-box table over real TLS for POST /register: every row of
// OB-DCR-01…12 and dcr-consent.md §1.6. A refused request asserts status, error and that
// nothing was registered; an accepted one the stored metadata.
func TestRegisterEndpoint(t *testing.T) {
	as := newTestAS(t)
	d := dcrFor(t, as.f)
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	pkj := func(m map[string]any) {
		m["token_endpoint_auth_method"] = "private_key_jwt"
		m["token_endpoint_auth_signing_alg"] = "ES256"
		delete(m, "tls_client_auth_subject_dn")
	}
	replayed := as.registrationBody(t, d.tpp2, nil, nil)
	x5c := base64.StdEncoding.EncodeToString(d.tpp.Cert.Raw)

	type row struct {
		name        string
		cert        *pkitest.Leaf
		body        func() string
		contentType string
		status      int
		code        string
		check       func(t *testing.T, c *client.Client)
	}
	body := func(leaf *pkitest.Leaf, editSSA, edit func(map[string]any)) func() string {
		return func() string { return as.registrationBody(t, leaf, editSSA, edit) }
	}
	resign := func(alg string, key any, kid string, hdr map[string]any) func() string {
		return func() string {
			parts := strings.Split(as.registrationBody(t, d.tpp, nil, nil), ".")
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			var c map[string]any
			_ = json.Unmarshal(raw, &c)
			return signJWTHdr(t, alg, key, kid, c, hdr)
		}
	}
	ssaSigned := func(key *rsa.PrivateKey, alg string) func() string {
		return func() string {
			return as.registrationBody(t, d.tpp, nil, func(m map[string]any) {
				m["software_statement"] = signJWTHdr(t, alg, key, "dir-1", as.ssaClaims(t), nil)
			})
		}
	}
	rows := []row{
		{name: "OB-DCR-01 no client certificate", body: body(d.tpp, nil, nil), status: 401, code: "invalid_client"},
		{name: "OB-DCR-01 form body", cert: d.tpp, body: body(d.tpp, nil, nil), contentType: "application/x-www-form-urlencoded", status: 400, code: "invalid_request"},
		{name: "OB-DCR-01 not a JWS", cert: d.tpp, body: func() string { return "{}" }, status: 400, code: "invalid_request"},
		{name: "OB-DCR-01 RS256 request", cert: d.tpp, body: resign("RS256", as.f.rsaKey, "sw-1", nil), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-01 x5c-only key", cert: d.tpp, body: resign("ES256", d.swKey, "", map[string]any{"x5c": []string{x5c}}), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-01 key not in the software JWKS", cert: d.tpp, body: resign("ES256", newECKey(t), "sw-1", nil), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-02 expired request", cert: d.tpp, body: body(d.tpp, nil, set("exp", as.f.now().Add(-time.Minute).Unix())), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-02 request valid 30 minutes", cert: d.tpp, body: body(d.tpp, nil, set("exp", as.f.now().Add(30*time.Minute).Unix())), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-02 wrong aud", cert: d.tpp, body: body(d.tpp, nil, set("aud", "https://other-bank.example")), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-03 SSA signed by an untrusted key", cert: d.tpp, body: ssaSigned(d.rogueKey, "PS256"), status: 400, code: "invalid_software_statement"},
		{name: "OB-DCR-03 SSA RS256", cert: d.tpp, body: ssaSigned(d.dirKey, "RS256"), status: 400, code: "invalid_software_statement"},
		{name: "OB-DCR-03 SSA of an untrusted directory", cert: d.tpp, body: body(d.tpp, set("iss", "Rogue Directory"), nil), status: 400, code: "unapproved_software_statement"},
		{name: "OB-DCR-03 expired SSA", cert: d.tpp, body: body(d.tpp, set("exp", as.f.now().Add(-time.Minute).Unix()), nil), status: 400, code: "invalid_software_statement"},
		{name: "OB-DCR-04 inactive organisation", cert: d.tpp, body: body(d.tpp, set("org_status", "Revoked"), nil), status: 400, code: "unapproved_software_statement"},
		{name: "OB-DCR-05 software_id differs", cert: d.tpp, body: body(d.tpp, nil, set("software_id", "another")), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-06 redirect URI not in the SSA", cert: d.tpp, body: body(d.tpp, nil, set("redirect_uris", []string{"https://evil.example/cb"})), status: 400, code: "invalid_redirect_uri"},
		{name: "OB-DCR-06 localhost redirect URI", cert: d.tpp, body: body(d.tpp, set("software_redirect_uris", []string{"https://localhost/cb"}), del("redirect_uris")), status: 400, code: "invalid_redirect_uri"},
		{name: "OB-DCR-07 scope beyond the roles", cert: d.tpp, body: body(d.tpp, nil, set("scope", "openid fundsconfirmations")), status: 400, code: "invalid_client_metadata"},
		{name: "SSA role the QWAC lacks (PISP, AISP-only certificate)", cert: d.aispOnly, body: body(d.aispOnly, nil, nil), status: 400, code: "unapproved_software_statement"},
		{name: "certificate of another organisation", cert: d.otherOrg, body: body(d.otherOrg, nil, nil), status: 400, code: "unapproved_software_statement"},
		{name: "OB-DCR-08 DN mismatch", cert: d.tpp, body: body(d.tpp2, nil, nil), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-08 client_secret_basic", cert: d.tpp, body: body(d.tpp, nil, set("token_endpoint_auth_method", "client_secret_basic")), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-08 client_secret_post", cert: d.tpp, body: body(d.tpp, nil, set("token_endpoint_auth_method", "client_secret_post")), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-08 RS256 token_endpoint_auth_signing_alg", cert: d.tpp, body: body(d.tpp, nil, func(m map[string]any) { pkj(m); m["token_endpoint_auth_signing_alg"] = "RS256" }), status: 400, code: "invalid_client_metadata"},
		{name: "OB-DCR-09 unsupported response types", cert: d.tpp, body: body(d.tpp, nil, set("response_types", []string{"id_token", "token"})), status: 400, code: "invalid_client_metadata"},
		{name: "accepted tls_client_auth (application/jose)", cert: d.tpp2, body: func() string { return replayed }, contentType: "application/jose", status: 201, check: func(t *testing.T, c *client.Client) {
			sub, _ := dn.Render(d.tpp2.Cert.RawSubject)
			if c.TokenEndpointAuthMethod != "tls_client_auth" || c.TLSClientAuthSubjectDN != sub || c.SoftwareID != dcrSoftware ||
				c.OrgID != dcrOrg || c.JWKSURI != d.url("/software.jwks") || c.Scope.String() != "openid accounts payments" ||
				!slices.Equal(c.RedirectURIs, []string{dcrRedirect}) || c.Registration == nil || c.Registration.SSAIssuer != dcrDirectory {
				t.Errorf("stored %+v", c)
			}
		}},
		{name: "OB-DCR-02 replayed jti", cert: d.tpp2, body: func() string { return replayed }, status: 400, code: "invalid_client_metadata"},
		{name: "FAPI1-AS-05 a second tls_client_auth client for the same subject DN", cert: d.tpp2, body: body(d.tpp2, nil, nil), status: 400, code: "invalid_client_metadata"},
		{name: "accepted private_key_jwt, redirect URIs and scope from the SSA", cert: d.tpp, body: body(d.tpp, nil, func(m map[string]any) {
			pkj(m)
			delete(m, "redirect_uris")
			delete(m, "scope")
		}), status: 201, check: func(t *testing.T, c *client.Client) {
			if c.TokenEndpointAuthMethod != "private_key_jwt" || c.TokenEndpointAuthSigningAlg != "ES256" ||
				!slices.Equal(c.RedirectURIs, []string{dcrRedirect, dcrRedirect2}) || c.Scope.String() != "openid accounts payments" {
				t.Errorf("stored %+v", c)
			}
		}},
	}
	reg := client.NewRegistry(as.store, client.RegistryOptions{})
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			before := as.clientCount(t)
			ct := r.contentType
			if ct == "" {
				ct = "application/jwt"
			}
			resp := as.send(t, http.MethodPost, authz.PathRegister, r.cert, r.body(), ct, "")
			if resp.status != r.status {
				t.Fatalf("status %d, want %d: %s", resp.status, r.status, resp.body)
			}
			m := resp.json(t)
			if r.status != http.StatusCreated {
				if m["error"] != r.code {
					t.Fatalf("error %v, want %s (%s)", m["error"], r.code, resp.body)
				}
				if n := as.clientCount(t); n != before {
					t.Fatalf("%d clients after a refusal, %d before", n, before)
				}
				return
			}
			if n := as.clientCount(t); n != before+1 {
				t.Fatalf("%d clients after registration, %d before", n, before)
			}
			id, _ := m["client_id"].(string)
			rat, _ := m["registration_access_token"].(string)
			if id == "" || len(rat) < 43 || m["registration_client_uri"] != as.issuer+authz.PathRegister+"/"+id {
				t.Fatalf("response %s", resp.body)
			}
			sc, err := as.store.GetClient(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(sc.Metadata), rat) || !strings.Contains(string(sc.Metadata), store.HashSecret(rat)) {
				t.Fatalf("stored metadata must hold the token's hash only: %s", sc.Metadata)
			}
			c, err := reg.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			r.check(t, c)
		})
	}
	// Every refusal and registration is audited with its reason.
	refused := as.audit.ofType(audit.TypeClientRegistrationRefused)
	registered := as.audit.ofType(audit.TypeClientDynamicRegistration)
	if len(refused) != len(rows)-2 || len(registered) != 2 {
		t.Fatalf("audited %d refusals and %d registrations", len(refused), len(registered))
	}
	for _, e := range refused {
		if e.Data["error"] == "" || e.Data["reason"] == "" {
			t.Errorf("refusal without reason: %+v", e.Data)
		}
	}
}

// register registers a tls_client_auth client for leaf and returns its id and
// registration access token.
func (as *testAS) register(t testing.TB, leaf *pkitest.Leaf) (string, string) {
	t.Helper()
	resp := as.send(t, http.MethodPost, authz.PathRegister, leaf, as.registrationBody(t, leaf, nil, nil), "application/jwt", "")
	if resp.status != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.status, resp.body)
	}
	m := resp.json(t)
	return m["client_id"].(string), m["registration_access_token"].(string)
}

// TestRegistrationManagement covers RFC 7592 / OB-DCR-11: GET, PUT and DELETE with the
// registration access token or a client_credentials token of that client over mTLS; another
// client's token is refused and revoked; PUT keeps issued tokens; DELETE revokes refresh
// tokens and ends the registration.
func TestRegistrationManagement(t *testing.T) {
	as := newTestAS(t)
	d := dcrFor(t, as.f)
	ctx := context.Background()
	id, rat := as.register(t, d.tpp)
	id2, rat2 := as.register(t, d.tpp2)
	path := authz.PathRegister + "/" + id

	// Read with the registration access token; a wrong one, another client's, none.
	if r := as.send(t, http.MethodGet, path, nil, "", "", rat); r.status != 200 || r.json(t)["client_id"] != id || r.json(t)["registration_access_token"] != nil {
		t.Fatalf("GET: %d %s", r.status, r.body)
	}
	for name, tok := range map[string]string{"wrong": rat + "x", "another client's": rat2, "none": ""} {
		r := as.send(t, http.MethodGet, path, nil, "", "", tok)
		if r.status != 401 || r.json(t)["error"] != "invalid_token" || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("GET with %s token: %d %s", name, r.status, r.body)
		}
	}

	// A client_credentials token of the client, over mTLS with its certificate.
	tokenFor := func(leaf *pkitest.Leaf, cid string) string {
		r := as.postForm(t, []tls.Certificate{leaf.TLS}, authz.PathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {cid}, "scope": {"accounts"}}, nil)
		if r.status != 200 {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
		return r.json(t)["access_token"].(string)
	}
	at := tokenFor(d.tpp, id)
	if r := as.send(t, http.MethodGet, path, d.tpp, "", "", at); r.status != 200 {
		t.Fatalf("GET with access token: %d %s", r.status, r.body)
	}
	// The same token without its certificate is refused (not revoked).
	if r := as.send(t, http.MethodGet, path, d.tpp2, "", "", at); r.status != 401 {
		t.Fatalf("GET with another certificate: %d %s", r.status, r.body)
	}
	// Another client's id: 401, and the token is revoked.
	at2 := tokenFor(d.tpp2, id2)
	if r := as.send(t, http.MethodGet, path, d.tpp2, "", "", at2); r.status != 401 || r.json(t)["error"] != "invalid_token" {
		t.Fatalf("GET another client: %d %s", r.status, r.body)
	}
	if _, err := as.verifier.Verify(ctx, at2); err == nil {
		t.Fatal("token used for another client is still valid")
	}
	if r := as.send(t, http.MethodGet, authz.PathRegister+"/"+id2, d.tpp2, "", "", at2); r.status != 401 {
		t.Fatalf("revoked token still manages its own client: %d", r.status)
	}

	// A client the operator added is not managed through /register, even with its own token.
	op := as.f.clients[clientTLS]
	if r := as.send(t, http.MethodGet, authz.PathRegister+"/"+clientTLS, op.cert, "", "", tokenFor(op.cert, clientTLS)); r.status != 401 {
		t.Fatalf("GET of an operator-added client: %d %s", r.status, r.body)
	}

	// PUT replaces the metadata and keeps issued tokens.
	upd := as.registrationBody(t, d.tpp, nil, func(m map[string]any) { m["redirect_uris"] = []string{dcrRedirect2} })
	r := as.send(t, http.MethodPut, path, d.tpp, upd, "application/jwt", rat)
	if r.status != 200 || r.json(t)["client_id"] != id {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	c, err := client.NewRegistry(as.store, client.RegistryOptions{}).Get(ctx, id)
	if err != nil || !slices.Equal(c.RedirectURIs, []string{dcrRedirect2}) {
		t.Fatalf("after PUT: %+v %v", c, err)
	}
	if _, err := as.verifier.Verify(ctx, at); err != nil {
		t.Fatalf("PUT killed an issued token: %v", err)
	}
	// PUT with a refused body changes nothing.
	bad := as.registrationBody(t, d.tpp, nil, func(m map[string]any) { m["scope"] = "fundsconfirmations" })
	if r := as.send(t, http.MethodPut, path, d.tpp, bad, "application/jwt", at); r.status != 400 || r.json(t)["error"] != "invalid_client_metadata" {
		t.Fatalf("bad PUT: %d %s", r.status, r.body)
	}
	// PUT for another client's software is refused.
	other := as.registrationBody(t, d.tpp, func(m map[string]any) { m["software_id"] = "OtherSoftware" }, func(m map[string]any) { m["iss"] = "OtherSoftware" })
	if r := as.send(t, http.MethodPut, path, d.tpp, other, "application/jwt", rat); r.status != 400 || r.json(t)["error"] != "invalid_client_metadata" {
		t.Fatalf("PUT of another software: %d %s", r.status, r.body)
	}

	// DELETE revokes refresh tokens and ends the registration.
	if err := as.store.PutRefreshToken(ctx, store.RefreshToken{Hash: store.HashSecret("rt-" + id), ClientID: id, FamilyID: "fam-" + id,
		ExpiresAt: as.f.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if r := as.send(t, http.MethodDelete, path, d.tpp, "", "", at); r.status != 204 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if _, err := as.store.GetRefreshToken(ctx, store.HashSecret("rt-"+id)); err == nil {
		t.Fatal("refresh token of a deleted client still valid")
	}
	for _, tok := range []string{rat, at} {
		if r := as.send(t, http.MethodGet, path, d.tpp, "", "", tok); r.status != 401 {
			t.Fatalf("GET after DELETE: %d %s", r.status, r.body)
		}
	}
	ops := map[string]int{}
	for _, e := range as.audit.ofType(audit.TypeClientDynamicRegistration) {
		ops[e.Data["operation"].(string)]++
	}
	if ops["register"] != 2 || ops["update"] != 1 || ops["delete"] != 1 {
		t.Fatalf("audited operations %v", ops)
	}
	_ = token.UseApplication
}

// ---- JWT helpers with extra header members ----

func jwkSet(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rsaJWK(k *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()), "kid": kid, "use": "sig"}
}

// signJWTHdr is signJWT with extra header members (x5c …) and kid "" meaning none.
func signJWTHdr(t testing.TB, alg string, key any, kid string, claims map[string]any, extra map[string]any) string {
	t.Helper()
	if len(extra) == 0 {
		return signJWT(t, alg, key, kid, claims)
	}
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	for k, v := range extra {
		h[k] = v
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	input := b64(hb) + "." + b64(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case *rsa.PrivateKey:
		var err error
		sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
	}
	return input + "." + b64(sig)
}

// TestRegisteredClientAuthenticatesWithSoftwareKeys: a private_key_jwt client registered by
// DCR authenticates at /token with a key of its SSA's software JWKS (jwks_uri), picks up a
// key rotation without re-registering, and a key listed at the revoked endpoint stops
// working (OB-DCR-12).
func TestRegisteredClientAuthenticatesWithSoftwareKeys(t *testing.T) {
	as := newTestAS(t)
	d := dcrFor(t, as.f)
	body := as.registrationBody(t, d.tpp, nil, func(m map[string]any) {
		m["token_endpoint_auth_method"] = "private_key_jwt"
		m["token_endpoint_auth_signing_alg"] = "ES256"
		delete(m, "tls_client_auth_subject_dn")
	})
	resp := as.send(t, http.MethodPost, authz.PathRegister, d.tpp, body, "application/jwt", "")
	if resp.status != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.status, resp.body)
	}
	id := resp.json(t)["client_id"].(string)
	tokenWith := func(key *ecdsa.PrivateKey, kid string) *response {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {signJWT(t, "ES256", key, kid, as.assertion(id, as.issuer))}}
		return as.postForm(t, []tls.Certificate{d.tpp.TLS}, authz.PathToken, form, nil)
	}
	if r := tokenWith(d.swKey, "sw-1"); r.status != 200 {
		t.Fatalf("token with the software key: %d %s", r.status, r.body)
	}
	// Rotation at the TPP: a new kid is fetched on first use.
	k2 := newECKey(t)
	d.serve("/software.jwks", jwkSet(t, ecJWK(t, d.swKey, "sw-1"), ecJWK(t, k2, "sw-2")))
	as.f.fake.Advance(time.Minute)
	if r := tokenWith(k2, "sw-2"); r.status != 200 {
		t.Fatalf("token with the rotated key: %d %s", r.status, r.body)
	}
	// sw-1 revoked at the directory's revoked endpoint: refused once the cached list expires.
	d.serve("/revoked.jwks", jwkSet(t, ecJWK(t, d.swKey, "sw-1")))
	as.f.fake.Advance(2 * time.Hour)
	if r := tokenWith(d.swKey, "sw-1"); r.status != 401 || r.json(t)["error"] != "invalid_client" {
		t.Fatalf("token with a revoked key: %d %s", r.status, r.body)
	}
	if r := tokenWith(k2, "sw-2"); r.status != 200 {
		t.Fatalf("token with the remaining key: %d %s", r.status, r.body)
	}
}
