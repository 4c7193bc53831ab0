package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// HeaderFormat is how a TLS-terminating proxy encodes the client certificate it
// forwards.
type HeaderFormat string

// The forwarded-certificate encodings.
const (
	// HeaderPEMURLEncoded is a URL-encoded PEM certificate (nginx
	// $ssl_client_escaped_cert, AWS ALB, Traefik).
	HeaderPEMURLEncoded HeaderFormat = "pem-urlencoded"
	// HeaderDERBase64 is the base64 of the DER certificate (HAProxy, Azure).
	HeaderDERBase64 HeaderFormat = "der-base64"
	// HeaderXFCC is Envoy's x-forwarded-client-cert element list (its Cert= field).
	HeaderXFCC HeaderFormat = "xfcc"
)

// MTLS says where the client certificate comes from: the TLS handshake always, and a
// header set by a TLS-terminating proxy only when configured. The header is honoured
// only on connections from TrustedProxies and removed from every other request.
type MTLS struct {
	// Header is the forwarded-certificate header name. Empty (the default) means the
	// handshake is the only source.
	Header string `koanf:"header"`
	// HeaderFormat is the header's encoding; required when Header is set.
	HeaderFormat HeaderFormat `koanf:"header_format"`
	// TrustedProxies are the CIDR prefixes (e.g. 10.0.0.0/8, 192.0.2.7/32) whose
	// connections may carry Header; required when Header is set. A prefix with host
	// bits set or covering every address (/0) is refused.
	TrustedProxies []string `koanf:"trusted_proxies"`
}

// Proxies returns TrustedProxies parsed. Call it on a validated configuration; an
// entry that does not parse is left out, so the result never trusts more than
// configured.
func (m MTLS) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range m.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil && p == p.Masked() && p.Bits() > 0 {
			out = append(out, p)
		}
	}
	return out
}

func (m MTLS) validate() []error {
	var errs []error
	if m.Header != "" && !validHeaderName(m.Header) {
		errs = append(errs, fieldErr("mtls.header", "is not a valid HTTP header name"))
	}
	switch m.HeaderFormat {
	case HeaderPEMURLEncoded, HeaderDERBase64, HeaderXFCC:
	case "":
		if m.Header != "" {
			errs = append(errs, fieldErr("mtls.header_format", "is required when mtls.header is set (pem-urlencoded, der-base64 or xfcc)"))
		}
	default:
		errs = append(errs, fieldErr("mtls.header_format", "must be pem-urlencoded, der-base64 or xfcc, not %q", m.HeaderFormat))
	}
	if m.Header != "" && len(m.TrustedProxies) == 0 {
		errs = append(errs, fieldErr("mtls.trusted_proxies", "is required when mtls.header is set"))
	}
	for i, s := range m.TrustedProxies {
		field := fmt.Sprintf("mtls.trusted_proxies[%d]", i)
		p, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			errs = append(errs, fieldErr(field, "%q is not a CIDR prefix (e.g. 10.0.0.0/8 or 192.0.2.7/32)", s))
		case p != p.Masked():
			errs = append(errs, fieldErr(field, "%q has host bits set (did you mean %s?)", s, p.Masked()))
		case p.Bits() == 0:
			errs = append(errs, fieldErr(field, "%q would trust every address", s))
		}
	}
	return errs
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}
