package revocation

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/clock"
)

// qcStatementsHex is the QWAC qcStatements DER of pki.md §1.8.
const qcStatementsHex = "30819e3008060604008e4601013013060604008e4601063009060704008e46010603307d06060400819827023073304c30110607040081982701010c065053505f415330110607040081982701020c065053505f504930110607040081982701030c065053505f414930110607040081982701040c065053505f49430c1b46696e616e6369616c20436f6e6475637420417574686f726974790c0647422d464341"

// caConfig is pki.md §2.5's ca.cnf with one extension section per scenario.
// Arguments: 1 OCSP base URL, 2 CRL base URL, 3 a URL where nothing listens, 4 the
// extensions every QWAC gets (qwacExtensions).
const caConfig = `[ca]
default_ca = CA_default

[CA_default]
dir              = ./ca
database         = $dir/index.txt
new_certs_dir    = $dir/newcerts
serial           = $dir/serial
crlnumber        = $dir/crlnumber
certificate      = ./root.pem
private_key      = ./root.key
default_md       = sha256
default_days     = 365
default_crl_days = 7
policy           = policy_any
unique_subject   = no
copy_extensions  = none

[policy_any]
countryName            = optional
organizationName       = optional
organizationIdentifier = optional
commonName             = supplied

# Answered by the delegated responder (OCSPSigning), CRL up.
[ext_good]
%[4]sauthorityInfoAccess    = OCSP;URI:%[1]s/good,caIssuers;URI:%[2]s/root.der
crlDistributionPoints  = URI:%[2]s/root.crl

# Answered with the CA's own key.
[ext_direct]
%[4]sauthorityInfoAccess    = OCSP;URI:%[1]s/direct
crlDistributionPoints  = URI:%[2]s/root.crl

# OCSP responder down, CRL up.
[ext_ocspdown]
%[4]sauthorityInfoAccess    = OCSP;URI:%[3]s/ocsp
crlDistributionPoints  = URI:%[2]s/root.crl

# Both down.
[ext_bothdown]
%[4]sauthorityInfoAccess    = OCSP;URI:%[3]s/ocsp
crlDistributionPoints  = URI:%[3]s/root.crl

# Neither URL.
[ext_none]
basicConstraints       = critical,CA:FALSE
keyUsage               = critical,digitalSignature

# Answered by a responder certificate without OCSPSigning; CRL down.
[ext_noeku]
%[4]sauthorityInfoAccess    = OCSP;URI:%[1]s/noeku
crlDistributionPoints  = URI:%[3]s/root.crl

# Answered with a one-minute nextUpdate; CRL down.
[ext_stale]
%[4]sauthorityInfoAccess    = OCSP;URI:%[1]s/stale
crlDistributionPoints  = URI:%[3]s/root.crl

# OCSP down; CRL with an issuing distribution point naming this URL.
[ext_idp]
%[4]sauthorityInfoAccess    = OCSP;URI:%[3]s/ocsp
crlDistributionPoints  = URI:%[2]s/idp.crl

# OCSP down; the CRL served here is the partition of another URL.
[ext_idpother]
%[4]sauthorityInfoAccess    = OCSP;URI:%[3]s/ocsp
crlDistributionPoints  = URI:%[2]s/partition.crl

[ocsp_ext]
basicConstraints = critical,CA:FALSE
keyUsage         = critical,digitalSignature
extendedKeyUsage = critical,OCSPSigning
noCheck          = ignored

[noeku_ext]
basicConstraints = critical,CA:FALSE
keyUsage         = critical,digitalSignature
extendedKeyUsage = clientAuth

[idp_crl_ext]
authorityKeyIdentifier   = keyid:always
issuingDistributionPoint = critical, @idp_section

[idp_section]
fullname = URI:%[2]s/idp.crl
onlyuser = TRUE
`

// qwacExtensions are the QWAC extensions of pki.md §2.5 other than the URLs.
const qwacExtensions = `basicConstraints       = critical,CA:FALSE
keyUsage               = critical,digitalSignature
extendedKeyUsage       = serverAuth,clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
qcStatements           = DER:` + qcStatementsHex + `
`

