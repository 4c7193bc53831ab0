package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// execCmd runs cmd with args and stdin and maps its error to the exit code run() would
// give: 0 with the command's stderr, 2 for a usage error and 1 for any other, each with
// the error's text.
func execCmd(cmd *cobra.Command, stdin string, args ...string) (code int, stdout, stderr string) {
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var out, errb bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case isUsageError(err):
		return 2, out.String(), err.Error()
	default:
		return 1, out.String(), err.Error()
	}
}

// TestInvalidConfigExitCode is acceptance #2.4: a config file with an unknown key or an
// invalid value is refused with exit code 2 and a message naming the key.
func TestInvalidConfigExitCode(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantKey string
	}{
		{"unknown key", "http:\n  raed_timeout: 5s\n", "http.raed_timeout"},
		{"unknown section", "gatewya:\n  routes: []\n", "gatewya"},
		{"bad duration", "http:\n  read_timeout: soon\n", "http.read_timeout"},
		{"bad CIDR", "mtls:\n  header: X-Client-Cert\n  header_format: pem-urlencoded\n  trusted_proxies: [10.0.0.300/8]\n", "mtls.trusted_proxies"},
		{"bad issuer", "dev: true\nissuer: http://localhost:8443\n", "issuer"},
		{"bad profile", "dev: true\ntrust:\n  anchors:\n    - {name: a, file: a.pem, profile: nope}\n", "trust.anchors[0].profile"},
		// Route rules are package gateway's (config holds plain values); they are still
		// configuration errors.
		{"gateway route with unknown role", "dev: true\ngateway:\n  routes:\n    - {name: r, method: GET, path: /x, scopes: [accounts], roles: [NOPE], upstream: 'http://127.0.0.1:1'}\n", `gateway: route "r": roles: "NOPE"`},
		{"gateway route bad pattern", "dev: true\ngateway:\n  routes:\n    - {name: r, method: GET, path: '/x/../y', scopes: [accounts], any_role: true, upstream: 'http://127.0.0.1:1'}\n", `gateway: route "r": Pattern: dot segment`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "portcullis.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"config", "print"}} {
				code, _, stderr := runCLI(t, append(cmd, "--config", file, "--data-dir", t.TempDir())...)
				if code != 2 {
					t.Errorf("%v: exit code %d, want 2 (stderr %q)", cmd, code, stderr)
				}
				if !strings.Contains(stderr, tc.wantKey) {
					t.Errorf("%v: stderr %q does not name %q", cmd, stderr, tc.wantKey)
				}
			}
		})
	}
}

func TestUnknownEnvironmentVariableExitCode(t *testing.T) {
	t.Setenv("PORTCULLIS_HTTP_RAED_TIMEOUT", "5s")
	code, _, stderr := runCLI(t, "config", "print", "--data-dir", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "PORTCULLIS_HTTP_RAED_TIMEOUT") {
		t.Fatalf("exit %d, stderr %q; want 2 naming the variable", code, stderr)
	}
}

func TestUsageErrorsExitCode(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--no-such-flag"},
		{"version", "extra"},
		{"migrate", "extra"},
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d (%q), want 2", args, code, stderr)
		}
	}
}

func TestConfigPrintRedactsSecrets(t *testing.T) {
	file := filepath.Join(t.TempDir(), "portcullis.yaml")
	yaml := "dev: true\nadmin:\n  token: s3cr3t-admin-token-0123456789abcdef\ndatabase:\n  url: postgres://portcullis:hunter2pass@127.0.0.1:5432/pc\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "config", "print", "--config", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, secret := range []string{"s3cr3t-admin-token", "hunter2pass"} {
		if strings.Contains(out, secret) {
			t.Errorf("config print leaks %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "issuer: https://localhost:8443") {
		t.Errorf("config print lacks the issuer:\n%s", out)
	}
}

func TestMigrateSQLite(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "migrate", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "migrations applied (sqlite)") {
		t.Fatalf("exit %d, out %q, err %q", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "portcullis.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "portcullis ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}
