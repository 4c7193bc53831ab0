package app_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/store/storetest"
	"github.com/portcullis/portcullis/internal/web"
)

// Issue 13 point 3: the customer logs in at the bank's own OpenID Connect provider — panva
// oidc-provider (test/federation/idp.mjs, its devInteractions login and consent pages) on
// loopback — while a TPP runs a FAPI 2.0 journey (PAR over mTLS, PKCE) at Portcullis.

// idp is the running provider.
type idp struct {
	issuer string
	caPEM  []byte
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stop   sync.Once
	// stopFunc stops the provider (SIGTERM to its PID, then SIGKILL after 10 s); idempotent.
	stopFunc func()
}

// idpDir returns a directory outside the repository holding test/federation's package
// with its node_modules (npm ci from the committed lockfile, done once per lockfile and
// kept in the temporary directory, as scripts/bench/token.sh does for the peer), and the
// node binary to run it with. PORTCULLIS_TEST_IDP_DIR names a prepared copy instead.
func idpDir(t *testing.T) (dir, node string) {
	t.Helper()
	sysNode, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("node not found (%v): the federated-login test needs it (scripts/deps.sh installs it)", err)
		}
		t.Fatalf("node not found under CI: %v", err)
	}
	src := filepath.Join(repoRoot(t), "test", "federation")
	dir = os.Getenv("PORTCULLIS_TEST_IDP_DIR")
	if dir == "" {
		lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(lock)
		dir = filepath.Join(os.TempDir(), "portcullis-federation-idp-"+hex.EncodeToString(sum[:8]))
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider")); err != nil {
			tmp, err := os.MkdirTemp(os.TempDir(), "portcullis-federation-idp-build-")
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"package.json", "package-lock.json"} {
				b, err := os.ReadFile(filepath.Join(src, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			npm := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--prefer-offline")
			npm.Dir = tmp
			if out, err := npm.CombinedOutput(); err != nil {
				os.RemoveAll(tmp)
				t.Fatalf("npm ci in %s: %v\n%s", tmp, err, out)
			}
			if err := os.Rename(tmp, dir); err != nil {
				os.RemoveAll(tmp) // another test run installed it first
			}
		}
	}
	node = filepath.Join(dir, "node_modules", ".bin", "node")
	if _, err := os.Stat(node); err != nil {
		node = sysNode
	}
	return dir, node
}

// startIdP starts idp.mjs on 127.0.0.1 (a free port) with a fresh TLS certificate, and
// stops it by PID when the test ends.
func startIdP(t *testing.T) *idp {
	t.Helper()
	dir, node := idpDir(t)
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "test", "federation", "idp.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	// The script runs from the package directory (its imports resolve there); a copy per test.
	scriptPath := filepath.Join(dir, "idp-"+randomString(t)+".mjs")
	if err := os.WriteFile(scriptPath, script, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(scriptPath) })

	certPEM, keyPEM := selfSignedLoopback(t)
	tmp := t.TempDir()
	certFile, keyFile := filepath.Join(tmp, "idp.crt"), filepath.Join(tmp, "idp.key")
	for f, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(node, scriptPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CERT="+certFile, "KEY="+keyFile, "HOST=127.0.0.1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &idp{caPEM: certPEM, cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	p.stopFunc = func() {
		p.stop.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}
	t.Cleanup(func() {
		p.stopFunc()
		if t.Failed() {
			t.Logf("idp.mjs stderr:\n%s", stderr.String())
		}
	})
	line := p.expect(t, "PORT ")
	p.issuer = "https://127.0.0.1:" + strings.TrimPrefix(line, "PORT ")
	return p
}

// expect waits (bounded) for the provider's next line with prefix.
func (p *idp) expect(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("idp.mjs exited before printing %q", prefix)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-deadline:
			t.Fatalf("idp.mjs did not print %q within 60 s", prefix)
		}
	}
}

// register tells the provider the relying party (once) and waits until it serves.
func (p *idp) register(t *testing.T, rp map[string]any) {
	t.Helper()
	b, _ := json.Marshal(rp)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	p.expect(t, "READY")
}