// opensslPKI is the test CA of pki.md §2.5, built by the openssl command line.
type opensslPKI struct {
	root  *x509.Certificate
	certs map[string]*x509.Certificate // by file stem
}

// TestOpenSSLInterop runs Portcullis against a CA built with "openssl ca" and
// answered by OpenSSL's own OCSP responder logic ("openssl ocsp -index ... -reqin
// -respout", run per request behind a loopback handler), with CRLs from
// "openssl ca -gencrl" (issue #3, acceptance point 2).
func TestOpenSSLInterop(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not on PATH")
	}
	dir := t.TempDir()

	// The servers exist (and have their ports) before the certificates that name
	// them are issued; they start serving once the CA is built.
	ocspSrv := httptest.NewUnstartedServer(opensslResponder(t, openssl, dir))
	crlSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file := map[string]string{"/root.crl": "root.crl", "/idp.crl": "idp.crl", "/partition.crl": "idp.crl"}[r.URL.Path]
		if file == "" {
			http.NotFound(w, r)
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(data)
	}))
	t.Cleanup(ocspSrv.Close)
	t.Cleanup(crlSrv.Close)
	ocspBase := "http://" + ocspSrv.Listener.Addr().String()
	crlBase := "http://" + crlSrv.Listener.Addr().String()
	down := downURL(t)

	p := buildOpenSSLCA(t, openssl, dir, fmt.Sprintf(caConfig, ocspBase, crlBase, down, qwacExtensions))
	ocspSrv.Start()
	crlSrv.Start()

	newChecker := func(t *testing.T, clk clock.Clock) (*Checker, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		c := New(Options{Clock: clk, Registerer: reg, OCSPTimeout: 10 * time.Second})
		t.Cleanup(c.Close)
		return c, reg
	}
	ctx := context.Background()
	check := func(t *testing.T, c *Checker, name string, softFail bool) error {
		t.Helper()
		return c.Check(ctx, p.certs[name], p.root, softFail)
	}
	wantRevoked := func(t *testing.T, err error, name string, source Source) {
		t.Helper()
		var re *RevokedError
		if !errors.As(err, &re) || !errors.Is(err, ErrRevoked) {
			t.Fatalf("Check = %v, want *RevokedError", err)
		}
		if re.Serial.Cmp(p.certs[name].SerialNumber) != 0 || re.Reason != 1 || re.Source != source || re.RevokedAt.IsZero() {
			t.Errorf("RevokedError = %+v, want serial %v, reason 1 (keyCompromise), source %s", re, p.certs[name].SerialNumber, source)
		}
	}
	wantUnavailable := func(t *testing.T, err error, ocspCause, crlCause error) {
		t.Helper()
		var ue *UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("Check = %v, want *UnavailableError", err)
		}
		if !errors.Is(ue.OCSP, ocspCause) {
			t.Errorf("OCSP cause = %v, want %v", ue.OCSP, ocspCause)
		}
		if !errors.Is(ue.CRL, crlCause) {
			t.Errorf("CRL cause = %v, want %v", ue.CRL, crlCause)
		}
	}

	t.Run("good certificate accepted via OCSP (delegated responder)", func(t *testing.T) {
		c, _ := newChecker(t, clock.Real{})
		res, err := c.Status(ctx, p.certs["good"], p.root)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != StatusGood || res.Source != SourceOCSP || res.URL != ocspBase+"/good" {
			t.Errorf("Status = %+v, want good from %s/good", res, ocspBase)
		}
		if err := check(t, c, "good", false); err != nil {
			t.Errorf("Check = %v, want nil", err)
		}
	})
	t.Run("good certificate accepted via OCSP signed by the CA key", func(t *testing.T) {
		c, _ := newChecker(t, clock.Real{})
		if err := check(t, c, "direct", false); err != nil {
			t.Errorf("Check = %v, want nil", err)
		}
	})
	t.Run("revoked certificate rejected via OCSP", func(t *testing.T) {
		c, _ := newChecker(t, clock.Real{})
		wantRevoked(t, check(t, c, "revoked", false), "revoked", SourceOCSP)
	})
	t.Run("certificate unknown to the CA rejected", func(t *testing.T) {
		c, _ := newChecker(t, clock.Real{})
		if err := check(t, c, "unknown", true); !errors.Is(err, ErrUnknownStatus) {
			t.Errorf("Check = %v, want ErrUnknownStatus (even under soft-fail)", err)
		}
	})
	t.Run("OCSP down: good certificate accepted via the CRL", func(t *testing.T) {
		c, _ := newChecker(t, clock.Real{})
		res, err := c.Status(ctx, p.certs["fbgood"], p.root)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != StatusGood || res.Source != SourceCRL || !errors.Is(res.OCSPFailure, ErrResponderUnavailable) {
			t.Errorf("Status = %+v, want good from the CRL after an unavailable responder", res)
		}
	})
	t.Run("OCSP down: revoked certificate rejected via the CRL", func(t *testing.T) {
		c, _ := newChecker(t, clock.Real{})
		wantRevoked(t, check(t, c, "fbrevoked", false), "fbrevoked", SourceCRL)
	})
	t.Run("OCSP down: CRL with an issuing distribution point", func(t *testing.T) {
		c, _ := newChecker(t, clock.Real{})
		if err := check(t, c, "idp", false); err != nil {
			t.Errorf("Check = %v, want nil", err)
		}
		wantUnavailable(t, check(t, c, "idpother", false), ErrResponderUnavailable, ErrUnsupportedCRL)
	})
	t.Run("both down: rejected", func(t *testing.T) {
		c, reg := newChecker(t, clock.Real{})
		wantUnavailable(t, check(t, c, "bothdown", false), ErrResponderUnavailable, ErrResponderUnavailable)
		if err := check(t, c, "bothdown", true); err != nil {
			t.Errorf("soft-fail: Check = %v, want nil", err)
		}
		if got := metricValue(t, reg, "portcullis_revocation_softfail_total"); got != 1 {
			t.Errorf("softfail_total = %v, want 1", got)
		}
	})
	t.Run("neither URL: rejected", func(t *testing.T) {
		c, _ := newChecker(t, clock.Real{})
		if err := check(t, c, "none", false); err != ErrNoRevocationInfo {
			t.Errorf("Check = %v, want ErrNoRevocationInfo", err)
		}
	})
	t.Run("responder without OCSPSigning: rejected", func(t *testing.T) {
		c, _ := newChecker(t, clock.Real{})
		err := check(t, c, "noeku", false)
		wantUnavailable(t, err, ErrOCSPResponderNotAuthorized, ErrResponderUnavailable)
		if !errors.Is(err, ErrOCSPResponderNotAuthorized) {
			t.Errorf("errors.Is(%v, ErrOCSPResponderNotAuthorized) = false", err)
		}
	})
	t.Run("stale answer: rejected", func(t *testing.T) {
		// OpenSSL signs thisUpdate = now, nextUpdate = now + 1 minute; an hour
		// later it is stale beyond the five-minute skew.
		c, _ := newChecker(t, clock.NewFake(time.Now().Add(time.Hour)))
		err := check(t, c, "stale", false)
		wantUnavailable(t, err, ErrStaleResponse, ErrResponderUnavailable)
		if !errors.Is(err, ErrStaleResponse) {
			t.Errorf("errors.Is(%v, ErrStaleResponse) = false", err)
		}
		// The same answer is fresh now.
		c2, _ := newChecker(t, clock.Real{})
		if err := check(t, c2, "stale", false); err != nil {
			t.Errorf("fresh: Check = %v, want nil", err)
		}
	})
}

