package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/internal/upstream"
)

// Domain errors of the validation chain. Every refusal the gateway makes matches
// exactly one of them (or one of package upstream's) with errors.Is, wrapping the
// cause; [problemFor] maps them to the wire, in one place.
var (
	// ErrRouteNotFound: no route matches the method and path (404, never proxied).
	ErrRouteNotFound = errors.New("gateway: no route for this request")
	// ErrInvalidPath: the path is not canonical (";" in it, a percent-encoded
	// ".", "/", "\", ";", "%" or control character, a raw "\" or a malformed
	// escape), or a path parameter is empty, a dot segment, or holds a slash,
	// backslash or control character once unescaped (400).
	ErrInvalidPath = errors.New("gateway: invalid path parameter")
	// ErrNoCertificate: the caller presented no client certificate (401
	// invalid_token: a certificate-bound token cannot be used without it).
	ErrNoCertificate = errors.New("gateway: no client certificate")
	// ErrCertificateInvalid: the client certificate was checked and refused
	// (chain, validity, profile, revoked) (401 invalid_token).
	ErrCertificateInvalid = errors.New("gateway: client certificate not accepted")
	// ErrCertificateUnavailable: the certificate's revocation status could not be
	// established right now (503).
	ErrCertificateUnavailable = errors.New("gateway: client certificate status unavailable")
	// ErrNoToken: no bearer token in the Authorization header (401 without an error
	// code, RFC 6750 §3.1).
	ErrNoToken = errors.New("gateway: no access token")
	// ErrTokenInQuery: an access_token query parameter (400 invalid_request;
	// fapi.md FAPI1-RS-01).
	ErrTokenInQuery = errors.New("gateway: access token in the query string")
	// ErrInvalidRequest: several Authorization headers (400 invalid_request).
	ErrInvalidRequest = errors.New("gateway: malformed authorization")
	// ErrInvalidToken: the token is malformed, badly signed, of the wrong type,
	// expired, not yet valid, from another issuer or audience, unbound or revoked
	// (401 invalid_token). The cause is package token's error.
	ErrInvalidToken = errors.New("gateway: invalid access token")
	// ErrRevocationUnavailable: the token deny-list is stale, so revocation cannot be
	// ruled out (503).
	ErrRevocationUnavailable = errors.New("gateway: token revocation state unavailable")
	// ErrTokenUse: an application token on a customer route or the reverse (403).
	ErrTokenUse = errors.New("gateway: token type not allowed on this route")
	// ErrInsufficientScope: a required scope was not granted (403
	// insufficient_scope). The error is a *[ScopeError].
	ErrInsufficientScope = errors.New("gateway: insufficient scope")
	// ErrBindingMismatch: the token's cnf.x5t#S256 is not the presented
	// certificate's thumbprint (401 invalid_token; see the package documentation).
	ErrBindingMismatch = errors.New("gateway: certificate does not match the token binding")
	// ErrRoleNotAllowed: the client certificate carries none of the route's PSD2
	// roles (403).
	ErrRoleNotAllowed = errors.New("gateway: PSD2 role not allowed on this route")
	// ErrTPPNotAuthorised: the TPP's NCA register says its authorisation was
	// withdrawn, does not cover the route's PSD2 role, or does not exist (403), even
	// though the certificate is valid. The cause is package nca's *RefusedError.
	ErrTPPNotAuthorised = errors.New("gateway: TPP not authorised by its NCA")
	// ErrRegisterUnavailable: the NCA register could not be consulted, or its data
	// is older than its freshness bound under a fail-closed policy (503).
	ErrRegisterUnavailable = errors.New("gateway: NCA register unavailable")
	// ErrConsentRejected: the consent validator refused the request (its status,
	// default 403, and error code). The error is a *[ConsentError].
	ErrConsentRejected = errors.New("gateway: consent does not allow this request")
	// ErrConsentUnavailable: the consent validator could not decide (error, timeout,
	// malformed answer) (503, never an allow).
	ErrConsentUnavailable = errors.New("gateway: consent validator unavailable")
	// ErrBodyTooLarge: the request body exceeds Options.MaxBodyBytes (413; nothing
	// is forwarded).
	ErrBodyTooLarge = errors.New("gateway: request body too large")
	// ErrBadBody: the request body could not be read (400).
	ErrBadBody = errors.New("gateway: request body unreadable")
	// ErrReservedHeader: an external-authorizer check whose original request
	// carries a header only the caller can have set and the proxy in front would
	// pass on to the upstream (an underscore spelling of a reserved name, an
	// X-Portcullis-* header, a method override: upstream.CallerOnlyHeader) (400).
	// Proxy mode drops such headers instead.
	ErrReservedHeader = errors.New("gateway: reserved header in the request")
	// ErrBadExtAuthzRequest: an external-authorizer check request without a usable
	// original method and URI (400).
	ErrBadExtAuthzRequest = errors.New("gateway: ext-authz request without a usable original method and URI")
	// ErrInternal: a wiring error (e.g. the mtls middleware is missing) (500).
	ErrInternal = errors.New("gateway: internal error")
)

