package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
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
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/bash\n" + runAsPortcullis + "=1 exec -a ./portcullis " + shellQuote(self) + ` "$@"` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "portcullis"), []byte(wrapper), 0o700); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTCULLIS_") && !strings.HasPrefix(kv, runAsPortcullis+"=") {
			env = append(env, kv)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	serve := exec.Command("./portcullis", "serve")
	serve.Dir = dir
	serve.Env = append(env, "PORTCULLIS_LISTEN_HTTPS=127.0.0.1:0", "PORTCULLIS_LISTEN_OPS=127.0.0.1:0", "PORTCULLIS_LISTEN_PUBLIC=127.0.0.1:0")
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	serve.Stderr = &stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = serve.Wait(); close(exited) }()
	defer func() {
		_ = serve.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = serve.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("serve stderr:\n%s", stderr.String())
		}
	}()

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
