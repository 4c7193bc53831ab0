package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/jose"
)

// TestKeysListRotate: `keys rotate` against a dev data directory with keys.source database
// stores a first active key and a next one; `keys list` shows both with their states and
// dates; a second rotate while one is pending fails (exit 1); a server's loader opens the keys
// the command wrote; rotate on a key directory is a usage error (exit 2).
func TestKeysListRotate(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(cfgFile, []byte("dev: true\ndata_dir: "+dir+"\nkeys:\n  source: database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errs := cli("keys", "rotate", "--config", cfgFile)
	if code != 0 {
		t.Fatalf("keys rotate: exit %d, %s", code, errs)
	}
	m := regexp.MustCompile(`published signing key (\S+) \(ES256\) as next`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys rotate output: %q", out)
	}
	newKID := m[1]

	code, out, errs = cli("keys", "list", "--config", cfgFile)
	if code != 0 {
		t.Fatalf("keys list: exit %d, %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "KID") {
		t.Fatalf("keys list: %q", out)
	}
	var states []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if f[1] != "ES256" {
			t.Fatalf("keys list line %q", l)
		}
		states = append(states, f[0]+" "+f[2])
	}
	if !strings.Contains(strings.Join(states, ","), newKID+" next") || !strings.Contains(strings.Join(states, ","), " active") {
		t.Fatalf("keys list states %v, want an active key and %s next", states, newKID)
	}
	if strings.Contains(out, "PRIVATE") {
		t.Fatal("keys list prints key material")
	}

	if code, _, errs = cli("keys", "rotate", "--config", cfgFile); code != 1 || !strings.Contains(errs, "already pending") {
		t.Fatalf("second keys rotate: exit %d, %q; want 1, already pending", code, errs)
	}

	// The server's loader, with the same configuration, opens what the command wrote.
	cfg, err := (&stateFlags{config: cfgFile}).load()
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set, err := app.OpenKeySet(t.Context(), cfg, st, jose.KeyStoreOptions{})
	if err != nil {
		t.Fatalf("OpenKeySet: %v", err)
	}
	if !set.KeyStore().HasKey(newKID) {
		t.Fatal("the server's key set does not publish the rotated key")
	}

	if code, _, errs = cli("keys", "rotate", "--data-dir", t.TempDir()); code != 2 || !strings.Contains(errs, "keys.source") {
		t.Fatalf("keys rotate on a key directory: exit %d, %q; want 2", code, errs)
	}
}
