package app

import (
	"fmt"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// buildConsents constructs the consent service over the store and the gateway's built-in
// consent validator (consent state cached for at most the deny-list's refresh bound, fail
// closed; VRP usage counted in the store).
func (a *App) buildConsents() (*consent.ResourceValidator, error) {
	svc, err := consent.NewService(consent.Options{Store: a.Store, Clock: a.clock, Audit: a.Audit, Logger: a.logger})
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	cache, err := consent.NewStateCache(svc, a.cfg.Tokens.DenyListRefresh, a.clock)
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	v, err := consent.NewResourceValidator(svc, cache, a.Store)
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	a.Consents = svc
	return v, nil
}

// consentRoutes adds the consent APIs to the gateway's routes: served in process, behind
// the same certificate, token, binding, scope and role checks as every route.
func (a *App) consentRoutes(opts *gateway.Options, baseURL string, funds consent.FundsChecker) {
	api := consent.NewAPI(a.Consents, consent.APIOptions{BaseURL: baseURL, Funds: funds, Logger: a.logger})
	for _, ep := range consent.Endpoints() {
		use := gateway.TokenUseApplication
		if ep.CustomerToken {
			use = gateway.TokenUseUser
		}
		opts.Routes = append(opts.Routes, gateway.Route{
			Name: ep.Name, Method: ep.Method, Pattern: ep.Pattern, Scopes: []string{ep.Scope},
			TokenUse: use, Roles: []eidas.Role{ep.Role}, Handler: api,
		})
	}
}
