package sandbox

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// testBase is the base URL of CAs served by httptest servers whose address is not known
// in advance; the handler routes on the path only.
const testBase = "http://127.0.0.1:9/pki"

var testTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestCA(t *testing.T) (*CA, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(testTime)
	ca, err := Init(t.TempDir(), testBase, clk)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return ca, clk
}

func qwacOptions() IssueOptions {
	return IssueOptions{
		OrgID:   "PSDGB-FCA-123456",
		OrgName: "Example TPP Ltd",
		Roles:   []eidas.Role{eidas.RoleAISP, eidas.RolePISP},
	}
}

func mustIssue(t *testing.T, ca *CA, kind Kind, opts IssueOptions) *Issued {
	t.Helper()
	is, err := ca.Issue(kind, opts)
	if err != nil {
		t.Fatalf("Issue(%s): %v", kind, err)
	}
	return is
}

// serve starts the CA's handler on a loopback httptest server.
func serve(t *testing.T, ca *CA) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(ca.Handler(nil))
	t.Cleanup(srv.Close)
	return srv
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func postOCSP(t *testing.T, srv *httptest.Server, der []byte) []byte {
	t.Helper()
	resp, err := http.Post(srv.URL+"/pki/ocsp", "application/ocsp-request", bytes.NewReader(der))
	if err != nil {
		t.Fatalf("POST ocsp: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/ocsp-response" {
		t.Fatalf("Content-Type = %q", ct)
	}
	return b
}

// queryOCSP asks the responder about leaf and parses the answer with x/crypto/ocsp,
// verifying the signature chain up to issuer.
func queryOCSP(t *testing.T, srv *httptest.Server, leaf, issuer *x509.Certificate) (*ocsp.Response, error) {
	t.Helper()
	req, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	return ocsp.ParseResponseForCert(postOCSP(t, srv, req), leaf, issuer)
}

func fetchCRL(t *testing.T, srv *httptest.Server, name string, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	code, der := httpGet(t, srv.URL+"/pki/"+name)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d", name, code)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("ParseRevocationList: %v", err)
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	return rl
}

// withRequestExtensions re-encodes the single-certificate OCSP request req with the given
// requestExtensions (RFC 6960 §4.1.1), which x/crypto/ocsp cannot produce.
func withRequestExtensions(t testing.TB, req []byte, exts ...pkix.Extension) []byte {
	t.Helper()
	in := cryptobyte.String(req)
	var outer, tbs, list, r, certID cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1(&list, cbasn1.SEQUENCE) || !list.ReadASN1(&r, cbasn1.SEQUENCE) ||
		!r.ReadASN1Element(&certID, cbasn1.SEQUENCE) {
		t.Fatal("cannot take the test request apart")
	}
	extDER, err := asn1.Marshal(exts)
	if err != nil {
		t.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(certID) })
			})
			if len(exts) > 0 {
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(extDER) })
			}
		})
	})
	return b.BytesOrPanic()
}

// nonceExtension is the OCSP nonce extension as OpenSSL sends it: extnValue is the DER
// of an OCTET STRING holding the nonce.
func nonceExtension(t testing.TB, nonce []byte) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(nonce)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidOCSPNonce, Value: v}
}

// responseExtensions decodes the responseExtensions of a successful OCSP response, which
// x/crypto/ocsp does not expose.
func responseExtensions(t *testing.T, der []byte) []pkix.Extension {
	t.Helper()
	var resp struct {
		Status   asn1.Enumerated
		Response struct {
			Type  asn1.ObjectIdentifier
			Bytes []byte
		} `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &resp); err != nil {
		t.Fatalf("OCSPResponse: %v", err)
	}
	var basic struct {
		TBS   asn1.RawValue
		Alg   pkix.AlgorithmIdentifier
		Sig   asn1.BitString
		Certs []asn1.RawValue `asn1:"explicit,tag:0,optional"`
	}
	if _, err := asn1.Unmarshal(resp.Response.Bytes, &basic); err != nil {
		t.Fatalf("BasicOCSPResponse: %v", err)
	}
	var data struct {
		ResponderID asn1.RawValue
		ProducedAt  time.Time `asn1:"generalized"`
		Responses   []asn1.RawValue
		Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
	}
	if _, err := asn1.Unmarshal(basic.TBS.FullBytes, &data); err != nil {
		t.Fatalf("ResponseData: %v", err)
	}
	return data.Extensions
}

// runTool runs an external program (openssl) with a deadline; a process still running
// when the test ends is killed by PID.
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil && cmd.Process != nil {
			cmd.Process.Kill()
		}
	})
	err = cmd.Wait()
	return out.String(), err
}

// requireContains fails unless out contains every want.
func requireContains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func isOCSPError(err error, status ocsp.ResponseStatus) bool {
	var re ocsp.ResponseError
	return errors.As(err, &re) && re.Status == status
}

// duplicateRequest re-encodes the single-certificate OCSP request req with its Request
// listed twice.
func duplicateRequest(t testing.TB, req []byte) []byte {
	t.Helper()
	in := cryptobyte.String(req)
	var outer, tbs, list, r cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1(&list, cbasn1.SEQUENCE) || !list.ReadASN1Element(&r, cbasn1.SEQUENCE) {
		t.Fatal("cannot take the test request apart")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(r)
				b.AddBytes(r)
			})
		})
	})
	return b.BytesOrPanic()
}
