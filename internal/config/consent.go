package config

import (
	"net/url"
	"time"
)

// Consent configures how the gateway validates a request against the consent its token is
// bound to (INTERFACE.md "Consent validation webhook").
type Consent struct {
	// WebhookURL is the bank's consent-validation service: https, or http to a loopback
	// address, asked after the built-in validator (package consent) has allowed a request.
	// Empty means no external validator: routes use the built-in one alone, and routes
	// naming consent_validator "webhook" answer 503 (never allow).
	WebhookURL string `koanf:"webhook_url"`
	// WebhookTimeout bounds one call. Default 2s, at most 30s. A late answer is a 503.
	WebhookTimeout time.Duration `koanf:"webhook_timeout"`
	// WebhookSecret, when set, is sent as "Authorization: Bearer <secret>" on every call so
	// the validator can authenticate Portcullis.
	WebhookSecret Secret `koanf:"webhook_secret"`
}

func defaultConsent() Consent { return Consent{WebhookTimeout: 2 * time.Second} }

func (c Consent) validate() []error {
	var errs []error
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			errs = append(errs, fieldErr("consent.webhook_url", "must be an https URL (http only to loopback) without user information"))
		}
	}
	if c.WebhookTimeout <= 0 || c.WebhookTimeout > 30*time.Second {
		errs = append(errs, fieldErr("consent.webhook_timeout", "must be between 1ms and 30s"))
	}
	return errs
}
