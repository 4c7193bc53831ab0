package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// The forwarded-certificate header of deploy/nginx's example configs.
const nginxCertHeader = "X-SSL-Client-Cert"

// nginxBinary finds Debian's nginx ($PORTCULLIS_NGINX, /usr/sbin/nginx or $PATH). Without
// it the test is skipped, saying so, unless CI=true, where it fails: CI must not pass
// without the load balancer.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PORTCULLIS_NGINX"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx not found (CI=true): run scripts/deps.sh, which installs Debian's nginx, or set PORTCULLIS_NGINX")
	}
	t.Skip("nginx not found: scripts/deps.sh installs Debian's nginx (under CI=true this test fails instead)")
	return ""
}

// lbCluster is two PostgreSQL-backed Portcullis nodes in header mode, trusting the
// forwarded-certificate header from 127.0.0.1 only, behind one nginx running both example
// configs of deploy/nginx.
type lbCluster struct {
	a, b     *app.App
	root     *x509.Certificate
	lb       string // https://127.0.0.1:port of portcullis-mtls.conf
	authz    string // https://127.0.0.1:port of portcullis-ext-authz.conf
	bankSeen *headerRecorder
}

// startLBCluster starts node A (dev mode: sandbox CA and bank) and node B on one fresh
// PostgreSQL schema with one key-encryption key (so both sign with the same keys), node B
// trusting node A's sandbox CA and serving node A's server certificate, and nginx in front.
func startLBCluster(t *testing.T) *lbCluster {
	t.Helper()
	bin := nginxBinary(t)
	pg := storetest.PostgresURL(t)
	kek := randomKEK(t)
	node := func(c *config.Config) {
		c.Database.URL = config.SecretURL(pg)
		c.Keys.Source = "database"
		c.Keys.KEK = kek
		c.Listen.Admin = "127.0.0.1:0"
		c.MTLS.Header = nginxCertHeader
		c.MTLS.HeaderFormat = config.HeaderPEMURLEncoded
		c.MTLS.TrustedProxies = []string{"127.0.0.1/32"}
		c.Gateway.ExtAuthzPeers = []string{"127.0.0.1/32"}
		// Every validation asks the OCSP responder: a revocation is seen by both nodes at
		// once (the default reuses a "good" answer for up to 5 min).
		c.Revocation.MaxGoodAge = 0
	}
	a := startAppClock(t, clock.Real{}, node)
	pkiA := a.Sandbox.Dir()
	b := startAppClock(t, clock.Real{}, func(c *config.Config) {
		node(c)
		c.Trust.Anchors = append(c.Trust.Anchors, config.Anchor{Name: "sandbox-node-a", File: filepath.Join(pkiA, sandbox.FileRootCert), Profile: "eidas"})
		c.Trust.IntermediatesFile = filepath.Join(pkiA, sandbox.FileIssuingCert)
		c.TLS.CertFile, c.TLS.KeyFile = filepath.Join(pkiA, "server.crt"), filepath.Join(pkiA, "server.key")
		c.Keys.SealCertFile = filepath.Join(pkiA, "bank-seal.crt")
		c.Keys.SealKeyFile = filepath.Join(pkiA, "bank-seal.key")
	})

	// The bank behind nginx in ext-authz mode: node A's sandbox bank, through a recorder of
	// the headers it receives.
	rec := &headerRecorder{}
	bank := httputil.NewSingleHostReverseProxy(a.BankURL)
	tap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r.Header)
		bank.ServeHTTP(w, r)
	}))
	t.Cleanup(tap.Close)

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
	rootPEM, err := os.ReadFile(filepath.Join(pkiA, sandbox.FileRootCert))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nodes-ca.crt"), rootPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	lbPort, authzPort := freePort(t), freePort(t)
	vars := map[string]string{
		"PORTCULLIS_LISTEN":       "127.0.0.1:" + lbPort,
		"PORTCULLIS_AUTHZ_LISTEN": "127.0.0.1:" + authzPort,
		"PORTCULLIS_SERVER_NAME":  "localhost",
		"PORTCULLIS_TLS_CERT":     filepath.Join(dir, "lb.crt"),
		"PORTCULLIS_TLS_KEY":      filepath.Join(dir, "lb.key"),
		"PORTCULLIS_NODE_A":       a.HTTPSAddr().String(),
		"PORTCULLIS_NODE_B":       b.HTTPSAddr().String(),
		"PORTCULLIS_NODE_CA":      filepath.Join(dir, "nodes-ca.crt"),
		"PORTCULLIS_NODE_NAME":    "localhost",
		"PORTCULLIS_BANK":         tap.URL,
	}
	root := repoRoot(t)
	var sites []string
	for _, name := range []string{"portcullis-mtls.conf.template", "portcullis-ext-authz.conf.template"} {
		site := renderNginxTemplate(t, filepath.Join(root, "deploy", "nginx", name), vars)
		path := filepath.Join(dir, strings.TrimSuffix(name, ".template"))
		if err := os.WriteFile(path, []byte(site), 0o644); err != nil {
			t.Fatal(err)
		}
		sites = append(sites, path)
	}
	startNginx(t, bin, dir, sites, []string{lbPort, authzPort})
	return &lbCluster{a: a, b: b, root: a.Sandbox.RootCertificate(), lb: "https://127.0.0.1:" + lbPort,
		authz: "https://127.0.0.1:" + authzPort, bankSeen: rec}
}

