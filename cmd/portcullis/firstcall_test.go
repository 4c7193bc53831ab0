package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestBannerFirstCallRuns starts `portcullis serve` in dev mode as a separate process the
// way the README starts it (no configuration, ./data under the working directory, the
// binary as ./portcullis), reads the banner's "First call" block from its stdout and runs
// that block, as printed, with bash: the QWAC, the client registration (whose --scope
// values must be offered), $TOKEN from the token endpoint, and the gateway call, which
// must reach the sandbox bank (its 404 "No such payment", not the gateway's 401 or 404).
// It fails when the banner names a command, flag or scope the CLI and server do not have.
// Against the same server it then checks the README's claim about gateway 401 bodies, and
// that .gitignore covers every file the first call wrote.
func TestBannerFirstCallRuns(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "openssl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	srv := startDevServer(t, 2*time.Minute)
	dir, env, stdout, ctx := srv.dir, srv.env, srv.stdout, srv.ctx

	block := make(chan []string, 1)
	go func() {
		var lines []string
		in := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "First call"):
				in = true
			case in && l == "":
				block <- lines
				_, _ = io.Copy(io.Discard, stdout) // keep the pipe drained
				return
			case in:
				lines = append(lines, strings.TrimPrefix(l, "  "))
			}
		}
		block <- nil
	}()
	var script []string
	select {
	case script = <-block:
	case <-ctx.Done():
		t.Fatal("no banner within the time limit")
	}
	if len(script) == 0 {
		t.Fatal("the banner printed no first call")
	}
	text := strings.Join(script, "\n")
	t.Logf("first call as printed:\n%s", text)
	if !strings.HasPrefix(text, "./portcullis ") {
		t.Errorf("the first call does not start with the binary serve was started as (./portcullis)")
	}

	run := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", text)
	run.Dir = dir
	run.Env = env
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the first call failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"UK.OBIE.Resource.NotFound"`, `No such payment`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the gateway call did not reach the sandbox bank (want %s):\n%s", want, out)
		}
	}

	m := regexp.MustCompile(`https://localhost:\d+/open-banking/\S+`).FindString(text)
	if m == "" {
		t.Fatal("no gateway URL in the first call")
	}
	checkGateway401s(t, dir, m)

	// Everything the tour wrote (data/, tpp.crt, tpp.key, the ./portcullis binary) is
	// ignored by the repository's .gitignore.
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git not installed: %v", err)
	}
	gitignore, err := os.ReadFile(filepath.Join("..", "..", ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), gitignore, 0o600); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q")
	if st := strings.TrimSpace(git("status", "--porcelain", "--untracked-files=all")); st != "?? .gitignore" {
		t.Errorf("files the tour wrote are not ignored by .gitignore:\n%s", st)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestBannerFirstCallScopes pins the banner's scopes to what the server offers: every
// registered scope is in scopes_supported, and the token request asks for one of them.
func TestBannerFirstCallScopes(t *testing.T) {
	offered := app.ScopesSupported()
	for _, s := range firstCallScopes {
		if !slices.Contains(offered, s) {
			t.Errorf("the first call registers scope %q, which the server does not offer (%v)", s, offered)
		}
	}
	var b strings.Builder
	firstCall{Command: "./portcullis", DataDir: "data", Host: "localhost", Port: 8443, Scopes: firstCallScopes, Gateway: true}.write(&b)
	m := regexp.MustCompile(`-d scope=(\S+)`).FindStringSubmatch(b.String())
	if m == nil || !slices.Contains(firstCallScopes, m[1]) {
		t.Errorf("the token request's scope %v is not one the first call registers (%v)", m, firstCallScopes)
	}
}

// TestREADMETourMatchesBanner: the README's tour runs the banner's first call for the
// default data dir and port, command for command (comments aside) up to its revocation
// step, so the two cannot drift apart.
func TestREADMETourMatchesBanner(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## A short tour")
	if !ok {
		t.Fatal("README has no tour section")
	}
	_, after, ok = strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatal("README tour has no sh block")
	}
	tour, _, _ := strings.Cut(after, "```")
	var got []string
	for _, l := range strings.Split(tour, "\n") {
		if strings.Contains(l, " pki revoke ") {
			break // the tour goes on past the first call: revocation
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		got = append(got, l)
	}
	var b strings.Builder
	firstCall{Command: "./portcullis", DataDir: "data", Host: "localhost", Port: 8443, Scopes: firstCallScopes, Gateway: true}.write(&b)
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		want = append(want, strings.TrimPrefix(l, "  "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README tour commands:\n%s\n\nbanner's first call for ./data and port 8443:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCommandName(t *testing.T) {
	for arg0, want := range map[string]string{
		"/tmp/go-build123/b001/exe/portcullis": "go run ./cmd/portcullis",
		"portcullis":                           "portcullis",
		"./portcullis":                         "./portcullis",
		"/usr/local/bin/portcullis":            "/usr/local/bin/portcullis",
	} {
		if got := commandName(arg0); got != want {
			t.Errorf("commandName(%q) = %q, want %q", arg0, got, want)
		}
	}
}

// checkGateway401s holds the README's changelog claim about gateway 401 bodies against the
// running server: a token problem is 401 with WWW-Authenticate: Bearer error="invalid_token"
// and no body; no token is 401 with a bare Bearer challenge and no body; no client
// certificate is 401 with the invalid_token challenge and the OBIE body
// (client_certificate_required).
func checkGateway401s(t *testing.T, dir, gatewayURL string) {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(dir, "data", "pki", sandbox.FileRootCert))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "tpp.crt"), filepath.Join(dir, "tpp.key"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(withCert bool, authz string) (*http.Response, string) {
		tc := &tls.Config{RootCAs: roots}
		if withCert {
			tc.Certificates = []tls.Certificate{cert}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
		defer c.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, gatewayURL, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp, string(body)
	}
	for _, tc := range []struct {
		name, authz, challenge, body string
		withCert                     bool
	}{
		{"bad token", "Bearer not-a-token", `Bearer error="invalid_token"`, "", true},
		{"no token", "", "Bearer", "", true},
		{"no certificate", "Bearer not-a-token", `Bearer error="invalid_token"`, `"Code":"client_certificate_required"`, false},
	} {
		resp, body := get(tc.withCert, tc.authz)
		ch := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, tc.challenge) || (tc.challenge == "Bearer" && ch != "Bearer") {
			t.Errorf("%s: %d %q, want 401 with WWW-Authenticate %s…", tc.name, resp.StatusCode, ch, tc.challenge)
		}
		if tc.body == "" && body != "" || tc.body != "" && !strings.Contains(body, tc.body) {
			t.Errorf("%s: body %q, want %q", tc.name, body, tc.body)
		}
	}
}