func selfSignedLoopback(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "bank idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

// rpKey is Portcullis's private_key_jwt key at the provider: the PEM file for the
// configuration and the public JWK Set for the provider.
func rpKey(t *testing.T) (file string, jwks map[string]any) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "rp.key")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	pad := func(b []byte) string {
		return base64.RawURLEncoding.EncodeToString(append(make([]byte, 32-len(b)), b...))
	}
	x, y := pad(k.X.Bytes()), pad(k.Y.Bytes())
	// Portcullis names its keys by their RFC 7638 thumbprint.
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return file, map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "sig", "alg": "ES256", "kid": b64u(thumb[:]),
	}}}
}

// federatedBrowser is a customer's browser: a cookie jar, trusting the sandbox root (the
// bank's pages at localhost) and the provider's certificate, redirects not followed.
func federatedBrowser(t *testing.T, p *idp, nodes ...*app.App) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	for _, a := range nodes {
		pool.AddCert(a.Sandbox.RootCertificate())
	}
	pool.AppendCertsFromPEM(p.caPEM)
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Timeout: 10 * time.Second, Jar: jar,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// fetch does one request and returns status, Location (resolved) and body.
func fetch(t *testing.T, b *http.Client, method, u string, form url.Values) (int, string, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = b.PostForm(u, form)
	} else {
		resp, err = b.Get(u)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	loc := resp.Header.Get("Location")
	if loc != "" {
		base, _ := url.Parse(u)
		if l, err := base.Parse(loc); err == nil {
			loc = l.String()
		}
	}
	return resp.StatusCode, loc, string(body)
}

var (
	formAction  = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
	abortLink   = regexp.MustCompile(`href="([^"]*/abort)"`)
)

// atProvider plays the customer at the provider from authURL: its login form (login, any
// password), then its consent form, following its redirects, until it sends the browser to
// callbackPrefix; it returns that URL. With cancel, the customer takes the login page's
// cancel link instead.
func atProvider(t *testing.T, b *http.Client, authURL, login, callbackPrefix string, cancel bool) string {
	t.Helper()
	u, method, form := authURL, http.MethodGet, url.Values(nil)
	for range 12 {
		status, loc, body := fetch(t, b, method, u, form)
		switch {
		case status == http.StatusSeeOther || status == http.StatusFound:
			if strings.HasPrefix(loc, callbackPrefix) {
				return loc
			}
			u, method, form = loc, http.MethodGet, nil
		case status == http.StatusOK && cancel && abortLink.MatchString(body):
			u, method, form = resolve(t, u, abortLink.FindStringSubmatch(body)[1]), http.MethodGet, nil
		case status == http.StatusOK && formAction.MatchString(body):
			form = url.Values{}
			for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
				form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
			}
			if strings.Contains(body, `name="login"`) {
				form.Set("login", login)
				form.Set("password", "any password")
			}
			u, method = resolve(t, u, formAction.FindStringSubmatch(body)[1]), http.MethodPost
		default:
			t.Fatalf("at the provider, %s %s: %d\n%.2000s", method, u, status, body)
		}
	}
	t.Fatal("the provider did not send the browser back within 12 steps")
	return ""
}

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Parse(html.UnescapeString(ref))
	if err != nil {
		t.Fatal(err)
	}
	return r.String()
}

// fedNode is one Portcullis of the test as the TPP and the browser see it.
type fedNode struct {
	a                    *app.App
	tpp                  *http.Client // the TPP's mTLS client (tls_client_auth)
	clientID             string
	mtlsBase, publicBase string
}

// newFedNode registers a FAPI 2.0 TPP (tls_client_auth, a QWAC of a's sandbox CA) at a.
func newFedNode(t *testing.T, a *app.App, clientID, org string) *fedNode {
	t.Helper()
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: org, Roles: mustRoles(t, "AISP")})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := dn.Render(qwac.Certificate.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Clients.Add(context.Background(), &client.Client{
		ID: clientID, Name: "Moneywise", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes: []string{"authorization_code"}, Scope: client.ScopeList{"openid", "accounts"},
		RedirectURIs: []string{journeyRedirect}, Profile: client.ProfileFAPI2,
	}); err != nil {
		t.Fatal(err)
	}
	return &fedNode{
		a: a, tpp: mtlsClient(t, a.Sandbox.RootCertificate(), qwac), clientID: clientID,
		mtlsBase: "https://" + a.HTTPSAddr().String(), publicBase: publicBase(a),
	}
}