// opensslResponder answers OCSP POSTs by running "openssl ocsp" as a one-shot
// responder over the CA's index; the path selects the signer and the validity.
func opensslResponder(t *testing.T, openssl, dir string) http.HandlerFunc {
	signers := map[string][]string{
		"/good":   {"-rsigner", "ocsp.pem", "-rkey", "ocsp.key", "-ndays", "1"},
		"/direct": {"-rsigner", "root.pem", "-rkey", "root.key", "-ndays", "1"},
		"/noeku":  {"-rsigner", "noeku-responder.pem", "-rkey", "ocsp.key", "-ndays", "1"},
		"/stale":  {"-rsigner", "ocsp.pem", "-rkey", "ocsp.key", "-nmin", "1"},
	}
	return func(w http.ResponseWriter, r *http.Request) {
		signer, ok := signers[r.URL.Path]
		if !ok || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		req, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tmp, err := os.MkdirTemp(dir, "ocsp-req-")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer os.RemoveAll(tmp)
		reqFile, respFile := filepath.Join(tmp, "req.der"), filepath.Join(tmp, "resp.der")
		if err := os.WriteFile(reqFile, req, 0o600); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		args := append([]string{"ocsp", "-index", "ca/index.txt", "-CA", "root.pem", "-reqin", reqFile, "-respout", respFile}, signer...)
		cmd := exec.CommandContext(ctx, openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("openssl ocsp: %v\n%s", err, out)
			http.Error(w, "responder failed", http.StatusInternalServerError)
			return
		}
		resp, err := os.ReadFile(respFile)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(resp)
	}
}

