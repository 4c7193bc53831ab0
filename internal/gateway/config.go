package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/upstream"
)

// Config is the gateway section of the configuration file, in plain values. Its
// zero value is valid and safe: no routes (the gateway serves nothing but 404),
// identity in headers mode, the Authorization header not forwarded, no
// ext-authz callers.
type Config struct {
	Routes []RouteConfig `koanf:"routes"`
	// IdentityMode is "headers" (also the empty value) or "jwt".
	IdentityMode string `koanf:"identity_mode"`
	// IdentityAudience is the "aud" of identity JWTs (jwt mode; required there).
	IdentityAudience string `koanf:"identity_audience"`
	// IdentityLifetime is the identity JWT lifetime; zero means 60 s.
	IdentityLifetime time.Duration `koanf:"identity_lifetime"`
	// PassAuthorization forwards the TPP's Authorization header upstream.
	PassAuthorization bool `koanf:"pass_authorization"`
	// MaxBodyBytes bounds the body a consent check reads; zero means 1 MiB.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// ExtAuthzPeers are CIDR prefixes of the proxies allowed to call
	// /ext-authz/check; empty disables it.
	ExtAuthzPeers []string `koanf:"ext_authz_peers"`
	// Upstream tunes the shared upstream connection pool.
	Upstream TransportConfig `koanf:"upstream"`
}

// TransportConfig is upstream.TransportOptions in plain values (zero: defaults).
type TransportConfig struct {
	MaxIdleConnsPerHost   int           `koanf:"max_idle_conns_per_host"`
	MaxConnsPerHost       int           `koanf:"max_conns_per_host"`
	DialTimeout           time.Duration `koanf:"dial_timeout"`
	TLSHandshakeTimeout   time.Duration `koanf:"tls_handshake_timeout"`
	ResponseHeaderTimeout time.Duration `koanf:"response_header_timeout"`
	IdleConnTimeout       time.Duration `koanf:"idle_conn_timeout"`
	// HTTP2 offers HTTP/2 to https upstreams; off, upstream calls use HTTP/1.1
	// keep-alive (see upstream.TransportOptions.HTTP2).
	HTTP2 bool `koanf:"http2"`
}

// Apply checks c and writes it into o: the routes (appended to o.Routes, consent
// validators resolved by name in validators), the identity mode and audience (the
// jwt mode's Signer and Issuer stay the caller's to set), the body limit, the
// ext-authz peers, and an upstream transport unless o.Transport is already set.
// Errors name the offending field.
func (c Config) Apply(o *Options, validators map[string]consent.Validator) error {
	for _, rc := range c.Routes {
		r, err := rc.Route(validators)
		if err != nil {
			return err
		}
		o.Routes = append(o.Routes, r)
	}
	switch upstream.IdentityMode(c.IdentityMode) {
	case "", upstream.IdentityHeaders:
		o.Identity.Mode = upstream.IdentityHeaders
	case upstream.IdentityJWT:
		if c.IdentityAudience == "" {
			return errors.New("gateway: identity_audience is required with identity_mode jwt")
		}
		o.Identity.Mode, o.Identity.Audience = upstream.IdentityJWT, c.IdentityAudience
	default:
		return fmt.Errorf("gateway: identity_mode %q: want headers or jwt", c.IdentityMode)
	}
	if c.IdentityLifetime < 0 || c.IdentityLifetime > upstream.MaxIdentityJWTLifetime {
		return fmt.Errorf("gateway: identity_lifetime %v outside [0, %v]", c.IdentityLifetime, upstream.MaxIdentityJWTLifetime)
	}
	o.Identity.Lifetime = c.IdentityLifetime
	o.PassAuthorization = c.PassAuthorization
	if c.MaxBodyBytes < 0 {
		return errors.New("gateway: max_body_bytes is negative")
	}
	o.MaxBodyBytes = c.MaxBodyBytes
	for _, s := range c.ExtAuthzPeers {
		p, err := netip.ParsePrefix(s)
		if err != nil || p != p.Masked() || p.Bits() == 0 {
			return fmt.Errorf("gateway: ext_authz_peers: %q is not a CIDR prefix without host bits (and not /0)", s)
		}
		o.ExtAuthzPeers = append(o.ExtAuthzPeers, p)
	}
	u := c.Upstream
	if u.MaxIdleConnsPerHost < 0 || u.MaxConnsPerHost < 0 || u.DialTimeout < 0 || u.TLSHandshakeTimeout < 0 ||
		u.ResponseHeaderTimeout < 0 || u.IdleConnTimeout < 0 {
		return errors.New("gateway: upstream: negative limit or timeout")
	}
	if o.Transport == nil {
		o.Transport = upstream.NewTransport(upstream.TransportOptions{
			MaxIdleConnsPerHost: u.MaxIdleConnsPerHost, MaxConnsPerHost: u.MaxConnsPerHost,
			DialTimeout: u.DialTimeout, TLSHandshakeTimeout: u.TLSHandshakeTimeout,
			ResponseHeaderTimeout: u.ResponseHeaderTimeout, IdleConnTimeout: u.IdleConnTimeout,
			HTTP2: u.HTTP2,
		})
	}
	return nil
}
