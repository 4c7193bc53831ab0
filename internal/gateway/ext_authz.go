package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/upstream"
)

// ExtAuthzPath is where the external-authorizer endpoint is mounted (on the https
// listener), both as the exact path (nginx, Traefik) and as a prefix (Envoy).
const ExtAuthzPath = "/ext-authz/check"

// maxOriginalURI bounds the original request-target an ext-authz check names.
const maxOriginalURI = 8 << 10

// Headers naming the original request in external-authorizer checks.
const (
	headerForwardedMethod = "X-Forwarded-Method" // Traefik ForwardAuth
	headerForwardedURI    = "X-Forwarded-Uri"    // Traefik ForwardAuth
	headerOriginalMethod  = "X-Original-Method"  // nginx auth_request (proxy_set_header)
	headerOriginalURI     = "X-Original-Uri"     // nginx auth_request (proxy_set_header)
)

// ExtAuthz returns the external-authorizer handler. Mount it at [ExtAuthzPath] and
// ExtAuthzPath + "/" on the https listener, behind obs.Middleware and the mtls
// Extractor (in header mode, trusting the proxy that calls it). It is meant for a
// proxy on a private network: only Options.ExtAuthzPeers may call it, everyone
// else gets 404.
//
// A check names the original request in one of two ways:
//
//   - Envoy HTTP ext_authz (http_service.path_prefix: /ext-authz/check): the check
//     request has the original method and the original path and query appended to
//     the prefix (/ext-authz/check/open-banking/v3.1/aisp/accounts?x=1); the
//     original headers arrive as configured by allowed_headers (include
//     authorization, x-fapi-interaction-id and the forwarded-certificate header);
//     with_request_body passes the body for consent checks. Any X-Forwarded-Uri
//     style header is ignored in this form.
//   - nginx auth_request and Traefik ForwardAuth: a check at exactly
//     /ext-authz/check with X-Original-Method / X-Original-URI (nginx: set them
//     with proxy_set_header from $request_method and $request_uri) or
//     X-Forwarded-Method / X-Forwarded-Uri (Traefik, which sets them itself; keep
//     trustForwardHeader false so a client cannot). If both pairs are present they
//     must agree; exactly one value each.
//
// The caller's certificate comes from the mtls Extractor, i.e. from the
// forwarded-certificate header of the trusted proxy (X-Forwarded-Client-Cert for
// Envoy, $ssl_client_escaped_cert for nginx, X-Forwarded-Tls-Client-Cert for
// Traefik — whichever the listener is configured for).
//
// The proxy in front passes the original request's headers on to the upstream
// and Portcullis cannot remove them, so a check whose original request carries a
// header that only the caller can have set and that the upstream would read as
// identity or request metadata (upstream.CallerOnlyHeader: an underscore spelling
// of a reserved name such as X_Portcullis_Psu_Id, any X-Portcullis-* header, a
// method override) is refused with 400 (Code reserved_header); proxy mode drops
// the same headers instead. The path must be canonical, as in proxy mode.
//
// The same route table and the same chain as proxy mode decide; the answer is the
// same status and body as proxy mode would give for a refusal, and for an allow
// 200 with an empty body and the identity headers (X-Portcullis-*, or
// X-Portcullis-Identity in jwt mode, and x-fapi-interaction-id) for the proxy to
// copy onto the upstream request (Envoy allowed_upstream_headers, Traefik
// authResponseHeaders, nginx auth_request_set). A consent validator's
// ModifiedPayload cannot be applied in this mode and is ignored. nginx passes on
// 401 and 403 answers and turns every other status (404, 503, …) into 500.
func (g *Gateway) ExtAuthz() http.Handler {
	return http.HandlerFunc(g.serveExtAuthz)
}

