package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/web"
)

// buildFederation returns the federated login of identity.federation for the pages, or nil
// when none is configured. The provider's discovery document, JWK Set and token endpoint are
// reached under the jwks_uri rules (jose.RemoteJWKS), with identity.federation.ca_file as
// roots and private addresses allowed only with private_network (or in dev mode).
func (a *App) buildFederation() (web.Federation, error) {
	f := a.cfg.Identity.Federation
	if f.Issuer == "" {
		return nil, nil
	}
	var roots *x509.CertPool
	if f.CAFile != "" {
		pemBytes, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("identity.federation.ca_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, errors.New("identity.federation.ca_file: no PEM certificate")
		}
	}
	var key *jose.SigningKey
	if f.PrivateKeyFile != "" {
		pemBytes, err := os.ReadFile(f.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("identity.federation.private_key_file: %w", err)
		}
		if key, err = jose.ParseSigningKeyPEM(pemBytes); err != nil {
			return nil, fmt.Errorf("identity.federation.private_key_file: %w", err)
		}
	}
	redirect := f.RedirectURI
	if redirect == "" {
		redirect = web.FederatedCallbackPath
	}
	if u, err := url.Parse(redirect); err == nil && u.Host == "" {
		redirect = a.publicURL + u.Path
	}
	acr := make(map[string]string, len(f.ACRMap))
	for _, m := range f.ACRMap {
		acr[m.Provider] = m.ACR
	}
	fed, err := identity.NewFederated(identity.FederationOptions{
		Issuer: f.Issuer, ClientID: f.ClientID, ClientSecret: f.ClientSecret.Reveal(), ClientKey: key,
		RedirectURI: redirect, CustomerClaim: f.CustomerClaim, ACRMap: acr, Scopes: f.Scopes,
		Remote: jose.NewRemoteJWKS(jose.RemoteJWKSOptions{
			Clock: a.clock, Logger: a.logger, RootCAs: roots, AllowPrivateNetworks: a.cfg.Dev || f.PrivateNetwork,
		}),
		Clock: a.clock,
	})
	if err != nil {
		return nil, err
	}
	return federatedLogin{fed}, nil
}

// federatedLogin adapts identity.Federated to the pages' Federation, mapping its errors
// onto what the pages show.
type federatedLogin struct{ f *identity.Federated }

func (l federatedLogin) Begin(ctx context.Context) (string, string, error) {
	return l.f.Begin(ctx)
}

func (l federatedLogin) Finish(ctx context.Context, pending string, callback url.Values) (web.FederatedLogin, error) {
	au, err := l.f.Finish(ctx, pending, callback)
	switch {
	case errors.Is(err, identity.ErrFederationDenied):
		return web.FederatedLogin{}, fmt.Errorf("%w: %w", web.ErrLoginCancelled, err)
	case errors.Is(err, identity.ErrFederationRejected):
		return web.FederatedLogin{}, fmt.Errorf("%w: %w", web.ErrLoginRefused, err)
	case err != nil:
		return web.FederatedLogin{}, err
	}
	return web.FederatedLogin{CustomerID: au.CustomerID, AuthTime: au.AuthTime, AMR: au.AMR, ACR: au.ACR}, nil
}