// ScopeError is the ErrInsufficientScope error: the scopes the route needs.
type ScopeError struct{ Required []string }

func (e *ScopeError) Error() string {
	return ErrInsufficientScope.Error() + ": need " + strings.Join(e.Required, " ")
}

// Is makes errors.Is(err, ErrInsufficientScope) true.
func (e *ScopeError) Is(target error) bool { return target == ErrInsufficientScope }

// ConsentError is the ErrConsentRejected error: the validator's decision.
type ConsentError struct{ Decision consent.Decision }

func (e *ConsentError) Error() string {
	return fmt.Sprintf("%v: %s (%s)", ErrConsentRejected, e.Decision.ErrorCode, e.Decision.ErrorMessage)
}

// Is makes errors.Is(err, ErrConsentRejected) true.
func (e *ConsentError) Is(target error) bool { return target == ErrConsentRejected }

// Codes: the top-level "Code" of the gateway's OBIE error bodies, one per kind of
// refusal, stable for clients and tests. (OBIE leaves "Code" free text: "High
// level textual error code, to help categorize the errors".)
const (
	CodeRouteNotFound           = "route_not_found"
	CodeInvalidPath             = "invalid_path"
	CodeReservedHeader          = "reserved_header"
	CodeInvalidRequest          = "invalid_request"
	CodeCertificateUnavailable  = "certificate_status_unavailable"
	CodeRevocationUnavailable   = "revocation_state_unavailable"
	CodeTokenUse                = "token_use_not_allowed"
	CodeInsufficientScope       = "insufficient_scope"
	CodeRoleNotAllowed          = "psd2_role_not_allowed"
	CodeConsentInvalid          = "consent_invalid"
	CodeTPPNotAuthorised        = "tpp_not_authorised"
	CodeRegisterUnavailable     = "tpp_register_unavailable"
	CodeConsentUnavailable      = "consent_validator_unavailable"
	CodeBodyTooLarge            = "request_body_too_large"
	CodeBadBody                 = "invalid_request_body"
	CodeUpstreamUnavailable     = "upstream_unavailable"
	CodeUpstreamTimeout         = "upstream_timeout"
	CodeServerError             = "server_error"
	CodeInvalidToken            = "invalid_token" // in WWW-Authenticate only: token 401s have no body
	CodeCertificateRequired     = "client_certificate_required"
	CodeCertificateInvalid      = "client_certificate_invalid"
	CodeMissingToken            = "missing_token" // logs and audit only: the challenge carries no error
	obDefaultConsentMismatch    = obie.CodeResourceConsentMismatch
	obUnexpectedError           = obie.CodeUnexpectedError
	defaultConsentRefusalStatus = http.StatusForbidden
)

// problem is a refusal as it goes on the wire.
type problem struct {
	status    int
	code      string // body "Code"
	obCode    string // body Errors[0].ErrorCode (UK.OBIE.*)
	message   string // body Message and Errors[0].Message
	path      string // body Errors[0].Path
	challenge string // WWW-Authenticate, if any
	noBody    bool   // 401: no body (fapi.md OB-09)
}

// bearerChallenge builds an RFC 6750 §3 challenge. Values come from this file's
// constants, never from the request.
func bearerChallenge(code, desc string) string {
	if code == "" {
		return "Bearer"
	}
	c := `Bearer error="` + code + `"`
	if desc != "" {
		c += `, error_description="` + desc + `"`
	}
	return c
}