// placeholder matches the envsubst placeholders of deploy/nginx's templates.
var placeholder = regexp.MustCompile(`\$\{(PORTCULLIS_[A-Z_]+)\}`)

// renderNginxTemplate fills in a deploy/nginx template as envsubst would with vars; a
// placeholder without a value fails the test.
func renderNginxTemplate(t *testing.T, path string, vars map[string]string) string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	out := placeholder.ReplaceAllStringFunc(string(text), func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		t.Fatalf("%s: no value for %v", path, missing)
	}
	return out
}

// freePort returns a loopback TCP port that was free a moment ago (nginx cannot report the
// port it bound for :0).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// startNginx runs nginx in the foreground with a main configuration that includes sites,
// waits (bounded) until every port accepts connections, and stops it — by its PID, then
// its process group's — when the test ends. The error log is shown when the test fails.
func startNginx(t *testing.T, bin, dir string, sites, ports []string) {
	t.Helper()
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.MkdirAll(filepath.Join(dir, "tmp", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	errLog := filepath.Join(dir, "error.log")
	var conf strings.Builder
	if os.Geteuid() == 0 {
		// Workers would switch to nobody, who cannot read the test's directories.
		conf.WriteString("user root;\n")
	}
	fmt.Fprintf(&conf, "worker_processes 1;\npid %s;\nerror_log %s info;\nevents { worker_connections 256; }\nhttp {\n", filepath.Join(dir, "nginx.pid"), errLog)
	fmt.Fprintf(&conf, "  access_log %s;\n", filepath.Join(dir, "access.log"))
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		sub := strings.TrimPrefix(d, "client_")
		fmt.Fprintf(&conf, "  %s_temp_path %s;\n", d, filepath.Join(dir, "tmp", sub))
	}
	for _, s := range sites {
		fmt.Fprintf(&conf, "  include %s;\n", s)
	}
	conf.WriteString("}\n")
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir, "-c", confPath, "-e", errLog}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, append(args, "-g", "daemon off;")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	dumpLog := func() {
		b, _ := os.ReadFile(errLog)
		t.Logf("nginx stderr:\n%s\nnginx error log:\n%s", stderr.String(), b)
	}
	t.Cleanup(func() {
		pid := cmd.Process.Pid
		_ = syscall.Kill(pid, syscall.SIGQUIT) // graceful: finish requests, then exit
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("nginx (pid %d) did not stop on SIGQUIT; killing its process group", pid)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			dumpLog()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for _, p := range ports {
		for attempt := 0; ; attempt++ {
			select {
			case err := <-exited:
				exited <- err
				dumpLog()
				t.Fatalf("nginx exited during start-up: %v", err)
			default:
			}
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) || attempt > 300 {
				t.Fatalf("nginx does not listen on %s: %v", p, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// headerRecorder keeps the headers of every request the bank received.
type headerRecorder struct {
	mu   sync.Mutex
	seen []http.Header
}

func (r *headerRecorder) add(h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, h.Clone())
}

func (r *headerRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *headerRecorder) last() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		return nil
	}
	return r.seen[len(r.seen)-1]
}

// lbTPP is a TPP with a sandbox QWAC of node A's CA, registered (in the shared database) as
// a tls_client_auth client.
type lbTPP struct {
	id     string
	cert   *sandbox.Issued
	client *http.Client // presents the QWAC, trusts the sandbox root
}

func newLBTPP(t *testing.T, c *lbCluster, org, roles string) lbTPP {
	t.Helper()
	cert, err := c.a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: org, Roles: mustRoles(t, roles)})
	if err != nil {
		t.Fatal(err)
	}
	id := "tpp-" + strings.ToLower(org)
	subject, err := dn.Render(cert.Certificate.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.a.Clients.Add(context.Background(), &client.Client{
		ID: id, TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"payments"},
	}); err != nil {
		t.Fatal(err)
	}
	return lbTPP{id: id, cert: cert, client: mtlsClient(t, c.root, cert)}
}

// escapedCert is the leaf certificate as nginx's $ssl_client_escaped_cert renders it.
func escapedCert(cert *x509.Certificate) string {
	return url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
}

// lbToken gets a client_credentials token for tpp from base with scope.
func lbToken(t *testing.T, hc *http.Client, base, clientID, scope string, hdr http.Header) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {scope}}
	req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s/token: %v", base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("token response %d %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, body
}

