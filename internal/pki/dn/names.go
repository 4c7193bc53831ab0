package dn

import (
	"encoding/asn1"
	"strings"
)

// attributeTypes is the own name table: the RFC 4514 §3 keywords plus the X.520,
// PKCS #9 and CA/Browser Forum EV attributes that appear in eIDAS / PSD2 and OB
// certificate subjects. The first name is the one rendered (it matches OpenSSL's short
// name except for STREET and givenName, where RFC 4514 / X.520 names are used); every
// name is accepted by Parse, case-insensitively.
var attributeTypes = []struct {
	oid   asn1.ObjectIdentifier
	names []string
}{
	{asn1.ObjectIdentifier{2, 5, 4, 3}, []string{"CN", "commonName"}},
	{asn1.ObjectIdentifier{2, 5, 4, 6}, []string{"C", "countryName"}},
	{asn1.ObjectIdentifier{2, 5, 4, 7}, []string{"L", "localityName"}},
	{asn1.ObjectIdentifier{2, 5, 4, 8}, []string{"ST", "stateOrProvinceName"}},
	{asn1.ObjectIdentifier{2, 5, 4, 10}, []string{"O", "organizationName"}},
	{asn1.ObjectIdentifier{2, 5, 4, 11}, []string{"OU", "organizationalUnitName"}},
	{asn1.ObjectIdentifier{2, 5, 4, 9}, []string{"STREET", "streetAddress"}},
	{asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, []string{"DC", "domainComponent"}},
	{asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, []string{"UID", "userId"}},
	{asn1.ObjectIdentifier{2, 5, 4, 5}, []string{"serialNumber"}},
	{asn1.ObjectIdentifier{2, 5, 4, 97}, []string{"organizationIdentifier"}},
	{asn1.ObjectIdentifier{2, 5, 4, 15}, []string{"businessCategory"}},
	{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3}, []string{"jurisdictionC", "jurisdictionCountryName"}},
	{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 2}, []string{"jurisdictionST", "jurisdictionStateOrProvinceName"}},
	{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 1}, []string{"jurisdictionL", "jurisdictionLocalityName"}},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, []string{"emailAddress", "E"}},
	{asn1.ObjectIdentifier{2, 5, 4, 42}, []string{"givenName", "GN"}},
	{asn1.ObjectIdentifier{2, 5, 4, 4}, []string{"SN", "surname"}},
	{asn1.ObjectIdentifier{2, 5, 4, 12}, []string{"title"}},
	{asn1.ObjectIdentifier{2, 5, 4, 17}, []string{"postalCode"}},
}

// typeName returns the rendered name of a known attribute type.
func typeName(oid asn1.ObjectIdentifier) (string, bool) {
	for _, t := range attributeTypes {
		if t.oid.Equal(oid) {
			return t.names[0], true
		}
	}
	return "", false
}

// typeByName looks a descriptor up case-insensitively (RFC 4512 §1.4).
func typeByName(name string) (asn1.ObjectIdentifier, bool) {
	for _, t := range attributeTypes {
		for _, n := range t.names {
			if strings.EqualFold(n, name) {
				return t.oid, true
			}
		}
	}
	return nil, false
}

// TypeName returns the name this package renders for an attribute type ("CN",
// "organizationIdentifier", ...) and false for types it renders as dotted OIDs.
func TypeName(oid asn1.ObjectIdentifier) (string, bool) { return typeName(oid) }
