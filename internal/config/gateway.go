package config

import (
	"context"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/gateway"
)

// ConsentWebhookValidator is the name routes use (consent_validator) for the webhook of
// the consent section; an empty name means the same default validator.
const ConsentWebhookValidator = "webhook"

// validateGateway checks the gateway section (gateway.Config: routes, identity mode,
// ext-authz peers, upstream pool) the way the gateway will apply it, so a bad route is a
// configuration error (exit 2) rather than a start-up failure.
func (c *Config) validateGateway() []error {
	placeholder := consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) {
		return consent.Decision{}, consent.ErrUnavailable
	})
	validators := map[string]consent.Validator{ConsentWebhookValidator: placeholder}
	o := gateway.Options{ConsentValidator: placeholder}
	if err := c.Gateway.Apply(&o, validators); err != nil {
		return []error{fieldErr("gateway", "%v", err)}
	}
	for _, r := range o.Routes {
		if err := r.Validate(); err != nil {
			return []error{fieldErr("gateway.routes", "%v", err)}
		}
	}
	return nil
}
