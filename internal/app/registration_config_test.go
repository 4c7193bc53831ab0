package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	dirsandbox "github.com/portcullis/portcullis/internal/dcr/sandbox"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestConfiguredDirectory: registration.directories adds a trusted directory (here by
// jwks_file): a software statement that directory signed, under its configured issuer
// name, gets past the SSA checks (to the unreachable software JWKS: 503); the same
// statement under an issuer nobody configured is unapproved_software_statement.
func TestConfiguredDirectory(t *testing.T) {
	dirPath := t.TempDir()
	if _, err := dirsandbox.Init(dirPath, nil); err != nil {
		t.Fatal(err)
	}
	var cfg *config.Config
	a := startApp(t, func(c *config.Config) {
		cfg = c
		c.Registration.Directories = []config.Directory{{Issuer: "Example Scheme Directory", JWKSFile: filepath.Join(dirPath, dirsandbox.FileJWKS)}}
		c.Registration.RequestMaxLifetime = 30 * time.Minute
	})
	keyPEM, err := os.ReadFile(filepath.Join(dirPath, dirsandbox.FileKey))
	if err != nil {
		t.Fatal(err)
	}
	dirKey, err := jose.ParseSigningKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	dirKeys, err := jose.NewKeyStore(jose.KeyStoreOptions{}, dirKey)
	if err != nil {
		t.Fatal(err)
	}
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-123456", Roles: mustRoles(t, "AISP")})
	if err != nil {
		t.Fatal(err)
	}
	sw := newSoftwareKeys(t)
	register := func(issuer string) (int, map[string]any) {
		t.Helper()
		now := time.Now()
		ssaClaims, _ := json.Marshal(map[string]any{
			"iss": issuer, "iat": now.Unix(), "jti": "ssa-" + issuer,
			"software_id": "SchemeTpp1", "software_client_id": "SchemeTpp1", "software_roles": []string{"AISP"},
			"software_redirect_uris": []string{"https://tpp.example.com/cb"}, "software_jwks_endpoint": "https://127.0.0.1:1/software.jwks",
			"org_id": "PSDGB-FCA-123456", "org_name": "Example TPP Ltd", "org_status": "Active",
		})
		ssa, err := dirKeys.SignWith(jose.PS256, ssaClaims, "JWT")
		if err != nil {
			t.Fatal(err)
		}
		// A registration JWT valid for 25 minutes: accepted under request_max_lifetime 30m.
		claims, _ := json.Marshal(map[string]any{
			"iss": "SchemeTpp1", "aud": cfg.Issuer, "iat": now.Unix(), "exp": now.Add(25 * time.Minute).Unix(),
			"jti": now.Format(time.RFC3339Nano) + issuer, "software_statement": ssa,
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256",
			"grant_types": []string{"client_credentials"},
		})
		req, err := sw.Sign(claims, "JWT")
		if err != nil {
			t.Fatal(err)
		}
		return postBody(t, mtlsClient(t, a.Sandbox.RootCertificate(), qwac), "https://"+a.HTTPSAddr().String()+"/register", "application/jwt", req, "")
	}
	if status, body := register("Example Scheme Directory"); status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Fatalf("SSA of the configured directory: %d %v, want 503 (software JWKS unreachable)", status, body)
	}
	if status, body := register("Unknown Directory"); status != http.StatusBadRequest || body["error"] != "unapproved_software_statement" {
		t.Fatalf("SSA of an unconfigured issuer: %d %v, want 400 unapproved_software_statement", status, body)
	}
}
