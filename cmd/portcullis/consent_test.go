package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// consentCLI runs `consent ARGS` against svc and returns the exit code run() would map to.
func consentCLI(t *testing.T, svc *consent.Service, args ...string) (code int, stdout, errText string) {
	t.Helper()
	cmd := newConsentCmd(func(*cobra.Command) (*consent.Service, func(), error) { return svc, func() {}, nil })
	return execCmd(cmd, "", args...)
}

// TestConsentCommand: list with filters, get as JSON with history, revoke (recorded as
// the CLI's), and the errors.
func TestConsentCommand(t *testing.T) {
	ctx := context.Background()
	svc, err := consent.NewService(consent.Options{Store: storetest.OpenSQLite(t)})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`
	a, _, err := svc.CreateAccountAccess(ctx, "tpp-1", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := svc.CreateAccountAccess(ctx, "tpp-2", []byte(body))
	if _, err := svc.Authorise(ctx, a.ID, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}

	code, out, _ := consentCLI(t, svc, "list", "--client", "tpp-1")
	if code != 0 || !strings.Contains(out, a.ID) || strings.Contains(out, b.ID) || !strings.Contains(out, "Authorised") {
		t.Fatalf("list --client: %d\n%s", code, out)
	}
	if code, out, _ := consentCLI(t, svc, "list", "--status", "AwaitingAuthorisation"); code != 0 || !strings.Contains(out, b.ID) || strings.Contains(out, a.ID) {
		t.Fatalf("list --status: %d\n%s", code, out)
	}
	if code, _, _ := consentCLI(t, svc, "list", "--limit", "0x"); code != 2 {
		t.Fatalf("bad --limit: %d", code)
	}
	code, out, _ = consentCLI(t, svc, "revoke", a.ID)
	if code != 0 || !strings.Contains(out, "revoked consent "+a.ID) {
		t.Fatalf("revoke: %d %s", code, out)
	}
	code, out, _ = consentCLI(t, svc, "get", a.ID)
	var v consent.AdminView
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Status != "Revoked" || v.History[len(v.History)-1].By != "cli" {
		t.Fatalf("get: %d %s", code, out)
	}
	if code, _, msg := consentCLI(t, svc, "revoke", a.ID); code != 1 || !strings.Contains(msg, "Revoked") {
		t.Fatalf("revoke twice: %d %s", code, msg)
	}
	if code, _, msg := consentCLI(t, svc, "get", "nope"); code != 1 || msg != "no such consent" {
		t.Fatalf("get unknown: %d %s", code, msg)
	}
	if code, _, _ := consentCLI(t, svc, "get"); code != 2 {
		t.Fatalf("get without id: %d", code)
	}
}
