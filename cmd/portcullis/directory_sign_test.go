package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/jose"
)

// TestDirectorySoftwareKeyCommands: software-jwks prints the public JWK Set of a PKCS#8
// key (kid = thumbprint, no private member); both helpers refuse a missing or unusable key
// with the usage exit code.
func TestDirectorySoftwareKeyCommands(t *testing.T) {
	dir := t.TempDir()
	k, err := jose.GenerateSigningKey(jose.PS256)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := k.MarshalPKCS8PEM()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "software.key")
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "directory", "software-jwks", "--key", keyFile)
	if code != 0 {
		t.Fatalf("software-jwks: exit %d: %s", code, errs)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("software-jwks output %q: %v", out, err)
	}
	if set.Keys[0]["kid"] != k.KeyID() || set.Keys[0]["d"] != nil || set.Keys[0]["kty"] != "RSA" {
		t.Errorf("JWK = %v, want the public RSA key with kid %s", set.Keys[0], k.KeyID())
	}

	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"directory", "software-jwks"},
		{"directory", "sign-request"},
		{"directory", "software-jwks", "--key", notPEM},
		{"directory", "sign-request", "--key", notPEM},
	} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
