package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// firstCall is what the dev banner's "First call" block needs: the block is a shell
// script a newcomer pastes into a second shell, and TestBannerFirstCallRuns runs it as
// printed. The README's tour shows the same commands for the default paths
// (TestREADMETourMatchesBanner).
type firstCall struct {
	// Command runs this binary: "./portcullis", "portcullis" (found in PATH), or
	// "go run ./cmd/portcullis" when serve was started with go run.
	Command string
	// DataDir is the data directory serve uses; the sandbox CA is DataDir/pki.
	DataDir string
	// Host and Port are where curl reaches the https listener.
	Host string
	Port int
	// Scopes are the scopes the client is registered with (a subset of the server's
	// scopes_supported); the token for the gateway call asks for payments.
	Scopes []string
	// Gateway says whether the sandbox bank's routes are mounted (dev mode without
	// configured routes), so the gateway call can be printed.
	Gateway bool
}

// firstCallScopes are the scopes the first call registers: the tour's two APIs.
var firstCallScopes = []string{"accounts", "payments"}

// commandName returns how a newcomer runs this binary again, given os.Args[0]: go run
// builds into a temporary go-build directory, so a second shell needs go run too; a
// bare name was found in PATH; any other path is printed as given (relative to the
// directory serve was started in).
func commandName(arg0 string) string {
	switch {
	case strings.Contains(filepath.ToSlash(arg0), "/go-build"):
		return "go run ./cmd/portcullis"
	case !strings.ContainsRune(arg0, '/'):
		return filepath.Base(arg0)
	}
	return arg0
}

// write writes the block: each command on its own line (continued with " \"), indented by
// two spaces, followed by an empty line.
func (f firstCall) write(w io.Writer) {
	pkiDir := filepath.Join(f.DataDir, "pki")
	ca := filepath.Join(pkiDir, sandbox.FileRootCert)
	base := fmt.Sprintf("https://%s:%d", f.Host, f.Port)
	var scopes strings.Builder
	for _, s := range f.Scopes {
		scopes.WriteString(" --scope " + s)
	}
	lines := []string{
		fmt.Sprintf("%s pki issue qwac --dir %s --out tpp --org-id PSDGB-FCA-123456 --roles AISP,PISP", f.Command, pkiDir),
		fmt.Sprintf("%s client add --data-dir %s --id tpp --auth tls_client_auth --grant-type client_credentials%s \\", f.Command, filepath.Clean(f.DataDir), scopes.String()),
		`  --subject-dn "$(openssl x509 -in tpp.crt -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"`,
		fmt.Sprintf("TOKEN=$(curl -s --cacert %s --cert tpp.crt --key tpp.key %s/token \\", ca, base),
		`  -d grant_type=client_credentials -d client_id=tpp -d scope=payments | sed 's/.*"access_token":"\([^"]*\)".*/\1/')`,
	}
	if f.Gateway {
		lines = append(lines,
			fmt.Sprintf(`curl --cacert %s --cert tpp.crt --key tpp.key -H "Authorization: Bearer $TOKEN" \`, ca),
			fmt.Sprintf("  %s/open-banking/v3.1/pisp/domestic-payments/p-1", base),
		)
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintln(w)
}

// writeFirstCall prints the dev banner's first call for the running app a: this binary's
// name, the data dir and the https listener's port, and the directory the commands are
// to be run from (serve's working directory: the paths in them may be relative).
func writeFirstCall(w io.Writer, cfg *config.Config, a *app.App) {
	f := firstCall{
		Command: commandName(os.Args[0]),
		DataDir: cfg.DataDir,
		Host:    "localhost",
		Scopes:  firstCallScopes,
		Gateway: a.BankURL != nil,
	}
	if tcp, ok := a.HTTPSAddr().(*net.TCPAddr); ok {
		f.Port = tcp.Port
	}
	where := ""
	if wd, err := os.Getwd(); err == nil {
		where = ", from " + wd
	}
	fmt.Fprintf(w, "\nFirst call (in a second shell%s; the bank answers 404 for the unknown payment p-1):\n", where)
	f.write(w)
}
