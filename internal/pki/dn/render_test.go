package dn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

func TestRender(t *testing.T) {
	for _, tt := range subjects {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dn.Render(tt.der)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tt.want {
				t.Errorf("Render =\n  %s\nwant\n  %s", got, tt.want)
			}
		})
	}
	if _, err := dn.Render(name(manyRDNs(dn.MaxAttributes)...)); err != nil {
		t.Errorf("Render of MaxAttributes attributes: %v", err)
	}
	for _, tt := range notOpenSSLNames {
		got, err := dn.Render(tt.der)
		if err != nil || got != tt.want {
			t.Errorf("Render = %q, %v; want %q", got, err, tt.want)
		}
	}
}

// TestRenderCertificate renders the subject of a certificate built the way pki.md §1.8
// builds the OB example, and shows that Go's own rendering differs.
func TestRenderCertificate(t *testing.T) {
	ca := pkitest.NewCA(t, pkitest.CAOptions{})
	leaf := ca.QWAC(t)
	got, err := dn.Render(leaf.Cert.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	const want = "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB"
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if goString := leaf.Cert.Subject.String(); goString == want {
		t.Errorf("pkix.Name.String() = %q matches; the reason for this package is gone", goString)
	}
}

// TestRenderMatchesOpenSSL puts every test subject into a certificate and compares
// Render with `openssl x509 -noout -subject -nameopt RFC2253`.
func TestRenderMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, tt := range subjects {
		if tt.opensslSkip != "" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			// crypto/x509 refuses to parse some of these subjects (T61 Latin-1,
			// UniversalString), so the certificate is only created, not parsed.
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(int64(i + 1)),
				RawSubject:   tt.der,
				NotBefore:    time.Now().Add(-time.Hour),
				NotAfter:     time.Now().Add(time.Hour),
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "cert.pem")
			if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, openssl, "x509", "-in", file, "-noout", "-subject", "-nameopt", "RFC2253").CombinedOutput()
			if err != nil {
				t.Fatalf("openssl: %v\n%s", err, out)
			}
			want := strings.TrimSuffix(strings.TrimPrefix(string(out), "subject="), "\n")
			got, err := dn.Render(tt.der)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != want {
				t.Errorf("Render =\n  %s\nopenssl\n  %s", got, want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name string
		der  []byte
		want error
	}{
		{"empty input", nil, dn.ErrMalformed},
		{"not a SEQUENCE", tlv(0x31, rdn(atv(oidCN, utf8Tag, "x"))), dn.ErrMalformed},
		{"trailing data", append(name(rdn(atv(oidCN, utf8Tag, "x"))), 0), dn.ErrMalformed},
		{"truncated", name(rdn(atv(oidCN, utf8Tag, "x")))[:8], dn.ErrMalformed},
		{"RDN not a SET", name(seq(atv(oidCN, utf8Tag, "x"))), dn.ErrMalformed},
		{"empty RDN", name(rdn()), dn.ErrMalformed},
		{"attribute without value", name(rdn(seq(oidDER(oidCN)))), dn.ErrMalformed},
		{"attribute with two values", name(rdn(seq(oidDER(oidCN), tlv(utf8Tag, []byte("a")), tlv(utf8Tag, []byte("b"))))), dn.ErrMalformed},
		{"type not an OID", name(rdn(seq(tlv(utf8Tag, []byte("CN")), tlv(utf8Tag, []byte("a"))))), dn.ErrMalformed},
		{"high tag number value", name(rdn(seq(oidDER(oidCN), []byte{0x1f, 0x21, 0x00}))), dn.ErrMalformed},
		{"too many attributes", name(manyRDNs(dn.MaxAttributes + 1)...), dn.ErrTooLarge},
		{"too large", name(rdn(atv(oidCN, utf8Tag, strings.Repeat("x", dn.MaxDERLen)))), dn.ErrTooLarge},
		{"rendering too large", name(rdn(atv(oidCN, utf8Tag, strings.Repeat("\x01", 4000))), rdn(atv(oidO, utf8Tag, strings.Repeat("é", 2000)))), dn.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dn.Render(tt.der)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Render = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func manyRDNs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = rdn(atv(oidDC, ia5Tag, "x"))
	}
	return out
}

// TestInvalidStringContents: a string type whose contents are invalid for it renders
// as hex DER and does not count as a string.
func TestInvalidStringContents(t *testing.T) {
	tests := []struct {
		name string
		der  []byte
		want string
	}{
		{"bad UTF-8", name(rdn(atv(oidCN, utf8Tag, "\xff"))), "CN=#0C01FF"},
		{"PrintableString with '@'", name(rdn(atv(oidCN, printableTag, "a@b"))), "CN=#1303614062"},
		{"IA5String with high bit", name(rdn(atv(oidCN, ia5Tag, "\x80"))), "CN=#160180"},
		{"odd-length BMPString", name(rdn(atv(oidCN, bmpTag, "\x00"))), "CN=#1E0100"},
		{"BMPString surrogate", name(rdn(atv(oidCN, bmpTag, "\xd8\x00"))), "CN=#1E02D800"},
		{"UniversalString beyond Unicode", name(rdn(atv(oidCN, universalTag, "\x00\x11\x00\x00"))), "CN=#1C0400110000"},
		{"NumericString with letter", name(rdn(atv(oidCN, numericTag, "1a"))), "CN=#12023161"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := dn.FromDER(tt.der)
			if err != nil {
				t.Fatal(err)
			}
			if n[0][0].IsString {
				t.Errorf("IsString = true for %q", n[0][0].Value)
			}
			if got := n.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
		})
	}
}
