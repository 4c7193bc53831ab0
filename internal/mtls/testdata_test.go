package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/ (certificate chain and forwarded-header seeds)")

// The fixture chain in testdata/chain.pem: a client leaf, its issuing CA and the root.
// Regenerate with: go test ./internal/mtls -run TestTestdata -update
const chainFile = "testdata/chain.pem"

// loadChain reads testdata/chain.pem (leaf, intermediate, root).
func loadChain(t testing.TB) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(chainFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	chain, err := parsePEMChain(string(b))
	if err != nil || len(chain) != 3 {
		t.Fatalf("testdata chain: %d certificates, %v", len(chain), err)
	}
	return chain
}

// escapeURIComponent percent-encodes like JavaScript's encodeURIComponent and nginx's
// $ssl_client_escaped_cert: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ).
func escapeURIComponent(s string) string {
	return escapeExcept(s, "-_.!~*'()")
}

// escapeLikeALB percent-encodes like AWS ALB's X-Amzn-Mtls-Clientcert: as
// encodeURIComponent but with '+', '=' and '/' left as they are.
func escapeLikeALB(s string) string {
	return escapeExcept(s, "-_.!~*'()+=/")
}

func escapeExcept(s, safe string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

func derList(enc *base64.Encoding, certs ...*x509.Certificate) string {
	parts := make([]string, len(certs))
	for i, c := range certs {
		parts[i] = enc.EncodeToString(c.Raw)
	}
	return strings.Join(parts, ",")
}

func hashHex(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// xfccElement renders one Envoy XFCC element the way Envoy does (Cert and Chain
// URL-encoded and quoted, Subject quoted with \" escapes).
func xfccElement(by string, leaf *x509.Certificate, chain []*x509.Certificate, dns ...string) string {
	parts := []string{}
	if by != "" {
		parts = append(parts, "By="+by)
	}
	parts = append(parts, "Hash="+hashHex(leaf))
	parts = append(parts, `Cert="`+escapeURIComponent(pemOf(leaf))+`"`)
	if chain != nil {
		parts = append(parts, `Chain="`+escapeURIComponent(pemOf(chain...))+`"`)
	}
	subject := strings.ReplaceAll(leaf.Subject.String(), `"`, `\"`)
	parts = append(parts, `Subject="`+subject+`"`, "URI=")
	for _, d := range dns {
		parts = append(parts, "DNS="+d)
	}
	return strings.Join(parts, ";")
}

// seed is one real-looking forwarded-certificate header value and the chain it carries.
type seed struct {
	file   string
	format HeaderFormat
	value  func(chain []*x509.Certificate) string
	want   func(chain []*x509.Certificate) []*x509.Certificate // leaf first
}

func leafOnly(c []*x509.Certificate) []*x509.Certificate  { return c[:1] }
func leafAndCA(c []*x509.Certificate) []*x509.Certificate { return c[:2] }

var seeds = []seed{
	{"pem_nginx_leaf.txt", FormatPEMURLEncoded, func(c []*x509.Certificate) string { return escapeURIComponent(pemOf(c[0])) }, leafOnly},
	{"pem_nginx_chain.txt", FormatPEMURLEncoded, func(c []*x509.Certificate) string { return escapeURIComponent(pemOf(c[:2]...)) }, leafAndCA},
	{"pem_alb_chain.txt", FormatPEMURLEncoded, func(c []*x509.Certificate) string { return escapeLikeALB(pemOf(c[:2]...)) }, leafAndCA},
	{"pem_form_leaf.txt", FormatPEMURLEncoded, func(c []*x509.Certificate) string { return url.QueryEscape(pemOf(c[0])) }, leafOnly},
	{"der_std_leaf.txt", FormatDERBase64, func(c []*x509.Certificate) string { return derList(base64.StdEncoding, c[0]) }, leafOnly},
	{"der_std_chain.txt", FormatDERBase64, func(c []*x509.Certificate) string { return derList(base64.StdEncoding, c[:2]...) }, leafAndCA},
	{"der_rawurl_chain.txt", FormatDERBase64, func(c []*x509.Certificate) string { return derList(base64.RawURLEncoding, c[:2]...) }, leafAndCA},
	{"der_rfc9440_leaf.txt", FormatDERBase64, func(c []*x509.Certificate) string { return ":" + base64.StdEncoding.EncodeToString(c[0].Raw) + ":" }, leafOnly},
	{"xfcc_envoy_cert.txt", FormatXFCC, func(c []*x509.Certificate) string {
		return xfccElement("spiffe://cluster.local/ns/bank/sa/portcullis", c[0], nil, "tpp.example.com")
	}, leafOnly},
	{"xfcc_envoy_chain.txt", FormatXFCC, func(c []*x509.Certificate) string {
		return xfccElement("", c[0], c[:2])
	}, leafAndCA},
	{"xfcc_envoy_appended.txt", FormatXFCC, func(c []*x509.Certificate) string {
		// An outer proxy's element (carrying another certificate) first, the nearest
		// proxy's element last: only the last one counts.
		return xfccElement("spiffe://edge", c[1], nil) + "," + xfccElement("spiffe://cluster.local/ns/bank/sa/portcullis", c[0], nil, "tpp.example.com", "tpp2.example.com")
	}, leafOnly},
}

// TestTestdata regenerates testdata/ with -update, and otherwise checks that every seed
// file is the encoding of testdata/chain.pem it claims to be.
func TestTestdata(t *testing.T) {
	if *update {
		writeTestdataChain(t)
	}
	chain := loadChain(t)
	for _, s := range seeds {
		path := filepath.Join("testdata", s.file)
		want := s.value(chain)
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s is stale; run go test ./internal/mtls -run TestTestdata -update", path)
		}
	}
}

func writeTestdataChain(t *testing.T) {
	t.Helper()
	root := newTestCA(t, "Portcullis Test Root CA", newRSAKey(t))
	issuing := root.intermediate(t, "Portcullis Test Issuing CA", newECKey(t))
	leaf := issuing.clientLeaf(t, "0015800001HQQrZAAX", newECKey(t))
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chainFile, []byte(pemOf(leaf, issuing.cert, root.cert)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readSeed(t testing.TB, s seed) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", s.file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
