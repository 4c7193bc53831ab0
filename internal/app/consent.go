package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// buildConsents constructs the consent service over the store and the gateway's built-in
// consent validator (consent state cached for at most the deny-list's refresh bound, fail
// closed; VRP usage counted in the store).
func (a *App) buildConsents() (*consent.ResourceValidator, error) {
	svc := a.Consents
	cache, err := consent.NewStateCache(svc, a.cfg.Tokens.DenyListRefresh, a.clock)
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	v, err := consent.NewResourceValidator(svc, cache, a.Store)
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	return v, nil
}

// buildConsentService constructs the consent resources' service over the store, before the
// authorization server, whose journey binds consents (intents) and records grants with it.
func (a *App) buildConsentService() error {
	svc, err := consent.NewService(consent.Options{Store: a.Store, Clock: a.clock, Audit: a.Audit, Logger: a.logger})
	if err != nil {
		return fmt.Errorf("consent: %w", err)
	}
	a.Consents = svc
	return nil
}

// consentIntents is the authorization server's view of Open Banking consents: a request
// naming openbanking_intent_id must name a consent of the client awaiting authorisation
// (fapi.md OB-03).
type consentIntents struct{ svc *consent.Service }

func (ci consentIntents) CheckIntent(ctx context.Context, clientID, intentID string) error {
	_, err := ci.svc.ForAuthorization(ctx, clientID, intentID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, consent.ErrUnavailableStore):
		return oauth.TemporarilyUnavailable(err)
	case errors.Is(err, consent.ErrNotFound), errors.Is(err, consent.ErrWrongClient):
		return oauth.InvalidRequest("openbanking_intent_id names no consent of this client").WithCause(err)
	case errors.Is(err, consent.ErrExpired), errors.Is(err, consent.ErrStatus):
		return oauth.InvalidRequest("the consent named by openbanking_intent_id is not awaiting authorisation").WithCause(err)
	}
	return err
}

// ConsentStatus is the token endpoint's re-check of a grant's consent at code exchange and
// refresh (authz.ConsentStatuser): in force only while Authorised and not expired; an
// unknown consent is not in force; a store failure is an error (the token endpoint then
// answers temporarily_unavailable, never a token).
func (ci consentIntents) ConsentStatus(ctx context.Context, consentID string) (bool, error) {
	c, err := ci.svc.Get(ctx, consentID)
	switch {
	case errors.Is(err, consent.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return c.Status(ci.svc.Now()) == consent.StatusAuthorised, nil
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
