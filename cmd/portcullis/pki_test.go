package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// runPKI runs `portcullis pki ARGS...` through the cobra command and returns its output.
func runPKI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newPKICmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func mustRunPKI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runPKI(t, args...)
	if err != nil {
		t.Fatalf("pki %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// runOpenSSL runs openssl with a deadline; a process still running when the test ends is
// killed by PID. The test is skipped where openssl is not installed.
func runOpenSSL(t *testing.T, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skipf("openssl not installed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start openssl: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil && cmd.Process != nil {
			cmd.Process.Kill()
		}
	})
	err = cmd.Wait()
	return out.String(), err
}

func requireContains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// outputField returns the value printed after "name:" by pki commands.
func outputField(t *testing.T, out, name string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q in output:\n%s", name, out)
	return ""
}

func readLeaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPKIAcceptance is the acceptance test, with OpenSSL as the independent
// implementation on loopback: a QWAC minted by `pki issue qwac` shows its QC statements,
// roles and organizationIdentifier to `openssl x509` / `openssl asn1parse`, and
// `openssl ocsp` against Portcullis' own responder (found through the certificate's AIA)
// reports good, then revoked after `pki revoke`, each time with "Response verify OK". The
// CRL from the certificate's distribution point lists the serial and verifies.
func TestPKIAcceptance(t *testing.T) {
	if _, err := runOpenSSL(t, "version"); err != nil {
		t.Fatalf("openssl version: %v", err)
	}
	srv := httptest.NewUnstartedServer(nil) // 127.0.0.1:0
	base := "http://" + srv.Listener.Addr().String() + "/pki"
	work := t.TempDir()
	dir := filepath.Join(work, "ca")
	prefix := filepath.Join(work, "tpp")

	out := mustRunPKI(t, "init", "--dir", dir, "--base-url", base)
	requireContains(t, "pki init", out, filepath.Join(dir, "ca.crt"), base+"/ocsp")

	// The serving side: what `serve --dev` mounts on the ops listener.
	ca, err := sandbox.Open(dir, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = ca.Handler(nil)
	srv.Start()
	t.Cleanup(srv.Close)

	out = mustRunPKI(t, "issue", "qwac", "--dir", dir, "--out", prefix, "--org-id", "PSDGB-FCA-123456", "--roles", "AISP,PISP")
	serial := outputField(t, out, "serial")
	requireContains(t, "pki issue", out, prefix+".crt", prefix+".key", "organizationIdentifier=PSDGB-FCA-123456", "thumbprint:")
	leaf := readLeaf(t, prefix+".crt")
	if leaf.SerialNumber.Text(16) != serial {
		t.Fatalf("printed serial %s, certificate has %x", serial, leaf.SerialNumber)
	}
	if fi, err := os.Stat(prefix + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("PREFIX.key: %v, %v", fi, err)
	}

	t.Run("x509 text", func(t *testing.T) {
		out, err := runOpenSSL(t, "x509", "-in", prefix+".crt", "-noout", "-text")
		if err != nil {
			t.Fatalf("openssl x509: %v\n%s", err, out)
		}
		requireContains(t, "openssl x509 -text", out,
			"Subject: C = GB, O = Sandbox TPP, organizationIdentifier = PSDGB-FCA-123456, CN = PSDGB-FCA-123456",
			"qcStatements:",
			"OCSP - URI:"+base+"/ocsp",
			"CA Issuers - URI:"+base+"/issuing.crt",
			"URI:"+base+"/issuing.crl",
		)
		// OpenSSL shows qcStatements as a raw dump; decode the extension value to see the
		// statements, roles and NCA.
		parsed, err := runOpenSSL(t, "asn1parse", "-in", prefix+".crt")
		if err != nil {
			t.Fatalf("openssl asn1parse: %v\n%s", err, parsed)
		}
		offset, ok := pkitest.QCStatementsOffset(parsed)
		if !ok {
			t.Fatalf("no qcStatements in asn1parse output:\n%s", parsed)
		}
		inner, err := runOpenSSL(t, "asn1parse", "-in", prefix+".crt", "-strparse", strconv.Itoa(offset))
		if err != nil {
			t.Fatalf("openssl asn1parse -strparse: %v\n%s", err, inner)
		}
		requireContains(t, "qcStatements", inner,
			":0.4.0.1862.1.1",   // QcCompliance
			":0.4.0.1862.1.6.3", // QcType web
			":0.4.0.19495.2",    // PSD2 statement
			":0.4.0.19495.1.3", ":PSP_AI",
			":0.4.0.19495.1.2", ":PSP_PI",
			":Financial Conduct Authority", ":GB-FCA")
	})

	if len(leaf.OCSPServer) != 1 || len(leaf.CRLDistributionPoints) != 1 {
		t.Fatalf("AIA %v / CRLDP %v", leaf.OCSPServer, leaf.CRLDistributionPoints)
	}
	ocspArgs := []string{"ocsp", "-issuer", filepath.Join(dir, "issuing.crt"), "-cert", prefix + ".crt",
		"-url", leaf.OCSPServer[0], "-CAfile", filepath.Join(dir, "ca.crt"), "-resp_text"}
	t.Run("ocsp good", func(t *testing.T) {
		out, err := runOpenSSL(t, ocspArgs...)
		if err != nil {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		requireContains(t, "openssl ocsp", out, "Response verify OK", prefix+".crt: good", "OCSP Nonce:")
	})

	out = mustRunPKI(t, "revoke", "--dir", dir, "--serial", strings.ToUpper(serial), "--reason", "keyCompromise")
	requireContains(t, "pki revoke", out, "revoked "+serial, "keyCompromise")

	t.Run("ocsp revoked", func(t *testing.T) {
		out, err := runOpenSSL(t, ocspArgs...)
		if err != nil {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		requireContains(t, "openssl ocsp", out, "Response verify OK", prefix+".crt: revoked", "Reason: keyCompromise")
	})

	t.Run("crl", func(t *testing.T) {
		resp, err := http.Get(leaf.CRLDistributionPoints[0])
		if err != nil {
			t.Fatal(err)
		}
		der, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET CRL: %d, %v", resp.StatusCode, err)
		}
		crlPath := filepath.Join(work, "issuing.crl")
		if err := os.WriteFile(crlPath, der, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runOpenSSL(t, "crl", "-inform", "DER", "-in", crlPath, "-CAfile", filepath.Join(dir, "issuing.crt"), "-noout", "-text")
		if err != nil {
			t.Fatalf("openssl crl: %v\n%s", err, out)
		}
		// OpenSSL prints serials in whole bytes: an odd number of hex digits gains a leading 0.
		want := strings.ToUpper(serial)
		if len(want)%2 == 1 {
			want = "0" + want
		}
		requireContains(t, "openssl crl", out, "verify OK", "Serial Number: "+want, "Key Compromise")
	})
}

func TestPKIUsageErrors(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "ca")
	mustRunPKI(t, "init", "--dir", dir, "--base-url", "http://127.0.0.1:9/pki")
	out := func(name string) string { return filepath.Join(work, name) }
	qwac := func(extra ...string) []string {
		return append([]string{"issue", "qwac", "--dir", dir, "--out", out("q")}, extra...)
	}
	tests := []struct {
		name string
		args []string
		flag string // the message must name it; "" to skip
	}{
		{"pki alone", nil, ""},
		{"unknown subcommand", []string{"bogus"}, "bogus"},
		{"init without dir", []string{"init"}, "--dir"},
		{"init with argument", []string{"init", "--dir", out("x"), "extra"}, ""},
		{"init unknown flag", []string{"init", "--dir", out("x"), "--bogus"}, "bogus"},
		{"init bad base URL", []string{"init", "--dir", out("x"), "--base-url", "ftp://127.0.0.1/pki"}, "--base-url"},
		{"issue without kind", []string{"issue"}, ""},
		{"issue unknown kind", []string{"issue", "obwac", "--dir", dir}, "obwac"},
		{"issue without out", []string{"issue", "qwac", "--dir", dir, "--org-id", "PSDGB-FCA-1", "--roles", "AISP"}, "--out"},
		{"qwac without org id", qwac("--roles", "AISP"), "--org-id"},
		{"qwac without roles", qwac("--org-id", "PSDGB-FCA-1"), "--roles"},
		{"qwac org id not PSD2", qwac("--org-id", "GB-123456", "--roles", "AISP"), "--org-id"},
		{"qwac unknown role", qwac("--org-id", "PSDGB-FCA-1", "--roles", "AISP,TPP"), "--roles"},
		{"qwac NCA id disagrees", qwac("--org-id", "PSDGB-FCA-1", "--roles", "AISP", "--nca-id", "DE-BAFIN"), "--nca-id"},
		{"qwac zero days", qwac("--org-id", "PSDGB-FCA-1", "--roles", "AISP", "--days", "0"), "--days"},
		{"qwac days not a number", qwac("--org-id", "PSDGB-FCA-1", "--roles", "AISP", "--days", "ten"), "days"},
		{"qwac too many days", qwac("--org-id", "PSDGB-FCA-1", "--roles", "AISP", "--days", "5000"), "--days"},
		{"server without names", []string{"issue", "server", "--dir", dir, "--out", out("s")}, "--dns"},
		{"server bad IP", []string{"issue", "server", "--dir", dir, "--out", out("s"), "--ip", "300.1.1.1"}, "--ip"},
		{"server bad DNS", []string{"issue", "server", "--dir", dir, "--out", out("s"), "--dns", "a_b.example"}, "--dns"},
		{"server with roles", []string{"issue", "server", "--dir", dir, "--out", out("s"), "--dns", "localhost", "--roles", "AISP"}, "roles"},
		{"client without cn", []string{"issue", "client", "--dir", dir, "--out", out("c")}, "--cn"},
		{"revoke without serial", []string{"revoke", "--dir", dir}, "--serial"},
		{"revoke bad serial", []string{"revoke", "--dir", dir, "--serial", "xyz"}, "--serial"},
		{"revoke zero serial", []string{"revoke", "--dir", dir, "--serial", "00"}, "--serial"},
		{"revoke certificateHold", []string{"revoke", "--dir", dir, "--serial", "01", "--reason", "certificateHold"}, "--reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runPKI(t, tt.args...)
			if !isUsageError(err) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if tt.flag != "" && !strings.Contains(err.Error(), tt.flag) {
				t.Errorf("error %q does not name %s", err, tt.flag)
			}
		})
	}
	// Nothing was issued by the failed commands.
	ca, err := sandbox.Open(dir, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := ca.Records(); err != nil || len(recs) != 0 {
		t.Errorf("records after usage errors: %v, %v", recs, err)
	}
}

// TestPKIRuntimeErrors: failures that are not bad usage exit 1 (no usageError) and keep
// the sandbox error for errors.Is.
func TestPKIRuntimeErrors(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "ca")
	mustRunPKI(t, "init", "--dir", dir)
	out := mustRunPKI(t, "issue", "client", "--dir", dir, "--out", filepath.Join(work, "c"), "--cn", "demo")
	serial := outputField(t, out, "serial")
	mustRunPKI(t, "revoke", "--dir", dir, "--serial", serial)

	tests := []struct {
		name string
		args []string
		want error
	}{
		{"init over existing CA", []string{"init", "--dir", dir}, sandbox.ErrExists},
		{"issue without CA", []string{"issue", "client", "--dir", filepath.Join(work, "none"), "--out", filepath.Join(work, "x"), "--cn", "x"}, sandbox.ErrNotInitialized},
		{"issue over existing files", []string{"issue", "client", "--dir", dir, "--out", filepath.Join(work, "c"), "--cn", "demo"}, sandbox.ErrExists},
		{"revoke unknown serial", []string{"revoke", "--dir", dir, "--serial", "0x1234"}, sandbox.ErrUnknownSerial},
		{"revoke twice", []string{"revoke", "--dir", dir, "--serial", serial, "--reason", "superseded"}, sandbox.ErrAlreadyRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runPKI(t, tt.args...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if isUsageError(err) {
				t.Errorf("%v is reported as bad usage", err)
			}
		})
	}
}

func TestPKIIssueServerAndQSealC(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "ca")
	mustRunPKI(t, "init", "--dir", dir)
	mustRunPKI(t, "issue", "server", "--dir", dir, "--out", filepath.Join(work, "srv"), "--dns", "localhost,portcullis.test", "--ip", "127.0.0.1", "--ip", "::1")
	srv := readLeaf(t, filepath.Join(work, "srv.crt"))
	if strings.Join(srv.DNSNames, ",") != "localhost,portcullis.test" || len(srv.IPAddresses) != 2 || srv.Subject.CommonName != "localhost" {
		t.Errorf("server certificate: DNS %v IP %v CN %q", srv.DNSNames, srv.IPAddresses, srv.Subject.CommonName)
	}
	mustRunPKI(t, "issue", "qsealc", "--dir", dir, "--out", filepath.Join(work, "seal"), "--org-id", "PSDDE-BAFIN-4711",
		"--org-name", "Beispiel GmbH", "--roles", "PISP", "--nca-name", "BaFin", "--days", "30")
	seal := readLeaf(t, filepath.Join(work, "seal.crt"))
	if len(seal.ExtKeyUsage) != 0 || seal.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Errorf("QSealC key usage %b, EKU %v", seal.KeyUsage, seal.ExtKeyUsage)
	}
	if d := seal.NotAfter.Sub(seal.NotBefore); d < 30*24*time.Hour || d > 30*24*time.Hour+time.Hour {
		t.Errorf("validity %v, want 30 days", d)
	}
	if seal.Subject.Organization[0] != "Beispiel GmbH" || seal.Subject.Country[0] != "DE" {
		t.Errorf("subject %v", seal.Subject)
	}
}

func TestParseSerial(t *testing.T) {
	tests := []struct {
		in   string
		want string // hex; "" means error
	}{
		{"1a2b", "1a2b"},
		{"1A2B", "1a2b"},
		{"0x1a2b", "1a2b"},
		{"1A:2B", "1a2b"},
		{"00:1a", "1a"},
		{strings.Repeat("f", 40), strings.Repeat("f", 40)},
		{strings.Repeat("f", 41), ""},
		{"", ""},
		{"0", ""},
		{"-1a", ""},
		{"+1a", ""},
		{"1g", ""},
		{"0x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSerial(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("parseSerial(%q) = %x, want error", tt.in, got)
				}
				return
			}
			want, _ := new(big.Int).SetString(tt.want, 16)
			if err != nil || got.Cmp(want) != 0 {
				t.Fatalf("parseSerial(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}