// lbCall sends method path to base with the bearer token (if any) and extra headers.
func lbCall(t *testing.T, hc *http.Client, method, u, tok string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// requestsServed sums a node's portcullis_http_requests_total over the series whose route
// label contains route.
func requestsServed(t *testing.T, a *app.App, route string) float64 {
	t.Helper()
	mfs, err := a.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "portcullis_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && strings.Contains(l.GetValue(), route) {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// selfSignedClientCert is a certificate no trust anchor vouches for.
func selfSignedClientCert(t *testing.T) *sandbox.Issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "self-signed TPP", Organization: []string{"Nobody"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &sandbox.Issued{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

func thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// tokenCnf returns the x5t#S256 confirmation of a JWT access token.
func tokenCnf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWS: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Cnf map[string]string `json:"cnf"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Cnf["x5t#S256"]
}

// clientFrom is an https client that connects from the loopback address src, presents no
// certificate and trusts root.
func clientFrom(src string, root *x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     d.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12},
	}}
}

const lbPaymentPath = "/open-banking/v3.1/pisp/domestic-payments/p-unknown"

// wantBankNotFound asserts the sandbox bank's own 404 for an unknown payment: an OBIE body
// from the bank proves the request got through.
func wantBankNotFound(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "No such payment") {
		t.Fatalf("%s: %d %s, want the bank's 404 No such payment", what, resp.StatusCode, body)
	}
}

// TestNginxLoadBalancerMTLS is issue 13 point 2 with deploy/nginx/portcullis-mtls.conf:
// nginx terminates the TPP's mTLS connection and forwards its certificate in a header to
// two PostgreSQL-backed nodes. A client_credentials token obtained through nginx is bound
// to the forwarded certificate; calls with it through nginx reach the sandbox bank via
// both nodes; the token with another certificate, or with no certificate and the header
// forged by the client, is refused; a self-signed and a revoked certificate, which nginx
// passes on (optional_no_ca), are refused by the nodes; and the same forwarded-certificate
// header sent straight to a node from an address other than nginx's is ignored (401) and
// audited.
func TestNginxLoadBalancerMTLS(t *testing.T) {
	c := startLBCluster(t)
	pisp := newLBTPP(t, c, "PSDGB-FCA-130001", "PISP")
	other := newLBTPP(t, c, "PSDGB-FCA-130002", "PISP")

	code, body := lbToken(t, pisp.client, c.lb, pisp.id, "payments", nil)
	if code != http.StatusOK {
		t.Fatalf("token through nginx: %d %v", code, body)
	}
	tok, _ := body["access_token"].(string)
	if got, want := tokenCnf(t, tok), thumbprint(pisp.cert.Certificate); got != want {
		t.Fatalf("token cnf x5t#S256 %q, want the forwarded certificate's %q", got, want)
	}

	t.Run("gateway through nginx reaches the bank via both nodes", func(t *testing.T) {
		beforeA, beforeB := requestsServed(t, c.a, "domestic-payments"), requestsServed(t, c.b, "domestic-payments")
		const calls = 6
		for i := range calls {
			resp, body := lbCall(t, pisp.client, http.MethodGet, c.lb+lbPaymentPath, tok, nil)
			wantBankNotFound(t, fmt.Sprintf("call %d", i), resp, body)
		}
		dA := requestsServed(t, c.a, "domestic-payments") - beforeA
		dB := requestsServed(t, c.b, "domestic-payments") - beforeB
		if dA < 1 || dB < 1 || dA+dB != calls {
			t.Fatalf("node A served %v and node B %v of %d calls; want both, %d in all", dA, dB, calls, calls)
		}
	})

	t.Run("token with another certificate", func(t *testing.T) {
		resp, body := lbCall(t, other.client, http.MethodGet, c.lb+lbPaymentPath, tok, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("token presented with another certificate: %d %q %s, want 401 invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	})

	t.Run("header forged by a client without certificate, through nginx", func(t *testing.T) {
		forged := http.Header{nginxCertHeader: {escapedCert(pisp.cert.Certificate)}}
		noCert := mtlsClient(t, c.root, nil)
		resp, body := lbCall(t, noCert, http.MethodGet, c.lb+lbPaymentPath, tok, forged)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("gateway: %d %s, want 401", resp.StatusCode, body)
		}
		code, tb := lbToken(t, noCert, c.lb, pisp.id, "payments", forged)
		if code != http.StatusUnauthorized || tb["error"] != "invalid_client" {
			t.Fatalf("token: %d %v, want 401 invalid_client", code, tb)
		}
	})

	// nginx makes no trust decision (ssl_verify_client optional_no_ca): it passes whatever
	// certificate the client proved it holds, and every node validates the chain and its
	// revocation status itself.
	t.Run("nodes validate the forwarded certificate", func(t *testing.T) {
		selfSigned := mtlsClient(t, c.root, selfSignedClientCert(t))
		code, tb := lbToken(t, selfSigned, c.lb, pisp.id, "payments", nil)
		if code != http.StatusUnauthorized || tb["error"] != "invalid_client" {
			t.Fatalf("self-signed certificate through nginx: %d %v, want 401 invalid_client", code, tb)
		}
		if code, tb := lbToken(t, other.client, c.lb, other.id, "payments", nil); code != http.StatusOK {
			t.Fatalf("token before the revocation: %d %v", code, tb)
		}
		if err := c.a.Sandbox.Revoke(other.cert.Certificate.SerialNumber, 1); err != nil { // keyCompromise
			t.Fatal(err)
		}
		beforeA, beforeB := requestsServed(t, c.a, "/token"), requestsServed(t, c.b, "/token")
		for i := range 4 {
			code, tb := lbToken(t, other.client, c.lb, other.id, "payments", nil)
			if code != http.StatusUnauthorized || tb["error"] != "invalid_client" {
				t.Fatalf("revoked certificate through nginx, request %d: %d %v, want 401 invalid_client", i, code, tb)
			}
		}
		if requestsServed(t, c.a, "/token") == beforeA || requestsServed(t, c.b, "/token") == beforeB {
			t.Fatal("the revoked certificate's requests did not reach both nodes")
		}
	})

	t.Run("header straight to a node from another address", func(t *testing.T) {
		hdr := http.Header{nginxCertHeader: {escapedCert(pisp.cert.Certificate)}}
		wantAudited := 0
		for _, n := range []struct {
			name string
			a    *app.App
		}{{"A", c.a}, {"B", c.b}} {
			base := "https://" + n.a.HTTPSAddr().String()
			direct := clientFrom("127.0.0.2", c.root)
			code, tb := lbToken(t, direct, base, pisp.id, "payments", hdr)
			if code != http.StatusUnauthorized || tb["error"] != "invalid_client" {
				t.Errorf("node %s token from 127.0.0.2 with the header: %d %v, want 401 invalid_client", n.name, code, tb)
			}
			resp, body := lbCall(t, direct, http.MethodGet, base+lbPaymentPath, tok, hdr)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("node %s gateway from 127.0.0.2 with the header: %d %s, want 401", n.name, resp.StatusCode, body)
			}
			// Each ignored header is audited with its source address.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.a.AuditStore.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			events, err := n.a.Store.ListAudit(ctx, store.AuditFilter{Type: audit.TypeForwardedCertUntrustedSource, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			audited := 0
			for _, e := range events {
				if strings.Contains(string(e.Data), `"127.0.0.2:`) {
					audited++
				}
			}
			wantAudited += 2 // the token request and the gateway call, on this node
			if audited != wantAudited {
				t.Errorf("after node %s: %d %s events from 127.0.0.2 in the shared database, want %d", n.name, audited, audit.TypeForwardedCertUntrustedSource, wantAudited)
			}
			// Control: the same bytes from nginx's address are honoured, so it is the source
			// address alone that made the difference above.
			trusted := clientFrom("127.0.0.1", c.root)
			if code, tb := lbToken(t, trusted, base, pisp.id, "payments", hdr); code != http.StatusOK {
				t.Errorf("node %s token from 127.0.0.1 with the header: %d %v, want 200", n.name, code, tb)
			}
		}
	})
}