// problemFor is the one mapping from domain errors to the wire (STYLE.md: "Map
// domain → wire in exactly one function"). Unknown errors become a bare 500.
func problemFor(err error) problem {
	invalidToken := func(desc string) problem {
		return problem{status: http.StatusUnauthorized, code: CodeInvalidToken,
			challenge: bearerChallenge(CodeInvalidToken, desc), noBody: true}
	}
	var ce *ConsentError
	var se *ScopeError
	switch {
	case errors.Is(err, ErrRouteNotFound):
		return problem{status: http.StatusNotFound, code: CodeRouteNotFound, obCode: obie.CodeResourceNotFound, message: "No such resource"}
	case errors.Is(err, ErrInvalidPath):
		return problem{status: http.StatusBadRequest, code: CodeInvalidPath, obCode: obie.CodeFieldInvalid, message: "Invalid request path"}
	case errors.Is(err, ErrReservedHeader):
		return problem{status: http.StatusBadRequest, code: CodeReservedHeader, obCode: obie.CodeHeaderInvalid, message: "The request carries a header reserved for the gateway"}
	case errors.Is(err, ErrBadExtAuthzRequest):
		return problem{status: http.StatusBadRequest, code: CodeInvalidRequest, obCode: obie.CodeHeaderInvalid, message: "No usable original method and URI"}

	// Certificate refusals keep the 401 + invalid_token challenge (a certificate-bound
	// token is unusable without its certificate) but, unlike token refusals, carry the
	// OBIE error body: the TPP must learn that its transport certificate, not its token,
	// is the problem. OBIE has no code for TLS certificates; the Header codes are the
	// closest (the certificate is request metadata), with the Path saying which.
	case errors.Is(err, ErrNoCertificate):
		p := invalidToken("A client certificate is required")
		p.code, p.obCode, p.message, p.path, p.noBody = CodeCertificateRequired, obie.CodeHeaderMissing, "A client certificate is required", "TLS client certificate", false
		return p
	case errors.Is(err, ErrCertificateInvalid):
		p := invalidToken("The client certificate is not accepted")
		p.code, p.obCode, p.message, p.path, p.noBody = CodeCertificateInvalid, obie.CodeHeaderInvalid, "The client certificate is not accepted", "TLS client certificate", false
		return p
	case errors.Is(err, ErrCertificateUnavailable):
		return problem{status: http.StatusServiceUnavailable, code: CodeCertificateUnavailable, obCode: obUnexpectedError,
			message: "The client certificate status cannot be established; retry later"}

	case errors.Is(err, ErrNoToken):
		return problem{status: http.StatusUnauthorized, code: CodeMissingToken, challenge: bearerChallenge("", ""), noBody: true}
	case errors.Is(err, ErrTokenInQuery):
		return problem{status: http.StatusBadRequest, code: CodeInvalidRequest, obCode: obie.CodeFieldUnexpected,
			message: "Access tokens are accepted in the Authorization header only", path: "access_token",
			challenge: bearerChallenge("invalid_request", "")}
	case errors.Is(err, ErrInvalidRequest):
		return problem{status: http.StatusBadRequest, code: CodeInvalidRequest, obCode: obie.CodeHeaderInvalid,
			message: "Malformed Authorization header", path: "Authorization", challenge: bearerChallenge("invalid_request", "")}
	case errors.Is(err, ErrRevocationUnavailable):
		return problem{status: http.StatusServiceUnavailable, code: CodeRevocationUnavailable, obCode: obUnexpectedError,
			message: "Token revocation state unavailable; retry later"}
	case errors.Is(err, ErrInvalidToken):
		if errors.Is(err, token.ErrExpired) {
			return invalidToken("The access token expired")
		}
		return invalidToken("The access token is not valid")
	case errors.Is(err, ErrBindingMismatch):
		return invalidToken("The access token is bound to another certificate")

	case errors.Is(err, ErrTokenUse):
		return problem{status: http.StatusForbidden, code: CodeTokenUse, obCode: obDefaultConsentMismatch,
			message: "This kind of access token is not accepted on this resource"}
	case errors.As(err, &se):
		return problem{status: http.StatusForbidden, code: CodeInsufficientScope, obCode: obDefaultConsentMismatch,
			message:   "The access token lacks a required scope",
			challenge: `Bearer error="insufficient_scope", scope="` + strings.Join(se.Required, " ") + `"`}
	case errors.Is(err, ErrRoleNotAllowed):
		return problem{status: http.StatusForbidden, code: CodeRoleNotAllowed, obCode: obDefaultConsentMismatch,
			message: "The client certificate lacks the PSD2 role this resource requires"}
	case errors.Is(err, ErrTPPNotAuthorised):
		return problem{status: http.StatusForbidden, code: CodeTPPNotAuthorised, obCode: obDefaultConsentMismatch,
			message: "The TPP is not authorised by its national competent authority for this resource"}
	case errors.Is(err, ErrRegisterUnavailable):
		return problem{status: http.StatusServiceUnavailable, code: CodeRegisterUnavailable, obCode: obUnexpectedError,
			message: "The TPP's authorisation cannot be established; retry later"}
	case errors.As(err, &ce):
		p := problem{status: ce.Decision.HTTPStatus, code: CodeConsentInvalid, obCode: ce.Decision.ErrorCode, message: ce.Decision.ErrorMessage}
		if p.status == 0 {
			p.status = defaultConsentRefusalStatus
		}
		if p.obCode == "" {
			p.obCode = obDefaultConsentMismatch
		}
		if p.message == "" {
			p.message = "The consent does not allow this request"
		}
		return p
	case errors.Is(err, ErrConsentUnavailable):
		return problem{status: http.StatusServiceUnavailable, code: CodeConsentUnavailable, obCode: obUnexpectedError,
			message: "Consent validation unavailable; retry later"}
	case errors.Is(err, ErrBodyTooLarge):
		return problem{status: http.StatusRequestEntityTooLarge, code: CodeBodyTooLarge, obCode: obie.CodeResourceInvalidFormat, message: "Request body too large"}
	case errors.Is(err, ErrBadBody):
		return problem{status: http.StatusBadRequest, code: CodeBadBody, obCode: obie.CodeResourceInvalidFormat, message: "Request body unreadable"}

	case errors.Is(err, upstream.ErrTimeout):
		return problem{status: http.StatusGatewayTimeout, code: CodeUpstreamTimeout, obCode: obUnexpectedError, message: "The upstream service did not answer in time"}
	case errors.Is(err, upstream.ErrUnavailable), errors.Is(err, upstream.ErrCanceled):
		return problem{status: http.StatusBadGateway, code: CodeUpstreamUnavailable, obCode: obUnexpectedError, message: "The upstream service is unavailable"}
	}
	return problem{status: http.StatusInternalServerError, code: CodeServerError, obCode: obUnexpectedError, message: "Internal error"}
}

