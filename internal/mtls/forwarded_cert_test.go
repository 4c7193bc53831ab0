package mtls

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rawOf returns the DER of each certificate, for comparisons.
func rawOf(certs []*x509.Certificate) [][]byte {
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out
}

var parseSentinels = []error{ErrMalformedHeader, ErrTooLarge, ErrNoCertificateInHeader, ErrUnsupportedFormat}

// checkParseError fails unless err matches want and no other ParseForwardedCert sentinel.
func checkParseError(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	for _, s := range parseSentinels {
		if s != want && errors.Is(err, s) {
			t.Fatalf("error %v also matches %v", err, s)
		}
	}
}

func TestParseForwardedCertSeeds(t *testing.T) {
	chain := loadChain(t)
	for _, s := range seeds {
		t.Run(s.file, func(t *testing.T) {
			got, err := ParseForwardedCert(readSeed(t, s), s.format)
			if err != nil {
				t.Fatalf("ParseForwardedCert: %v", err)
			}
			if diff := cmp.Diff(rawOf(s.want(chain)), rawOf(got)); diff != "" {
				t.Errorf("chain mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseForwardedCert(t *testing.T) {
	chain := loadChain(t)
	leaf, issuing, root := chain[0], chain[1], chain[2]
	leafPEM := pemOf(leaf)
	esc := escapeURIComponent
	std := base64.StdEncoding.EncodeToString
	eleven := make([]*x509.Certificate, 11)
	for i := range eleven {
		eleven[i] = leaf
	}
	garbageDER := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})
	brokenThenGood := "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n" + leafPEM
	subjectWithQuotes := `Subject="CN=\"Quoted\";O=a,b=c"`

	tests := []struct {
		name    string
		format  HeaderFormat
		value   string
		want    []*x509.Certificate
		wantErr error
	}{
		// URL-encoded PEM.
		{"pem leaf", FormatPEMURLEncoded, esc(leafPEM), []*x509.Certificate{leaf}, nil},
		{"pem chain of three", FormatPEMURLEncoded, esc(pemOf(leaf, issuing, root)), chain, nil},
		{"pem surrounded by OWS", FormatPEMURLEncoded, " \t" + esc(leafPEM) + " ", []*x509.Certificate{leaf}, nil},
		{"pem CRLF line ends", FormatPEMURLEncoded, esc(strings.ReplaceAll(leafPEM, "\n", "\r\n")), []*x509.Certificate{leaf}, nil},
		{"pem not escaped at all is malformed", FormatPEMURLEncoded, "-----BEGIN CERTIFICATE----- MIIB -----END CERTIFICATE-----", nil, ErrMalformedHeader},
		{"pem bad percent escape", FormatPEMURLEncoded, "%zz" + esc(leafPEM), nil, ErrMalformedHeader},
		{"pem text before block", FormatPEMURLEncoded, esc("junk\n" + leafPEM), nil, ErrMalformedHeader},
		{"pem text after block", FormatPEMURLEncoded, esc(leafPEM + "junk"), nil, ErrMalformedHeader},
		{"pem broken block skipped by pem.Decode", FormatPEMURLEncoded, esc(brokenThenGood), nil, ErrMalformedHeader},
		{"pem private key block", FormatPEMURLEncoded, esc(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: leaf.Raw}))), nil, ErrMalformedHeader},
		{"pem block with headers", FormatPEMURLEncoded, esc(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: leaf.Raw}))), nil, ErrMalformedHeader},
		{"pem DER is not a certificate", FormatPEMURLEncoded, esc(string(garbageDER)), nil, ErrMalformedHeader},
		{"pem only whitespace after decoding", FormatPEMURLEncoded, "%0A%20%0A", nil, ErrNoCertificateInHeader},
		{"pem eleven certificates", FormatPEMURLEncoded, esc(pemOf(eleven...)), nil, ErrTooLarge},
		{"pem ten certificates", FormatPEMURLEncoded, esc(pemOf(eleven[:10]...)), eleven[:10], nil},

		// base64 DER.
		{"der padded std", FormatDERBase64, std(leaf.Raw), []*x509.Certificate{leaf}, nil},
		{"der raw url", FormatDERBase64, base64.RawURLEncoding.EncodeToString(leaf.Raw), []*x509.Certificate{leaf}, nil},
		{"der padded url", FormatDERBase64, base64.URLEncoding.EncodeToString(leaf.Raw), []*x509.Certificate{leaf}, nil},
		{"der chain with OWS", FormatDERBase64, std(leaf.Raw) + " , " + std(issuing.Raw), []*x509.Certificate{leaf, issuing}, nil},
		{"der rfc 9440 chain", FormatDERBase64, ":" + std(leaf.Raw) + ":, :" + std(issuing.Raw) + ":", []*x509.Certificate{leaf, issuing}, nil},
		{"der bad alphabet", FormatDERBase64, "MII!" + std(leaf.Raw), nil, ErrMalformedHeader},
		{"der not a certificate", FormatDERBase64, std([]byte{0x30, 0x03, 0x02, 0x01, 0x01}), nil, ErrMalformedHeader},
		{"der truncated", FormatDERBase64, std(leaf.Raw[:len(leaf.Raw)-1]), nil, ErrMalformedHeader},
		{"der trailing data", FormatDERBase64, std(append(append([]byte{}, leaf.Raw...), 0)), nil, ErrMalformedHeader},
		{"der empty list element", FormatDERBase64, std(leaf.Raw) + ",,", nil, ErrMalformedHeader},
		{"der empty byte sequence", FormatDERBase64, "::", nil, ErrMalformedHeader},
		{"der eleven certificates", FormatDERBase64, derList(base64.StdEncoding, eleven...), nil, ErrTooLarge},

		// Envoy XFCC.
		{"xfcc cert only", FormatXFCC, `Cert="` + esc(leafPEM) + `"`, []*x509.Certificate{leaf}, nil},
		{"xfcc unquoted cert", FormatXFCC, `Cert=` + esc(leafPEM), []*x509.Certificate{leaf}, nil},
		{"xfcc lower-case keys", FormatXFCC, `hash=` + hashHex(leaf) + `;cert=` + esc(leafPEM), []*x509.Certificate{leaf}, nil},
		{"xfcc upper-case hash", FormatXFCC, `Hash=` + strings.ToUpper(hashHex(leaf)) + `;Cert=` + esc(leafPEM), []*x509.Certificate{leaf}, nil},
		{"xfcc chain only", FormatXFCC, `Chain="` + esc(pemOf(leaf, issuing)) + `"`, []*x509.Certificate{leaf, issuing}, nil},
		{"xfcc quoted subject with escapes and separators", FormatXFCC, subjectWithQuotes + `;Cert="` + esc(leafPEM) + `";URI=;DNS=a;DNS=b`, []*x509.Certificate{leaf}, nil},
		{"xfcc unknown key ignored", FormatXFCC, `Future=1;Cert=` + esc(leafPEM), []*x509.Certificate{leaf}, nil},
		{"xfcc last element wins", FormatXFCC, `Cert=` + esc(pemOf(issuing)) + `, By=x;Cert=` + esc(leafPEM), []*x509.Certificate{leaf}, nil},
		{"xfcc last element without cert", FormatXFCC, `Cert=` + esc(leafPEM) + `,By=spiffe://x;Hash=` + hashHex(leaf), nil, ErrNoCertificateInHeader},
		{"xfcc hash only", FormatXFCC, `Hash=` + hashHex(leaf), nil, ErrNoCertificateInHeader},
		{"xfcc empty cert", FormatXFCC, `Cert=""`, nil, ErrNoCertificateInHeader},
		{"xfcc hash mismatch", FormatXFCC, `Hash=` + hashHex(issuing) + `;Cert=` + esc(leafPEM), nil, ErrMalformedHeader},
		{"xfcc hash not hex", FormatXFCC, `Hash=zz;Cert=` + esc(leafPEM), nil, ErrMalformedHeader},
		{"xfcc chain does not start with cert", FormatXFCC, `Cert=` + esc(leafPEM) + `;Chain=` + esc(pemOf(issuing, root)), nil, ErrMalformedHeader},
		{"xfcc cert holds two certificates", FormatXFCC, `Cert=` + esc(pemOf(leaf, issuing)), nil, ErrMalformedHeader},
		{"xfcc duplicate cert", FormatXFCC, `Cert=` + esc(leafPEM) + `;Cert=` + esc(pemOf(issuing)), nil, ErrMalformedHeader},
		{"xfcc unterminated quote", FormatXFCC, `Cert="` + esc(leafPEM), nil, ErrMalformedHeader},
		{"xfcc backslash at end", FormatXFCC, `Subject="a\`, nil, ErrMalformedHeader},
		{"xfcc junk after quoted value", FormatXFCC, `Cert="` + esc(leafPEM) + `"x`, nil, ErrMalformedHeader},
		{"xfcc quote inside bare value", FormatXFCC, `Subject=a"b";Cert=` + esc(leafPEM), nil, ErrMalformedHeader},
		{"xfcc missing equals", FormatXFCC, `Cert`, nil, ErrMalformedHeader},
		{"xfcc empty key", FormatXFCC, `=x;Cert=` + esc(leafPEM), nil, ErrMalformedHeader},
		{"xfcc empty pair", FormatXFCC, `By=x;;Cert=` + esc(leafPEM), nil, ErrMalformedHeader},
		{"xfcc trailing comma", FormatXFCC, `Cert=` + esc(leafPEM) + `,`, nil, ErrMalformedHeader},
		{"xfcc bad cert", FormatXFCC, `Cert=` + esc(string(garbageDER)), nil, ErrMalformedHeader},
		{"xfcc chain too long", FormatXFCC, `Chain=` + esc(pemOf(eleven...)), nil, ErrTooLarge},

		// Every format.
		{"empty value", FormatPEMURLEncoded, "", nil, ErrNoCertificateInHeader},
		{"blank value", FormatDERBase64, " \t ", nil, ErrNoCertificateInHeader},
		{"blank xfcc", FormatXFCC, "  ", nil, ErrNoCertificateInHeader},
		{"over the size limit", FormatDERBase64, strings.Repeat("A", MaxForwardedCertBytes+1), nil, ErrTooLarge},
		{"unknown format", HeaderFormat("pem"), esc(leafPEM), nil, ErrUnsupportedFormat},
		{"zero format", HeaderFormat(""), esc(leafPEM), nil, ErrUnsupportedFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseForwardedCert(tc.value, tc.format)
			if tc.wantErr != nil {
				checkParseError(t, err, tc.wantErr)
				if got != nil {
					t.Errorf("got %d certificates with an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseForwardedCert: %v", err)
			}
			if diff := cmp.Diff(rawOf(tc.want), rawOf(got)); diff != "" {
				t.Errorf("chain mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitXFCC(t *testing.T) {
	got, err := splitXFCC(`By=spiffe://a;Subject="CN=\"x\",O=y;z";URI=, DNS=b.example ;Hash=00`)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]xfccPair{
		{{"By", "spiffe://a"}, {"Subject", `CN="x",O=y;z`}, {"URI", ""}},
		{{"DNS", "b.example"}, {"Hash", "00"}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(xfccPair{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestHeaderFormatValid(t *testing.T) {
	for _, tc := range []struct {
		f    HeaderFormat
		want bool
	}{
		{FormatPEMURLEncoded, true}, {FormatDERBase64, true}, {FormatXFCC, true},
		{"", false}, {"PEM-URLENCODED", false}, {"rfc9440", false},
	} {
		if got := tc.f.Valid(); got != tc.want {
			t.Errorf("HeaderFormat(%q).Valid() = %v, want %v", tc.f, got, tc.want)
		}
	}
}
