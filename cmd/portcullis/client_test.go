package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// clientCLI runs `client ARGS` against reg and returns run()'s exit code mapping.
func clientCLI(t *testing.T, reg *client.Registry, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	opened := 0
	cmd := newClientCmd(func(*cobra.Command) (*client.Registry, func(), error) {
		opened++
		return reg, func() { opened-- }, nil
	})
	code, stdout, stderr = execCmd(cmd, "", args...)
	if opened != 0 {
		t.Errorf("registry opened %d more times than closed", opened)
	}
	return code, stdout, stderr
}

func writeJWKS(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	doc, _ := json.MarshalIndent(map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "k1",
		"x": enc.EncodeToString(pt[1:33]), "y": enc.EncodeToString(pt[33:65]),
	}}}, "", "  ")
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClientCommands(t *testing.T) {
	reg := client.NewRegistry(storetest.OpenSQLite(t), client.RegistryOptions{})
	jwksFile := writeJWKS(t)

	code, out, errs := clientCLI(t, reg, "add", "--id", "tpp-1", "--auth", "private_key_jwt", "--jwks", jwksFile,
		"--grant-type", "client_credentials", "--scope", "accounts", "--scope", "payments fundsconfirmations", "--profile", "fapi2")
	if code != 0 {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	var added client.Client
	if err := json.Unmarshal([]byte(out), &added); err != nil {
		t.Fatalf("add output %q: %v", out, err)
	}
	if added.ID != "tpp-1" || added.Profile != "fapi2" || added.Scope.String() != "accounts payments fundsconfirmations" ||
		len(added.JWKS) == 0 || added.CreatedAt.IsZero() {
		t.Errorf("add output = %+v", added)
	}

	code, _, errs = clientCLI(t, reg, "add", "--id", "tpp-2", "--auth", "tls_client_auth",
		"--subject-dn", "CN=tpp-2,O=Example TPP Ltd,C=GB", "--redirect-uri", "https://tpp.example/cb",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token")
	if code != 0 {
		t.Fatalf("add tls: exit %d: %s", code, errs)
	}

	code, out, _ = clientCLI(t, reg, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[1], "tpp-1 ") || !strings.Contains(lines[2], "tls_client_auth") {
		t.Errorf("list: exit %d:\n%s", code, out)
	}

	code, out, _ = clientCLI(t, reg, "get", "tpp-2")
	var got client.Client
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.TLSClientAuthSubjectDN != "CN=tpp-2,O=Example TPP Ltd,C=GB" {
		t.Errorf("get: exit %d %v:\n%s", code, err, out)
	}

	if !strings.Contains(out, `"method": "operator"`) {
		t.Errorf("get of an operator's client: no operator provenance:\n%s", out)
	}

	// A dynamically registered client: get says which directory's SSA, software and org.
	dyn := &client.Client{ID: "tpp-dcr", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: "CN=tpp-dcr,O=Example TPP Ltd,C=GB",
		GrantTypes: []string{"client_credentials"}, SoftwareID: "sw-1", OrgID: "org-1",
		Registration: &client.Registration{SSAIssuer: "Portcullis sandbox directory", OrgName: "Example TPP Ltd", AccessTokenHash: "c2VjcmV0LWhhc2g"}}
	if _, err := reg.Add(context.Background(), dyn); err != nil {
		t.Fatal(err)
	}
	code, out, _ = clientCLI(t, reg, "get", "tpp-dcr")
	var shown struct {
		Provenance map[string]string `json:"provenance"`
	}
	if err := json.Unmarshal([]byte(out), &shown); code != 0 || err != nil {
		t.Fatalf("get tpp-dcr: exit %d %v:\n%s", code, err, out)
	}
	want := map[string]string{"method": "dynamic_client_registration", "ssa_issuer": "Portcullis sandbox directory",
		"software_id": "sw-1", "org_id": "org-1", "org_name": "Example TPP Ltd"}
	for k, v := range want {
		if shown.Provenance[k] != v {
			t.Errorf("provenance %s = %q, want %q", k, shown.Provenance[k], v)
		}
	}
	if strings.Contains(out, "c2VjcmV0LWhhc2g") {
		t.Errorf("get shows the registration access token hash:\n%s", out)
	}

	if code, out, _ = clientCLI(t, reg, "remove", "tpp-2"); code != 0 || !strings.Contains(out, "tpp-2") {
		t.Errorf("remove: exit %d: %s", code, out)
	}
	if code, _, _ = clientCLI(t, reg, "get", "tpp-2"); code != 1 {
		t.Errorf("get after remove: exit %d, want 1", code)
	}
}

func TestClientCommandErrors(t *testing.T) {
	reg := client.NewRegistry(storetest.OpenSQLite(t), client.RegistryOptions{})
	jwksFile := writeJWKS(t)
	if code, _, errs := clientCLI(t, reg, "add", "--id", "taken", "--auth", "private_key_jwt", "--jwks", jwksFile,
		"--grant-type", "client_credentials"); code != 0 {
		t.Fatalf("add: %s", errs)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantText string
	}{
		{"no id", []string{"add", "--auth", "private_key_jwt", "--jwks", jwksFile}, 2, "--id"},
		{"no auth", []string{"add", "--id", "x"}, 2, "--auth"},
		{"client secret", []string{"add", "--id", "x", "--auth", "client_secret_basic", "--grant-type", "client_credentials"}, 2, "token_endpoint_auth_method"},
		{"public client", []string{"add", "--id", "x", "--auth", "none", "--grant-type", "client_credentials"}, 2, "public clients"},
		{"jwks and jwks-uri", []string{"add", "--id", "x", "--auth", "private_key_jwt", "--jwks", jwksFile, "--jwks-uri", "https://a.example/j"}, 2, "--jwks"},
		{"missing jwks file", []string{"add", "--id", "x", "--auth", "private_key_jwt", "--jwks", filepath.Join(t.TempDir(), "nope.json")}, 2, "--jwks"},
		{"no key", []string{"add", "--id", "x", "--auth", "private_key_jwt", "--grant-type", "client_credentials"}, 2, "jwks"},
		{"bad DN", []string{"add", "--id", "x", "--auth", "tls_client_auth", "--subject-dn", "CN=a,,", "--grant-type", "client_credentials"}, 2, "tls_client_auth_subject_dn"},
		{"http redirect", []string{"add", "--id", "x", "--auth", "tls_client_auth", "--san-dns", "x.example", "--redirect-uri", "http://x.example/cb"}, 2, "redirect_uris"},
		{"code grant without redirect", []string{"add", "--id", "x", "--auth", "tls_client_auth", "--san-dns", "x.example"}, 2, "redirect_uris"},
		{"bad profile", []string{"add", "--id", "x", "--auth", "tls_client_auth", "--san-dns", "x.example", "--grant-type", "client_credentials", "--profile", "fapi3"}, 2, "fapi_profile"},
		{"unknown flag", []string{"add", "--id", "x", "--secret", "s"}, 2, "secret"},
		{"taken id", []string{"add", "--id", "taken", "--auth", "private_key_jwt", "--jwks", jwksFile, "--grant-type", "client_credentials"}, 1, "already registered"},
		{"get without id", []string{"get"}, 2, "arg"},
		{"get unknown", []string{"get", "ghost"}, 1, "no such client"},
		{"remove unknown", []string{"remove", "ghost"}, 1, "no such client"},
		{"list with argument", []string{"list", "x"}, 2, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := clientCLI(t, reg, tt.args...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantText) {
				t.Errorf("exit %d %q, want %d containing %q", code, errs, tt.wantCode, tt.wantText)
			}
		})
	}
	if _, err := reg.Get(context.Background(), "x"); err == nil {
		t.Errorf("a refused client was registered")
	}
}

// TestClientCommandsThroughRun drives the real binary entry point with --data-dir, as
// INTERFACE.md documents `portcullis client add --data-dir ./data …`.
func TestClientCommandsThroughRun(t *testing.T) {
	dir := t.TempDir()
	jwksFile := writeJWKS(t)
	code, _, stderr := runCLI(t, "client", "add", "--data-dir", dir, "--id", "tpp", "--auth", "private_key_jwt",
		"--jwks", jwksFile, "--grant-type", "client_credentials")
	if code != 0 {
		t.Fatalf("client add: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLI(t, "client", "get", "tpp", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, `"client_id": "tpp"`) {
		t.Fatalf("client get: exit %d: %s %s", code, out, stderr)
	}
	if code, _, stderr = runCLI(t, "client", "add", "--data-dir", dir, "--id", "p", "--auth", "none"); code != 2 {
		t.Errorf("client add --auth none: exit %d, want 2 (%s)", code, stderr)
	}
}

// TestClientAddRefusesUnofferedScope: `client add --scope` accepts exactly the scopes the
// server offers (discovery's scopes_supported); any other is a usage error (exit 2) naming
// the scope, and nothing is registered.
func TestClientAddRefusesUnofferedScope(t *testing.T) {
	dir := t.TempDir()
	jwksFile := writeJWKS(t)
	add := func(id string, scopes ...string) (int, string) {
		args := []string{"client", "add", "--data-dir", dir, "--id", id, "--auth", "private_key_jwt",
			"--jwks", jwksFile, "--grant-type", "client_credentials"}
		for _, s := range scopes {
			args = append(args, "--scope", s)
		}
		code, _, stderr := runCLI(t, args...)
		return code, stderr
	}
	for _, tc := range []struct{ name, scope, want string }{
		{"unknown", "bogus", `--scope "bogus": not offered by this server`},
		{"one bad among good, space-separated", "accounts paymentz", `--scope "paymentz"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := add("bad", tc.scope)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d %q, want 2 containing %q", code, stderr, tc.want)
			}
		})
	}
	if code, _, _ := runCLI(t, "client", "get", "bad", "--data-dir", dir); code != 1 {
		t.Errorf("a client with a refused scope was registered (client get: exit %d)", code)
	}
	if code, stderr := add("good", app.ScopesSupported()...); code != 0 {
		t.Errorf("every offered scope: exit %d: %s", code, stderr)
	}
}

// TestClientAddSaysWhereItWrites: `client add` names the database it wrote to (absolute
// path), and warns when no --data-dir or --config was given and ./data does not exist in
// the working directory, where it then creates a new database.
func TestClientAddSaysWhereItWrites(t *testing.T) {
	for _, name := range []string{"PORTCULLIS_DATA_DIR", "PORTCULLIS_DATABASE_URL"} {
		t.Setenv(name, "") // restored after the test
		os.Unsetenv(name)
	}
	jwksFile := writeJWKS(t)
	args := []string{"client", "add", "--auth", "private_key_jwt", "--jwks", jwksFile, "--grant-type", "client_credentials"}

	wd := t.TempDir()
	t.Chdir(wd)
	code, _, stderr := runCLI(t, append(args, "--id", "a")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"warning: no --data-dir or --config given and ./data does not exist",
		"client registry in sqlite:" + filepath.Join(wd, "data", "portcullis.db"),
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	// ./data exists now: the same command is where the user meant it, no warning.
	code, _, stderr = runCLI(t, append(args, "--id", "b")...)
	if code != 0 || strings.Contains(stderr, "warning") {
		t.Errorf("second add in the same directory: exit %d, stderr %q (want no warning)", code, stderr)
	}
	// An explicit --data-dir is never warned about, even when it does not exist yet.
	other := filepath.Join(t.TempDir(), "elsewhere")
	code, _, stderr = runCLI(t, append(args, "--id", "c", "--data-dir", other)...)
	if code != 0 || strings.Contains(stderr, "warning") || !strings.Contains(stderr, "sqlite:"+filepath.Join(other, "portcullis.db")) {
		t.Errorf("--data-dir %s: exit %d, stderr %q", other, code, stderr)
	}
}
