package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	dirsandbox "github.com/portcullis/portcullis/internal/dcr/sandbox"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestFaultSoftwareJWKSUnreachable: dynamic client registration with a software statement of
// the trusted (sandbox) directory whose software_jwks_endpoint — the TPP's keys as its
// register publishes them — is down. /register answers 503 temporarily_unavailable (dcr
// ErrUnavailable: "could not check") and registers nothing; the refused request's jti is not
// spent: once the endpoint is back (after the fetch-error back-off) the very same request
// registers the client, and only once.
func TestFaultSoftwareJWKSUnreachable(t *testing.T) {
	var cfg *config.Config
	a := startApp(t, func(c *config.Config) { cfg = c })
	base := "https://" + a.HTTPSAddr().String()
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-700004", Roles: mustRoles(t, "AISP,PISP")})
	if err != nil {
		t.Fatal(err)
	}
	sw := newSoftwareKeys(t)
	endpoint := newJWKSServer(t, a, sw.JWKS())
	dir, err := dirsandbox.Open(filepath.Join(cfg.DataDir, app.DirectoryDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	ssa, err := dir.IssueSSA(dirsandbox.SSAOptions{SoftwareID: "FaultsTpp1", OrgID: "0015800001FAULTS", OrgName: "Faults TPP Ltd",
		RegistrationID: "PSDGB-FCA-700004", Roles: []string{"AISP", "PISP"}, RedirectURIs: []string{journeyRedirect},
		JWKSURI: endpoint.url()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": "FaultsTpp1", "aud": cfg.Issuer, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": randomString(t), "software_statement": ssa,
		"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256",
		"grant_types": []string{"client_credentials"},
	})
	request, err := sw.Sign(claims, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	tpp := mtlsClient(t, a.Sandbox.RootCertificate(), qwac)
	post := func() (int, map[string]any) {
		t.Helper()
		return postBody(t, tpp, base+"/register", "application/jwt", request, "")
	}
	clients := func() int {
		t.Helper()
		list, err := a.Store.ListClients(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	before := clients()
	endpoint.stop()
	if status, body := post(); status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Fatalf("software JWKS down: /register %d %v, want 503 temporarily_unavailable", status, body)
	}
	if n := clients(); n != before {
		t.Fatalf("software JWKS down: %d clients registered, want none", n-before)
	}

	endpoint.start()
	var status int
	var body map[string]any
	if !eventually(15*time.Second, func() bool { status, body = post(); return status == http.StatusCreated }) {
		t.Fatalf("software JWKS back: /register still %d %v", status, body)
	}
	if body["client_id"] == nil || clients() != before+1 {
		t.Fatalf("software JWKS back: %v, %d clients registered", body, clients()-before)
	}
	status, body = post()
	if status != http.StatusBadRequest || body["error"] != "invalid_client_metadata" || clients() != before+1 {
		t.Errorf("the same registration request again: %d %v, want 400 invalid_client_metadata (jti used)", status, body)
	}
}
