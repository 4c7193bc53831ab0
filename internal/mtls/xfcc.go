package mtls

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
)

// xfccPair is one Key=Value of an X-Forwarded-Client-Cert element, value unquoted.
type xfccPair struct{ key, value string }

// parseXFCC parses an Envoy X-Forwarded-Client-Cert value and returns the chain carried
// by its last element (FormatXFCC).
func parseXFCC(value string) ([]*x509.Certificate, error) {
	elements, err := splitXFCC(value)
	if err != nil {
		return nil, err
	}
	last := elements[len(elements)-1]

	var cert, chain, hash string
	var haveCert, haveChain, haveHash bool
	for _, p := range last {
		var dst *string
		var seen *bool
		switch strings.ToLower(p.key) {
		case "cert":
			dst, seen = &cert, &haveCert
		case "chain":
			dst, seen = &chain, &haveChain
		case "hash":
			dst, seen = &hash, &haveHash
		default: // By, Subject, URI, DNS (repeatable), future keys: not used.
			continue
		}
		if *seen {
			return nil, malformed("xfcc: duplicate key %q", p.key)
		}
		*dst, *seen = p.value, true
	}
	if !haveCert && !haveChain {
		return nil, ErrNoCertificateInHeader
	}

	var leaf *x509.Certificate
	if haveCert {
		certs, err := parseURLEncodedPEM(cert)
		if err != nil {
			return nil, err
		}
		if len(certs) != 1 {
			return nil, malformed("xfcc: Cert holds %d certificates, want 1", len(certs))
		}
		leaf = certs[0]
	}
	result := []*x509.Certificate{leaf}
	if haveChain {
		certs, err := parseURLEncodedPEM(chain)
		if err != nil {
			return nil, err
		}
		if leaf != nil && !bytes.Equal(certs[0].Raw, leaf.Raw) {
			return nil, malformed("xfcc: Chain does not start with Cert")
		}
		result = certs
	}
	if haveHash {
		sum := sha256.Sum256(result[0].Raw)
		got, err := hex.DecodeString(hash)
		if err != nil || !bytes.Equal(got, sum[:]) {
			return nil, malformed("xfcc: Hash does not match the certificate")
		}
	}
	return result, nil
}

// splitXFCC tokenises an XFCC value into elements of pairs:
//
//	value   = element *( OWS "," OWS element )
//	element = pair *( ";" pair )
//	pair    = key "=" ( quoted / bare )
//	quoted  = DQUOTE *( qchar / "\" CHAR ) DQUOTE   ; "," ";" "=" literal inside
//	bare    = *( any char but "," ";" DQUOTE )      ; may be empty (URI=)
//
// It returns at least one element, each with at least one pair, or ErrMalformedHeader.
func splitXFCC(s string) ([][]xfccPair, error) {
	var (
		elements [][]xfccPair
		current  []xfccPair
		i        int
	)
	for {
		// key
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		start := i
		for i < len(s) && isTokenChar(s[i]) {
			i++
		}
		key := s[start:i]
		if key == "" || i >= len(s) || s[i] != '=' {
			return nil, malformed("xfcc: expected Key= at offset %d", start)
		}
		i++ // '='

		// value
		var value string
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' {
					if i+1 >= len(s) {
						break
					}
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return nil, malformed("xfcc: unterminated quoted value for %q", key)
			}
			value = b.String()
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
		} else {
			start := i
			for i < len(s) && s[i] != ',' && s[i] != ';' {
				if s[i] == '"' {
					return nil, malformed("xfcc: quote inside unquoted value for %q", key)
				}
				i++
			}
			value = trimOWS(s[start:i])
		}
		current = append(current, xfccPair{key: key, value: value})

		// separator
		if i >= len(s) {
			return append(elements, current), nil
		}
		switch s[i] {
		case ';':
			// next pair of this element
		case ',':
			elements = append(elements, current)
			current = nil
		default:
			return nil, malformed("xfcc: unexpected %q after value of %q", s[i], key)
		}
		i++
	}
}

// isTokenChar reports whether c is an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
