// Package dn owns distinguished names as strings: the RFC 4514 rendering of a
// certificate's raw subject ([Render]), the parser of an RFC 4514 string ([Parse]) and
// the attribute-by-attribute comparison of two names ([Equal]) that RFC 8705 §2.1.2
// tls_client_auth_subject_dn matching needs (pki.md §1.7).
//
// It exists because Go's pkix.Name.String() renders organizationIdentifier
// (2.5.4.97) as hex and moves it to the end, so it can neither show an eIDAS subject
// as operators and clients write it nor be compared with a registered DN. Rendering
// works from the DER (cert.RawSubject), never from pkix.Name, and produces what
// `openssl x509 -noout -subject -nameopt RFC2253` prints for the same certificate,
// with three deliberate differences: streetAddress and givenName are written STREET
// and givenName (RFC 4514 / X.520) where OpenSSL writes street and GN, and a value
// consisting of a single '#' is escaped (OpenSSL 3.0 leaves it bare, which does not
// parse back).
//
// The package refuses to compare names as whole strings, to guess at attribute types
// it does not know (they render as dotted OIDs with a `#`-hex value), and to accept
// input longer than [MaxDERLen] / [MaxStringLen]. It does no I/O and never panics on
// malformed input (fuzzed).
package dn

import (
	"encoding/asn1"
	"errors"
)

// Size limits on untrusted input.
const (
	// MaxDERLen is the longest DER-encoded Name [FromDER] and [Render] accept.
	MaxDERLen = 4 << 10
	// MaxStringLen is the longest string [Parse] accepts and [Render] produces. It is
	// large enough for any rendering of a MaxDERLen name that is not pathological.
	MaxStringLen = 16 << 10
	// MaxAttributes is the most attributes (over all RDNs) a name may hold; real
	// subjects have a dozen at most. It also bounds the work of [Equal].
	MaxAttributes = 128
)

// Errors. Every error returned by this package wraps exactly one of them.
var (
	// ErrTooLarge: the input (or the rendering) exceeds MaxDERLen / MaxStringLen, or
	// the name has more than MaxAttributes attributes.
	ErrTooLarge = errors.New("dn: distinguished name too large")
	// ErrMalformed: the DER is not an X.501 Name (RDNSequence): wrong tags or lengths,
	// an empty RDN, trailing data.
	ErrMalformed = errors.New("dn: malformed DER name")
	// ErrSyntax: the string is not an RFC 4514 distinguished name.
	ErrSyntax = errors.New("dn: invalid RFC 4514 string")
	// ErrUnknownType: the string names an attribute type by a descriptor this package
	// does not know (write it as a dotted OID instead).
	ErrUnknownType = errors.New("dn: unknown attribute type name")
)

// Attribute is one AttributeTypeAndValue.
type Attribute struct {
	Type asn1.ObjectIdentifier
	// Value is the value as text, when IsString. Values of any ASN.1 character string
	// type (UTF8String, PrintableString, IA5String, TeletexString as Latin-1,
	// BMPString, UniversalString, ...) are decoded to UTF-8 here.
	Value string
	// IsString reports whether the value is a character string (and Value holds it).
	// It is false for values of other ASN.1 types and for strings whose contents are
	// invalid for their type; those are compared and rendered by their DER only.
	IsString bool
	// DER is the value's encoding (tag, length, contents). It is set for names
	// decoded from DER and for values written in `#`-hex form; nil for values parsed
	// from a plain string.
	DER []byte
}

// RDN is a RelativeDistinguishedName: one or more attributes (multi-valued when more
// than one; written joined with '+').
type RDN []Attribute

// Name is a distinguished name as a list of RDNs in the order of its RFC 4514 string
// form: the most specific RDN first, i.e. the reverse of the DER (RDNSequence) order.
// Within an RDN the attributes are likewise in reverse DER order, as OpenSSL prints
// them.
type Name []RDN
