package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devServer is `./portcullis serve` in dev mode, run as a newcomer runs it: from a fresh
// directory holding a ./portcullis that is this test binary running the command line
// (TestMain, argv[0] "./portcullis"), every listener on a port the kernel picks (the banner
// prints the bound ones). It is stopped when the test ends.
type devServer struct {
	dir    string          // the working directory (./portcullis, ./data)
	env    []string        // the environment without PORTCULLIS_* variables, for commands run beside it
	stdout io.Reader       // the banner and what follows
	ctx    context.Context // ends after the given time limit
}

func startDevServer(t *testing.T, limit time.Duration) *devServer {
	t.Helper()
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
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	serve := exec.Command("./portcullis", "serve")
	serve.Dir = dir
	serve.Env = append(env, "PORTCULLIS_LISTEN_HTTPS=127.0.0.1:0", "PORTCULLIS_LISTEN_OPS=127.0.0.1:0", "PORTCULLIS_LISTEN_PUBLIC=127.0.0.1:0")
	stdout, err := serve.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	serve.Stderr = &stderr
	if err := serve.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = serve.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
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
	})
	return &devServer{dir: dir, env: env, stdout: stdout, ctx: ctx}
}
