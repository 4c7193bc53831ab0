package sandbox

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

// TestOpenSSLInterop checks the sandbox CA against OpenSSL as the independent
// implementation, on loopback (pki.md §2.5): certificate contents, chain verification per
// purpose, OCSP good → revoked with "Response verify OK" and the echoed nonce, and the
// signed CRL listing the revoked serial.
func TestOpenSSLInterop(t *testing.T) {
	if _, err := runTool(t, "openssl", "version"); err != nil {
		t.Fatalf("openssl version: %v", err)
	}
	srv := httptest.NewUnstartedServer(nil) // binds 127.0.0.1:0
	base := "http://" + srv.Listener.Addr().String() + "/pki"
	// OpenSSL checks validity against the wall clock, so the fake clock starts there.
	clk := clock.NewFake(time.Now())
	dir := t.TempDir()
	ca, err := Init(filepath.Join(dir, "ca"), base, clk)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = ca.Handler(nil)
	srv.Start()
	t.Cleanup(srv.Close)

	write := func(kind Kind, opts IssueOptions) (*Issued, string) {
		t.Helper()
		is := mustIssue(t, ca, kind, opts)
		prefix := filepath.Join(dir, string(kind))
		if err := is.WriteFiles(prefix); err != nil {
			t.Fatal(err)
		}
		return is, prefix + ".crt"
	}
	qwac, qwacPath := write(KindQWAC, IssueOptions{OrgID: "PSDGB-FCA-123456", OrgName: "Example TPP Ltd",
		Roles: []eidas.Role{eidas.RoleAISP, eidas.RolePISP}})
	_, sealPath := write(KindQSealC, IssueOptions{OrgID: "PSDGB-FCA-123456", Roles: []eidas.Role{eidas.RolePISP}})
	_, obwacPath := write(KindOBWAC, IssueOptions{CommonName: "0015800001HQQrZAAX", Roles: []eidas.Role{eidas.RoleAISP}})
	_, serverPath := write(KindServer, IssueOptions{DNSNames: []string{"localhost"}, IPAddresses: nil})
	_, clientPath := write(KindClient, IssueOptions{CommonName: "demo-client"})
	caFile := filepath.Join(ca.Dir(), FileRootCert)
	issuingFile := filepath.Join(ca.Dir(), FileIssuingCert)

	t.Run("x509 text", func(t *testing.T) {
		out, err := runTool(t, "openssl", "x509", "-in", qwacPath, "-noout", "-text")
		if err != nil {
			t.Fatalf("openssl x509: %v\n%s", err, out)
		}
		requireContains(t, out,
			"organizationIdentifier = PSDGB-FCA-123456",
			"qcStatements",
			"Policy: 0.4.0.194112.1.5", "Policy: 0.4.0.19495.3.1",
			"TLS Web Server Authentication, TLS Web Client Authentication",
			"OCSP - URI:"+base+"/ocsp",
			"CA Issuers - URI:"+base+"/issuing.crt",
			"URI:"+base+"/issuing.crl",
		)
		requireContains(t, asn1parseQCStatements(t, qwacPath),
			":0.4.0.1862.1.6.3", // QcType web
			":PSP_AI", ":PSP_PI", ":Financial Conduct Authority", ":GB-FCA")
		requireContains(t, asn1parseQCStatements(t, sealPath), ":0.4.0.1862.1.6.2", ":PSP_PI")
		ob := asn1parseQCStatements(t, obwacPath)
		requireContains(t, ob, ":Open Banking", ":GB-OB")
		if strings.Contains(ob, ":0.4.0.1862.1.1\n") {
			t.Error("OBWAC carries QcCompliance")
		}
	})

	t.Run("verify", func(t *testing.T) {
		for _, c := range []struct{ path, purpose string }{
			{qwacPath, "sslclient"}, {qwacPath, "sslserver"}, {obwacPath, "sslclient"},
			{serverPath, "sslserver"}, {clientPath, "sslclient"}, {sealPath, "any"},
		} {
			out, err := runTool(t, "openssl", "verify", "-CAfile", caFile, "-untrusted", issuingFile, "-purpose", c.purpose, c.path)
			if err != nil || !strings.Contains(out, c.path+": OK") {
				t.Errorf("openssl verify -purpose %s %s: %v\n%s", c.purpose, filepath.Base(c.path), err, out)
			}
		}
	})

	ocspArgs := []string{"ocsp", "-issuer", issuingFile, "-cert", qwacPath, "-url", base + "/ocsp", "-CAfile", caFile, "-resp_text"}
	t.Run("ocsp good", func(t *testing.T) {
		out, err := runTool(t, "openssl", ocspArgs...)
		if err != nil {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		requireContains(t, out, "Response verify OK", qwacPath+": good", "OCSP Nonce:", "Responder Id: ")
		if strings.Contains(out, "WARNING") {
			t.Errorf("OpenSSL warns:\n%s", out)
		}
	})
	if err := ca.Revoke(qwac.Certificate.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	t.Run("ocsp revoked", func(t *testing.T) {
		out, err := runTool(t, "openssl", ocspArgs...)
		if err != nil {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		requireContains(t, out, "Response verify OK", qwacPath+": revoked", "Reason: keyCompromise")
	})
	t.Run("crl", func(t *testing.T) {
		crlPath := filepath.Join(dir, "issuing.crl")
		_, der := httpGet(t, base+"/issuing.crl")
		if err := os.WriteFile(crlPath, der, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runTool(t, "openssl", "crl", "-inform", "DER", "-in", crlPath, "-CAfile", issuingFile, "-noout", "-text")
		if err != nil {
			t.Fatalf("openssl crl: %v\n%s", err, out)
		}
		// OpenSSL prints the serial's bytes, so an odd number of hex digits gets a leading 0.
		serial := strings.ToUpper(qwac.Record.Serial)
		if len(serial)%2 == 1 {
			serial = "0" + serial
		}
		requireContains(t, out, "verify OK", "Serial Number: "+serial, "Key Compromise", "X509v3 CRL Number")
	})
}

// asn1parseQCStatements finds the qcStatements extension in the first certificate of
// path with `openssl asn1parse` and returns OpenSSL's parse of its value.
func asn1parseQCStatements(t *testing.T, path string) string {
	t.Helper()
	out, err := runTool(t, "openssl", "asn1parse", "-in", path)
	if err != nil {
		t.Fatalf("openssl asn1parse: %v\n%s", err, out)
	}
	offset, ok := pkitest.QCStatementsOffset(out)
	if !ok {
		t.Fatalf("no qcStatements extension in asn1parse output:\n%s", out)
	}
	inner, err := runTool(t, "openssl", "asn1parse", "-in", path, "-strparse", strconv.Itoa(offset))
	if err != nil {
		t.Fatalf("openssl asn1parse -strparse %d: %v\n%s", offset, err, inner)
	}
	return inner
}
