package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestConfigPrintDevShowsEffective: in dev mode `config print` shows the configuration serve
// actually runs with — the data dir (absolute), database, key dir and listeners, and the
// sandbox anchor, server certificate and sandbox bank routes serve provisions — rather than
// empty defaults; the paths it prints are the ones app.New uses; and the output still
// loads as a configuration.
func TestConfigPrintDevShowsEffective(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, config.EnvPrefix) {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	code, out, stderr := runCLI(t, "config", "print", "--data-dir", dataDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	pkiDir := filepath.Join(dataDir, "pki")
	for _, want := range []string{
		"data_dir: " + dataDir,
		"url: sqlite:" + filepath.Join(dataDir, "portcullis.db"),
		"dir: " + filepath.Join(dataDir, "keys"),
		"https: 127.0.0.1:8443",
		"ops: 127.0.0.1:9090",
		"file: " + filepath.Join(pkiDir, sandbox.FileRootCert),
		"name: sandbox",
		"profile: eidas",
		"cert_file: " + filepath.Join(pkiDir, "server.crt"),
		"name: pisp-domestic-payment-get",
		"path: /open-banking/v3.1/pisp/domestic-payments/{DomesticPaymentId}",
		"name: aisp-accounts",
		"ocsp_and_crl_base: http://127.0.0.1:9090/pki",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}

	// The printed paths are the ones serve uses.
	cfg, err := config.Load("", []string{
		config.EnvPrefix + "DATA_DIR=" + dataDir,
		config.EnvPrefix + "LISTEN_HTTPS=127.0.0.1:0", config.EnvPrefix + "LISTEN_OPS=127.0.0.1:0", config.EnvPrefix + "LISTEN_PUBLIC=127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Sandbox == nil || a.Sandbox.Dir() != pkiDir && a.Sandbox.Dir() != filepath.Clean(pkiDir) {
		t.Errorf("serve's sandbox CA is not at the printed %s", pkiDir)
	}
	for _, f := range []string{
		filepath.Join(pkiDir, sandbox.FileRootCert), filepath.Join(pkiDir, sandbox.FileIssuingCert),
		filepath.Join(pkiDir, "server.crt"), filepath.Join(pkiDir, "server.key"),
		filepath.Join(dataDir, "keys", "keys.json"), filepath.Join(dataDir, "portcullis.db"),
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("config print names %s, which serve did not create: %v", f, err)
		}
	}

	// The output loads again (the provisions are comments, not keys).
	file := filepath.Join(t.TempDir(), "printed.yaml")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "config", "print", "--config", file); code != 0 {
		t.Errorf("the printed configuration does not load: exit %d: %s", code, stderr)
	}
}
