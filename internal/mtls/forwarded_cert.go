package mtls

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Limits on a forwarded-certificate header value. A value over MaxForwardedCertBytes, or
// holding more than MaxChainCertificates certificates, is refused with [ErrTooLarge]
// before (or while) anything is decoded.
const (
	MaxForwardedCertBytes = 32 << 10
	MaxChainCertificates  = 10
)

// Errors of [ParseForwardedCert]. Every error it returns matches exactly one of them
// with [errors.Is].
var (
	// ErrMalformedHeader: the value is not valid in the configured format (bad
	// escaping, bad base64, text outside PEM blocks, a block that is not a certificate,
	// DER that crypto/x509 cannot parse, XFCC syntax errors, an XFCC Hash or Chain
	// that disagrees with its Cert, ...).
	ErrMalformedHeader = errors.New("mtls: malformed forwarded-certificate header")
	// ErrTooLarge: the value is longer than MaxForwardedCertBytes or holds more than
	// MaxChainCertificates certificates.
	ErrTooLarge = errors.New("mtls: forwarded-certificate header too large")
	// ErrNoCertificateInHeader: the value is well formed but carries no certificate
	// (an empty value, as nginx sends when the client presented none, or an XFCC
	// element without Cert and Chain).
	ErrNoCertificateInHeader = errors.New("mtls: no certificate in forwarded-certificate header")
	// ErrUnsupportedFormat: the HeaderFormat is not one of the defined constants (a
	// configuration error, never caused by the header value).
	ErrUnsupportedFormat = errors.New("mtls: unsupported forwarded-certificate header format")
)

// HeaderFormat is how a TLS-terminating proxy encodes the client's certificate chain in
// the forwarded-certificate header. The string values are the configuration names.
type HeaderFormat string

// The supported header formats.
const (
	// FormatPEMURLEncoded is URL-encoded (percent-encoded) PEM: one or more CERTIFICATE
	// blocks, leaf first. nginx $ssl_client_escaped_cert, AWS ALB
	// X-Amzn-Mtls-Clientcert (which leaves '+', '=' and '/' unescaped), HAProxy and F5
	// set-ups that URL-encode PEM. '+' is taken literally (it is a base64 character),
	// except in values whose PEM boundaries show form encoding ("BEGIN+CERTIFICATE").
	FormatPEMURLEncoded HeaderFormat = "pem-urlencoded"
	// FormatDERBase64 is base64 of one DER certificate, or a comma-separated list of them
	// (leaf first). Standard and URL-safe alphabets, with or without padding, are
	// accepted; an element may be wrapped in colons as an RFC 9440 / RFC 8941 byte
	// sequence (Client-Cert: :MIIB...:), so RFC 9440's Client-Cert header (leaf only)
	// is this format too.
	FormatDERBase64 HeaderFormat = "der-base64"
	// FormatXFCC is Envoy's X-Forwarded-Client-Cert: comma-separated elements of
	// semicolon-separated Key=Value pairs, values optionally double-quoted with \"
	// escapes. Only the LAST element is used: it is the one added by the proxy nearest
	// to Portcullis, the only one whose origin is known. Of its keys, Cert (URL-encoded
	// PEM leaf) and Chain (URL-encoded PEM chain, leaf first) carry the certificates;
	// Hash (hex SHA-256 of the leaf DER), when present, must match the leaf; By,
	// Subject, URI, DNS and unknown keys are ignored (they are derived data, re-derived
	// by pki from the certificate itself).
	FormatXFCC HeaderFormat = "xfcc"
)

// Valid reports whether f is one of the defined formats.
func (f HeaderFormat) Valid() bool {
	switch f {
	case FormatPEMURLEncoded, FormatDERBase64, FormatXFCC:
		return true
	}
	return false
}

// ParseForwardedCert decodes a forwarded-certificate header value in format f into the
// certificate chain it carries, leaf first, as sent (nothing is verified; pass the
// result to the pki Validator). It is pure and safe on attacker input.
//
// Errors: [ErrTooLarge] for a value over MaxForwardedCertBytes or a chain over
// MaxChainCertificates; [ErrNoCertificateInHeader] for an empty value (after trimming
// spaces and tabs) or an XFCC element with neither Cert nor Chain; [ErrMalformedHeader]
// for everything else that is wrong, wrapping the underlying cause where there is one;
// [ErrUnsupportedFormat] when f is not a defined format.
func ParseForwardedCert(value string, f HeaderFormat) ([]*x509.Certificate, error) {
	if !f.Valid() {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedFormat, string(f))
	}
	if len(value) > MaxForwardedCertBytes {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(value), MaxForwardedCertBytes)
	}
	value = trimOWS(value)
	if value == "" {
		return nil, ErrNoCertificateInHeader
	}
	switch f {
	case FormatPEMURLEncoded:
		return parseURLEncodedPEM(value)
	case FormatDERBase64:
		return parseDERBase64(value)
	default: // FormatXFCC
		return parseXFCC(value)
	}
}

