package dn

import (
	"encoding/asn1"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Parse parses an RFC 4514 distinguished name string, such as a client's registered
// tls_client_auth_subject_dn (RFC 8705 §2.1.2).
//
// It accepts the RFC 4514 §3 grammar: RDNs separated by ',', multi-valued RDNs joined
// with '+', attribute types as a descriptor from this package's table (matched
// case-insensitively, with the usual long-form aliases such as commonName or GN) or as
// a dotted OID, values as escaped strings ("\," "\\" "\+" "\#" "\ " "\XX" hex pairs) or
// as '#' followed by the hex of one DER element. It is lenient in one way only:
// spaces before an attribute type and around '=' are skipped ("CN=a, O=b" is read as
// "CN=a,O=b"); unescaped spaces inside a value are kept (Equal folds them).
//
// Errors: [ErrTooLarge] above [MaxStringLen] or [MaxAttributes]; [ErrUnknownType] for an unknown
// descriptor; [ErrSyntax] for everything else (unescaped '"' ';' '<' '>' or NUL, a bad
// escape, a value that is not valid UTF-8 after unescaping, a bad OID, a '#' value
// that is not exactly one well-formed element). The empty string is the empty name.
func Parse(s string) (Name, error) {
	if len(s) > MaxStringLen {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(s), MaxStringLen)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrSyntax)
	}
	p := &parser{s: s}
	if s == "" {
		return Name{}, nil
	}
	var name Name
	for {
		rdn, err := p.rdn()
		if err != nil {
			return nil, err
		}
		name = append(name, rdn)
		if p.eof() {
			return name, nil
		}
		// rdn() stops only at the end or at ','.
		p.i++
	}
}

type parser struct {
	s     string
	i     int
	count int // attributes so far
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrSyntax, p.i, fmt.Sprintf(format, args...))
}

func (p *parser) skipSpaces() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}

// rdn parses attributeTypeAndValue *( "+" attributeTypeAndValue ) and stops at ',' or
// the end.
func (p *parser) rdn() (RDN, error) {
	var rdn RDN
	for {
		a, err := p.attribute()
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, a)
		if p.eof() || p.s[p.i] == ',' {
			return rdn, nil
		}
		// attribute() stops only at the end, ',' or '+'.
		p.i++
	}
}

func (p *parser) attribute() (Attribute, error) {
	if p.count++; p.count > MaxAttributes {
		return Attribute{}, fmt.Errorf("%w: more than %d attributes", ErrTooLarge, MaxAttributes)
	}
	p.skipSpaces()
	var a Attribute
	var err error
	if a.Type, err = p.attributeType(); err != nil {
		return Attribute{}, err
	}
	p.skipSpaces()
	if p.eof() || p.s[p.i] != '=' {
		return Attribute{}, p.errorf("expected '='")
	}
	p.i++
	p.skipSpaces()
	if !p.eof() && p.s[p.i] == '#' {
		err = p.hexValue(&a)
	} else {
		err = p.stringValue(&a)
	}
	return a, err
}

// attributeType parses descr / numericoid (RFC 4512 §1.4).
func (p *parser) attributeType() (asn1.ObjectIdentifier, error) {
	start := p.i
	if p.eof() {
		return nil, p.errorf("expected an attribute type")
	}
	c := p.s[p.i]
	switch {
	case isAlpha(c):
		for !p.eof() && (isAlpha(p.s[p.i]) || isDigit(p.s[p.i]) || p.s[p.i] == '-') {
			p.i++
		}
		descr := p.s[start:p.i]
		oid, ok := typeByName(descr)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownType, truncate(descr))
		}
		return oid, nil
	case isDigit(c):
		for !p.eof() && (isDigit(p.s[p.i]) || p.s[p.i] == '.') {
			p.i++
		}
		oid, ok := parseNumericOID(p.s[start:p.i])
		if !ok {
			p.i = start
			return nil, p.errorf("invalid numeric OID")
		}
		return oid, nil
	}
	return nil, p.errorf("expected an attribute type")
}

// parseNumericOID parses number 1*( "." number ), number without leading zeros, into an
// OID that could be DER-encoded (first arc 0..2, second below 40 under 0 and 1, arcs
// below 2^31).
func parseNumericOID(s string) (asn1.ObjectIdentifier, bool) {
	var oid asn1.ObjectIdentifier
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			continue
		}
		part := s[start:i]
		if part == "" || len(part) > 10 || (len(part) > 1 && part[0] == '0') {
			return nil, false
		}
		n, err := strconv.Atoi(part)
		if err != nil || n > math.MaxInt32 {
			return nil, false
		}
		oid = append(oid, n)
		start = i + 1
	}
	if len(oid) < 2 || oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) {
		return nil, false
	}
	return oid, true
}

// hexValue parses hexstring = SHARP 1*hexpair, which must hold exactly one BER element.
func (p *parser) hexValue(a *Attribute) error {
	p.i++ // '#'
	start := p.i
	for !p.eof() && isHex(p.s[p.i]) {
		p.i++
	}
	digits := p.s[start:p.i]
	p.skipSpaces()
	if !p.eof() && p.s[p.i] != ',' && p.s[p.i] != '+' {
		return p.errorf("unexpected character in hex value")
	}
	if len(digits) == 0 || len(digits)%2 != 0 {
		return p.errorf("hex value needs an even, non-zero number of digits")
	}
	der := make([]byte, len(digits)/2)
	for i := range der {
		der[i] = unhex(digits[2*i])<<4 | unhex(digits[2*i+1])
	}
	elem := cryptobyte.String(der)
	var content cryptobyte.String
	var tag cbasn1.Tag
	if !elem.ReadAnyASN1(&content, &tag) || !elem.Empty() {
		return p.errorf("hex value is not exactly one DER element")
	}
	a.DER = der
	a.Value, a.IsString = decodeString(tag, content)
	return nil
}

// stringValue parses an RFC 4514 string up to an unescaped ',' or '+' or the end.
func (p *parser) stringValue(a *Attribute) error {
	var v []byte
	for !p.eof() {
		c := p.s[p.i]
		switch c {
		case ',', '+':
			goto done
		case '"', ';', '<', '>', 0:
			return p.errorf("character %q must be escaped", c)
		case '\\':
			p.i++
			if p.eof() {
				return p.errorf("dangling escape")
			}
			e := p.s[p.i]
			switch {
			case isHex(e):
				if p.i+1 >= len(p.s) || !isHex(p.s[p.i+1]) {
					return p.errorf("escape needs two hex digits")
				}
				v = append(v, unhex(e)<<4|unhex(p.s[p.i+1]))
				p.i += 2
			case e == ' ' || e == '"' || e == '#' || e == '+' || e == ',' || e == ';' ||
				e == '<' || e == '=' || e == '>' || e == '\\':
				v = append(v, e)
				p.i++
			default:
				return p.errorf("invalid escape")
			}
		default:
			v = append(v, c)
			p.i++
		}
	}
done:
	if !utf8.Valid(v) {
		return p.errorf("value is not valid UTF-8")
	}
	a.Value = string(v)
	a.IsString = true
	return nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