// publicBase is the public listener's URL as dev mode names it (the certificate's name).
func publicBase(a *app.App) string {
	return "https://localhost:" + strings.TrimPrefix(a.PublicAddr().String(), "127.0.0.1:")
}

// authorize pushes a request (PAR over mTLS, PKCE S256), opens /authorize in b and returns
// the PKCE verifier and the login page's URL it was sent to.
func (n *fedNode) authorize(t *testing.T, b *http.Client) (verifier, login string) {
	t.Helper()
	verifier = randomString(t) + randomString(t)
	sum := sha256.Sum256([]byte(verifier))
	var par map[string]any
	if code := postJSON(t, n.tpp, n.mtlsBase+"/par", url.Values{
		"client_id": {n.clientID}, "response_type": {"code"}, "redirect_uri": {journeyRedirect},
		"scope": {"openid accounts"}, "state": {"tpp-state"}, "nonce": {"tpp-nonce"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}, &par); code != http.StatusCreated {
		t.Fatalf("PAR: %d %v", code, par)
	}
	status, login, _ := fetch(t, b, http.MethodGet, n.publicBase+"/authorize?"+url.Values{
		"client_id": {n.clientID}, "request_uri": {par["request_uri"].(string)},
	}.Encode(), nil)
	if status != http.StatusSeeOther || login != n.publicBase+web.LoginPath {
		t.Fatalf("/authorize: %d → %s", status, login)
	}
	return verifier, login
}

// begin runs authorize and the login page, which must send the browser to the provider
// with a complete authorization request (for rpClientID, back to callback); it returns the
// verifier and that URL.
func (n *fedNode) begin(t *testing.T, b *http.Client, p *idp, callback, rpClientID string) (verifier, authURL string) {
	t.Helper()
	verifier, login := n.authorize(t, b)
	status, authURL, body := fetch(t, b, http.MethodGet, login, nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(authURL, p.issuer+"/") {
		t.Fatalf("login page: %d → %q\n%.500s", status, authURL, body)
	}
	q := mustURL(t, authURL).Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" ||
		q.Get("nonce") == "" || q.Get("client_id") != rpClientID || q.Get("redirect_uri") != callback {
		t.Fatalf("authorization request to the provider: %v", q)
	}
	return verifier, authURL
}

// approve follows the callback URL (at whichever node it names) to the approval page,
// approves, exchanges the code at n and checks the tokens' acr and the grant's customer.
func (n *fedNode) approve(t *testing.T, b *http.Client, back, verifier, customer, acr string) {
	t.Helper()
	status, approve, body := fetch(t, b, http.MethodGet, back, nil)
	if status != http.StatusSeeOther || !strings.HasSuffix(approve, web.ApprovePath) {
		t.Fatalf("callback: %d → %q\n%.1000s", status, approve, body)
	}
	status, _, body = fetch(t, b, http.MethodGet, approve, nil)
	m := csrfField.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("approval page: %d\n%.1000s", status, body)
	}
	status, toTPP, _ := fetch(t, b, http.MethodPost, approve, url.Values{"csrf": {m[1]}, "action": {"approve"}})
	if status != http.StatusSeeOther || !strings.HasPrefix(toTPP, journeyRedirect+"?") {
		t.Fatalf("approve: %d → %q", status, toTPP)
	}
	var tok map[string]any
	if code := postJSON(t, n.tpp, n.mtlsBase+"/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {n.clientID}, "code": {mustURL(t, toTPP).Query().Get("code")},
		"redirect_uri": {journeyRedirect}, "code_verifier": {verifier},
	}, &tok); code != http.StatusOK {
		t.Fatalf("token: %d %v", code, tok)
	}
	at := jwtClaims(t, tok["access_token"].(string))
	idt := jwtClaims(t, tok["id_token"].(string))
	if at["acr"] != acr || idt["acr"] != acr {
		t.Errorf("acr: access token %v, ID token %v, want %s", at["acr"], idt["acr"], acr)
	}
	grant, err := n.a.Store.GetConsent(context.Background(), at["consent_id"].(string))
	if err != nil || grant.UserID != customer || grant.Status != "Authorised" {
		t.Errorf("grant %+v, %v; want the customer %s (claim bank_customer_id, not sub)", grant, err, customer)
	}
}

