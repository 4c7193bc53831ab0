package mtls

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/pki"
)

// Validator decides whether a presented chain is good; package pki implements it. The
// chain is leaf first, as presented; Validate builds the path to a trust anchor itself.
// It returns a non-nil Identity and a nil error, or a nil Identity and an error (typed
// by pki: checked-and-bad apart from could-not-check).
type Validator interface {
	Validate(ctx context.Context, chain []*x509.Certificate, purpose pki.Purpose) (*pki.Identity, error)
}

// Source says where a request's certificate chain came from.
type Source int

// The certificate sources.
const (
	SourceNone            Source = iota // no certificate, or the middleware did not run
	SourceHandshake                     // the TLS handshake with Portcullis
	SourceForwardedHeader               // a trusted proxy's forwarded-certificate header
)

// String returns "none", "handshake" or "forwarded-header".
func (s Source) String() string {
	switch s {
	case SourceHandshake:
		return "handshake"
	case SourceForwardedHeader:
		return "forwarded-header"
	}
	return "none"
}

// wellKnownCertHeaders are request headers various proxies use to forward a client
// certificate. None of them is ever read unless it is the configured header and the
// request comes from a trusted proxy; all are deleted from every request, so that
// nothing downstream (an upstream bank API behind the gateway included) can be fooled
// by one a client set itself.
var wellKnownCertHeaders = []string{
	"X-Forwarded-Client-Cert",     // Envoy, Istio
	"X-Ssl-Client-Cert",           // nginx convention
	"X-Ssl-Client-Escaped-Cert",   // nginx convention
	"X-Ssl-Cert",                  // nginx / HAProxy convention
	"X-Client-Cert",               // generic
	"X-Client-Certificate",        // generic
	"Ssl-Client-Cert",             // Apache convention
	"Client-Cert",                 // RFC 9440
	"Client-Cert-Chain",           // RFC 9440
	"X-Amzn-Mtls-Clientcert",      // AWS ALB (verify mode)
	"X-Amzn-Mtls-Clientcert-Leaf", // AWS ALB (passthrough mode)
	"X-Amzn-Mtls-Clientcert-Chain",
	"X-Arr-Clientcert",                 // Azure App Service / ARR
	"X-Forwarded-Tls-Client-Cert",      // Traefik
	"X-Forwarded-Tls-Client-Cert-Info", // Traefik
}

// Options configures an [Extractor]. The zero value (apart from the required Validator)
// means handshake certificates only, no forwarded header trusted from anyone.
type Options struct {
	// Validator validates every chain for pki.PurposeTransport. Required.
	Validator Validator

	// Header is the name of the request header a TLS-terminating proxy puts the
	// client's certificate chain in, in Format. Empty: header mode is off, only
	// handshake certificates are used (and every well-known certificate header is
	// stripped from every request).
	Header string
	// Format is the encoding of Header. Required when Header is set.
	Format HeaderFormat
	// TrustedProxies are the source address ranges of the proxies whose Header is
	// honoured, matched against the IP of r.RemoteAddr (the TCP peer). Required when
	// Header is set; must be empty otherwise. A /0 prefix is refused. A request from a
	// trusted proxy takes its certificate from Header only, never from the handshake
	// (which, from a proxy, authenticates the proxy, not the client).
	TrustedProxies []netip.Prefix

	// Logger receives a warning for every request from an untrusted address that
	// carries a certificate header (remote address and header name, never the value)
	// and an info record for every rejected certificate. nil discards.
	Logger *slog.Logger
	// Registerer, when set, gets the counter
	// portcullis_mtls_untrusted_forwarded_cert_total{header}.
	Registerer prometheus.Registerer
	// Audit, when set, is called for every forged-header attempt and every rejected
	// certificate (DESIGN.md "certificate rejected" audit event). It must not block.
	Audit func(ctx context.Context, ev AuditEvent)
}

// AuditKind names an [AuditEvent].
type AuditKind string

// The audit events of this package.
const (
	// AuditUntrustedForwardedCert: a certificate header arrived from an address that is
	// not a trusted proxy; it was deleted.
	AuditUntrustedForwardedCert AuditKind = "mtls.forwarded_cert_untrusted"
	// AuditCertificateRejected: a presented chain (or a trusted proxy's header) failed
	// parsing or validation.
	AuditCertificateRejected AuditKind = "mtls.certificate_rejected"
)

// AuditEvent is one security-relevant event. It holds no secret: certificates are
// public, and header values are never included.
type AuditEvent struct {
	Kind       AuditKind
	RemoteAddr string
	Source     Source
	Header     string // the header concerned (AuditUntrustedForwardedCert)
	Thumbprint string // base64url SHA-256 of the leaf DER, when one was parsed
	Err        error  // why the certificate was rejected (AuditCertificateRejected)
}

// Extractor finds each request's certificate chain and validates it on demand. Build
// one with [NewExtractor] and install [Extractor.Middleware] as the outermost handler of
// the https listener. It is safe for concurrent use.
type Extractor struct {
	validator Validator
	header    string // canonical form; "" when header mode is off
	format    HeaderFormat
	proxies   []netip.Prefix
	strip     []string // well-known certificate headers other than header
	log       *slog.Logger
	untrusted *prometheus.CounterVec
	audit     func(context.Context, AuditEvent)
}

