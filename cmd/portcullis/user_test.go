package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// userCLI runs `user ARGS` with stdin against cs and returns run()'s exit code mapping.
func userCLI(t *testing.T, cs *identity.Customers, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	opened := 0
	cmd := newUserCmd(func(*cobra.Command) (*identity.Customers, func(), error) {
		opened++
		return cs, func() { opened-- }, nil
	})
	code, stdout, stderr = execCmd(cmd, stdin, args...)
	if opened != 0 {
		t.Errorf("store opened %d more times than closed", opened)
	}
	return code, stdout, stderr
}

// testCustomers returns customer administration and an authenticator over one fresh store.
func testCustomers(t *testing.T) (*identity.Customers, *identity.Embedded, *store.Store) {
	t.Helper()
	st := storetest.OpenSQLite(t)
	key, err := identity.NewSecretKey(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e, err := identity.NewEmbedded(identity.EmbeddedOptions{Customers: st, Failures: st, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return identity.NewCustomers(st, key), e, st
}

var (
	passwordLine = regexp.MustCompile(`(?m)^  password     (\S+)  \(generated; shown only this once\)$`)
	secretLine   = regexp.MustCompile(`(?m)^  TOTP secret  ([A-Z2-7]+)$`)
	uriLine      = regexp.MustCompile(`(?m)^  TOTP URI     (otpauth://totp/Portcullis:\S+)$`)
)

// login checks both factors of a customer with the real authenticator.
func login(t *testing.T, e *identity.Embedded, id, password, b32 string) {
	t.Helper()
	got, err := e.CheckPassword(t.Context(), id, password, "127.0.0.1")
	if err != nil || got != id {
		t.Fatalf("CheckPassword(%s) = %q, %v", id, got, err)
	}
	secret, err := identity.ParseTOTPSecret(b32)
	if err != nil {
		t.Fatal(err)
	}
	code, err := identity.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CheckOTP(t.Context(), id, code, "127.0.0.1"); err != nil {
		t.Fatalf("CheckOTP(%s): %v", id, err)
	}
}

func TestUserCommands(t *testing.T) {
	cs, e, _ := testCustomers(t)

	// Generated password and TOTP key, printed once.
	code, out, errs := userCLI(t, cs, "", "add", "--id", "alice", "--name", "Alice Example")
	if code != 0 {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	pw, sec, uri := passwordLine.FindStringSubmatch(out), secretLine.FindStringSubmatch(out), uriLine.FindStringSubmatch(out)
	if !strings.HasPrefix(out, "customer alice added\n") || pw == nil || sec == nil || uri == nil || !strings.Contains(uri[1], "secret="+sec[1]) {
		t.Fatalf("add output:\n%s", out)
	}
	login(t, e, "alice", pw[1], sec[1])

	// Password from a file (first line), TOTP key given.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("bob-secret-password\r\nignored second line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = userCLI(t, cs, "", "add", "--id", "bob", "--password-file", pwFile, "--totp-secret", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq")
	if code != 0 {
		t.Fatalf("add bob: exit %d: %s", code, errs)
	}
	if passwordLine.MatchString(out) || strings.Contains(out, "bob-secret-password") {
		t.Fatalf("add printed a password it did not generate:\n%s", out)
	}
	if sec := secretLine.FindStringSubmatch(out); sec == nil || sec[1] != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" {
		t.Fatalf("add bob output:\n%s", out)
	}
	login(t, e, "bob", "bob-secret-password", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")

	// Password on standard input.
	code, out, errs = userCLI(t, cs, "carol-password\n", "add", "--id", "carol", "--password-file", "-")
	if code != 0 {
		t.Fatalf("add carol: exit %d: %s", code, errs)
	}
	login(t, e, "carol", "carol-password", secretLine.FindStringSubmatch(out)[1])

	code, out, errs = userCLI(t, cs, "", "list")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], "alice  ") ||
		!strings.Contains(lines[1], "Alice Example") || !strings.HasPrefix(lines[2], "bob  ") || !strings.HasPrefix(lines[3], "carol  ") {
		t.Fatalf("list:\n%s", out)
	}
	if strings.Contains(out, "argon2") || strings.Contains(out, "GEZD") {
		t.Fatalf("list shows credentials:\n%s", out)
	}

	code, out, errs = userCLI(t, cs, "", "remove", "bob")
	if code != 0 || out != "removed customer bob\n" {
		t.Fatalf("remove: exit %d: %q %s", code, out, errs)
	}
	if _, err := e.CheckPassword(t.Context(), "bob", "bob-secret-password", "127.0.0.1"); err == nil {
		t.Fatal("removed customer can still log in")
	}
}

func TestUserCommandErrors(t *testing.T) {
	cs, _, _ := testCustomers(t)
	if code, _, errs := userCLI(t, cs, "", "add", "--id", "dave", "--password-file", "-"); code != 2 || !strings.Contains(errs, "invalid --password") {
		// an empty standard input is a password of length 0
		t.Fatalf("empty password: exit %d: %s", code, errs)
	}
	if code, _, errs := userCLI(t, cs, "", "add", "--id", "dave"); code != 0 {
		t.Fatalf("add dave: exit %d: %s", code, errs)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"no id", "", []string{"add"}, 2, "--id is required"},
		{"bad id", "", []string{"add", "--id", "dave smith"}, 2, "invalid --id"},
		{"short password", "short\n", []string{"add", "--id", "eve", "--password-file", "-"}, 2, "invalid --password"},
		{"missing password file", "", []string{"add", "--id", "eve", "--password-file", "/nonexistent/pw"}, 2, "--password-file"},
		{"bad TOTP key", "", []string{"add", "--id", "eve", "--totp-secret", "not-base32!"}, 2, "invalid --totp-secret"},
		{"short TOTP key", "", []string{"add", "--id", "eve", "--totp-secret", "GEZDGNBV"}, 2, "invalid --totp-secret"},
		{"control character in name", "", []string{"add", "--id", "eve", "--name", "a\x1bb"}, 2, "invalid --name"},
		{"duplicate", "", []string{"add", "--id", "dave"}, 1, "already registered"},
		{"unknown flag", "", []string{"add", "--id", "eve", "--password", "x"}, 2, "unknown flag"},
		{"remove unknown", "", []string{"remove", "nobody"}, 1, "no such customer"},
		{"remove without id", "", []string{"remove"}, 2, "accepts 1 arg"},
		{"list with args", "", []string{"list", "x"}, 2, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := userCLI(t, cs, tt.stdin, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.msg) {
				t.Fatalf("exit %d (%s), want %d with %q", code, errs, tt.code, tt.msg)
			}
		})
	}
	all, err := cs.List(t.Context())
	if err != nil || len(all) != 1 {
		t.Fatalf("after refused commands: %v, %v; want dave alone", all, err)
	}
}

