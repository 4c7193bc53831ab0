package eidas_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

func TestParseOrganizationIdentifier(t *testing.T) {
	tests := []struct {
		in   string
		want eidas.OrganizationIdentifier
	}{
		{"PSDGB-FCA-123456", eidas.OrganizationIdentifier{Raw: "PSDGB-FCA-123456", Scheme: "PSD", Country: "GB", NCA: "FCA", Reference: "123456"}},
		{"PSDES-BDE-3DFD21", eidas.OrganizationIdentifier{Raw: "PSDES-BDE-3DFD21", Scheme: "PSD", Country: "ES", NCA: "BDE", Reference: "3DFD21"}},
		{"PSDDE-BAFIN-123-45/6", eidas.OrganizationIdentifier{Raw: "PSDDE-BAFIN-123-45/6", Scheme: "PSD", Country: "DE", NCA: "BAFIN", Reference: "123-45/6"}},
		{"PSDGB-OB-Unknown0015800001HQQrZAAX", eidas.OrganizationIdentifier{Raw: "PSDGB-OB-Unknown0015800001HQQrZAAX", Scheme: "PSD", Country: "GB", NCA: "OB", Reference: "Unknown0015800001HQQrZAAX"}},
		{"PSDFR-ABCDEFGH-x", eidas.OrganizationIdentifier{Raw: "PSDFR-ABCDEFGH-x", Scheme: "PSD", Country: "FR", NCA: "ABCDEFGH", Reference: "x"}},
		{"VATBE-0123456789", eidas.OrganizationIdentifier{Raw: "VATBE-0123456789", Scheme: "VAT", Country: "BE", Reference: "0123456789"}},
		{"NTRGB-01234567", eidas.OrganizationIdentifier{Raw: "NTRGB-01234567", Scheme: "NTR", Country: "GB", Reference: "01234567"}},
		{"LEIXG-5493001KJTIIGC8Y1R12", eidas.OrganizationIdentifier{Raw: "LEIXG-5493001KJTIIGC8Y1R12", Scheme: "LEI", Country: "XG", Reference: "5493001KJTIIGC8Y1R12"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := eidas.ParseOrganizationIdentifier(tt.in)
			if err != nil {
				t.Fatalf("ParseOrganizationIdentifier: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got := (eidas.OrganizationIdentifier{Scheme: "PSD", Country: "GB", NCA: "FCA"}).NCAID(); got != "GB-FCA" {
		t.Errorf("NCAID() = %q, want GB-FCA", got)
	}
	if got := (eidas.OrganizationIdentifier{Scheme: "VAT", Country: "GB"}).NCAID(); got != "" {
		t.Errorf("NCAID() of a VAT identifier = %q, want empty", got)
	}

	bad := []string{
		"", "PSD", "PSDGB", "PSDGB-", "PSDGB-FCA", "PSDGB-FCA-", "PSDGB-F-1", "PSDGB-ABCDEFGHI-1",
		"PSDgb-FCA-1", "PSDGB-fca-1", "PSDGB_FCA_1", "PSDGBR-FCA-1", "PSDGB-FC4-1", "psdGB-FCA-1",
		"VATBE-", "VATBE0123", "VAT-BE-1", "ABCGB-1", "IT:12345678901", "PSDGB-FCA-12\n3",
		"PSDGB-FCA-" + strings.Repeat("1", 300), "PSDGB-FCA-\xff",
	}
	for _, in := range bad {
		t.Run("bad/"+in, func(t *testing.T) {
			got, err := eidas.ParseOrganizationIdentifier(in)
			if !errors.Is(err, eidas.ErrBadOrganizationIdentifier) {
				t.Fatalf("ParseOrganizationIdentifier(%q) = %+v, %v; want ErrBadOrganizationIdentifier", in, got, err)
			}
		})
	}
}

func TestOrganizationIdentifierFromCertificate(t *testing.T) {
	ca := pkitest.NewCA(t, pkitest.CAOptions{})
	rdn := func(o asn1.ObjectIdentifier, value []byte) []byte { return tlv(0x31, seq(oid(o), value)) }
	cn := asn1.ObjectIdentifier{2, 5, 4, 3}
	tests := []struct {
		name    string
		opts    pkitest.LeafOptions
		want    string
		wantErr error
	}{
		{"PrintableString", pkitest.LeafOptions{Subject: pkix.Name{CommonName: "x"}, OrganizationIdentifier: "PSDGB-FCA-123456"}, "PSDGB-FCA-123456", nil},
		{"UTF8String", pkitest.LeafOptions{RawSubject: seq(rdn(eidas.OIDOrganizationID, utf8s("PSDGB-FCA-654321")), rdn(cn, utf8s("x")))}, "PSDGB-FCA-654321", nil},
		{"absent", pkitest.LeafOptions{Subject: pkix.Name{CommonName: "x"}}, "", eidas.ErrNoOrganizationIdentifier},
		{"twice", pkitest.LeafOptions{RawSubject: seq(rdn(eidas.OIDOrganizationID, utf8s("PSDGB-FCA-1")), rdn(eidas.OIDOrganizationID, utf8s("PSDGB-FCA-2")))}, "", eidas.ErrMultipleOrganizationIdentifiers},
		{"IA5String", pkitest.LeafOptions{RawSubject: seq(rdn(eidas.OIDOrganizationID, tlv(0x16, []byte("PSDGB-FCA-1"))))}, "", eidas.ErrBadOrganizationIdentifier},
		{"not a PSD2 form", pkitest.LeafOptions{RawSubject: seq(rdn(eidas.OIDOrganizationID, utf8s("GB-FCA-1")))}, "", eidas.ErrBadOrganizationIdentifier},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := ca.Issue(t, tt.opts)
			got, err := eidas.OrganizationIdentifierFromCertificate(leaf.Cert)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got.Raw != tt.want {
				t.Errorf("Raw = %q, want %q", got.Raw, tt.want)
			}
		})
	}
}
