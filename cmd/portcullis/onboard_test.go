package main

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestOnboardScript runs scripts/onboard.sh — the README's "Onboarding a TPP by dynamic
// client registration" — against `portcullis serve` in dev mode started as the README
// starts it (a separate process, ./data, ports 0), once with RSA keys and PS256 and once
// with P-256 keys and ES256: sandbox SSA, QWAC, software JWKS over https, a registration
// JWT POSTed with curl, a client_credentials token, a gateway call that reaches the
// sandbox bank, and the journey's start (PAR with a signed request object, /authorize).
func TestOnboardScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "openssl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "onboard.sh"))
	if err != nil {
		t.Fatal(err)
	}
	srv := startDevServer(t, 3*time.Minute)
	dir, env, stdout, ctx := srv.dir, srv.env, srv.stdout, srv.ctx

	// The banner's first call names the mTLS listener's actual port.
	base := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`https://localhost:\d+`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(strings.TrimSpace(sc.Text()), "TOKEN=") {
				if m := re.FindString(sc.Text()); m != "" {
					base <- m
					_, _ = io.Copy(io.Discard, stdout)
					return
				}
			}
		}
		base <- ""
	}()
	var as string
	select {
	case as = <-base:
	case <-ctx.Done():
		t.Fatal("no banner within the time limit")
	}
	if as == "" {
		t.Fatal("the banner names no token endpoint")
	}

	for _, keyType := range []string{"rsa", "ec"} {
		t.Run(keyType, func(t *testing.T) {
			run := exec.CommandContext(ctx, "bash", script)
			run.Dir = dir
			run.Env = append(env, "PORTCULLIS=./portcullis", "DATA=data", "AS="+as, "KEY_TYPE="+keyType)
			out, err := run.CombinedOutput()
			if err != nil {
				t.Fatalf("onboard.sh (%s) failed: %v\n%s", keyType, err, out)
			}
			if !bytes.Contains(out, []byte("onboarded: ")) {
				t.Errorf("onboard.sh (%s) did not finish:\n%s", keyType, out)
			}
			t.Logf("%s", out)
		})
	}
}
