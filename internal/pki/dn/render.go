package dn

import (
	"encoding/asn1"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Render returns the RFC 4514 string of a DER-encoded Name, typically a certificate's
// RawSubject or RawIssuer. It is [FromDER] followed by [Name.String], and fails with
// [ErrTooLarge] or [ErrMalformed] as they do, or with ErrTooLarge when the rendering
// would exceed [MaxStringLen].
//
// For the subject of the spec's example OB certificate it returns
// "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB",
// exactly what `openssl x509 -noout -subject -nameopt RFC2253` prints.
func Render(raw []byte) (string, error) {
	n, err := FromDER(raw)
	if err != nil {
		return "", err
	}
	s := n.String()
	if len(s) > MaxStringLen {
		return "", fmt.Errorf("%w: rendering is %d bytes", ErrTooLarge, len(s))
	}
	return s, nil
}

// FromDER decodes a DER X.501 Name (RDNSequence, RFC 5280 §4.1.2.4). The result is in
// RFC 4514 string order (see [Name]). Every attribute keeps its value's DER; values of
// character string types are decoded into Value (IsString), strings whose contents are
// invalid for their type are kept as DER only.
//
// Errors: [ErrTooLarge] above [MaxDERLen] or [MaxAttributes]; [ErrMalformed] for anything that is not an
// RDNSequence (including an RDN with no attribute and trailing data).
func FromDER(raw []byte) (Name, error) {
	if len(raw) > MaxDERLen {
		return nil, fmt.Errorf("%w: %d bytes of DER (limit %d)", ErrTooLarge, len(raw), MaxDERLen)
	}
	input := cryptobyte.String(raw)
	var seq cryptobyte.String
	if !input.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: not a SEQUENCE", ErrMalformed)
	}
	if !input.Empty() {
		return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	var name Name
	count := 0
	for i := 0; !seq.Empty(); i++ {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			return nil, fmt.Errorf("%w: RDN %d is not a SET", ErrMalformed, i)
		}
		if set.Empty() {
			return nil, fmt.Errorf("%w: RDN %d is empty", ErrMalformed, i)
		}
		var rdn RDN
		for !set.Empty() {
			var atv cryptobyte.String
			var a Attribute
			var elem cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&a.Type) ||
				!atv.ReadAnyASN1Element(&elem, &tag) || !atv.Empty() {
				return nil, fmt.Errorf("%w: RDN %d: bad AttributeTypeAndValue", ErrMalformed, i)
			}
			a.DER = append([]byte(nil), elem...)
			var content cryptobyte.String
			if !elem.ReadAnyASN1(&content, &tag) {
				return nil, fmt.Errorf("%w: RDN %d: bad value", ErrMalformed, i)
			}
			a.Value, a.IsString = decodeString(tag, content)
			if count++; count > MaxAttributes {
				return nil, fmt.Errorf("%w: more than %d attributes", ErrTooLarge, MaxAttributes)
			}
			rdn = append(rdn, a)
		}
		reverse(rdn)
		name = append(name, rdn)
	}
	reverse(name)
	return name, nil
}

func reverse[S ~[]E, E any](s S) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// decodeString decodes the contents of a character string value to UTF-8. It reports
// false for non-string types and for contents invalid for their type.
func decodeString(tag cbasn1.Tag, b []byte) (string, bool) {
	switch tag {
	case cbasn1.UTF8String:
		if !utf8.Valid(b) {
			return "", false
		}
		return string(b), true
	case cbasn1.PrintableString:
		for _, c := range b {
			if !isPrintable(c) {
				return "", false
			}
		}
		return string(b), true
	case cbasn1.IA5String:
		for _, c := range b {
			if c >= 0x80 {
				return "", false
			}
		}
		return string(b), true
	case 18: // NumericString
		for _, c := range b {
			if (c < '0' || c > '9') && c != ' ' {
				return "", false
			}
		}
		return string(b), true
	case 26: // VisibleString
		for _, c := range b {
			if c < 0x20 || c > 0x7e {
				return "", false
			}
		}
		return string(b), true
	case cbasn1.T61String:
		// Read as Latin-1, as OpenSSL does.
		var sb strings.Builder
		for _, c := range b {
			sb.WriteRune(rune(c))
		}
		return sb.String(), true
	case 30: // BMPString: UCS-2, big-endian
		if len(b)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			if utf16.IsSurrogate(rune(u[i])) {
				return "", false
			}
		}
		return string(utf16.Decode(u)), true
	case 28: // UniversalString: UCS-4, big-endian
		if len(b)%4 != 0 {
			return "", false
		}
		var sb strings.Builder
		for i := 0; i < len(b); i += 4 {
			r := rune(uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3]))
			if !utf8.ValidRune(r) {
				return "", false
			}
			sb.WriteRune(r)
		}
		return sb.String(), true
	}
	return "", false
}

// isPrintable: X.680 PrintableString, plus '*' and '&' which Go's crypto/x509 also
// accepts because real certificates use them.
func isPrintable(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case ' ', '\'', '(', ')', '+', ',', '-', '.', '/', ':', '=', '?', '*', '&':
		return true
	}
	return false
}

// String renders n per RFC 4514 §2, with OpenSSL's RFC2253 choices where the RFC leaves
// one open:
//   - RDNs joined with ',', the attributes of a multi-valued RDN with '+', no spaces;
//   - known types by the name in this package's table; others as a dotted OID;
//   - string values of known types with ',', '+', '"', '\', '<', '>', ';' escaped as
//     "\c", a leading ' ' or '#' and a trailing ' ' as "\c", and control characters
//     (including NUL), DEL and every byte of a non-ASCII character as "\XX";
//   - values of unknown types, and non-string values, as '#' and the upper-case hex
//     of their DER (RFC 4514 §2.4).
func (n Name) String() string {
	var b strings.Builder
	for i, rdn := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range rdn {
			if j > 0 {
				b.WriteByte('+')
			}
			writeAttribute(&b, a)
		}
	}
	return b.String()
}

// String renders one attribute as in [Name.String].
func (a Attribute) String() string {
	var b strings.Builder
	writeAttribute(&b, a)
	return b.String()
}

func writeAttribute(b *strings.Builder, a Attribute) {
	name, known := typeName(a.Type)
	if known {
		b.WriteString(name)
	} else {
		b.WriteString(a.Type.String())
	}
	b.WriteByte('=')
	if known && a.IsString {
		escapeValue(b, a.Value)
		return
	}
	der := a.DER
	if der == nil {
		der = utf8StringDER(a.Value)
	}
	b.WriteByte('#')
	writeHex(b, der)
}

const hexDigits = "0123456789ABCDEF"

func writeHex(b *strings.Builder, p []byte) {
	for _, c := range p {
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
}

func escapeValue(b *strings.Builder, v string) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';',
			i == 0 && (c == ' ' || c == '#'),
			i == len(v)-1 && c == ' ':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			b.WriteByte('\\')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0x0f])
		default:
			b.WriteByte(c)
		}
	}
}

// utf8StringDER encodes s as a DER UTF8String.
func utf8StringDER(s string) []byte {
	var bld cryptobyte.Builder
	bld.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
	der, err := bld.Bytes()
	if err != nil {
		// Only a length beyond 2^32 fails; parsed values are bounded far below that.
		der, _ = asn1.Marshal(asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(s)})
	}
	return der
}