// AuditEvent is a refused request, for the audit sink. It holds no secret (never
// the token).
type AuditEvent struct {
	Kind     string // "gateway.request_rejected"
	Mode     string // "proxy" or "ext-authz"
	Route    string // route name; empty when none matched
	Status   int
	Code     string // the body Code or the WWW-Authenticate error
	ClientID string // when a token was verified
	Err      error  // the domain error
}

// AuditRequestRejected is the Kind of every AuditEvent.
const AuditRequestRejected = "gateway.request_rejected"

// reject renders err for the request and records it (log, annotations, audit).
// It is the only writer of refusals.
func (g *Gateway) reject(w http.ResponseWriter, r *http.Request, mode, route, clientID string, err error) {
	p := problemFor(err)
	ctx := r.Context()
	iid := obs.InteractionID(ctx)
	h := w.Header()
	if iid != "" {
		h.Set(obs.HeaderInteractionID, iid)
	}
	h.Set("Cache-Control", "no-store")
	if p.challenge != "" {
		h.Set("WWW-Authenticate", p.challenge)
	}
	if p.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}

	level := slog.LevelInfo
	if p.status >= 500 {
		level = slog.LevelWarn
	}
	if p.status == http.StatusInternalServerError {
		level = slog.LevelError
	}
	g.log.LogAttrs(ctx, level, "gateway request rejected",
		slog.String("mode", mode), slog.String("route", route), slog.Int("status", p.status),
		slog.String("code", p.code), slog.String("client_id", clientID), slog.String("error", err.Error()))
	obs.Annotate(ctx, slog.String("gateway_route", route), slog.String("gateway_code", p.code))
	if g.audit != nil {
		g.audit(ctx, AuditEvent{Kind: AuditRequestRejected, Mode: mode, Route: route, Status: p.status, Code: p.code, ClientID: clientID, Err: err})
	}

	if p.noBody {
		h.Set("Content-Length", "0")
		w.WriteHeader(p.status)
		return
	}
	obie.Write(w, p.status, obie.NewError(p.code, iid, p.obCode, p.message, p.path))
}
