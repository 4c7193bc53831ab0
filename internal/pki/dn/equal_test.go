package dn_test

import (
	"testing"

	"github.com/portcullis/portcullis/internal/pki/dn"
)

func TestEqual(t *testing.T) {
	ob := name(rdn(atv(oidC, printableTag, "GB")), rdn(atv(oidO, printableTag, "Example TPP Ltd")),
		rdn(atv(oidOrgID, printableTag, "PSDGB-FCA-123456")), rdn(atv(oidCN, printableTag, "0015800001HQQrZAAX")))
	multi := name(rdn(atv(oidC, printableTag, "GB")), rdn(atv(oidCN, utf8Tag, "client"), atv(oidSerial, printableTag, "42")))
	unknown := name(rdn(seq(oidDER("1.3.6.1.4.1.99999.7"), tlv(0x02, []byte{0x01, 0x00}))))
	tests := []struct {
		name string
		der  []byte // the certificate side
		reg  string // the registered tls_client_auth_subject_dn
		want bool
	}{
		{"identical", ob, "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB", true},
		{"case and type aliases", ob, "cn=0015800001hqqrzaax,2.5.4.97=psdgb-fca-123456,organizationName=EXAMPLE TPP LTD,countryName=gb", true},
		{"white space folded", ob, "CN=  0015800001HQQrZAAX ,organizationIdentifier=PSDGB-FCA-123456,O=Example   TPP\\20Ltd,C=GB", true},
		{"tab and no-break space folded", ob, "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example\\09TPP\\C2\\A0\\20Ltd,C=GB", true},
		{"spaces after commas", ob, "CN=0015800001HQQrZAAX, organizationIdentifier=PSDGB-FCA-123456, O=Example TPP Ltd, C=GB", true},
		{"hex value as UTF8String", ob, "CN=#0C1230303135383030303031485151725A414158,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB", true},
		{"hex value in lower case", ob, "CN=#131230303135383030303031687171727a616178,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB", true},
		{"Go's rendering does not match", ob, "CN=0015800001HQQrZAAX,O=Example TPP Ltd,C=GB,2.5.4.97=#131050534447422d4643412d313233343536", false},
		{"other org id", ob, "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-654321,O=Example TPP Ltd,C=GB", false},
		{"RDN missing", ob, "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd", false},
		{"RDN extra", ob, "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB,C=GB", false},
		{"order reversed", ob, "C=GB,O=Example TPP Ltd,organizationIdentifier=PSDGB-FCA-123456,CN=0015800001HQQrZAAX", false},
		{"inner space differs", ob, "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=ExampleTPP Ltd,C=GB", false},
		{"other type, same value", ob, "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,OU=Example TPP Ltd,C=GB", false},
		{"multi-valued in any order", multi, "serialNumber=42+CN=client,C=GB", true},
		{"multi-valued in DER order", multi, "CN=client+serialNumber=42,C=GB", true},
		{"multi-valued split into two RDNs", multi, "CN=client,serialNumber=42,C=GB", false},
		{"multi-valued missing one", multi, "CN=client,C=GB", false},
		{"multi-valued duplicated", multi, "CN=client+CN=client,C=GB", false},
		{"non-string by DER", unknown, "1.3.6.1.4.1.99999.7=#02020100", true},
		{"non-string DER differs", unknown, "1.3.6.1.4.1.99999.7=#02020101", false},
		{"non-string vs string", unknown, "1.3.6.1.4.1.99999.7=0100", false},
		{"empty names", name(), "", true},
		{"empty vs one", name(), "CN=x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := dn.FromDER(tt.der)
			if err != nil {
				t.Fatal(err)
			}
			b, err := dn.Parse(tt.reg)
			if err != nil {
				t.Fatal(err)
			}
			if got := dn.Equal(a, b); got != tt.want {
				t.Errorf("Equal(%q, %q) = %v, want %v", a, tt.reg, got, tt.want)
			}
			if got := dn.Equal(b, a); got != tt.want {
				t.Errorf("Equal is not symmetric for %q", tt.reg)
			}
		})
	}
}