// NewExtractor checks o and returns an Extractor. Errors name the offending field:
// a nil Validator; a Header that is not an HTTP token; a Header without a valid Format
// or without TrustedProxies; TrustedProxies without Header; an invalid or /0 prefix;
// a Registerer that already holds an incompatible collector of the same name.
func NewExtractor(o Options) (*Extractor, error) {
	if o.Validator == nil {
		return nil, errors.New("mtls: Options.Validator is required")
	}
	e := &Extractor{
		validator: o.Validator,
		format:    o.Format,
		log:       o.Logger,
		audit:     o.Audit,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if o.Header != "" {
		if !isToken(o.Header) {
			return nil, fmt.Errorf("mtls: Options.Header %q is not a valid header name", o.Header)
		}
		if !o.Format.Valid() {
			return nil, fmt.Errorf("mtls: Options.Format %q: want %q, %q or %q",
				string(o.Format), FormatPEMURLEncoded, FormatDERBase64, FormatXFCC)
		}
		if len(o.TrustedProxies) == 0 {
			return nil, errors.New("mtls: Options.TrustedProxies is required when Options.Header is set")
		}
		e.header = textproto.CanonicalMIMEHeaderKey(o.Header)
	} else if len(o.TrustedProxies) > 0 {
		return nil, errors.New("mtls: Options.TrustedProxies is set but Options.Header is not")
	}
	for _, p := range o.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("mtls: Options.TrustedProxies: invalid prefix %v", p)
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("mtls: Options.TrustedProxies: %v would trust every address", p)
		}
		e.proxies = append(e.proxies, p.Masked())
	}
	for _, h := range wellKnownCertHeaders {
		if h = textproto.CanonicalMIMEHeaderKey(h); h != e.header {
			e.strip = append(e.strip, h)
		}
	}

	e.untrusted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_mtls_untrusted_forwarded_cert_total",
		Help: "Requests from an address that is not a trusted proxy carrying a client-certificate header (deleted).",
	}, []string{"header"})
	if o.Registerer != nil {
		if err := o.Registerer.Register(e.untrusted); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("mtls: registering metrics: %w", err)
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, fmt.Errorf("mtls: registering metrics: %w", err)
			}
			e.untrusted = existing
		}
	}
	return e, nil
}

// Middleware returns a handler that, for every request, before calling next:
//
//  1. if the request's TCP peer is a trusted proxy, takes the configured Header's value
//     as the certificate source (and only it: no header means no certificate, the
//     handshake certificate of a proxy authenticates the proxy); otherwise the TLS
//     handshake (r.TLS.PeerCertificates), if any, is the source;
//  2. deletes the configured Header and every well-known certificate header
//     (X-Forwarded-Client-Cert, X-SSL-Client-Cert, Client-Cert,
//     X-Amzn-Mtls-Clientcert, ...) from r.Header, so that no handler or upstream reads
//     one. A certificate header on a request from an untrusted address is logged
//     (warning: remote address and header name, never the value), counted in
//     portcullis_mtls_untrusted_forwarded_cert_total{header} and audited;
//  3. records that source in the request context for [ClientIdentity], [From] and
//     [PresentedChain]. Parsing and validation are lazy: they run when a handler first
//     asks, once per request.
func (e *Extractor) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cc := e.inspect(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, cc)))
	})
}

// inspect captures the request's certificate source and strips every certificate
// header from r.
func (e *Extractor) inspect(r *http.Request) *callerCert {
	trusted := e.fromTrustedProxy(r.RemoteAddr)
	for _, h := range e.strip {
		e.drop(r, h, trusted)
	}
	cc := &callerCert{e: e, remoteAddr: r.RemoteAddr}
	if e.header != "" {
		if trusted {
			cc.source = SourceForwardedHeader
			cc.headerValues = slices.Clone(r.Header.Values(e.header))
		}
		e.drop(r, e.header, trusted)
		if trusted {
			return cc
		}
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		cc.source = SourceHandshake
		cc.peer = r.TLS.PeerCertificates
	}
	return cc
}

// drop deletes header h from r. When r came from an untrusted address and carried h,
// the attempt is logged, counted and audited.
func (e *Extractor) drop(r *http.Request, h string, trusted bool) {
	if _, present := r.Header[h]; !present {
		return
	}
	r.Header.Del(h)
	if trusted {
		return
	}
	e.log.LogAttrs(r.Context(), slog.LevelWarn, "client-certificate header from an untrusted address removed",
		slog.String("remote_addr", r.RemoteAddr),
		slog.String("header", h))
	e.untrusted.WithLabelValues(h).Inc()
	if e.audit != nil {
		e.audit(r.Context(), AuditEvent{
			Kind:       AuditUntrustedForwardedCert,
			RemoteAddr: r.RemoteAddr,
			Header:     h,
		})
	}
}

// fromTrustedProxy reports whether remoteAddr's IP lies in a trusted proxy prefix.
// Anything unparsable is untrusted.
func (e *Extractor) fromTrustedProxy(remoteAddr string) bool {
	if len(e.proxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().WithZone("").Unmap()
	for _, p := range e.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// rejected logs and audits a chain that failed parsing or validation.
func (e *Extractor) rejected(ctx context.Context, cc *callerCert, chain []*x509.Certificate, err error) {
	var thumb string
	if len(chain) > 0 {
		sum := sha256.Sum256(chain[0].Raw)
		thumb = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	e.log.LogAttrs(ctx, slog.LevelInfo, "client certificate rejected",
		slog.String("remote_addr", cc.remoteAddr),
		slog.String("source", cc.source.String()),
		slog.String("thumbprint", thumb),
		slog.String("error", err.Error()))
	if e.audit != nil {
		e.audit(ctx, AuditEvent{
			Kind:       AuditCertificateRejected,
			RemoteAddr: cc.remoteAddr,
			Source:     cc.source,
			Thumbprint: thumb,
			Err:        err,
		})
	}
}

// isToken reports whether s is a non-empty RFC 9110 token (a valid header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}
