package upstream

import "strings"

// Reserved header names.
//
// CGI and WSGI servers (and many proxies) reduce a header name to one form in
// which "_" and "-" are the same character and case does not matter:
// X_Portcullis_Psu_Id, x-portcullis_psu-id and X-Portcullis-Psu-Id all become
// HTTP_X_PORTCULLIS_PSU_ID. A name is therefore compared in its folded form
// ([foldName]: "_" read as "-", lower case), never byte for byte.

// strippedHeaders are removed from every forwarded request, besides the
// X-Portcullis-* prefix, Forwarded, X-Forwarded-* and the hop-by-hop headers
// ReverseProxy removes itself: credentials, forwarded-certificate headers (the
// list package mtls strips, kept here too so that the upstream boundary does not
// depend on the listener's configuration), identity headers other gateways use,
// which a bank might read, and method overrides (a framework that honours them
// would run another method than the one the route allowed).
var strippedHeaders = []string{
	"Proxy-Authorization",
	"Connection", "Upgrade", // no protocol switching through the gateway
	"X-Forwarded-Client-Cert", "X-Ssl-Client-Cert", "X-Ssl-Client-Escaped-Cert", "X-Ssl-Cert",
	"X-Client-Cert", "X-Client-Certificate", "Ssl-Client-Cert", "Client-Cert", "Client-Cert-Chain",
	"X-Amzn-Mtls-Clientcert", "X-Amzn-Mtls-Clientcert-Leaf", "X-Amzn-Mtls-Clientcert-Chain",
	"X-Arr-Clientcert", "X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info",
	"X-Ssl-Client-Verify", "X-Ssl-Client-Dn", "X-Ssl-Client-S-Dn", "X-Ssl-Client-I-Dn",
	"X-Client-Id", "X-Client-Dn", "X-Consumer-Id", "X-Consumer-Username", "X-Consumer-Custom-Id",
	"X-Consent-Id", "X-Psu-Id", "X-User-Id", "X-User", "X-Remote-User", "Remote-User",
	"X-Authenticated-User", "X-Authenticated-Userid", "X-Forwarded-User", "X-Forwarded-Email",
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Jwt-Assertion", "X-Wso2-Jwt",
	"X-Forwarded-Prefix", "X-Forwarded-Port", "X-Forwarded-Server", "X-Real-Ip", "X-Original-Forwarded-For",
	"X-Original-Uri", "X-Original-Method", "X-Original-Url", "X-Rewrite-Url", "X-Forwarded-Uri", "X-Forwarded-Method",
	"X-Envoy-Original-Path", "X-Envoy-Original-Url",
	headerMethodOverride, "X-Method-Override", "X-Http-Method",
}

// headerMethodOverride is the best known of the method-override headers.
const headerMethodOverride = "X-Http-Method-Override"

// methodOverrides are the folded method-override header names.
var methodOverrides = map[string]bool{"x-http-method-override": true, "x-method-override": true, "x-http-method": true}

// reservedFolded holds the folded form of every stripped name.
var reservedFolded = func() map[string]bool {
	m := make(map[string]bool, len(strippedHeaders))
	for _, h := range strippedHeaders {
		m[foldName(h)] = true
	}
	return m
}()

// Folded prefixes and names reserved as a whole.
const (
	foldedIdentityPrefix  = "x-portcullis-"
	foldedForwardedPrefix = "x-forwarded-"
	foldedForwarded       = "forwarded"
	foldedInteractionID   = "x-fapi-interaction-id"
)

// foldName returns name with "_" read as "-", in ASCII lower case: the form in
// which CGI/WSGI servers and many proxies compare header names.
func foldName(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case c == '_':
			b[i] = '-'
		case 'A' <= c && c <= 'Z':
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// ReservedHeader reports whether an inbound header named name must never reach an
// upstream from the caller, in any spelling: read with "_" as "-" and case folded,
// it is an X-Portcullis-* name, Forwarded or an X-Forwarded-* name, a
// forwarded-certificate, credential or other gateway's identity header, a method
// override (X-HTTP-Method-Override, X-Method-Override, X-HTTP-Method), or an
// underscore spelling of x-fapi-interaction-id (the canonical spelling is the
// caller's to send; Portcullis replaces its value). [Proxy] drops every such
// header before it sets its own; the external authorizer refuses the ones a
// proxy in front of it cannot be relied on to drop ([CallerOnlyHeader]).
func ReservedHeader(name string) bool { return reserved(name, foldName(name)) }

// reserved is [ReservedHeader] of name, whose folded form f the caller has already made.
func reserved(name, f string) bool {
	switch {
	case strings.HasPrefix(f, foldedIdentityPrefix), f == foldedForwarded, strings.HasPrefix(f, foldedForwardedPrefix),
		reservedFolded[f]:
		return true
	case f == foldedInteractionID:
		return strings.IndexByte(name, '_') >= 0
	}
	return false
}

// CallerOnlyHeader reports whether a [ReservedHeader] can only have been written
// by the caller, never by a well-behaved proxy in front of Portcullis: any
// spelling with "_" in it, any X-Portcullis-* name, and the method overrides.
// (The canonical spellings of Forwarded, X-Forwarded-* and the
// forwarded-certificate headers are what such a proxy legitimately sets.)
func CallerOnlyHeader(name string) bool {
	f := foldName(name)
	if !reserved(name, f) {
		return false
	}
	return strings.IndexByte(name, '_') >= 0 || strings.HasPrefix(f, foldedIdentityPrefix) || methodOverrides[f]
}
