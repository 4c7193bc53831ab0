package oauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/dcr"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// FromError is the one mapping from the domain errors of the packages below the
// authorization server to wire errors (STYLE.md "Map domain → wire in exactly one
// function"; fapi.md §1). The first rule that matches err's chain wins:
//
//	*Error                                         itself
//	*clientauth.Error (any reason)                 401 invalid_client, its description
//	store.ErrUnavailable                           503 temporarily_unavailable
//	clientauth.ErrInternal                         500 server_error, no detail
//	*dcr.Error                                     400 with its RFC 7591 code and description
//	*client.MetadataError                          400 with its RFC 7591 code and description
//	dcr.ErrUnavailable                             503 temporarily_unavailable
//	clientauth.ErrCertificateStatusUnavailable,    503 temporarily_unavailable
//	  pki.ErrRevocationUnavailable
//	context.DeadlineExceeded, context.Canceled     503 temporarily_unavailable
//	token.ErrRevocationStateUnavailable            503 temporarily_unavailable
//	token.ErrMalformed, ErrBadSignature,           401 invalid_token (RFC 6750 §3.1)
//	  ErrWrongType, ErrExpired, ErrNotYetValid,
//	  ErrWrongIssuer, ErrWrongAudience, ErrRevoked,
//	  ErrCertificateMismatch
//	mtls.ErrNoClientCertificate                    401 invalid_client "client certificate required"
//	mtls.ErrMalformedHeader, mtls.ErrTooLarge,     401 invalid_client "client certificate invalid"
//	  *pki.ValidationError
//	store.ErrNotFound, ErrConsumed, ErrExpired,    400 invalid_grant
//	  ErrRevoked
//	store.ErrInvalidInput                          400 invalid_request
//	anything else                                  500 server_error, no detail
//
// Client authentication's own "could not check" errors (clientauth.ErrInternal: the client
// registry or the jti store did not answer, the context ended, a wiring mistake) stay 500
// whatever they wrap, as clientauth documents: a store or context error underneath never
// turns them into a grant or input error. The one exception is the database being
// unreachable (store.ErrUnavailable, the store's own verdict): whichever component met it,
// the request failed because a dependency is down, which is a 503 with Retry-After, as
// during a revocation-service outage — it is checked first for that reason.
//
// The store rule exists for the grants, whose single-use artefacts (codes, refresh tokens)
// are the only store records a token request redeems; an endpoint for which another code
// is right wraps the store error in its own *Error first. Errors that depend on context
// more than on their type — store.ErrReplay (a request object, a DPoP proof, a client
// assertion), token.ErrUnbound and token.ErrInvalidClaims at issuance (a programming
// error: the endpoint checks the certificate first), jose errors — are deliberately not
// mapped: unwrapped they are server errors, so a forgotten wrap fails closed.
//
// Every non-*Error result carries err as its internal cause, for the log line written
// with the interaction id; nothing of the cause reaches the wire. FromError(nil) is nil.
func FromError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ce *clientauth.Error
	if errors.As(err, &ce) {
		return InvalidClient(ce.Description).WithCause(err)
	}
	if errors.Is(err, store.ErrUnavailable) {
		return TemporarilyUnavailable(err)
	}
	if errors.Is(err, clientauth.ErrInternal) {
		return ServerError(err)
	}
	var de *dcr.Error
	if errors.As(err, &de) {
		return newError(http.StatusBadRequest, de.Code, de.Description).WithCause(err)
	}
	var me *client.MetadataError
	if errors.As(err, &me) {
		return newError(http.StatusBadRequest, me.Code, me.Description).WithCause(err)
	}
	if errors.Is(err, dcr.ErrUnavailable) {
		return TemporarilyUnavailable(err)
	}
	switch {
	case errors.Is(err, clientauth.ErrCertificateStatusUnavailable), errors.Is(err, pki.ErrRevocationUnavailable):
		return TemporarilyUnavailable(err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return TemporarilyUnavailable(err)
	case errors.Is(err, token.ErrRevocationStateUnavailable):
		return TemporarilyUnavailable(err)
	case isAny(err, token.ErrMalformed, token.ErrBadSignature, token.ErrWrongType, token.ErrExpired,
		token.ErrNotYetValid, token.ErrWrongIssuer, token.ErrWrongAudience, token.ErrRevoked,
		token.ErrCertificateMismatch):
		return InvalidToken("the access token is invalid").WithCause(err)
	case errors.Is(err, mtls.ErrNoClientCertificate):
		return InvalidClient("client certificate required").WithCause(err)
	}
	var ve *pki.ValidationError
	if errors.As(err, &ve) || isAny(err, mtls.ErrMalformedHeader, mtls.ErrTooLarge) {
		return InvalidClient("client certificate invalid").WithCause(err)
	}
	switch {
	case isAny(err, store.ErrNotFound, store.ErrConsumed, store.ErrExpired, store.ErrRevoked):
		return InvalidGrant("the grant is invalid, expired, revoked or already used").WithCause(err)
	case errors.Is(err, store.ErrInvalidInput):
		return InvalidRequest("a request parameter is invalid").WithCause(err)
	}
	return ServerError(err)
}

func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
