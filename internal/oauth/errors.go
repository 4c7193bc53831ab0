// Package oauth owns the wire shape of the authorization server's errors (RFC 6749 §5.2,
// RFC 6750 §3.1, RFC 7591 §3.2.2, RFC 9101, RFC 9126) and the parsing of OAuth form requests.
//
// Every endpoint handler returns an error; [WriteError] renders it. Domain errors from the packages
// below (client authentication, tokens, storage) are mapped to wire errors in exactly one
// place, [FromError], so an unknown failure always becomes a bare server_error with no detail,
// while its cause is logged with the interaction id. Descriptions sent to the client are
// restricted to the RFC 6749 error_description character set. [ParseForm] reads request
// bodies, [ParseScope] scope parameters.
package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// The RFC error codes used on the wire.
const (
	CodeInvalidRequest              = "invalid_request"
	CodeInvalidClient               = "invalid_client"
	CodeInvalidGrant                = "invalid_grant"
	CodeUnauthorizedClient          = "unauthorized_client"
	CodeUnsupportedGrantType        = "unsupported_grant_type"
	CodeInvalidScope                = "invalid_scope"
	CodeAccessDenied                = "access_denied"
	CodeUnsupportedResponseType     = "unsupported_response_type"
	CodeServerError                 = "server_error"
	CodeTemporarilyUnavailable      = "temporarily_unavailable"
	CodeInvalidRequestObject        = "invalid_request_object"
	CodeInvalidRequestURI           = "invalid_request_uri"
	CodeInvalidToken                = "invalid_token"
	CodeInsufficientScope           = "insufficient_scope"
	CodeUnsupportedTokenType        = "unsupported_token_type"
	CodeInvalidClientMetadata       = "invalid_client_metadata"
	CodeInvalidRedirectURI          = "invalid_redirect_uri"
	CodeInvalidSoftwareStatement    = "invalid_software_statement"
	CodeUnapprovedSoftwareStatement = "unapproved_software_statement"
)

// Error is a protocol error as it goes on the wire. Construct it with the functions below;
// each returns a fresh value, so no caller can mutate a shared prototype.
type Error struct {
	Code        string // RFC error code
	Description string // client-facing, RFC 6749 charset (enforced when written)
	Status      int    // HTTP status
	cause       error  // internal cause: logged, never sent
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Code + ": " + e.Description + ": " + e.cause.Error()
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.cause }

// WithCause returns a copy of e carrying the internal cause err (for logs only).
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.cause = err
	return &c
}

func newError(status int, code, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

// InvalidRequest is 400 invalid_request (RFC 6749 §5.2).
func InvalidRequest(desc string) *Error {
	return newError(http.StatusBadRequest, CodeInvalidRequest, desc)
}

// InvalidClient is 401 invalid_client (RFC 6749 §5.2): client authentication failed.
func InvalidClient(desc string) *Error {
	return newError(http.StatusUnauthorized, CodeInvalidClient, desc)
}

// InvalidGrant is 400 invalid_grant.
func InvalidGrant(desc string) *Error { return newError(http.StatusBadRequest, CodeInvalidGrant, desc) }

// UnauthorizedClient is 400 unauthorized_client: the client may not use this grant.
func UnauthorizedClient(desc string) *Error {
	return newError(http.StatusBadRequest, CodeUnauthorizedClient, desc)
}

// UnsupportedGrantType is 400 unsupported_grant_type.
func UnsupportedGrantType(desc string) *Error {
	return newError(http.StatusBadRequest, CodeUnsupportedGrantType, desc)
}

// InvalidScope is 400 invalid_scope.
func InvalidScope(desc string) *Error { return newError(http.StatusBadRequest, CodeInvalidScope, desc) }

// InvalidRequestObject is 400 invalid_request_object (RFC 9101 §7).
func InvalidRequestObject(desc string) *Error {
	return newError(http.StatusBadRequest, CodeInvalidRequestObject, desc)
}

// UnsupportedTokenType is 400 unsupported_token_type (RFC 7009 §2.2.1).
func UnsupportedTokenType(desc string) *Error {
	return newError(http.StatusBadRequest, CodeUnsupportedTokenType, desc)
}

// InvalidClientMetadata is 400 invalid_client_metadata (RFC 7591 §3.2.2).
func InvalidClientMetadata(desc string) *Error {
	return newError(http.StatusBadRequest, CodeInvalidClientMetadata, desc)
}

// InvalidToken is 401 invalid_token (RFC 6750 §3.1).
func InvalidToken(desc string) *Error {
	return newError(http.StatusUnauthorized, CodeInvalidToken, desc)
}

// ServerError is 500 server_error with no detail; the cause is logged.
func ServerError(cause error) *Error {
	return newError(http.StatusInternalServerError, CodeServerError, "internal error").WithCause(cause)
}

// TemporarilyUnavailable is 503 temporarily_unavailable: a dependency (database, revocation
// state) could not be reached; the request was refused, not allowed.
func TemporarilyUnavailable(cause error) *Error {
	return newError(http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "service temporarily unavailable").WithCause(cause)
}

// MethodNotAllowed is 405 with invalid_request.
func MethodNotAllowed() *Error {
	return newError(http.StatusMethodNotAllowed, CodeInvalidRequest, "method not allowed")
}

// wireBody is the RFC 6749 §5.2 error body.
type wireBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// SanitizeDescription restricts s to the RFC 6749 error_description character set
// (%x20-21 / %x23-5B / %x5D-7E): other bytes, including '"' and '\', become spaces.
func SanitizeDescription(s string) string {
	const max = 256
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			c = ' '
		}
		b.WriteByte(c)
	}
	return strings.TrimSpace(b.String())
}

// WriteError renders e as a JSON RFC 6749 error response, with Cache-Control: no-store,
// and Retry-After: 1 on a 503.
func WriteError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.Code == CodeInvalidToken {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1") // RFC 9110 §10.2.3; the gateway sends the same
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(wireBody{Error: e.Code, Description: SanitizeDescription(e.Description)})
}

// AsError returns err as a wire error: an *Error in its chain as is, anything else as
// server_error (the caller logs the cause).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ServerError(err)
}

// UnsupportedResponseType is 400 unsupported_response_type (RFC 6749 §4.1.2.1).
func UnsupportedResponseType(desc string) *Error {
	return newError(http.StatusBadRequest, CodeUnsupportedResponseType, desc)
}

// AccessDenied is 400 access_denied (RFC 6749 §4.1.2.1): the customer or the server
// refused the request.
func AccessDenied(desc string) *Error {
	return newError(http.StatusBadRequest, CodeAccessDenied, desc)
}

// InvalidRequestURI is 400 invalid_request_uri (RFC 9101 §7): the request_uri is unknown,
// expired, used or issued to another client.
func InvalidRequestURI(desc string) *Error {
	return newError(http.StatusBadRequest, CodeInvalidRequestURI, desc)
}

// CodeConsentRequired is OIDC Core §3.1.2.6 consent_required.
const CodeConsentRequired = "consent_required"

// ConsentRequired is 400 consent_required (OIDC Core §3.1.2.6), e.g. for prompt=none.
func ConsentRequired(desc string) *Error {
	return newError(http.StatusBadRequest, CodeConsentRequired, desc)
}

// InsufficientScope is 403 insufficient_scope (RFC 6750 §3.1).
func InsufficientScope(desc string) *Error {
	return newError(http.StatusForbidden, CodeInsufficientScope, desc)
}
