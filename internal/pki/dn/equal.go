package dn

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Equal reports whether a and b name the same entity, comparing attribute by attribute
// in the manner of RFC 4517 §4.2.15 distinguishedNameMatch (RFC 8705 §2.1.2):
//
//   - same number of RDNs, compared position by position (order matters);
//   - each pair of RDNs holds the same attributes, in any order within the RDN;
//   - attributes match when their types are the same OID and either both values are
//     strings that are equal under an approximation of RFC 4517 caseIgnoreMatch
//     (whitespace runs folded to one space and trimmed, then Unicode simple case
//     folding; the string type — UTF8String, PrintableString, ... — does not matter),
//     or neither is a string and their DER is identical.
//
// A string never equals a non-string value. The approximation is stricter than full
// RFC 4518 string preparation (no character mapping or normalisation), so it can only
// fail to match, never match more.
func Equal(a, b Name) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !rdnEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

func rdnEqual(a, b RDN) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
outer:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && attributeEqual(x, y) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}

func attributeEqual(a, b Attribute) bool {
	if !a.Type.Equal(b.Type) || a.IsString != b.IsString {
		return false
	}
	if a.IsString {
		return caseIgnoreEqual(a.Value, b.Value)
	}
	return len(a.DER) > 0 && bytes.Equal(a.DER, b.DER)
}

// caseIgnoreEqual compares a and b after trimming leading and trailing white space and
// folding every inner run of white space to one space (RFC 4518 §2.6.1,
// approximately), with Unicode simple case folding, without allocating.
func caseIgnoreEqual(a, b string) bool {
	a = strings.TrimFunc(a, unicode.IsSpace)
	b = strings.TrimFunc(b, unicode.IsSpace)
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		sa, sb := unicode.IsSpace(ra), unicode.IsSpace(rb)
		switch {
		case sa && sb:
			a = strings.TrimLeftFunc(a, unicode.IsSpace)
			b = strings.TrimLeftFunc(b, unicode.IsSpace)
			continue
		case sa || sb || !foldRuneEqual(ra, rb):
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b == ""
}

// foldRuneEqual reports whether a and b are equal under simple case folding.
func foldRuneEqual(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}
