package eidas

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// maxOrganizationIdentifierLen bounds the attribute (X.520 gives no upper bound; real
// values are a few dozen characters).
const maxOrganizationIdentifierLen = 256

// The organizationIdentifier schemes [ParseOrganizationIdentifier] accepts
// (EN 319 412-1 §5.1.4).
const (
	SchemePSD = "PSD" // PSD2 authorisation: PSD + country + "-" + NCA + "-" + number
	SchemeVAT = "VAT" // VAT number
	SchemeNTR = "NTR" // national trade register
	SchemeLEI = "LEI" // Legal Entity Identifier
)

// ParseOrganizationIdentifier splits an organizationIdentifier value
// (EN 319 412-1 §5.1.4, TS 119 495 GEN-5.2.1-3; pki.md §1.4).
//
// Accepted forms: `^PSD[A-Z]{2}-[A-Z]{2,8}-.+$` (e.g. "PSDGB-FCA-123456") and
// `^(VAT|NTR|LEI)[A-Z]{2}-.+$` (e.g. "VATBE-0123456789"), at most 256 bytes of valid
// UTF-8 without control characters. Anything else, including the "XX:" national
// scheme form, is [ErrBadOrganizationIdentifier].
func ParseOrganizationIdentifier(s string) (OrganizationIdentifier, error) {
	bad := func(why string) (OrganizationIdentifier, error) {
		return OrganizationIdentifier{}, fmt.Errorf("%w: %s: %q", ErrBadOrganizationIdentifier, why, truncate(s))
	}
	if len(s) > maxOrganizationIdentifierLen {
		return bad("too long")
	}
	if !utf8.ValidString(s) {
		return bad("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return bad("control character")
		}
	}
	if len(s) < 6 || !isUpperAlpha(s[3:5]) || s[5] != '-' {
		return bad("not <scheme><country>-...")
	}
	o := OrganizationIdentifier{Raw: s, Scheme: s[:3], Country: s[3:5]}
	rest := s[6:]
	switch o.Scheme {
	case SchemePSD:
		i := 0
		for i < len(rest) && rest[i] >= 'A' && rest[i] <= 'Z' {
			i++
		}
		if i < 2 || i > 8 || i == len(rest) || rest[i] != '-' {
			return bad("PSD form needs a 2-8 letter NCA code followed by '-'")
		}
		o.NCA = rest[:i]
		o.Reference = rest[i+1:]
	case SchemeVAT, SchemeNTR, SchemeLEI:
		o.Reference = rest
	default:
		return bad("unknown scheme")
	}
	if o.Reference == "" {
		return bad("empty reference")
	}
	return o, nil
}

// NCAID returns the nCAId the PSD2 statement must carry for this identifier
// ("PSDGB-FCA-…" → "GB-FCA"), or "" when the scheme is not PSD.
func (o OrganizationIdentifier) NCAID() string {
	if o.Scheme != SchemePSD {
		return ""
	}
	return o.Country + "-" + o.NCA
}

// OrganizationIdentifierFromCertificate finds the organizationIdentifier attribute
// (2.5.4.97) in cert.RawSubject and parses it with [ParseOrganizationIdentifier].
//
// It returns [ErrNoOrganizationIdentifier] when the subject has none,
// [ErrMultipleOrganizationIdentifiers] when it has more than one, and
// [ErrBadOrganizationIdentifier] when the subject cannot be decoded, the value is not a
// PrintableString or UTF8String (X.520), or it is in no accepted form.
func OrganizationIdentifierFromCertificate(cert *x509.Certificate) (OrganizationIdentifier, error) {
	value, err := findOrganizationIdentifier(cert.RawSubject)
	if err != nil {
		return OrganizationIdentifier{}, err
	}
	return ParseOrganizationIdentifier(value)
}

// findOrganizationIdentifier walks Name ::= SEQUENCE OF SET OF AttributeTypeAndValue.
func findOrganizationIdentifier(rawSubject []byte) (string, error) {
	malformed := fmt.Errorf("%w: malformed subject", ErrBadOrganizationIdentifier)
	input := cryptobyte.String(rawSubject)
	var rdns cryptobyte.String
	if !input.ReadASN1(&rdns, cbasn1.SEQUENCE) || !input.Empty() {
		return "", malformed
	}
	var value string
	found := 0
	for !rdns.Empty() {
		var set cryptobyte.String
		if !rdns.ReadASN1(&set, cbasn1.SET) {
			return "", malformed
		}
		for !set.Empty() {
			var atv cryptobyte.String
			var oid asn1.ObjectIdentifier
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&oid) ||
				!atv.ReadAnyASN1(&v, &tag) || !atv.Empty() {
				return "", malformed
			}
			if !oid.Equal(OIDOrganizationID) {
				continue
			}
			found++
			if found > 1 {
				return "", ErrMultipleOrganizationIdentifiers
			}
			switch tag {
			case cbasn1.UTF8String:
				if !utf8.Valid(v) {
					return "", fmt.Errorf("%w: not valid UTF-8", ErrBadOrganizationIdentifier)
				}
			case cbasn1.PrintableString:
				if !isPrintableString(v) {
					return "", fmt.Errorf("%w: invalid PrintableString", ErrBadOrganizationIdentifier)
				}
			default:
				return "", fmt.Errorf("%w: value has tag %d, want PrintableString or UTF8String", ErrBadOrganizationIdentifier, tag)
			}
			value = string(v)
		}
	}
	if found == 0 {
		return "", ErrNoOrganizationIdentifier
	}
	return value, nil
}

// isPrintableString reports whether b holds only X.680 PrintableString characters.
func isPrintableString(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == ' ', c == '\'', c == '(', c == ')', c == '+', c == ',', c == '-',
			c == '.', c == '/', c == ':', c == '=', c == '?':
		default:
			return false
		}
	}
	return true
}
