package authz_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// Interop with independent clients (acceptance 2 of the token-endpoint issue): each gets a
// token whose cnf.x5t#S256 is its own certificate's thumbprint. These run on the real clock:
// the clients stamp their requests with their own time.

// TestInteropGoOAuth2: golang.org/x/oauth2/clientcredentials over mTLS, tls_client_auth.
func TestInteropGoOAuth2(t *testing.T) {
	f := newFixture(t, true)
	st := storetest.OpenSQLiteClock(t, f.clk)
	f.register(t, st)
	as := newServer(t, f, st, asOptions{})
	c := f.clients[clientTLS]

	cfg := clientcredentials.Config{
		ClientID:  c.id,
		TokenURL:  as.base + authz.PathToken,
		Scopes:    []string{"accounts"},
		AuthStyle: oauth2.AuthStyleInParams,
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, as.httpClient(t, c.tlsCert()))
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("x/oauth2 client credentials: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Errorf("token type %q, expiry %v", tok.TokenType, tok.Expiry)
	}
	checkInteropToken(t, as, tok.AccessToken, c, "accounts")

	// The same client without its certificate gets nothing (FAPI1-AS-50).
	ctx = context.WithValue(context.Background(), oauth2.HTTPClient, as.httpClient(t, nil))
	var re *oauth2.RetrieveError
	if _, err := cfg.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Errorf("without a certificate: %v, want 401 invalid_client", err)
	}
}

// TestInteropOpenIDClient: openid-client (npm, run by node) discovers the server and does
// client_credentials with private_key_jwt over mTLS.
func TestInteropOpenIDClient(t *testing.T) {
	if os.Getenv("PORTCULLIS_TEST_NODE") == "skip" {
		t.Skip("PORTCULLIS_TEST_NODE=skip")
	}
	dir := filepath.Join(repoRoot(t), "test", "interop")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err != nil {
		t.Fatalf("openid-client is not installed in %s (%v): run scripts/deps.sh, or set PORTCULLIS_TEST_NODE=skip", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): run scripts/deps.sh, or set PORTCULLIS_TEST_NODE=skip", err)
	}

	f := newFixture(t, true)
	st := storetest.OpenSQLiteClock(t, f.clk)
	f.register(t, st)
	as := newServer(t, f, st, asOptions{})
	// A FAPI 1 client, and a FAPI 2 one, whose assertion audience must be exactly the issuer.
	for _, id := range []string{clientPKJ, clientFAPI2} {
		t.Run(id, func(t *testing.T) { runOpenIDClient(t, node, dir, as, f.clients[id]) })
	}
}

func runOpenIDClient(t *testing.T, node, dir string, as *testAS, c *testClient) {
	tmp := t.TempDir()
	jwk := ecJWK(t, c.key, c.kid)
	d, err := c.key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	jwk["d"] = b64(d)
	jwkJSON, err := json.Marshal(jwk)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"client.crt": c.cert.CertPEM, "client.key": c.cert.KeyPEM, "ca.crt": as.f.ca.RootPEM(), "client.jwk": jwkJSON,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "client_credentials.mjs"),
		as.issuer, c.id, filepath.Join(tmp, "client.crt"), filepath.Join(tmp, "client.key"),
		filepath.Join(tmp, "ca.crt"), filepath.Join(tmp, "client.jwk"), "payments")
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openid-client: %v\nstderr:\n%s", err, stderr.String())
	}
	var resp struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("openid-client output %q: %v", out, err)
	}
	if !strings.EqualFold(resp.TokenType, "bearer") || resp.ExpiresIn != 300 || resp.Scope != "payments" {
		t.Errorf("token response %+v", resp)
	}
	checkInteropToken(t, as, resp.AccessToken, c, "payments")
}

// checkInteropToken asserts that raw is a valid access token of c bound to c's certificate.
func checkInteropToken(t *testing.T, as *testAS, raw string, c *testClient, scope string) {
	t.Helper()
	claims := jwtPart(t, raw, 1)
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["x5t#S256"] != c.thumbprint() {
		t.Errorf("cnf.x5t#S256 = %v, want the client certificate's thumbprint %s", cnf["x5t#S256"], c.thumbprint())
	}
	if claims["client_id"] != c.id || claims["scope"] != scope || claims["aut"] != "APPLICATION" {
		t.Errorf("claims %v", claims)
	}
	if _, err := as.verifier.Verify(context.Background(), raw); err != nil {
		t.Errorf("token does not verify: %v", err)
	}
}

// repoRoot finds the module root above the test's working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("go.mod not found above the working directory")
	return ""
}
