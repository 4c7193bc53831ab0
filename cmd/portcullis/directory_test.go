package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/dcr"
	dirsandbox "github.com/portcullis/portcullis/internal/dcr/sandbox"
	"github.com/portcullis/portcullis/internal/jose"
)

// TestDirectoryCommands: `directory init` then `directory ssa` write an SSA the directory's
// JWK Set verifies, with the flags' values; bad usage exits 2.
func TestDirectoryCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "directory")
	var out, errOut bytes.Buffer
	if code := run([]string{"directory", "init", "--dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), dirsandbox.Issuer) {
		t.Fatalf("init output: %s", out.String())
	}
	if code := run([]string{"directory", "init", "--dir", dir}, &out, &errOut); code != 2 {
		t.Fatalf("second init: exit %d, want 2", code)
	}
	ssaFile := filepath.Join(t.TempDir(), "ssa.jwt")
	args := []string{"directory", "ssa", "--dir", dir, "--software-id", "TppApp1", "--org-id", "0015800001HQQrZAAX",
		"--org-name", "Example TPP Ltd", "--roles", "AISP,PISP", "--redirect-uri", "https://tpp.example.com/cb",
		"--redirect-uri", "https://tpp.example.com/cb2", "--jwks-uri", "https://tpp.example.com/jwks", "--out", ssaFile}
	errOut.Reset()
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("ssa: exit %d: %s", code, errOut.String())
	}
	raw, err := os.ReadFile(ssaFile)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := dirsandbox.Trust(dir)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	if _, err := jose.VerifyJWT(context.Background(), token, trust.Keys, jose.VerifyOptions{}); err != nil {
		t.Fatalf("SSA does not verify with jwks.json: %v", err)
	}
	ssa, err := dcr.ParseSSA(token)
	if err != nil {
		t.Fatal(err)
	}
	if ssa.SoftwareID != "TppApp1" || ssa.OrgStatus != "Active" || len(ssa.SoftwareRedirectURIs) != 2 || ssa.SoftwareRoles[1] != "PISP" {
		t.Fatalf("ssa = %+v", ssa)
	}

	for name, bad := range map[string][]string{
		"missing --jwks-uri": {"directory", "ssa", "--dir", dir, "--software-id", "A", "--org-id", "o", "--org-name", "n", "--roles", "AISP", "--redirect-uri", "https://a.example/cb"},
		"unknown role":       {"directory", "ssa", "--dir", dir, "--software-id", "A", "--org-id", "o", "--org-name", "n", "--roles", "BANK", "--redirect-uri", "https://a.example/cb", "--jwks-uri", "https://a.example/j"},
		"no subcommand":      {"directory"},
		"init without dir":   {"directory", "init"},
	} {
		if code := run(bad, &out, &errOut); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
	}
}
