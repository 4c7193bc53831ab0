package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	dirsandbox "github.com/portcullis/portcullis/internal/dcr/sandbox"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestDevTrustsSandboxDirectory: the dev server creates DATA/directory on first start,
// publishes registration_endpoint, and verifies software statements against that
// directory's key: an SSA it signed gets past the SSA checks (to the TPP's software JWKS,
// unreachable here: 503), one signed by another key under the same issuer name is
// invalid_software_statement.
func TestDevTrustsSandboxDirectory(t *testing.T) {
	var cfg *config.Config
	a := startApp(t, func(c *config.Config) { cfg = c })
	dirPath := filepath.Join(cfg.DataDir, app.DirectoryDir)
	if _, err := os.Stat(filepath.Join(dirPath, dirsandbox.FileJWKS)); err != nil {
		t.Fatalf("sandbox directory not created: %v", err)
	}
	base := "https://" + a.HTTPSAddr().String()
	status, body := getJSONStatus(t, mtlsClient(t, a.Sandbox.RootCertificate(), nil), base+"/.well-known/openid-configuration")
	if status != 200 || body["registration_endpoint"] != cfg.Issuer+"/register" {
		t.Fatalf("discovery: %d registration_endpoint=%v", status, body["registration_endpoint"])
	}

	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-123456", Roles: mustRoles(t, "AISP,PISP")})
	if err != nil {
		t.Fatal(err)
	}
	sw := newSoftwareKeys(t)
	ssaOpts := dirsandbox.SSAOptions{SoftwareID: "DevTpp1", OrgID: "0015800001HQQrZAAX", OrgName: "Example TPP Ltd",
		RegistrationID: "PSDGB-FCA-123456", Roles: []string{"AISP", "PISP"}, RedirectURIs: []string{"https://tpp.example.com/cb"},
		JWKSURI: "https://127.0.0.1:1/software.jwks"}
	register := func(d *dirsandbox.Directory) (int, map[string]any) {
		t.Helper()
		ssa, err := d.IssueSSA(ssaOpts)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		claims, _ := json.Marshal(map[string]any{
			"iss": "DevTpp1", "aud": cfg.Issuer, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
			"jti": now.Format(time.RFC3339Nano), "software_statement": ssa,
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256",
			"grant_types": []string{"client_credentials"},
		})
		req, err := sw.Sign(claims, "JWT")
		if err != nil {
			t.Fatal(err)
		}
		return postBody(t, mtlsClient(t, a.Sandbox.RootCertificate(), qwac), base+"/register", "application/jwt", req, "")
	}
	trusted, err := dirsandbox.Open(dirPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := register(trusted); status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Fatalf("SSA of the trusted sandbox directory: %d %v, want 503 (software JWKS unreachable)", status, body)
	}
	rogue, err := dirsandbox.Init(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := register(rogue); status != http.StatusBadRequest || body["error"] != "invalid_software_statement" {
		t.Fatalf("SSA of another key: %d %v, want 400 invalid_software_statement", status, body)
	}
}

func getJSONStatus(t *testing.T, c *http.Client, u string) (int, map[string]any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// newSoftwareKeys returns a key store of one new ES256 key: a TPP's software signing key.
func newSoftwareKeys(t *testing.T) *jose.KeyStore {
	t.Helper()
	k, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := jose.NewKeyStore(jose.KeyStoreOptions{}, k)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}
