package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/upstream"
)

// ApplyConfig checks the configuration file's gateway section c and writes it
// into o: the routes (appended to o.Routes, consent validators resolved by name in
// validators), the identity mode and audience (the jwt mode's Signer and Issuer
// stay the caller's to set), the body limit, the public URL, the ext-authz peers,
// and an upstream transport unless o.Transport is already set. Errors name the
// offending field.
func ApplyConfig(c config.Gateway, o *Options, validators map[string]consent.Validator) error {
	for _, rc := range c.Routes {
		r, err := RouteFromConfig(rc, validators)
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
	if c.PublicURL != "" {
		u, err := config.GatewayPublicURL(c.PublicURL)
		if err != nil {
			return fmt.Errorf("gateway: public_url: %w", err)
		}
		o.PublicURL = u
	}
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

// CheckConfig reports the first problem of the gateway section c as ApplyConfig
// would, without building anything: for configuration checks before start-up.
// validatorNames are the consent_validator names the caller will resolve.
func CheckConfig(c config.Gateway, validatorNames ...string) error {
	placeholder := consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) {
		return consent.Decision{}, consent.ErrUnavailable
	})
	validators := make(map[string]consent.Validator, len(validatorNames))
	for _, n := range validatorNames {
		validators[n] = placeholder
	}
	o := Options{Transport: http.DefaultTransport}
	return ApplyConfig(c, &o, validators)
}