// trimOWS removes RFC 9110 optional whitespace (SP, HTAB) from both ends.
func trimOWS(s string) string { return strings.Trim(s, " \t") }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedHeader}, args...)...)
}

// parseURLEncodedPEM percent-decodes value and parses the PEM chain in it.
func parseURLEncodedPEM(value string) ([]*x509.Certificate, error) {
	// PathUnescape keeps '+' literal: it is a base64 character, and AWS ALB leaves it
	// unescaped. Only a value whose PEM boundary shows that spaces were form-encoded as
	// '+' is decoded the form way (then every literal '+' arrived as %2B).
	text, err := url.PathUnescape(value)
	if err != nil {
		return nil, malformed("URL decoding: %w", err)
	}
	if strings.Contains(text, "-----BEGIN+") {
		if text, err = url.QueryUnescape(value); err != nil {
			return nil, malformed("URL decoding: %w", err)
		}
	}
	return parsePEMChain(text)
}

var (
	pemBegin = []byte("-----BEGIN ")
	pemSpace = " \t\r\n"
)

// parsePEMChain parses text that must consist of CERTIFICATE PEM blocks only, separated
// by whitespace, leaf first.
func parsePEMChain(text string) ([]*x509.Certificate, error) {
	rest := bytes.TrimLeft([]byte(text), pemSpace)
	var chain []*x509.Certificate
	for len(rest) > 0 {
		if !bytes.HasPrefix(rest, pemBegin) {
			return nil, malformed("data outside PEM blocks")
		}
		block, tail := pem.Decode(rest)
		if block == nil {
			return nil, malformed("invalid PEM block")
		}
		// pem.Decode skips a broken block and retries at the next BEGIN line: refuse
		// that, every byte must belong to the block just decoded.
		consumed := rest[:len(rest)-len(tail)]
		if bytes.Count(consumed, pemBegin) != 1 {
			return nil, malformed("invalid PEM block")
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			return nil, malformed("PEM block of type %q", block.Type)
		}
		if len(chain) == MaxChainCertificates {
			return nil, fmt.Errorf("%w: more than %d certificates", ErrTooLarge, MaxChainCertificates)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, malformed("certificate %d: %w", len(chain), err)
		}
		chain = append(chain, cert)
		rest = bytes.TrimLeft(tail, pemSpace)
	}
	if len(chain) == 0 {
		return nil, ErrNoCertificateInHeader
	}
	return chain, nil
}

// parseDERBase64 parses a comma-separated list of base64 DER certificates.
func parseDERBase64(value string) ([]*x509.Certificate, error) {
	if strings.Count(value, ",") >= MaxChainCertificates {
		return nil, fmt.Errorf("%w: more than %d certificates", ErrTooLarge, MaxChainCertificates)
	}
	parts := strings.Split(value, ",")
	chain := make([]*x509.Certificate, 0, len(parts))
	for i, p := range parts {
		p = trimOWS(p)
		// RFC 8941 byte sequence, as in RFC 9440 Client-Cert.
		if len(p) >= 2 && p[0] == ':' && p[len(p)-1] == ':' {
			p = p[1 : len(p)-1]
		}
		if p == "" {
			return nil, malformed("certificate %d: empty list element", i)
		}
		der, err := decodeBase64(p)
		if err != nil {
			return nil, malformed("certificate %d: base64: %w", i, err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, malformed("certificate %d: %w", i, err)
		}
		chain = append(chain, cert)
	}
	return chain, nil
}

// decodeBase64 accepts the standard and the URL-safe alphabet, padded or not. Mixing
// the alphabets is accepted too; that cannot change the decoded bytes' meaning, which
// crypto/x509 parses strictly.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.Map(func(r rune) rune {
		switch r {
		case '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, s)
	return base64.RawStdEncoding.DecodeString(s)
}
