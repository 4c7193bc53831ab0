package config

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ConsentWebhookValidator is the name routes use (consent_validator) for the webhook of
// the consent section; an empty name means the same default validator.
const ConsentWebhookValidator = "webhook"

// Gateway is the gateway section of the configuration file, in plain values; package
// gateway turns it into its options (gateway.ApplyConfig) and owns the meaning of
// routes. Its zero value is valid and safe: no routes (the gateway serves nothing but
// 404), identity in headers mode, the Authorization header not forwarded, no ext-authz
// callers, no forwarded host.
type Gateway struct {
	Routes []GatewayRoute `koanf:"routes"`
	// IdentityMode is "headers" (also the empty value) or "jwt".
	IdentityMode string `koanf:"identity_mode"`
	// IdentityAudience is the "aud" of identity JWTs (jwt mode; required there).
	IdentityAudience string `koanf:"identity_audience"`
	// IdentityLifetime is the identity JWT lifetime; zero means 60 s, at most 5 min.
	IdentityLifetime time.Duration `koanf:"identity_lifetime"`
	// PassAuthorization forwards the TPP's Authorization header upstream.
	PassAuthorization bool `koanf:"pass_authorization"`
	// MaxBodyBytes bounds the request body of every gateway route (read whole before
	// the consent check and before forwarding; 413 beyond); zero means 1 MiB.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// PublicURL is how TPPs reach the gateway (https://host[:port], no path): the
	// X-Forwarded-Proto and X-Forwarded-Host the upstreams receive, which the request's
	// Host never sets. Empty means the issuer's scheme and host (the mTLS listener's
	// public name).
	PublicURL string `koanf:"public_url"`
	// ExtAuthzPeers are CIDR prefixes of the proxies allowed to call
	// /ext-authz/check; empty disables it.
	ExtAuthzPeers []string `koanf:"ext_authz_peers"`
	// Upstream tunes the shared upstream connection pool.
	Upstream GatewayUpstream `koanf:"upstream"`
}

// GatewayUpstream tunes the upstream connection pool (zero: package upstream's
// defaults).
type GatewayUpstream struct {
	MaxIdleConnsPerHost   int           `koanf:"max_idle_conns_per_host"`
	MaxConnsPerHost       int           `koanf:"max_conns_per_host"`
	DialTimeout           time.Duration `koanf:"dial_timeout"`
	TLSHandshakeTimeout   time.Duration `koanf:"tls_handshake_timeout"`
	ResponseHeaderTimeout time.Duration `koanf:"response_header_timeout"`
	IdleConnTimeout       time.Duration `koanf:"idle_conn_timeout"`
	// HTTP2 offers HTTP/2 to https upstreams; off, upstream calls use HTTP/1.1
	// keep-alive.
	HTTP2 bool `koanf:"http2"`
}

// GatewayRoute is a route as written in the configuration file (package gateway
// documents each field's rules: gateway.Route).
type GatewayRoute struct {
	Name   string `koanf:"name"`
	Method string `koanf:"method"`
	// Path is the route pattern: "/open-banking/v3.1/aisp/accounts/{AccountId}".
	Path   string   `koanf:"path"`
	Scopes []string `koanf:"scopes"`
	// TokenUse is "user" (also the empty value), "application" or "any".
	TokenUse string `koanf:"token_use"`
	// Roles are PSD2 role names: PSP_AI, PSP_PI, PSP_IC, PSP_AS, or their aliases
	// AISP, PISP, CBPII, ASPSP.
	Roles   []string `koanf:"roles"`
	AnyRole bool     `koanf:"any_role"`
	// Consent is the consent kind ("account-access", "domestic-payment", …); empty
	// means no consent stage. With a kind, a customer token without a consent is
	// refused unless ConsentOptional is set.
	Consent string `koanf:"consent"`
	// ConsentOptional lets tokens without a consent through the consent stage (the
	// validator still checks the tokens that carry one).
	ConsentOptional bool `koanf:"consent_optional"`
	// ConsentRequired is accepted for compatibility: customer tokens need a consent
	// anyway; it additionally refuses application tokens without one.
	ConsentRequired bool `koanf:"consent_required"`
	// ConsentValidator names a configured validator (ConsentWebhookValidator); empty
	// means the gateway's default validator.
	ConsentValidator string        `koanf:"consent_validator"`
	Upstream         string        `koanf:"upstream"`
	Timeout          time.Duration `koanf:"timeout"`
}

// maxIdentityLifetime mirrors the identity JWT lifetime bound of package upstream.
const maxIdentityLifetime = 5 * time.Minute

// validateGateway checks the gateway section's plain values. The rules of routes
// (pattern syntax, roles, scopes, upstream URLs, validators) are package gateway's:
// gateway.CheckConfig applies them, and the command line reports its errors as
// configuration errors too.
func (c *Config) validateGateway() []error {
	g := c.Gateway
	var errs []error
	switch g.IdentityMode {
	case "", "headers":
	case "jwt":
		if g.IdentityAudience == "" {
			errs = append(errs, fieldErr("gateway.identity_audience", "is required with identity_mode jwt"))
		}
	default:
		errs = append(errs, fieldErr("gateway.identity_mode", "%q: want headers or jwt", g.IdentityMode))
	}
	if g.IdentityLifetime < 0 || g.IdentityLifetime > maxIdentityLifetime {
		errs = append(errs, fieldErr("gateway.identity_lifetime", "%v outside [0, %v]", g.IdentityLifetime, maxIdentityLifetime))
	}
	if g.MaxBodyBytes < 0 {
		errs = append(errs, fieldErr("gateway.max_body_bytes", "is negative"))
	}
	if g.PublicURL != "" {
		if _, err := GatewayPublicURL(g.PublicURL); err != nil {
			errs = append(errs, fieldErr("gateway.public_url", "%v", err))
		}
	}
	for i, s := range g.ExtAuthzPeers {
		p, err := netip.ParsePrefix(s)
		if err != nil || p != p.Masked() || p.Bits() == 0 {
			errs = append(errs, fieldErr("gateway.ext_authz_peers["+strconv.Itoa(i)+"]", "%q is not a CIDR prefix without host bits (and not /0)", s))
		}
	}
	u := g.Upstream
	if u.MaxIdleConnsPerHost < 0 || u.MaxConnsPerHost < 0 || u.DialTimeout < 0 || u.TLSHandshakeTimeout < 0 ||
		u.ResponseHeaderTimeout < 0 || u.IdleConnTimeout < 0 {
		errs = append(errs, fieldErr("gateway.upstream", "negative limit or timeout"))
	}
	for i, r := range g.Routes {
		if r.ConsentOptional && r.ConsentRequired {
			errs = append(errs, fieldErr("gateway.routes["+strconv.Itoa(i)+"]", "consent_optional and consent_required are exclusive"))
		}
	}
	return errs
}

// GatewayPublicURL parses a gateway public URL: http or https, a host, no user
// information, path (other than "/"), query or fragment.
func GatewayPublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, errors.New("not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, errors.New("want an https (or http) URL")
	case u.Host == "" || u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery,
		u.Path != "" && u.Path != "/", strings.ContainsAny(u.Host, "/\\@ \t\""):
		return nil, errors.New("want scheme://host[:port] only")
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}
