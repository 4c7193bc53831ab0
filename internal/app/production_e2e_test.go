package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	dirsandbox "github.com/portcullis/portcullis/internal/dcr/sandbox"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/store/storetest"
	"github.com/portcullis/portcullis/internal/web"
	"github.com/portcullis/portcullis/internal/web/webtest"
)

// copyDataDir provisions a second node's data directory from the first's, as an operator
// copies a node's secrets: the sandbox SSA directory, keys.dir (subject.secret),
// customer-secrets.key and the pages' session key. Database files are not copied (the
// nodes share PostgreSQL).
func copyDataDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() && rel == "pki" {
			// The sandbox CA is bound to its node's OCSP/CRL URL: node B trusts node A's
			// root as a trust anchor instead (see startLBCluster).
			return fs.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		if strings.Contains(d.Name(), ".db") || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", from, to, err)
	}
}

// jwsKeyID is the kid of a compact JWS's header.
func jwsKeyID(t *testing.T, jws string) string {
	t.Helper()
	hdr, _, _ := strings.Cut(jws, ".")
	b, err := base64.RawURLEncoding.DecodeString(hdr)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// activeKeyID is the key a node signs with now.
func activeKeyID(a *app.App) string {
	for _, k := range a.Keys.Keys() {
		if k.State == jose.StateActive {
			return k.KeyID
		}
	}
	return ""
}

// postBody posts body as contentType with c (a bearer token when set) and decodes the
// JSON answer.
func postBody(t *testing.T, c *http.Client, u, contentType, body, bearer string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("POST %s: %d %q", u, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// TestProductionEndToEnd is issue 13's first acceptance item: two PostgreSQL-backed nodes
// (signing keys in the database under one KEK, the same secrets files) behind Debian's nginx
// running deploy/nginx/portcullis-mtls.conf (TPPs: mTLS terminated at nginx, the certificate
// forwarded in a header) and deploy/nginx/portcullis-public.conf (browsers), with the
// customers' login at the bank's own OpenID provider (oidc-provider, test/federation). A TPP
// onboards by dynamic client registration through nginx (a software statement of the sandbox
// directory, its keys served over https), gets a client_credentials token and creates an
// account-access consent; it pushes a signed request object naming the consent; chromium
// opens /authorize through nginx, is sent to the provider, logs in and consents on the
// provider's own pages, comes back, chooses an account and approves; the TPP exchanges the
// code and reads the accounts through nginx. Then node A rotates its signing key (the key
// set API `portcullis keys rotate` uses; a 2 s publish delay and the nodes' own 1 s polls):
// node B publishes the new key, node A signs with it, and node B — called on its own mTLS
// listener with the TPP's certificate — accepts both the token issued before the rotation
// and one issued by node A after it.
func TestProductionEndToEnd(t *testing.T) {
	bin := nginxBinary(t)
	webtest.Chromium(t)
	p := startIdP(t) // skips without node (outside CI)

	pg := storetest.PostgresURL(t)
	kek := randomKEK(t)
	lbPort, pubPort := freePort(t), freePort(t)
	// The one name browsers and TPPs use: nginx's.
	publicURL := "https://localhost:" + pubPort
	callback := publicURL + web.FederatedCallbackPath
	rpKeyFile, rpJWKS := rpKey(t)
	idpCA := filepath.Join(t.TempDir(), "idp-ca.pem")
	if err := os.WriteFile(idpCA, p.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	node := func(c *config.Config) {
		c.Database.URL = config.SecretURL(pg)
		c.Keys.Source = "database"
		c.Keys.KEK = kek
		c.Keys.PollInterval = time.Second
		c.Keys.PublishDelay = 2 * time.Second
		c.Listen.Admin = "127.0.0.1:0"
		c.MTLS.Header = nginxCertHeader
		c.MTLS.HeaderFormat = config.HeaderPEMURLEncoded
		c.MTLS.TrustedProxies = []string{"127.0.0.1/32"}
		c.PublicURL = publicURL
		c.Identity.Federation = config.Federation{
			Issuer: p.issuer, ClientID: "portcullis", PrivateKeyFile: rpKeyFile, CAFile: idpCA,
			CustomerClaim: "psu_id", RedirectURI: callback,
			ACRMap: []config.ACRMapping{{Provider: "urn:idp:loa:high", ACR: "urn:openbanking:psd2:sca"}},
		}
	}
	var cfgA *config.Config
	a := startAppClock(t, clock.Real{}, func(c *config.Config) { node(c); cfgA = c })
	b := startAppClock(t, clock.Real{}, func(c *config.Config) {
		node(c)
		copyDataDir(t, cfgA.DataDir, c.DataDir)
		pkiA := a.Sandbox.Dir()
		c.Trust.Anchors = append(c.Trust.Anchors, config.Anchor{Name: "sandbox-node-a", File: filepath.Join(pkiA, sandbox.FileRootCert), Profile: "eidas"})
		c.Trust.IntermediatesFile = filepath.Join(pkiA, sandbox.FileIssuingCert)
		c.TLS.CertFile, c.TLS.KeyFile = filepath.Join(pkiA, "server.crt"), filepath.Join(pkiA, "server.key")
		c.Keys.SealCertFile = filepath.Join(pkiA, "bank-seal.crt")
		c.Keys.SealKeyFile = filepath.Join(pkiA, "bank-seal.key")
	})
	if activeKeyID(a) == "" || activeKeyID(a) != activeKeyID(b) {
		t.Fatalf("nodes sign with %q and %q, want one key", activeKeyID(a), activeKeyID(b))
	}
	p.register(t, map[string]any{"clients": []any{
		map[string]any{"client_id": "portcullis", "redirect_uris": []string{callback}, "jwks": rpJWKS},
	}})

	// nginx: the TPPs' block and the browsers' block, both balancing over both nodes.
	dir := t.TempDir()
	lbCert, err := a.Sandbox.Issue(sandbox.KindServer, sandbox.IssueOptions{
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := lbCert.WriteFiles(filepath.Join(dir, "lb")); err != nil {
		t.Fatal(err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Sandbox.RootCertificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "nodes-ca.crt"), rootPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"PORTCULLIS_LISTEN":        "127.0.0.1:" + lbPort,
		"PORTCULLIS_PUBLIC_LISTEN": "127.0.0.1:" + pubPort,
		"PORTCULLIS_SERVER_NAME":   "localhost",
		"PORTCULLIS_TLS_CERT":      filepath.Join(dir, "lb.crt"),
		"PORTCULLIS_TLS_KEY":       filepath.Join(dir, "lb.key"),
		"PORTCULLIS_NODE_A":        a.HTTPSAddr().String(),
		"PORTCULLIS_NODE_B":        b.HTTPSAddr().String(),
		"PORTCULLIS_PUBLIC_NODE_A": a.PublicAddr().String(),
		"PORTCULLIS_PUBLIC_NODE_B": b.PublicAddr().String(),
		"PORTCULLIS_NODE_CA":       filepath.Join(dir, "nodes-ca.crt"),
		"PORTCULLIS_NODE_NAME":     "localhost",
	}
	var sites []string
	for _, name := range []string{"portcullis-mtls.conf.template", "portcullis-public.conf.template"} {
		site := renderNginxTemplate(t, filepath.Join(repoRoot(t), "deploy", "nginx", name), vars)
		path := filepath.Join(dir, strings.TrimSuffix(name, ".template"))
		if err := os.WriteFile(path, []byte(site), 0o644); err != nil {
			t.Fatal(err)
		}
		sites = append(sites, path)
	}
	startNginx(t, bin, dir, sites, []string{lbPort, pubPort})
	lb := "https://127.0.0.1:" + lbPort

	// The TPP: a QWAC of the sandbox CA, a software key published over https, and its
	// redirect URI (a loopback https page the browser lands on).
	const org = "PSDGB-FCA-131399"
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: org, Roles: mustRoles(t, "AISP,PISP")})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := dn.Render(qwac.Certificate.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	tpp := mtlsClient(t, a.Sandbox.RootCertificate(), qwac)
	sw := newSoftwareKeys(t)
	swJWKS := newCrossSignedJWKSServer(t, sw.JWKS(), a.Sandbox, b.Sandbox)
	// The TPP's redirect URI: a public name (registration refuses loopback ones), which
	// chromium resolves to the callback page on loopback.
	cb := newTPPCallback(t)
	redirect := "https://tpp.example.com:" + strings.TrimPrefix(cb.srv.URL, "https://127.0.0.1:") + "/cb"
	issuer := cfgA.Issuer
	sign := func(claims map[string]any, typ string) string {
		t.Helper()
		raw, err := json.Marshal(claims)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := sw.Sign(raw, typ)
		if err != nil {
			t.Fatal(err)
		}
		return jws
	}

	// Every request below goes through nginx until step 9: both nodes must serve some.
	servedA, servedB := requestsServed(t, a, ""), requestsServed(t, b, "")

	// 1. Dynamic client registration through nginx.
	directory, err := dirsandbox.Open(filepath.Join(cfgA.DataDir, app.DirectoryDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	ssa, err := directory.IssueSSA(dirsandbox.SSAOptions{SoftwareID: "ProdTpp1", OrgID: "0015800001PROD13", OrgName: "Production TPP Ltd",
		RegistrationID: org, Roles: []string{"AISP", "PISP"}, RedirectURIs: []string{redirect}, JWKSURI: swJWKS.url()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	status, reg := postBody(t, tpp, lb+"/register", "application/jwt", sign(map[string]any{
		"iss": "ProdTpp1", "aud": issuer, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": randomString(t), "software_statement": ssa,
		"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": subject,
		"grant_types":    []string{"client_credentials", "authorization_code", "refresh_token"},
		"response_types": []string{"code id_token"}, "redirect_uris": []string{redirect},
		"request_object_signing_alg": "ES256", "application_type": "web", "scope": "openid accounts payments",
	}, "JWT"), "")
	if status != http.StatusCreated {
		t.Fatalf("DCR through nginx: %d %v", status, reg)
	}
	clientID, _ := reg["client_id"].(string)

	// 2. client_credentials token and 3. the account-access consent, through nginx.
	code, tb := lbToken(t, tpp, lb, clientID, "accounts", nil)
	if code != http.StatusOK {
		t.Fatalf("client_credentials through nginx: %d %v", code, tb)
	}
	appToken := tb["access_token"].(string)
	status, created := postBody(t, tpp, lb+consent.PathAccountAccessConsents, "application/json",
		`{"Data":{"Permissions":["ReadAccountsBasic","ReadAccountsDetail","ReadBalances"]},"Risk":{}}`, appToken)
	if status != http.StatusCreated {
		t.Fatalf("account-access consent through nginx: %d %v", status, created)
	}
	consentID := created["Data"].(map[string]any)["ConsentId"].(string)

	// 4. PAR with a signed request object naming the consent.
	verifier, challenge := pkcePair(t)
	state, nonce := randomString(t), randomString(t)
	now = time.Now()
	status, par := postBody(t, tpp, lb+"/par", "application/x-www-form-urlencoded", url.Values{
		"client_id": {clientID}, "request": {sign(map[string]any{
			"iss": clientID, "aud": issuer, "client_id": clientID, "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"jti": randomString(t), "response_type": "code id_token", "redirect_uri": redirect, "scope": "openid accounts",
			"state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
			"claims": map[string]any{"id_token": map[string]any{
				"openbanking_intent_id": map[string]any{"value": consentID, "essential": true},
				"acr":                   map[string]any{"essential": true, "values": []string{"urn:openbanking:psd2:sca"}},
			}},
		}, "oauth-authz-req+jwt")},
	}.Encode(), "")
	if status != http.StatusCreated {
		t.Fatalf("PAR through nginx: %d %v", status, par)
	}

	// 5. The customer, in chromium, through nginx's public block and at the provider.
	idpCert, _ := pem.Decode(p.caPEM)
	idpLeaf, err := x509.ParseCertificate(idpCert.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	br := &journeyBrowser{webtest.NewBrowserMapping(t, 4*time.Minute, "MAP tpp.example.com 127.0.0.1", webtest.SPKIHash(lbCert.Certificate), webtest.SPKIHash(idpLeaf), cb.spki)}
	authURL := publicURL + "/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {par["request_uri"].(string)}}.Encode()
	br.Run(t, "open /authorize through nginx; sent to the provider's login page",
		chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS(`input[name="login"]`)))
	if loc := br.Location(t); !strings.HasPrefix(loc, p.issuer+"/") {
		t.Fatalf("login page at %s, want the provider %s", loc, p.issuer)
	}
	br.shot(t, "production-idp-login")
	br.Run(t, "log in at the provider",
		chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), "sca-demo"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "any password"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitReady(chromedp.CSS(`input[name="prompt"][value="consent"]`)))
	br.shot(t, "production-idp-consent")
	br.Run(t, "consent at the provider; back at the approval page",
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#approve`)))
	if loc := br.Location(t); !strings.HasPrefix(loc, publicURL+"/") {
		t.Fatalf("approval page at %s, want behind nginx (%s)", loc, publicURL)
	}
	br.shot(t, "production-approve")
	br.Run(t, "choose an account and approve",
		chromedp.Click(chromedp.CSS(`input[name="account"][value="22289"]`)),
		chromedp.Click(chromedp.CSS(`#approve`)),
		chromedp.WaitVisible(chromedp.CSS(`#tpp-done`)))
	back, err := url.Parse(br.Location(t))
	if err != nil {
		t.Fatal(err)
	}
	frag, err := url.ParseQuery(back.Fragment)
	if err != nil || !strings.HasPrefix(back.String(), redirect+"#") || frag.Get("state") != state || frag.Get("code") == "" {
		t.Fatalf("back at the TPP with %s", back.Redacted())
	}

	// 6. Code exchange through nginx.
	var tok map[string]any
	if status := postJSON(t, tpp, lb+"/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {frag.Get("code")},
		"redirect_uri": {redirect}, "code_verifier": {verifier},
	}, &tok); status != http.StatusOK {
		t.Fatalf("code exchange through nginx: %d %v", status, tok)
	}
	oldToken := tok["access_token"].(string)
	refresh, _ := tok["refresh_token"].(string)
	claims := jwtClaims(t, oldToken)
	if claims["consent_id"] != consentID || claims["acr"] != "urn:openbanking:psd2:sca" {
		t.Fatalf("access token claims %v, want the consent %s at SCA", claims, consentID)
	}
	grant, err := a.Store.GetConsent(context.Background(), consentID)
	if err != nil || grant.Status != "Authorised" || grant.UserID != "demo" || !strings.Contains(string(grant.Data), "22289") {
		t.Fatalf("consent after the journey: %+v, %v; want Authorised for demo with account 22289", grant, err)
	}

	// 7. The accounts API through nginx.
	wantAccounts := func(what string, hc *http.Client, base, token string) {
		t.Helper()
		resp, body := lbCall(t, hc, http.MethodGet, base+"/open-banking/v3.1/aisp/accounts", token, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"22289"`) {
			t.Fatalf("%s: GET accounts %d %.500s, want 200 with account 22289", what, resp.StatusCode, body)
		}
	}
	wantAccounts("through nginx", tpp, lb, oldToken)
	if dA, dB := requestsServed(t, a, "")-servedA, requestsServed(t, b, "")-servedB; dA < 1 || dB < 1 {
		t.Fatalf("through nginx, node A served %v requests and node B %v: want both", dA, dB)
	}

	// 8. Rotation on node A; both nodes poll on their own (1 s), the new key signs after
	// the 2 s publish delay.
	oldKid := jwsKeyID(t, oldToken)
	rot, err := a.KeySet.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	newKid := rot.Key.KeyID()
	if newKid == oldKid {
		t.Fatal("rotation returned the active key")
	}
	if !eventually(20*time.Second, func() bool { return b.Keys.HasKey(newKid) }) {
		t.Fatal("node B did not publish node A's new key within 20 s")
	}
	if !eventually(20*time.Second, func() bool { return activeKeyID(a) == newKid && activeKeyID(b) == newKid }) {
		t.Fatalf("after the publish delay: node A signs with %q, node B with %q; want %q", activeKeyID(a), activeKeyID(b), newKid)
	}

	// 9. Node B, called on its own mTLS listener with the TPP's certificate (from an address
	// that is not nginx's, so the handshake's certificate counts), accepts the old token
	// and one node A issued after the rotation.
	direct := mtlsClientFrom(t, "127.0.0.2", a.Sandbox.RootCertificate(), qwac)
	nodeA, nodeB := "https://"+a.HTTPSAddr().String(), "https://"+b.HTTPSAddr().String()
	var refreshed map[string]any
	if status := postJSON(t, direct, nodeA+"/token", url.Values{
		"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {refresh},
	}, &refreshed); status != http.StatusOK {
		t.Fatalf("refresh at node A after the rotation: %d %v", status, refreshed)
	}
	newToken := refreshed["access_token"].(string)
	if kid := jwsKeyID(t, newToken); kid != newKid {
		t.Fatalf("token issued after the rotation signed with %s, want %s", kid, newKid)
	}
	accountsA, accountsB := requestsServed(t, a, "accounts"), requestsServed(t, b, "accounts")
	for range 3 {
		wantAccounts("node B, token from before the rotation", direct, nodeB, oldToken)
		wantAccounts("node B, token from after the rotation", direct, nodeB, newToken)
	}
	if dA, dB := requestsServed(t, a, "accounts")-accountsA, requestsServed(t, b, "accounts")-accountsB; dA != 0 || dB != 6 {
		t.Fatalf("accounts calls served by node A %v, node B %v; want 0 and 6", dA, dB)
	}
	wantAccounts("through nginx, token from after the rotation", tpp, lb, newToken)
	if got, want := b.Keys.JWKS(), a.Keys.JWKS(); string(got) != string(want) {
		t.Errorf("JWKS differ after the rotation:\nA %s\nB %s", want, got)
	}
}

// mtlsClientFrom is mtlsClient dialling from the loopback address src.
func mtlsClientFrom(t *testing.T, src string, root *x509.Certificate, cert *sandbox.Issued) *http.Client {
	t.Helper()
	c := mtlsClient(t, root, cert)
	tr := c.Transport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}).DialContext
	c.Transport = tr
	return c
}

// crossSignedJWKSServer serves a TPP's software JWK Set over https with a certificate
// every dev node accepts: each node trusts its own sandbox root for the documents it
// fetches, so the server's intermediate CA is certified by each of cas' roots and the
// server presents all those certificates (a client builds the path to the root it trusts).
type crossSignedJWKSServer struct{ srv *httptest.Server }

func (s *crossSignedJWKSServer) url() string { return s.srv.URL + "/jwks.json" }

func newCrossSignedJWKSServer(t *testing.T, body []byte, cas ...*sandbox.CA) *crossSignedJWKSServer {
	t.Helper()
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	interTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "TPP software JWKS CA (test)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, interTmpl, &leafKey.PublicKey, interKey)
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{leafDER}
	for _, ca := range cas {
		keyPEM, err := os.ReadFile(filepath.Join(ca.Dir(), sandbox.FileRootKey))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(keyPEM)
		if block == nil {
			t.Fatal("sandbox root key: no PEM block")
		}
		rootKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificate(rand.Reader, interTmpl, ca.RootCertificate(), &interKey.PublicKey, rootKey)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, der)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: leafKey}}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &crossSignedJWKSServer{srv: srv}
}
