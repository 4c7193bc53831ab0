package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/httpserver"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
)

// errNoConsentValidator is what routes naming consent_validator "webhook" get while no
// webhook is configured: the gateway answers 503 — a consent it cannot check is never allowed.
var errNoConsentValidator = fmt.Errorf("%w: no consent validator configured (consent.webhook_url)", consent.ErrUnavailable)

// buildGateway constructs the resource-server side and mounts it on the https mux: the
// configured routes (in dev mode without routes, the sandbox bank's default table with the
// bank on its own loopback listener), the consent validator, and the external authorizer.
func (a *App) buildGateway(mux *http.ServeMux) error {
	cfg := a.cfg
	// Routes without a named validator use the built-in one, followed by the bank's
	// webhook when configured; routes naming "webhook" use the webhook for their rules.
	builtin, err := a.buildConsents()
	if err != nil {
		return err
	}
	defaultValidator := consent.Validator(builtin)
	validator := consent.Validator(consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) {
		return consent.Decision{}, errNoConsentValidator
	}))
	if cfg.Consent.WebhookURL != "" {
		headers := http.Header{}
		if s := cfg.Consent.WebhookSecret.Reveal(); s != "" {
			headers.Set("Authorization", "Bearer "+s)
		}
		wh, err := consent.NewWebhook(consent.WebhookOptions{URL: cfg.Consent.WebhookURL, Timeout: cfg.Consent.WebhookTimeout, Headers: headers})
		if err != nil {
			return fmt.Errorf("consent.webhook_url: %w", err)
		}
		// Routes naming the webhook alone still refuse tokens of a revoked, expired or
		// another client's consent (the state cache's bound), before the webhook is asked.
		validator = consent.Chain(builtin.LiveOnly(), wh)
		defaultValidator = consent.Chain(builtin, wh)
	}

	logSink := audit.NewLogSink(a.logger)
	opts := gateway.Options{
		Verifier:         a.Verifier,
		ConsentValidator: defaultValidator,
		Customers:        a.Store, // consent → customer, for the upstream's PSU id
		Logger:           a.logger,
		Registerer:       a.Metrics.Registry(),
		// Refusals go to the audit log stream only: one database write per refused
		// request would let anyone without a token amplify load on the database.
		Audit: func(ctx context.Context, ev gateway.AuditEvent) {
			data := map[string]any{"mode": ev.Mode, "route": ev.Route, "status": ev.Status, "code": ev.Code}
			if ev.Err != nil {
				data["reason"] = ev.Err.Error()
			}
			logSink.Record(ctx, audit.Event{Type: ev.Kind, ClientID: ev.ClientID, Data: data})
		},
	}
	if cfg.MTLS.Header != "" {
		opts.StripHeaders = []string{cfg.MTLS.Header}
	}
	if a.tppRegister != nil {
		opts.Register = a.tppRegister
	}
	gwCfg := cfg.Gateway
	if gwCfg.PublicURL == "" { // the issuer's scheme and host: the mTLS listener's public name
		if iss, err := url.Parse(cfg.Issuer); err == nil {
			gwCfg.PublicURL = (&url.URL{Scheme: iss.Scheme, Host: iss.Host}).String()
		}
	}
	var funds consent.FundsChecker
	if len(gwCfg.Routes) == 0 && cfg.Dev {
		bankURL, err := a.startSandboxBank()
		if err != nil {
			return err
		}
		gwCfg.Routes = bank.Routes(bankURL.String())
		funds = bank.Funds{}
	}
	if err := gateway.ApplyConfig(gwCfg, &opts, map[string]consent.Validator{config.ConsentWebhookValidator: validator}); err != nil {
		return err
	}
	opts.Identity.Signer, opts.Identity.Issuer, opts.Identity.Clock = a.Keys, cfg.Issuer, a.clock
	a.consentRoutes(&opts, gwCfg.PublicURL, funds)
	if err := a.mountMessageRules(opts.Routes, opts.MaxBodyBytes); err != nil {
		return err
	}

	g, err := gateway.New(opts)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	a.Gateway = g
	mux.Handle("/", g)
	mux.Handle(gateway.ExtAuthzPath, g.ExtAuthz())
	mux.Handle(gateway.ExtAuthzPath+"/", g.ExtAuthz())
	return nil
}

// startSandboxBank binds the sample bank on a loopback port of its own; it is reachable only
// through the gateway (it trusts the identity headers the gateway sets).
func (a *App) startSandboxBank() (*url.URL, error) {
	srv := httpserver.New(httpserver.Options{
		Name: "sandbox-bank", Addr: "127.0.0.1:0", Handler: bank.New(a.clock), Logger: a.logger,
		MaxBodyBytes: a.cfg.HTTP.MaxBodyBytes, ShutdownTimeout: a.cfg.HTTP.ShutdownTimeout,
		// Every connection comes from the gateway's own pool on 127.0.0.1: one address.
		MaxConnections: a.cfg.HTTP.MaxConnections, MaxConnectionsPerAddress: a.cfg.HTTP.MaxConnections,
	})
	addr, err := srv.Listen()
	if err != nil {
		return nil, fmt.Errorf("sandbox bank: %w", err)
	}
	a.servers = append(a.servers, srv)
	a.BankURL = &url.URL{Scheme: "http", Host: addr.String()}
	return a.BankURL, nil
}

// CheckGatewayConfig applies package gateway's rules to the configuration's gateway
// section (routes, roles, patterns, validator names) without building anything, so
// that a bad route is a configuration error before start-up.
// The error is a *config.FieldError for the "gateway" section.
func CheckGatewayConfig(cfg *config.Config) error {
	if err := gateway.CheckConfig(cfg.Gateway, config.ConsentWebhookValidator); err != nil {
		return &config.FieldError{Field: "gateway", Reason: strings.TrimPrefix(err.Error(), "gateway: ")}
	}
	return nil
}
