package dn_test

import (
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/pki/dn"
)

var (
	cn    = asn1.ObjectIdentifier{2, 5, 4, 3}
	o     = asn1.ObjectIdentifier{2, 5, 4, 10}
	c     = asn1.ObjectIdentifier{2, 5, 4, 6}
	orgID = asn1.ObjectIdentifier{2, 5, 4, 97}
)

func str(t asn1.ObjectIdentifier, v string) dn.Attribute {
	return dn.Attribute{Type: t, Value: v, IsString: true}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want dn.Name
	}{
		{"", dn.Name{}},
		{
			"CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB",
			dn.Name{{str(cn, "0015800001HQQrZAAX")}, {str(orgID, "PSDGB-FCA-123456")}, {str(o, "Example TPP Ltd")}, {str(c, "GB")}},
		},
		{
			"commonName=a,organizationname=b,COUNTRYNAME=GB,2.5.4.97=PSDGB-FCA-1,cn=c",
			dn.Name{{str(cn, "a")}, {str(o, "b")}, {str(c, "GB")}, {str(orgID, "PSDGB-FCA-1")}, {str(cn, "c")}},
		},
		{`CN=a\,b\+c\"d\\e\<f\>g\;h\=i`, dn.Name{{str(cn, `a,b+c"d\e<f>g;h=i`)}}},
		{`CN=\ lead\#not\23trail\ `, dn.Name{{str(cn, " lead#not#trail ")}}},
		{`CN=\#x,O=#0C03666F6F`, dn.Name{{str(cn, "#x")}, {dn.Attribute{Type: o, Value: "foo", IsString: true, DER: unhex("0C03666F6F")}}}},
		{`O=Soci\C3\A9t\c3\a9,L=東京`, dn.Name{{str(o, "Société")}, {str(asn1.ObjectIdentifier{2, 5, 4, 7}, "東京")}}},
		{`CN=a\00b`, dn.Name{{str(cn, "a\x00b")}}},
		{`CN=x+serialNumber=42+UID=u\+1,C=GB`, dn.Name{
			{str(cn, "x"), str(asn1.ObjectIdentifier{2, 5, 4, 5}, "42"), str(asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, "u+1")},
			{str(c, "GB")},
		}},
		{"CN=a, O=b ,  C = GB", dn.Name{{str(cn, "a")}, {str(o, "b ")}, {str(c, "GB")}}},
		{"CN=", dn.Name{{str(cn, "")}}},
		{"CN=,O=", dn.Name{{str(cn, "")}, {str(o, "")}}},
		{"1.3.6.1.4.1.99999.7=#02020100", dn.Name{{dn.Attribute{Type: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 7}, DER: unhex("02020100")}}}},
		{"1.2.3=plain", dn.Name{{str(asn1.ObjectIdentifier{1, 2, 3}, "plain")}}},
		{"E=a@b.example,GN=Jane,street=1 Main,jurisdictionCountryName=GB", dn.Name{
			{str(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, "a@b.example")},
			{str(asn1.ObjectIdentifier{2, 5, 4, 42}, "Jane")},
			{str(asn1.ObjectIdentifier{2, 5, 4, 9}, "1 Main")},
			{str(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3}, "GB")},
		}},
		{"CN=a=b#c", dn.Name{{str(cn, "a=b#c")}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := dn.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"CN", dn.ErrSyntax},
		{"=x", dn.ErrSyntax},
		{"CN=a,", dn.ErrSyntax},
		{",CN=a", dn.ErrSyntax},
		{"CN=a+", dn.ErrSyntax},
		{"CN=a;O=b", dn.ErrSyntax},
		{`CN=a"b`, dn.ErrSyntax},
		{"CN=a<b", dn.ErrSyntax},
		{"CN=a>b", dn.ErrSyntax},
		{"CN=a\x00b", dn.ErrSyntax},
		{`CN=a\`, dn.ErrSyntax},
		{`CN=a\q`, dn.ErrSyntax},
		{`CN=a\4`, dn.ErrSyntax},
		{`CN=a\4g`, dn.ErrSyntax},
		{`CN=\FF`, dn.ErrSyntax},
		{"CN=\xff", dn.ErrSyntax},
		{"CN=#", dn.ErrSyntax},
		{"CN=#0C0", dn.ErrSyntax},
		{"CN=#0C02", dn.ErrSyntax},
		{"CN=#0C0161FF", dn.ErrSyntax},
		{"CN=#0C0161x", dn.ErrSyntax},
		{"CN=#1F2100", dn.ErrSyntax},
		{"1=x", dn.ErrSyntax},
		{"3.1=x", dn.ErrSyntax},
		{"1.40=x", dn.ErrSyntax},
		{"1.2.03=x", dn.ErrSyntax},
		{"1..2=x", dn.ErrSyntax},
		{"1.2.=x", dn.ErrSyntax},
		{"1.2.99999999999=x", dn.ErrSyntax},
		{"-CN=x", dn.ErrSyntax},
		{"OID.2.5.4.3=x", dn.ErrUnknownType},
		{"FOO=x", dn.ErrUnknownType},
		{"CN=x,commonNam=y", dn.ErrUnknownType},
		{strings.Repeat("C", dn.MaxStringLen+1), dn.ErrTooLarge},
		{strings.Repeat("CN=a+", dn.MaxAttributes) + "CN=a", dn.ErrTooLarge},
		{strings.Repeat("CN=a,", dn.MaxAttributes) + "CN=a", dn.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := dn.Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, %v; want %v", got, err, tt.want)
			}
			if got != nil {
				t.Errorf("Parse returned %v with the error", got)
			}
		})
	}
}

// TestRoundTrip: every rendered test subject parses back to an equal name that
// renders identically.
func TestRoundTrip(t *testing.T) {
	for _, tt := range subjects {
		t.Run(tt.name, func(t *testing.T) {
			fromDER, err := dn.FromDER(tt.der)
			if err != nil {
				t.Fatal(err)
			}
			s := fromDER.String()
			parsed, err := dn.Parse(s)
			if err != nil {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			if !dn.Equal(fromDER, parsed) {
				t.Errorf("Equal(FromDER, Parse(String)) = false for %q", s)
			}
			if again := parsed.String(); again != s {
				t.Errorf("String after Parse = %q, want %q", again, s)
			}
		})
	}
}
