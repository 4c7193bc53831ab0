package sandbox

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Handler returns the HTTP handler for the URLs this CA writes into its certificates, at
// the base URL's path (e.g. /pki when the base URL is http://127.0.0.1:9090/pki):
//
//	POST {path}/ocsp          OCSP request in the body (RFC 6960 appendix A.1)
//	GET  {path}/ocsp/{req}    url-encoded base64 OCSP request (RFC 6960 A.1, RFC 5019 §5)
//	GET  {path}/issuing.crl   DER CRL of the issuing CA (the leaves' CRL distribution point)
//	GET  {path}/root.crl      DER CRL of the root (the issuing CA's distribution point)
//	GET  {path}/ca.crt        DER root certificate
//	GET  {path}/issuing.crt   DER issuing CA certificate (the leaves' caIssuers)
//
// Anything else is 404 (405 for a wrong method). The handler routes on the raw request
// path itself: mount it ahead of an http.ServeMux (which cleans paths and would turn a
// base64 "//" in a GET OCSP request into a redirect), e.g. by dispatching every request
// whose path starts with [CA.PathPrefix] to it.
//
// OCSP answers come from the issuance database, re-read whenever its file changed (one
// stat per request), so revocations made by `portcullis pki revoke` in another process
// show up on the next request. Responses are signed by a delegated responder certificate
// (id-kp-OCSPSigning, id-pkix-ocsp-nocheck, 72 h, renewed at half-life) that the response
// carries; a request nonce is echoed. Requests are limited to 4 KiB. log receives internal
// failures only (nil: discarded); request contents are not logged.
func (ca *CA) Handler(log *slog.Logger) http.Handler {
	if log == nil {
		log = discard
	}
	return &handler{ca: ca, log: log, prefix: ca.PathPrefix()}
}

// PathPrefix returns the escaped path of the base URL without a trailing slash ("" when the
// base URL has no path): the prefix of every path [CA.Handler] serves.
func (ca *CA) PathPrefix() string {
	u, err := url.Parse(ca.baseURL)
	if err != nil { // normalised when the CA was created or opened
		return ca.baseURL
	}
	return u.EscapedPath()
}

type handler struct {
	ca     *CA
	log    *slog.Logger
	prefix string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), h.prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case rest == "/ocsp" || rest == "/ocsp/":
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		der, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOCSPRequest))
		if err != nil {
			h.writeOCSPError(w, r, fmt.Errorf("%w: body: %v", errOCSPMalformed, err))
			return
		}
		h.serveOCSP(w, r, der)
	case strings.HasPrefix(rest, "/ocsp/"):
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		der, err := decodeGETRequest(strings.TrimPrefix(rest, "/ocsp/"))
		if err != nil {
			h.writeOCSPError(w, r, err)
			return
		}
		h.serveOCSP(w, r, der)
	case rest == "/ca.crt" || rest == "/issuing.crt":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		cert := h.ca.root
		if rest == "/issuing.crt" {
			cert = h.ca.issuing
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(cert.Raw)
	case rest == "/issuing.crl" || rest == "/root.crl":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		scope := scopeIssuing
		if rest == "/root.crl" {
			scope = scopeRoot
		}
		h.serveCRL(w, r, scope)
	default:
		http.NotFound(w, r)
	}
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// decodeGETRequest undoes the url-encoding and base64 of a GET OCSP request.
func decodeGETRequest(escaped string) ([]byte, error) {
	if len(escaped) > 3*base64.StdEncoding.EncodedLen(maxOCSPRequest) {
		return nil, fmt.Errorf("%w: request path too long", errOCSPMalformed)
	}
	b64, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOCSPMalformed, err)
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOCSPMalformed, err)
	}
	return der, nil
}

func (h *handler) serveOCSP(w http.ResponseWriter, r *http.Request, der []byte) {
	ans, err := h.ca.answerOCSP(der)
	if err != nil {
		h.writeOCSPError(w, r, err)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/ocsp-response")
	if r.Method != http.MethodPost && !ans.nonce {
		// RFC 5019 §6.2: a GET response may be cached until nextUpdate.
		maxAge := int(ans.nextUpdate.Sub(ans.thisUpdate) / time.Second)
		hdr.Set("Cache-Control", fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", maxAge))
		hdr.Set("Last-Modified", ans.thisUpdate.Format(http.TimeFormat))
		hdr.Set("Expires", ans.nextUpdate.Format(http.TimeFormat))
	} else {
		hdr.Set("Cache-Control", "no-store")
	}
	w.Write(ans.der)
}

// writeOCSPError answers with an unsigned OCSP error status (RFC 6960 §2.3).
func (h *handler) writeOCSPError(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case errors.Is(err, errOCSPMalformed):
		w.Write(ocsp.MalformedRequestErrorResponse)
	case errors.Is(err, errOCSPUnauthorized):
		w.Write(ocsp.UnauthorizedErrorResponse)
	default:
		h.log.Error("sandbox OCSP responder failed", "path", r.URL.Path, "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(ocsp.InternalErrorErrorResponse)
	}
}

func (h *handler) serveCRL(w http.ResponseWriter, r *http.Request, s crlScope) {
	ca := h.ca
	ca.mu.Lock()
	err := ca.refreshLocked()
	var c *crlCache
	if err == nil {
		c, err = ca.crlLocked(s)
	}
	ca.mu.Unlock()
	if err != nil {
		h.log.Error("sandbox CRL unavailable", "path", r.URL.Path, "err", err)
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/pkix-crl")
	// Revocations re-issue the CRL at once; make caches ask again rather than keep a
	// superseded CRL until its nextUpdate.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Last-Modified", c.thisUpdate.UTC().Format(http.TimeFormat))
	w.Write(c.der)
}
