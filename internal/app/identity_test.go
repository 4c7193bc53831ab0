package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/identity"
)

// TestDevModeDemoCustomer: a dev-mode server seeds the demo customer, prints its credentials in
// the banner, and a restart on the same data directory keeps both the customer and the
// credentials; the printed credentials pass both factors.
func TestDevModeDemoCustomer(t *testing.T) {
	dir := t.TempDir()
	// The sandbox CA names the ops address in its certificates: a restart keeps it.
	ops := "127.0.0.1:0"
	build := func() *app.App {
		t.Helper()
		cfg := config.Default(true)
		cfg.DataDir = dir
		cfg.Listen.HTTPS = "127.0.0.1:0"
		cfg.Listen.Ops = ops
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		a, err := app.New(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatalf("app.New: %v", err)
		}
		return a
	}
	a := build()
	ops = a.OpsAddr().String()
	first := a.DemoCustomer
	if first == nil || first.ID != identity.DemoCustomerID || first.Password == "" || first.TOTPSecret == "" {
		t.Fatalf("DemoCustomer = %+v", first)
	}
	var banner bytes.Buffer
	a.Banner(&banner)
	for _, want := range []string{"username demo", "password " + first.Password, "TOTP secret " + first.TOTPSecret, first.TOTPURI} {
		if !strings.Contains(banner.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, banner.String())
		}
	}
	a.Close()

	a = build()
	defer a.Close()
	if a.DemoCustomer == nil || *a.DemoCustomer != *first {
		t.Fatalf("after restart DemoCustomer = %+v, want %+v", a.DemoCustomer, first)
	}
	all, err := a.Customers.List(t.Context())
	if err != nil || len(all) != 1 || all[0].ID != "demo" {
		t.Fatalf("customers after restart: %v, %v", all, err)
	}
	id, err := a.Identity.CheckPassword(t.Context(), first.ID, first.Password, "127.0.0.1")
	if err != nil || id != "demo" {
		t.Fatalf("CheckPassword(demo) = %q, %v", id, err)
	}
	secret, err := identity.ParseTOTPSecret(first.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	code, err := identity.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Identity.CheckOTP(t.Context(), id, code, "127.0.0.1"); err != nil {
		t.Fatalf("CheckOTP(demo): %v", err)
	}
}