func (g *Gateway) serveExtAuthz(w http.ResponseWriter, r *http.Request) {
	r = withInteractionID(w, r)
	if !g.peerAllowed(r.RemoteAddr) {
		g.reject(w, r, modeExtAuthz, auditUnrouted, "", fmt.Errorf("%w: ext-authz call from %s", ErrRouteNotFound, r.RemoteAddr))
		return
	}
	method, target, err := originalRequest(r)
	if err != nil {
		g.reject(w, r, modeExtAuthz, auditUnrouted, "", err)
		return
	}
	sr := r.Clone(r.Context())
	sr.Method = method
	sr.URL = target
	sr.RequestURI = target.RequestURI()
	sr.Pattern = ""
	for _, h := range []string{headerForwardedMethod, headerForwardedURI, headerOriginalMethod, headerOriginalURI} {
		sr.Header.Del(h)
	}
	if err := checkCanonicalPath(sr.URL); err != nil {
		g.reject(w, r, modeExtAuthz, auditUnrouted, "", err)
		return
	}
	for k := range sr.Header {
		if upstream.CallerOnlyHeader(k) {
			g.reject(w, r, modeExtAuthz, auditUnrouted, "", fmt.Errorf("%w: %.64q", ErrReservedHeader, k))
			return
		}
	}
	if !servable(sr) {
		g.reject(w, r, modeExtAuthz, auditUnrouted, "", ErrRouteNotFound)
		return
	}
	g.checkMux.ServeHTTP(w, sr)
}

// allow answers an ext-authz check that passed every stage.
func (g *Gateway) allow(w http.ResponseWriter, r *http.Request, id *upstream.Identity) {
	h := w.Header()
	if err := g.identifier.Set(h, id, r.Method, r.URL.EscapedPath()); err != nil {
		g.reject(w, r, modeExtAuthz, id.Route, id.ClientID, err)
		return
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

func (g *Gateway) peerAllowed(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().WithZone("").Unmap()
	for _, p := range g.peers {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// originalRequest finds the method and request-target of the request being
// authorized. Errors match ErrBadExtAuthzRequest.
func originalRequest(r *http.Request) (string, *url.URL, error) {
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), ExtAuthzPath); ok && rest != "" {
		// Envoy: the original path follows the prefix.
		if rest[0] != '/' {
			return "", nil, fmt.Errorf("%w: path %q", ErrBadExtAuthzRequest, truncate(rest))
		}
		uri := rest
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
		u, err := parseOriginURI(uri)
		return r.Method, u, err
	}
	method, err := oneOf(r.Header, headerForwardedMethod, headerOriginalMethod)
	if err != nil {
		return "", nil, err
	}
	if !validMethod(method) {
		return "", nil, fmt.Errorf("%w: method %q", ErrBadExtAuthzRequest, truncate(method))
	}
	uri, err := oneOf(r.Header, headerForwardedURI, headerOriginalURI)
	if err != nil {
		return "", nil, err
	}
	u, err := parseOriginURI(uri)
	return method, u, err
}

// oneOf returns the single value of header a or b; both present must agree.
func oneOf(h http.Header, a, b string) (string, error) {
	va, vb := h.Values(a), h.Values(b)
	if len(va) > 1 || len(vb) > 1 {
		return "", fmt.Errorf("%w: repeated %s / %s", ErrBadExtAuthzRequest, a, b)
	}
	switch {
	case len(va) == 1 && len(vb) == 1 && va[0] != vb[0]:
		return "", fmt.Errorf("%w: %s and %s disagree", ErrBadExtAuthzRequest, a, b)
	case len(va) == 1:
		return va[0], nil
	case len(vb) == 1:
		return vb[0], nil
	}
	return "", fmt.Errorf("%w: neither %s nor %s", ErrBadExtAuthzRequest, a, b)
}

// parseOriginURI parses an origin-form request-target (RFC 9112 §3.2.1): an
// absolute path and an optional query, nothing else.
func parseOriginURI(s string) (*url.URL, error) {
	if len(s) == 0 || len(s) > maxOriginalURI || s[0] != '/' || strings.HasPrefix(s, "//") {
		return nil, fmt.Errorf("%w: request-target is not origin-form", ErrBadExtAuthzRequest)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '#' {
			return nil, fmt.Errorf("%w: request-target holds %q", ErrBadExtAuthzRequest, c)
		}
	}
	u, err := url.ParseRequestURI(s)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return nil, fmt.Errorf("%w: request-target does not parse", ErrBadExtAuthzRequest)
	}
	return u, nil
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
