package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// The test binary doubles as the portcullis binary: with this variable set, TestMain runs
// the command line instead of the tests, so end-to-end tests start real, separate
// Portcullis processes without a separate build step.
const runAsPortcullis = "E2E_RUN_AS_PORTCULLIS"

func TestMain(m *testing.M) {
	if os.Getenv(runAsPortcullis) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startProcess starts `portcullis serve --config cfgFile` as a child process and returns
// the https address from its start-up banner. The process is stopped (SIGTERM, by PID)
// when the test ends.
func startProcess(t *testing.T, cfgFile string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", cfgFile)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTCULLIS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, runAsPortcullis+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("portcullis (pid %d) stderr:\n%s", cmd.Process.Pid, stderr.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "https" && f[1] == "(mTLS)" {
				addr <- strings.TrimPrefix(f[2], "https://")
			}
		}
	}()
	select {
	case a := <-addr:
		return a
	case <-exited:
		t.Fatalf("portcullis exited early:\n%s", stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("portcullis printed no banner within 60 s:\n%s", stderr.String())
	}
	return ""
}

// TestReplayedAssertionAcrossProcesses is acceptance #4.1's cross-node case: two separate
// Portcullis processes share one PostgreSQL database; a private_key_jwt client assertion
// accepted by the first is refused by the second with 401 invalid_client, because the jti
// is consumed in the database, not in process memory.
func TestReplayedAssertionAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	pgURL := storetest.PostgresURL(t)

	// A CA whose OCSP responder and CRLs this test serves on loopback.
	var ca *sandbox.CA
	pkiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ca.Handler(nil).ServeHTTP(w, r) }))
	t.Cleanup(pkiSrv.Close)
	ca, err := sandbox.Init(filepath.Join(dir, "pki"), pkiSrv.URL+"/pki", clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue(sandbox.KindServer, sandbox.IssueOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := server.WriteFiles(filepath.Join(dir, "server")); err != nil {
		t.Fatal(err)
	}
	roles, _ := sandbox.ParseRoles("AISP")
	tpp, err := ca.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-777777", Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	// Both nodes sign with the same provisioned key.
	if _, err := jose.LoadOrGenerate(filepath.Join(dir, "keys"), jose.ES256, jose.KeyStoreOptions{}); err != nil {
		t.Fatal(err)
	}

	cfgFile := filepath.Join(dir, "portcullis.yaml")
	cfg := fmt.Sprintf(`dev: false
data_dir: %[1]s
issuer: https://localhost:8443
listen:
  https: 127.0.0.1:0
  ops: 127.0.0.1:0
database:
  url: %[2]q
tls:
  cert_file: %[1]s/server.crt
  key_file: %[1]s/server.key
trust:
  anchors:
    - name: sandbox
      file: %[1]s/pki/ca.crt
      profile: eidas
  intermediates_file: %[1]s/pki/issuing.crt
keys:
  dir: %[1]s/keys
`, dir, pgURL)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// The client's assertion key, registered by value.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := key.PublicKey.Bytes()
	enc := base64.RawURLEncoding
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "a1", "x": enc.EncodeToString(pt[1:33]), "y": enc.EncodeToString(pt[33:65]),
	}}})
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "client", "add", "--config", cfgFile, "--id", "tpp-pkjwt", "--auth", "private_key_jwt",
		"--jwks", jwksFile, "--grant-type", "client_credentials", "--scope", "accounts"); code != 0 {
		t.Fatalf("client add: exit %d: %s", code, errs)
	}

	nodeA := startProcess(t, cfgFile)
	nodeB := startProcess(t, cfgFile)

	pool := x509.NewCertPool()
	pool.AddCert(ca.RootCertificate())
	pair, err := tls.X509KeyPair(tpp.CertPEM, tpp.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{pair}},
	}}
	assertion := signAssertion(t, key, "a1", "tpp-pkjwt", "https://localhost:8443")
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {"accounts"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	post := func(addr string) (int, string) {
		resp, err := hc.Post("https://"+addr+"/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatalf("POST %s/token: %v", addr, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(nodeA); code != http.StatusOK {
		t.Fatalf("node A: %d %s, want 200", code, body)
	}
	code, body := post(nodeB)
	var e struct{ Error string }
	_ = json.Unmarshal([]byte(body), &e)
	if code != http.StatusUnauthorized || e.Error != "invalid_client" {
		t.Fatalf("replay on node B: %d %s, want 401 invalid_client", code, body)
	}
}

// signAssertion builds an RFC 7523 client assertion signed ES256 by hand.
func signAssertion(t *testing.T, k *ecdsa.PrivateKey, kid, clientID, aud string) string {
	t.Helper()
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	now := time.Now().Unix()
	hdr, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid})
	pl, _ := json.Marshal(map[string]any{"iss": clientID, "sub": clientID, "aud": aud,
		"jti": hex.EncodeToString(jti[:]), "iat": now, "exp": now + 60})
	enc := base64.RawURLEncoding
	in := enc.EncodeToString(hdr) + "." + enc.EncodeToString(pl)
	h := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + enc.EncodeToString(sig)
}