// buildOpenSSLCA runs the commands of pki.md §2.5 in dir.
func buildOpenSSLCA(t *testing.T, openssl, dir, config string) *opensslPKI {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "ca", "newcerts"), 0o700); err != nil {
		t.Fatal(err)
	}
	write("ca.cnf", config)
	write("ca/index.txt", "")
	write("ca/serial", "1000\n")
	write("ca/crlnumber", "1000\n")

	run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "root.key", "-out", "root.pem",
		"-days", "3650", "-subj", "/CN=Test Root CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
		"-subj", "/C=GB/O=Example TPP Ltd/organizationIdentifier=PSDGB-FCA-123456/CN=0015800001HQQrZAAX")
	run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ocsp.key", "-out", "ocsp.csr",
		"-subj", "/CN=Test OCSP Responder")
	issue := func(out, ext, csr string) {
		t.Helper()
		run("ca", "-batch", "-config", "ca.cnf", "-extensions", ext, "-in", csr, "-out", out+".pem", "-notext")
	}
	issue("ocsp", "ocsp_ext", "ocsp.csr")
	issue("noeku-responder", "noeku_ext", "ocsp.csr")
	leaves := map[string]string{
		"good": "ext_good", "revoked": "ext_good", "direct": "ext_direct",
		"fbgood": "ext_ocspdown", "fbrevoked": "ext_ocspdown", "bothdown": "ext_bothdown", "none": "ext_none",
		"noeku": "ext_noeku", "stale": "ext_stale", "idp": "ext_idp", "idpother": "ext_idpother",
	}
	for name, ext := range leaves {
		issue(name, ext, "leaf.csr")
	}
	// Signed by the CA key but never entered in its index: OpenSSL answers "unknown".
	run("x509", "-req", "-in", "leaf.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "0x7777",
		"-extfile", "ca.cnf", "-extensions", "ext_good", "-days", "30", "-out", "unknown.pem")
	for _, name := range []string{"revoked", "fbrevoked"} {
		run("ca", "-config", "ca.cnf", "-revoke", name+".pem", "-crl_reason", "keyCompromise")
	}
	run("ca", "-config", "ca.cnf", "-gencrl", "-out", "root.crl.pem")
	run("crl", "-in", "root.crl.pem", "-outform", "DER", "-out", "root.crl")
	run("ca", "-config", "ca.cnf", "-gencrl", "-crlexts", "idp_crl_ext", "-out", "idp.crl.pem")
	run("crl", "-in", "idp.crl.pem", "-outform", "DER", "-out", "idp.crl")

	p := &opensslPKI{root: readPEMCert(t, filepath.Join(dir, "root.pem")), certs: map[string]*x509.Certificate{}}
	for name := range leaves {
		p.certs[name] = readPEMCert(t, filepath.Join(dir, name+".pem"))
	}
	p.certs["unknown"] = readPEMCert(t, filepath.Join(dir, "unknown.pem"))
	return p
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}
