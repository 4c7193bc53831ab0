// Package consent owns Open Banking consents (intents): the resources, their
// lifecycle, the OBIE consent APIs, what the authorization journey asks of them, and
// the validation of resource requests against them at the gateway.
//
//   - [Service] creates consents from OBIE v3.1 requests (account-access,
//     domestic-payment, funds-confirmation, domestic VRP; dcr-consent.md §2) and runs
//     the state machine (lifecycle.go): every transition one compare-and-set in the
//     store, recorded in the consent's history (who, when, from → to) and the audit
//     trail; an expired consent reads Expired and behaves as revoked everywhere.
//   - [API] serves the consent APIs behind the gateway's chain ([Endpoints],
//     [Caller]); [RegisterAdmin] the bank's consent admin API.
//   - [Service.ForAuthorization], [Service.Authorise], [Service.Reject],
//     [Service.CreateGeneric] and [Describe] are the journey's contract
//     (authorization.go; fapi.md OB-01…OB-05).
//   - [Validator] is what the gateway asks, after the access token, its binding and
//     the caller's PSD2 role have been checked, whether this request is covered by
//     the consent the token is bound to (fapi.md FAPI1-RS-03, OB-05: "the RS checks
//     consent status and permissions on every call"). [ResourceValidator] is the
//     built-in one (permissions, accounts, payments consumed once, VRP limits counted
//     atomically) over a [StateCache] (≤ 5 s, fail closed); a bank plugs in its own
//     rules as a Go implementation ([ValidatorFunc]) or an HTTP service ([Webhook],
//     INTERFACE.md "Consent validation webhook"), chained after the built-in one
//     with [Chain].
//   - [Request] is what a validator is told; [Decision] is its answer. An error is
//     not an answer: it means "could not decide", and the gateway refuses the
//     request with 503, never lets it through.
//
// It refuses to: send credentials to a validator ([RequestHeaders] drops
// Authorization, cookies and Portcullis identity headers), follow redirects of a
// webhook, talk plain http to a webhook on anything but loopback, read unbounded
// webhook answers or request bodies, or turn a malformed, late or failed answer into
// a decision; it never authenticates a caller itself (the gateway does).
//
// Spec: dcr-consent.md §2; fapi.md FAPI1-RS-03, OB-01…OB-05, OB-10 (idempotency
// and x-jws-signature are wrappers around [API], not here); INTERFACE.md "Consent
// APIs", "Consent validation webhook".
package consent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Validator decides whether a resource request is covered by the consent its
// access token is bound to.
//
// Validate returns a Decision (Valid true: allow; Valid false: refuse, with the
// decision's error code, message and status) or an error. An error means the
// validator could not decide (timeout, outage, malformed answer); the caller must
// refuse the request (the gateway answers 503) and must never treat it as an
// allow. Implementations must be safe for concurrent use and honour ctx.
type Validator interface {
	Validate(ctx context.Context, req Request) (Decision, error)
}

// ValidatorFunc adapts a function to [Validator].
type ValidatorFunc func(ctx context.Context, req Request) (Decision, error)

// Validate calls f(ctx, req).
func (f ValidatorFunc) Validate(ctx context.Context, req Request) (Decision, error) {
	return f(ctx, req)
}

// Request is what a [Validator] is asked about: the consent, who is calling for
// whom, and the HTTP request. It is JSON-friendly: [Webhook] sends it as
// INTERFACE.md's payload.
type Request struct {
	// Kind is the consent kind the route requires ("account-access",
	// "domestic-payment", …), from the route table. Not part of the webhook payload.
	Kind string
	// ConsentID is the consent (intent) the access token is bound to.
	ConsentID string
	// ClientID is the OAuth client (TPP) the access token was issued to.
	ClientID string
	// UserID is the PSU the token acts for (possibly a pairwise identifier); empty
	// for application tokens.
	UserID string
	// Consent is the stored consent resource as JSON, when the caller has it. The
	// gateway leaves it nil (the built-in validator reads consents itself); a nil
	// Consent is sent to a webhook as null.
	Consent json.RawMessage
	// TokenClaims are the access token's verified claims, by their JWT names (iss,
	// sub, aud, client_id, scope, jti, iat, nbf, exp, aut, cnf, consent_id, acr,
	// auth_time). Never the token itself.
	TokenClaims map[string]any
	// Method is the HTTP method of the resource request.
	Method string
	// Path is the request path as received (escaped form, no query string).
	Path string
	// RawQuery is the request's query string (encoded, without "?"). Not part of the
	// webhook payload.
	RawQuery string
	// ResourceTemplate is the route's path pattern, e.g.
	// "/open-banking/v3.1/aisp/accounts/{AccountId}".
	ResourceTemplate string
	// PathParams are the values of the template's named parameters
	// ({"AccountId": "22289"}). Not part of the webhook payload (it is derivable
	// from Path and ResourceTemplate).
	PathParams map[string]string
	// Headers are the request's headers as filtered by [RequestHeaders]: never
	// credentials.
	Headers http.Header
	// Body is the request body, bounded by the gateway's body limit; empty for
	// requests without one.
	Body []byte
}

// Decision is a [Validator]'s answer.
type Decision struct {
	// Valid allows the request. When false the request is refused.
	Valid bool
	// ErrorCode is the OBIE error code to answer with when Valid is false, e.g.
	// "UK.OBIE.Resource.InvalidConsentStatus". Empty means the gateway's default
	// (UK.OBIE.Resource.ConsentMismatch).
	ErrorCode string
	// ErrorMessage is a client-facing description when Valid is false.
	ErrorMessage string
	// HTTPStatus is the status to answer with when Valid is false: a 4xx other than
	// 401. Zero means 403.
	HTTPStatus int
	// ModifiedPayload, when Valid is true and it is not empty, replaces the request
	// body sent to the upstream (proxy mode only; an external authorizer cannot
	// change the body it was asked about).
	ModifiedPayload json.RawMessage
}

// Errors returned by validators in this package. Both mean "could not decide".
var (
	// ErrUnavailable: the validator could not be reached or did not answer in time,
	// or answered with a non-2xx status.
	ErrUnavailable = errors.New("consent: validator unavailable")
	// ErrBadResponse: the validator answered, but not with a well-formed decision
	// (not JSON, too large, "valid" missing, a refusal with an out-of-range status
	// or an unusable error code).
	ErrBadResponse = errors.New("consent: malformed validator response")
)

// withheldHeaders are never shown to a validator: credentials and hop-by-hop
// headers. Portcullis identity headers (X-Portcullis-*) are withheld too.
var withheldHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

// identityHeaderPrefix is the prefix of the headers Portcullis sets for upstreams.
const identityHeaderPrefix = "X-Portcullis-"

// RequestHeaders returns the headers of h a [Validator] may see: a copy without
// Authorization, Proxy-Authorization, Cookie, the hop-by-hop headers and every
// X-Portcullis-* header. Keys of h must be in canonical form (as net/http
// delivers them); others are dropped too.
func RequestHeaders(h http.Header) http.Header {
	n := 0
	for _, v := range h {
		n += len(v)
	}
	vals := make([]string, 0, n) // one backing array for every copied value
	out := make(http.Header, len(h))
	for k, v := range h {
		if withheldHeaders[k] || strings.HasPrefix(k, identityHeaderPrefix) || http.CanonicalHeaderKey(k) != k {
			continue
		}
		if len(v) == 0 {
			out[k] = nil
			continue
		}
		vals = append(vals, v...)
		out[k] = vals[len(vals)-len(v) : len(vals) : len(vals)] // capped: appending copies
	}
	return out
}