// TestNginxExtAuthz is issue 13 point 2's ext-authz mode with
// deploy/nginx/portcullis-ext-authz.conf: nginx's auth_request asks the nodes'
// /ext-authz/check whether a TPP's request may reach the sandbox bank. An allowed request
// reaches the bank with the identity Portcullis established and without the TPP's token or
// certificate header; refusals get the status nginx maps (401 with WWW-Authenticate, 403,
// and the named location's 400 and 404) and never reach the bank; an identity header the
// client sets is refused (X-Portcullis-*) or dropped by nginx (underscore spelling) and
// never reaches the bank.
func TestNginxExtAuthz(t *testing.T) {
	c := startLBCluster(t)
	pisp := newLBTPP(t, c, "PSDGB-FCA-130011", "PISP")
	aisp := newLBTPP(t, c, "PSDGB-FCA-130012", "AISP")
	token := func(tpp lbTPP) string {
		t.Helper()
		code, body := lbToken(t, tpp.client, c.lb, tpp.id, "payments", nil)
		if code != http.StatusOK {
			t.Fatalf("token: %d %v", code, body)
		}
		return body["access_token"].(string)
	}
	tok, aispTok := token(pisp), token(aisp)

	t.Run("allowed", func(t *testing.T) {
		beforeA, beforeB := requestsServed(t, c.a, gateway.ExtAuthzPath), requestsServed(t, c.b, gateway.ExtAuthzPath)
		const calls = 4
		for i := range calls {
			n := c.bankSeen.count()
			resp, body := lbCall(t, pisp.client, http.MethodGet, c.authz+lbPaymentPath, tok, nil)
			wantBankNotFound(t, fmt.Sprintf("allowed request %d", i), resp, body)
			if c.bankSeen.count() != n+1 {
				t.Fatalf("bank saw %d requests, want 1", c.bankSeen.count()-n)
			}
		}
		dA := requestsServed(t, c.a, gateway.ExtAuthzPath) - beforeA
		dB := requestsServed(t, c.b, gateway.ExtAuthzPath) - beforeB
		if dA < 1 || dB < 1 || dA+dB != calls {
			t.Errorf("node A answered %v and node B %v of %d checks; want both, %d in all", dA, dB, calls, calls)
		}
		h := c.bankSeen.last()
		if got := h.Get("X-Portcullis-Client-Id"); got != pisp.id {
			t.Errorf("bank's X-Portcullis-Client-Id %q, want %q", got, pisp.id)
		}
		if got, want := h.Get("X-Portcullis-Cert-Thumbprint"), thumbprint(pisp.cert.Certificate); got != want {
			t.Errorf("bank's X-Portcullis-Cert-Thumbprint %q, want %q", got, want)
		}
		if h.Get("X-Portcullis-Route") != "pisp-domestic-payment-get" || h.Get("X-Fapi-Interaction-Id") == "" {
			t.Errorf("bank's route %q, interaction id %q", h.Get("X-Portcullis-Route"), h.Get("X-Fapi-Interaction-Id"))
		}
		for _, k := range []string{"Authorization", nginxCertHeader, "X-Portcullis-Psu-Id"} {
			if v := h.Values(k); len(v) != 0 {
				t.Errorf("bank received %s: %q", k, v)
			}
		}
	})

	for _, tt := range []struct {
		name, path, tok string
		tpp             lbTPP
		hdr             http.Header
		want            int
	}{
		{"no token", lbPaymentPath, "", pisp, nil, http.StatusUnauthorized},
		{"token of another certificate", lbPaymentPath, aispTok, pisp, nil, http.StatusUnauthorized},
		{"certificate without the PISP role", lbPaymentPath, aispTok, aisp, nil, http.StatusForbidden},
		{"unknown route", "/open-banking/v3.1/nope", tok, pisp, nil, http.StatusNotFound},
		{"spoofed identity header", lbPaymentPath, tok, pisp, http.Header{"X-Portcullis-Client-Id": {"tpp-victim"}}, http.StatusBadRequest},
		{"spoofed PSU header", lbPaymentPath, tok, pisp, http.Header{"X-Portcullis-Psu-Id": {"psu-victim"}}, http.StatusBadRequest},
		{"forged certificate header without a certificate", lbPaymentPath, tok, lbTPP{client: mtlsClient(t, c.root, nil)},
			http.Header{nginxCertHeader: {escapedCert(pisp.cert.Certificate)}}, http.StatusUnauthorized},
	} {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			n := c.bankSeen.count()
			resp, body := lbCall(t, tt.tpp.client, http.MethodGet, c.authz+tt.path, tt.tok, tt.hdr)
			if resp.StatusCode != tt.want {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer (%q)", resp.Header.Get("WWW-Authenticate"))
			}
			if got := c.bankSeen.count() - n; got != 0 {
				t.Fatalf("a refused request reached the bank (%d requests)", got)
			}
		})
	}

	t.Run("underscore spelling dropped by nginx", func(t *testing.T) {
		n := c.bankSeen.count()
		resp, body := lbCall(t, pisp.client, http.MethodGet, c.authz+lbPaymentPath, tok,
			http.Header{"X_Portcullis_Psu_Id": {"psu-victim"}, "X_Portcullis_Client_Id": {"tpp-victim"}})
		wantBankNotFound(t, "request with underscore headers", resp, body)
		if c.bankSeen.count() != n+1 {
			t.Fatalf("bank saw %d requests, want 1", c.bankSeen.count()-n)
		}
		h := c.bankSeen.last()
		for k, v := range h {
			if strings.Contains(strings.ToLower(strings.ReplaceAll(k, "_", "-")), "x-portcullis-psu") || strings.Contains(strings.Join(v, ","), "victim") {
				t.Errorf("bank received %s: %q", k, v)
			}
		}
		if got := h.Get("X-Portcullis-Client-Id"); got != pisp.id {
			t.Errorf("bank's X-Portcullis-Client-Id %q, want %q", got, pisp.id)
		}
	})
}
