package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// hsts is the Strict-Transport-Security value: one year, this host only (a bank decides
// includeSubDomains and preload for its whole domain at its edge).
const hsts = "max-age=31536000"

// SecurityHeaders sets the headers every response of the pages carries. imgOrigin and
// formOrigin, when not empty, are origins ("https://tpp.example") added to img-src and
// form-action; they come from [Request.LogoURI] and [Request.RedirectURI] through
// [origin], never from the browser's request. No CORS header is ever set.
func SecurityHeaders(h http.Header, imgOrigin, formOrigin string) {
	var csp strings.Builder
	csp.WriteString("default-src 'self'; script-src 'none'; object-src 'none'; img-src 'self'")
	if imgOrigin != "" {
		csp.WriteString(" " + imgOrigin)
	}
	csp.WriteString("; frame-ancestors 'none'; form-action 'self'")
	if formOrigin != "" {
		csp.WriteString(" " + formOrigin)
	}
	csp.WriteString("; base-uri 'none'")
	h.Set("Content-Security-Policy", csp.String())
	h.Set("X-Frame-Options", "DENY")
	h.Set("Strict-Transport-Security", hsts)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// cspSource is what an origin must look like to be placed into a CSP: no spaces,
// semicolons, commas or quotes can slip through.
var cspSource = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://([A-Za-z0-9.\-]+|\[[0-9a-fA-F:.]+\])(:[0-9]{1,5})?$`)

// origin returns the CSP source expression of raw's origin (scheme://host[:port]) for
// an absolute https URL (http only for loopback hosts, as in dev mode), or "" when raw
// is anything else.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return ""
	}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return ""
		}
	default:
		return ""
	}
	o := u.Scheme + "://" + strings.ToLower(u.Host)
	if !cspSource.MatchString(o) {
		return ""
	}
	return o
}