// TestUserCommandsThroughRun drives the real entry point with --data-dir, as beside a running
// dev server: the key for TOTP secrets is created in the data dir, once.
func TestUserCommandsThroughRun(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "user", "add", "--data-dir", dir, "--id", "alice")
	if code != 0 {
		t.Fatalf("user add: exit %d: %s", code, stderr)
	}
	pw, sec := passwordLine.FindStringSubmatch(out), secretLine.FindStringSubmatch(out)
	if pw == nil || sec == nil {
		t.Fatalf("user add output:\n%s", out)
	}
	keyFile := filepath.Join(dir, identity.SecretKeyFile)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	code, out, stderr = runCLI(t, "user", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "alice") {
		t.Fatalf("user list: exit %d: %s %s", code, out, stderr)
	}
	// What the CLI wrote, a server on the same data dir reads.
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(dir, "portcullis.db"), store.Options{Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := identity.LoadSecretKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	e, err := identity.NewEmbedded(identity.EmbeddedOptions{Customers: st, Failures: st, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	login(t, e, "alice", pw[1], sec[1])
	st.Close()

	if code, out, stderr = runCLI(t, "user", "remove", "alice", "--data-dir", dir); code != 0 {
		t.Fatalf("user remove: exit %d: %s %s", code, out, stderr)
	}
	if code, _, stderr = runCLI(t, "user", "remove", "alice", "--data-dir", dir); code != 1 {
		t.Fatalf("user remove again: exit %d, want 1: %s", code, stderr)
	}
	if code, _, stderr = runCLI(t, "user", "add", "--data-dir", dir, "--id", "bad id"); code != 2 {
		t.Fatalf("user add bad id: exit %d, want 2: %s", code, stderr)
	}
}