// TestFederatedLogin runs the FAPI 2.0 journey with the login at oidc-provider: PAR over
// mTLS, /authorize, the login page's 303 to the provider (PKCE S256, state, nonce), the
// provider's login and consent pages, Portcullis's callback (code exchanged with
// private_key_jwt, the ID token verified against the provider's JWKS), the approval page,
// the code exchanged by the TPP. The tokens' acr follows identity.federation.acr_map and the
// amr rule; the grant's customer is the customer_claim's value. A second deployment
// authenticates at the provider with client_secret_basic instead. The journey survives a node
// switch between the redirect and the callback (two nodes on PostgreSQL sharing the session
// key: the pending login is in the sealed cookie). Refused answers (state, nonce, audience)
// end on the 400 page, a cancel at the provider at the TPP with access_denied, and a
// provider that is down on the 503 page — never a 500.
func TestFederatedLogin(t *testing.T) {
	p := startIdP(t)
	keyFile, jwks := rpKey(t)
	caFile := filepath.Join(t.TempDir(), "idp-ca.pem")
	if err := os.WriteFile(caFile, p.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	federation := config.Federation{
		Issuer: p.issuer, ClientID: "portcullis", PrivateKeyFile: keyFile, CAFile: caFile,
		CustomerClaim: "bank_customer_id",
		ACRMap: []config.ACRMapping{
			{Provider: "urn:idp:loa:high", ACR: "urn:openbanking:psd2:sca"},
			{Provider: "urn:idp:loa:low", ACR: "urn:openbanking:psd2:ca"},
		},
	}
	a := startApp(t, func(c *config.Config) { c.Identity.Federation = federation })
	callback := publicBase(a) + web.FederatedCallbackPath

	// A second deployment authenticates at the token endpoint with client_secret_basic.
	const secret = "s3cret with reserved:chars/+%"
	aSecret := startApp(t, func(c *config.Config) {
		c.Identity.Federation = federation
		c.Identity.Federation.ClientID, c.Identity.Federation.PrivateKeyFile = "portcullis-secret", ""
		c.Identity.Federation.ClientSecret = config.Secret(secret)
	})
	callbackSecret := publicBase(aSecret) + web.FederatedCallbackPath
	p.register(t, map[string]any{"clients": []any{
		map[string]any{"client_id": "portcullis", "redirect_uris": []string{callback}, "jwks": jwks},
		map[string]any{"client_id": "portcullis-secret", "redirect_uris": []string{callbackSecret}, "client_secret": secret},
	}})
	n := newFedNode(t, a, "tpp-federated", "PSDGB-FCA-131313")

	for _, tc := range []struct {
		login, acr string
	}{
		{"sca-alice", "urn:openbanking:psd2:sca"}, // acr_map: urn:idp:loa:high → SCA
		{"bob", "urn:openbanking:psd2:ca"},        // acr_map: urn:idp:loa:low → CA, amr pwd only
		{"amr-carol", "urn:openbanking:psd2:sca"}, // urn:idp:loa:low, but amr pwd + hwk: two factors
	} {
		t.Run("login "+tc.login, func(t *testing.T) {
			b := federatedBrowser(t, p, a)
			verifier, authURL := n.begin(t, b, p, callback, "portcullis")
			back := atProvider(t, b, authURL, tc.login, callback, false)
			n.approve(t, b, back, verifier, "bank-"+tc.login, tc.acr)
		})
	}

	t.Run("client_secret_basic", func(t *testing.T) {
		ns := newFedNode(t, aSecret, "tpp-federated-secret", "PSDGB-FCA-161616")
		b := federatedBrowser(t, p, aSecret)
		verifier, authURL := ns.begin(t, b, p, callbackSecret, "portcullis-secret")
		back := atProvider(t, b, authURL, "sca-ivan", callbackSecret, false)
		ns.approve(t, b, back, verifier, "bank-sca-ivan", "urn:openbanking:psd2:sca")
	})

	t.Run("node switch", func(t *testing.T) {
		// Two nodes of one deployment: one PostgreSQL database, signing keys from it under
		// one KEK, one session key file, one public callback URL (the name a load balancer
		// gives them; here the first app's, registered at the provider).
		pg := storetest.PostgresURL(t)
		kek := randomKEK(t)
		sessionKey := filepath.Join(t.TempDir(), "web-session.key")
		cluster := func(c *config.Config) {
			c.Identity.Federation = federation
			c.Identity.Federation.RedirectURI = callback
			c.Database.URL = config.SecretURL(pg)
			c.Keys.Source = "database"
			c.Keys.KEK = kek
			c.Web.SessionKeyFile = sessionKey
		}
		nodeA, nodeB := startApp(t, cluster), startApp(t, cluster)
		na := newFedNode(t, nodeA, "tpp-federated-cluster", "PSDGB-FCA-151515")
		b := federatedBrowser(t, p, nodeA, nodeB)
		verifier, authURL := na.begin(t, b, p, callback, "portcullis")
		back := atProvider(t, b, authURL, "sca-judy", callback, false)
		// Node A is gone when the provider sends the browser back: the load balancer
		// forwards the callback to node B.
		atB := mustURL(t, back)
		atB.Host = strings.TrimPrefix(publicBase(nodeB), "https://")
		na.approve(t, b, atB.String(), verifier, "bank-sca-judy", "urn:openbanking:psd2:sca")
	})

	refused := func(t *testing.T, b *http.Client, u string) {
		t.Helper()
		status, loc, body := fetch(t, b, http.MethodGet, u, nil)
		if status != http.StatusBadRequest || loc != "" || !strings.Contains(body, "could not confirm your sign-in") {
			t.Fatalf("callback: %d → %q, want the 400 page\n%.1000s", status, loc, body)
		}
	}
	t.Run("bad state", func(t *testing.T) {
		b := federatedBrowser(t, p, a)
		_, authURL := n.begin(t, b, p, callback, "portcullis")
		back := mustURL(t, atProvider(t, b, authURL, "sca-eve", callback, false))
		q := back.Query()
		q.Set("state", randomString(t))
		back.RawQuery = q.Encode()
		refused(t, b, back.String())
	})
	t.Run("bad nonce", func(t *testing.T) {
		b := federatedBrowser(t, p, a)
		_, authURL := n.begin(t, b, p, callback, "portcullis")
		u := mustURL(t, authURL)
		q := u.Query()
		q.Set("nonce", randomString(t)) // the provider signs the nonce it was sent
		u.RawQuery = q.Encode()
		refused(t, b, atProvider(t, b, u.String(), "sca-mallory", callback, false))
	})
	t.Run("ID token of another audience", func(t *testing.T) {
		b := federatedBrowser(t, p, a)
		_, authURL := n.begin(t, b, p, callback, "portcullis")
		refused(t, b, atProvider(t, b, authURL, "aud-trent", callback, false))
	})
	t.Run("cancelled at the provider", func(t *testing.T) {
		b := federatedBrowser(t, p, a)
		_, authURL := n.begin(t, b, p, callback, "portcullis")
		back := atProvider(t, b, authURL, "", callback, true)
		status, toTPP, _ := fetch(t, b, http.MethodGet, back, nil)
		if q := mustURL(t, toTPP).Query(); status != http.StatusSeeOther || !strings.HasPrefix(toTPP, journeyRedirect+"?") || q.Get("error") != "access_denied" {
			t.Fatalf("callback after cancel: %d → %q, want access_denied at the TPP", status, toTPP)
		}
	})
	t.Run("provider down", func(t *testing.T) {
		b := federatedBrowser(t, p, a)
		_, authURL := n.begin(t, b, p, callback, "portcullis")
		back := atProvider(t, b, authURL, "sca-oscar", callback, false)
		p.stopFunc() // the provider goes down between its redirect and the code exchange
		status, loc, body := fetch(t, b, http.MethodGet, back, nil)
		if status != http.StatusServiceUnavailable || loc != "" || !strings.Contains(body, "cannot complete this step right now") {
			t.Fatalf("callback with the provider down: %d → %q, want the 503 page\n%.1000s", status, loc, body)
		}
		// A node that never reached the provider cannot begin a login: the 503 page too.
		a2 := startApp(t, func(c *config.Config) { c.Identity.Federation = federation })
		b2 := federatedBrowser(t, p, a2)
		_, login := newFedNode(t, a2, "tpp-federated-2", "PSDGB-FCA-141414").authorize(t, b2)
		status, loc, body = fetch(t, b2, http.MethodGet, login, nil)
		if status != http.StatusServiceUnavailable || loc != "" || !strings.Contains(body, "cannot complete this step right now") {
			t.Fatalf("login page with the provider down: %d → %q, want the 503 page\n%.1000s", status, loc, body)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
