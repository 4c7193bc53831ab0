package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
)

// TestRevocationForgetCLI: `portcullis revocation forget` calls the running server's admin
// API with the configured admin token and trusts the dev server's sandbox CA by default;
// a wrong token is reported with the server's error (exit 1); a bad serial is a usage
// error (exit 2) that reaches no server.
func TestRevocationForgetCLI(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef-cli"
	cfg := config.Default(true)
	cfg.DataDir = t.TempDir()
	cfg.Listen.HTTPS, cfg.Listen.Ops, cfg.Listen.Admin = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Admin.Token = token
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
		a.Close()
	})
	server := "https://" + a.AdminAddr().String()

	t.Setenv("PORTCULLIS_ADMIN_TOKEN", token)
	code, stdout, stderr := runCLI(t, "revocation", "forget", "--serial", "0x1A:2B", "--server", server, "--data-dir", cfg.DataDir)
	if code != 0 || !strings.Contains(stdout, "1a2b") {
		t.Fatalf("forget: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	t.Setenv("PORTCULLIS_ADMIN_TOKEN", "another-token-another-token-another")
	code, _, stderr = runCLI(t, "revocation", "forget", "--serial", "1a2b", "--server", server, "--data-dir", cfg.DataDir)
	if code != 1 || !strings.Contains(stderr, "401 invalid_token") {
		t.Errorf("wrong token: exit %d, stderr %q; want 1 naming 401 invalid_token", code, stderr)
	}

	for _, args := range [][]string{
		{"--serial", "xyz"},
		{},
		{"--serial", "1", "--issuer", "abcd"},
	} {
		code, _, stderr = runCLI(t, append([]string{"revocation", "forget", "--server", server, "--data-dir", cfg.DataDir}, args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d (stderr %q), want 2", args, code, stderr)
		}
	}
}
