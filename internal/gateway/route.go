package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/oauth/scope"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// Route timeouts.
const (
	DefaultRouteTimeout = 30 * time.Second
	MaxRouteTimeout     = 5 * time.Minute
)

// TokenUse says which access tokens a route accepts.
type TokenUse string

// The token uses a route can require.
const (
	// TokenUseUser accepts only tokens a customer (PSU) authorised
	// (token.UseUser, "aut": "APPLICATION_USER"). It is the zero value's meaning.
	TokenUseUser TokenUse = "user"
	// TokenUseApplication accepts only client-credentials tokens (token.UseApplication).
	TokenUseApplication TokenUse = "application"
	// TokenUseAny accepts both.
	TokenUseAny TokenUse = "any"
)

// ConsentCheck is a route's consent requirement. Its zero value with a Kind fails
// closed: a customer token (token.UseUser) that carries no consent id is refused
// (403 UK.OBIE.Resource.ConsentMismatch), and a token that carries one is
// checked by the validator. Only an explicit Optional lets a customer token
// without a consent through.
type ConsentCheck struct {
	// Kind names the consent kind the route needs (consent.KindAccountAccess,
	// consent.KindDomesticPayment, …); it is passed to the validator. Empty: the
	// route has no consent stage.
	Kind string
	// Required also refuses application (client-credentials) tokens that carry no
	// consent id; without it they pass the stage (such tokens are never bound to a
	// consent). Customer tokens need a consent either way, unless Optional.
	Required bool
	// Optional lets tokens without a consent id through the stage (the validator
	// is called only for tokens that carry one). It cannot be combined with
	// Required.
	Optional bool
	// Validator decides. Nil means Options.ConsentValidator (New fails if that is
	// nil too).
	Validator consent.Validator
}

// Route is one entry of the route table: which requests it matches, what a request
// needs to pass, and where it goes. The zero value of each field is the strict
// choice where there is one; [Route.Validate] says what is required.
type Route struct {
	// Name identifies the route in logs, metrics, audit events and the
	// X-Portcullis-Route header. Required, unique, [A-Za-z0-9._-]{1,64}.
	Name string
	// Method is the HTTP method (GET, POST, PUT, PATCH or DELETE). Other methods on
	// the same path are not found (404).
	Method string
	// Pattern is the path, with named parameters as whole segments:
	// "/open-banking/v3.1/aisp/accounts/{AccountId}" (Go 1.22 ServeMux syntax,
	// without method or host). No trailing slash, no "{name...}" wildcards: a route
	// matches exactly one shape of path.
	Pattern string
	// Scopes must all have been granted to the token. At least one.
	Scopes []string
	// TokenUse: zero means TokenUseUser.
	TokenUse TokenUse
	// Roles are the PSD2 roles the client certificate must carry, any one of them
	// (pki.md §1.5: AIS routes PSP_AI, PIS routes PSP_PI, CoF PSP_IC). Required
	// unless AnyRole.
	Roles []eidas.Role
	// AnyRole waives the role check, for deployments with plain (non-PSD2) client
	// certificates. It cannot be combined with Roles.
	AnyRole bool
	// Consent is the route's consent requirement; zero means none.
	Consent ConsentCheck
	// Upstream is the base URL requests are forwarded to (the request path and query
	// are appended). Required unless Handler is set: absolute http or https, no
	// query, fragment or user.
	Upstream *url.URL
	// Handler, when set, serves the route in process instead of an upstream (the
	// consent APIs): after every stage has passed it gets the request with its body
	// (read whole, within the body limit) and a consent.Caller in its context
	// (consent.CallerFrom). Such a route is not offered in ext-authz mode. Upstream
	// must then be nil.
	Handler http.Handler
	// Timeout bounds the upstream exchange. Zero means 30 s; at most 5 min.
	Timeout time.Duration
	// Around, when set, wraps what follows client authentication on this route: it is
	// applied once the certificate, token, token use, scope, binding, role and NCA
	// authorisation stages have passed — the request's context then carries the
	// authenticated client as a consent.Caller (consent.CallerFrom) — and the handler it
	// wraps runs the consent stage, the customer lookup and the Handler or upstream. A
	// wrapper may answer itself (a replayed idempotent POST, a refused x-jws-signature)
	// and may hand on a request whose Body replays the bytes it read. Message signing
	// and idempotency are mounted this way. A route with Around is not offered in
	// ext-authz mode (404 there: the gateway could not sign or replay the answer) unless
	// AroundAnswerOnly.
	Around func(next http.Handler) http.Handler
	// AroundAnswerOnly says Around only decorates the answer (signs it) and decides
	// nothing about the request: ext-authz mode, which has no answer of its own to
	// decorate, then offers the route without Around.
	AroundAnswerOnly bool
}

