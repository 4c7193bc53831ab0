package mtls

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/portcullis/portcullis/internal/pki"
)

// Errors of [ClientIdentity], [From] and [PresentedChain], besides the Validator's own
// errors and those of [ParseForwardedCert].
var (
	// ErrNoClientCertificate: the caller presented no certificate (none in the
	// handshake; or, from a trusted proxy, no header, or a header without a
	// certificate, in which case the error also matches ErrNoCertificateInHeader).
	ErrNoClientCertificate = errors.New("mtls: no client certificate")
	// ErrNoExtractor: the request did not pass through [Extractor.Middleware] (a wiring
	// error; map it to a server error, not to a client error).
	ErrNoExtractor = errors.New("mtls: request did not pass through the mtls Extractor")
	// errIncomplete is what a request keeps if the Validator panicked.
	errIncomplete = errors.New("mtls: certificate validation did not complete")
)

// callerKey is the context key of a request's *callerCert.
type callerKey struct{}

// callerCert is a request's certificate source and, once asked for, its parsed chain and
// validation outcome.
type callerCert struct {
	e            *Extractor
	remoteAddr   string
	source       Source
	headerValues []string            // SourceForwardedHeader: the header's lines
	peer         []*x509.Certificate // SourceHandshake: r.TLS.PeerCertificates

	parseOnce sync.Once
	chain     []*x509.Certificate
	chainErr  error

	validateOnce sync.Once
	id           *pki.Identity
	idErr        error
}

// presented parses the chain, once.
func (cc *callerCert) presented() ([]*x509.Certificate, error) {
	cc.parseOnce.Do(func() {
		cc.chainErr = errIncomplete
		cc.chain, cc.chainErr = cc.parse()
	})
	return cc.chain, cc.chainErr
}

func (cc *callerCert) parse() ([]*x509.Certificate, error) {
	switch cc.source {
	case SourceHandshake:
		// Its length is bounded by crypto/tls's handshake message limit here, and
		// checked against the configured limit by the Validator (pki.ErrChainTooLong).
		return cc.peer, nil
	case SourceForwardedHeader:
		switch n := len(cc.headerValues); {
		case n == 0:
			return nil, fmt.Errorf("%w: the trusted proxy sent no %s header", ErrNoClientCertificate, cc.e.header)
		case n > 1:
			// Which line is whose is unknowable: refuse rather than guess.
			return nil, fmt.Errorf("%w: %d %s header lines", ErrMalformedHeader, n, cc.e.header)
		}
		chain, err := ParseForwardedCert(cc.headerValues[0], cc.e.format)
		if errors.Is(err, ErrNoCertificateInHeader) {
			return nil, fmt.Errorf("%w: %w", ErrNoClientCertificate, err)
		}
		return chain, err
	}
	return nil, ErrNoClientCertificate
}

// identity validates the chain, once.
func (cc *callerCert) identity(ctx context.Context) (*pki.Identity, error) {
	cc.validateOnce.Do(func() {
		cc.idErr = errIncomplete
		chain, err := cc.presented()
		if err != nil {
			if !errors.Is(err, ErrNoClientCertificate) {
				cc.e.rejected(ctx, cc, nil, err)
			}
			cc.idErr = err
			return
		}
		id, err := cc.e.validator.Validate(ctx, chain, pki.PurposeTransport)
		if err == nil && id == nil {
			err = errors.New("mtls: validator returned neither an identity nor an error")
		}
		if err != nil {
			cc.e.rejected(ctx, cc, chain, err)
			cc.idErr = err
			return
		}
		cc.id, cc.idErr = id, nil
	})
	return cc.id, cc.idErr
}

// ClientIdentity returns the validated identity of the certificate the caller of r
// presented (in the handshake, or through a trusted proxy's header). The chain is
// validated by the Validator for pki.PurposeTransport on the first call for a request;
// later calls for the same request return the same result.
//
// Exactly one of the results is non-nil. The error is:
//   - [ErrNoClientCertificate] when there is no certificate (possibly also matching
//     [ErrNoCertificateInHeader]);
//   - an error matching [ErrMalformedHeader] or [ErrTooLarge] when a trusted proxy's
//     header could not be parsed;
//   - the Validator's error, unchanged (errors.As it into pki's types) when the chain
//     is bad or its status could not be established;
//   - [ErrNoExtractor] when r did not pass through [Extractor.Middleware].
func ClientIdentity(r *http.Request) (*pki.Identity, error) { return From(r.Context()) }

// From is [ClientIdentity] for a request context.
func From(ctx context.Context) (*pki.Identity, error) {
	cc, ok := ctx.Value(callerKey{}).(*callerCert)
	if !ok {
		return nil, ErrNoExtractor
	}
	return cc.identity(ctx)
}

// PresentedChain returns the chain the caller of r presented, leaf first, WITHOUT
// validation: holding it proves nothing about trust. It exists for
// self_signed_tls_client_auth (RFC 8705 §2.2), which matches the leaf against a
// registered key instead of a trust anchor, and for the certificate binding of tokens
// issued to such clients. In handshake mode the caller proved possession of the leaf's
// key; in header mode the trusted proxy vouches for that. Errors as for
// [ClientIdentity], except that no Validator error can occur.
func PresentedChain(r *http.Request) ([]*x509.Certificate, error) {
	cc, ok := r.Context().Value(callerKey{}).(*callerCert)
	if !ok {
		return nil, ErrNoExtractor
	}
	chain, err := cc.presented()
	if err != nil {
		return nil, err
	}
	return slices.Clone(chain), nil
}

// Require returns middleware for route groups that need a valid client certificate: it
// calls [ClientIdentity] and, on any error, calls onError (the caller's renderer of the
// protocol error: RFC 6749 401 invalid_client on OAuth endpoints, the OBIE error body on
// API routes) and never calls next. onError must not be nil.
func Require(onError func(w http.ResponseWriter, r *http.Request, err error)) func(http.Handler) http.Handler {
	if onError == nil {
		panic("mtls: Require with a nil onError")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := ClientIdentity(r); err != nil {
				onError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
