package sandbox

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
)

// attributeNames are the short names used when rendering the subjects this CA writes.
var attributeNames = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{2, 5, 4, 3}, "CN"},
	{asn1.ObjectIdentifier{2, 5, 4, 6}, "C"},
	{asn1.ObjectIdentifier{2, 5, 4, 10}, "O"},
	{asn1.ObjectIdentifier{2, 5, 4, 11}, "OU"},
	{asn1.ObjectIdentifier{2, 5, 4, 97}, "organizationIdentifier"},
}

// formatName renders a name this CA built in RFC 4514 order (last RDN first), with
// organizationIdentifier by name — unlike pkix.Name.String, which hex-encodes it
// (pki.md §1.7). It is for display and the issuance database, not for DN matching.
func formatName(rdns pkix.RDNSequence) string {
	var parts []string
	for i := len(rdns) - 1; i >= 0; i-- {
		var atvs []string
		for _, atv := range rdns[i] {
			name := atv.Type.String()
			for _, a := range attributeNames {
				if a.oid.Equal(atv.Type) {
					name = a.name
				}
			}
			s, ok := atv.Value.(string)
			if !ok {
				der, _ := asn1.Marshal(atv.Value)
				atvs = append(atvs, name+"=#"+hex.EncodeToString(der))
				continue
			}
			atvs = append(atvs, name+"="+escapeRFC4514(s))
		}
		parts = append(parts, strings.Join(atvs, "+"))
	}
	return strings.Join(parts, ",")
}

// escapeRFC4514 escapes an attribute value per RFC 4514 §2.4.
func escapeRFC4514(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '"' || r == '+' || r == ',' || r == ';' || r == '<' || r == '>' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case (r == ' ' || r == '#') && i == 0, r == ' ' && i == len(s)-1:
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == 0:
			fmt.Fprintf(&b, "\\00")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