// allowedMethods are the methods a route may have.
var allowedMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Validate reports the first problem with r, naming the field. It does not check
// uniqueness across a table (New does).
func (r *Route) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("gateway: route %q: %s: %s", r.Name, field, fmt.Sprintf(format, a...))
	}
	if !validName(r.Name) {
		return fmt.Errorf("gateway: route name %q: want 1 to 64 of [A-Za-z0-9._-]", r.Name)
	}
	if !slices.Contains(allowedMethods, r.Method) {
		return bad("Method", "%q is not one of %v", r.Method, allowedMethods)
	}
	if _, err := patternParams(r.Pattern); err != nil {
		return bad("Pattern", "%v", err)
	}
	if len(r.Scopes) == 0 {
		return bad("Scopes", "at least one scope is required")
	}
	for _, s := range r.Scopes {
		if !scope.IsToken(s) {
			return bad("Scopes", "%q is not an RFC 6749 scope token", s)
		}
	}
	switch r.TokenUse {
	case "", TokenUseUser, TokenUseApplication, TokenUseAny:
	default:
		return bad("TokenUse", "%q: want user, application or any", r.TokenUse)
	}
	switch {
	case r.AnyRole && len(r.Roles) > 0:
		return bad("Roles", "AnyRole and Roles are exclusive")
	case !r.AnyRole && len(r.Roles) == 0:
		return bad("Roles", "at least one PSD2 role is required (or AnyRole)")
	}
	for _, role := range r.Roles {
		if _, ok := eidas.RoleOID(role); !ok || role == eidas.RoleUnspecified {
			return bad("Roles", "%q is not a PSD2 role", role)
		}
	}
	if (r.Consent.Required || r.Consent.Optional) && r.Consent.Kind == "" {
		return bad("Consent", "Required or Optional without Kind")
	}
	if r.Consent.Required && r.Consent.Optional {
		return bad("Consent", "Required and Optional are exclusive")
	}
	if r.Consent.Kind != "" && !validName(r.Consent.Kind) {
		return bad("Consent.Kind", "%q: want 1 to 64 of [A-Za-z0-9._-]", r.Consent.Kind)
	}
	switch {
	case r.Handler != nil && r.Upstream != nil:
		return bad("Upstream", "Handler and Upstream are exclusive")
	case r.Handler == nil:
		if err := checkUpstream(r.Upstream); err != nil {
			return bad("Upstream", "%v", err)
		}
	}
	if r.Timeout < 0 || r.Timeout > MaxRouteTimeout {
		return bad("Timeout", "%v outside [0, %v]", r.Timeout, MaxRouteTimeout)
	}
	return nil
}

func checkUpstream(u *url.URL) error {
	switch {
	case u == nil:
		return errors.New("required")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q: want http or https", u.Scheme)
	case u.Host == "" || u.Opaque != "":
		return errors.New("not an absolute URL")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return errors.New("must not carry user information, query or fragment")
	}
	return nil
}

// patternParams checks a route pattern and returns its parameter names in order.
func patternParams(p string) ([]string, error) {
	if len(p) < 2 || p[0] != '/' || len(p) > 512 {
		return nil, errors.New("must start with / and have at least one segment")
	}
	var names []string
	for _, seg := range strings.Split(p[1:], "/") {
		switch {
		case seg == "":
			return nil, errors.New("empty segment (double or trailing slash)")
		case seg == "." || seg == "..":
			return nil, errors.New("dot segment")
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			name := seg[1 : len(seg)-1]
			if !validParamName(name) {
				return nil, fmt.Errorf("parameter %q: want a Go identifier (no ... wildcards)", seg)
			}
			if slices.Contains(names, name) {
				return nil, fmt.Errorf("parameter {%s} appears twice", name)
			}
			names = append(names, name)
		default:
			for i := 0; i < len(seg); i++ {
				c := seg[i]
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
					return nil, fmt.Errorf("segment %q: only [A-Za-z0-9-._~] or a whole {Parameter}", seg)
				}
			}
		}
	}
	return names, nil
}

func validParamName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

var roleAliases = map[string]eidas.Role{
	"PSP_AI": eidas.RoleAISP, "AISP": eidas.RoleAISP,
	"PSP_PI": eidas.RolePISP, "PISP": eidas.RolePISP,
	"PSP_IC": eidas.RoleCBPII, "CBPII": eidas.RoleCBPII,
	"PSP_AS": eidas.RoleASPSP, "ASPSP": eidas.RoleASPSP,
}

// RouteFromConfig converts a route of the configuration file, resolving
// ConsentValidator in validators, and validates the result. consent_optional and
// consent_required become ConsentCheck.Optional and Required. Errors name the
// route and the field.
func RouteFromConfig(c config.GatewayRoute, validators map[string]consent.Validator) (Route, error) {
	r := Route{
		Name: c.Name, Method: strings.ToUpper(c.Method), Pattern: c.Path, Scopes: slices.Clone(c.Scopes),
		TokenUse: TokenUse(c.TokenUse), AnyRole: c.AnyRole, Timeout: c.Timeout,
		Consent: ConsentCheck{Kind: c.Consent, Required: c.ConsentRequired, Optional: c.ConsentOptional},
	}
	for _, s := range c.Roles {
		role, ok := roleAliases[strings.ToUpper(s)]
		if !ok {
			return Route{}, fmt.Errorf("gateway: route %q: roles: %q is not a PSD2 role", c.Name, s)
		}
		if !slices.Contains(r.Roles, role) {
			r.Roles = append(r.Roles, role)
		}
	}
	if c.ConsentValidator != "" {
		if c.Consent == "" {
			return Route{}, fmt.Errorf("gateway: route %q: consent_validator without consent", c.Name)
		}
		v, ok := validators[c.ConsentValidator]
		if !ok || v == nil {
			return Route{}, fmt.Errorf("gateway: route %q: consent_validator %q is not configured", c.Name, c.ConsentValidator)
		}
		r.Consent.Validator = v
	}
	if c.Upstream != "" {
		u, err := url.Parse(c.Upstream)
		if err != nil {
			return Route{}, fmt.Errorf("gateway: route %q: upstream: not a URL", c.Name)
		}
		r.Upstream = u
	}
	if err := r.Validate(); err != nil {
		return Route{}, err
	}
	return r, nil
}
