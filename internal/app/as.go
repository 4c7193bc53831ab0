package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/token"
)

// buildAS constructs the authorization server: signing keys, access-token issuer and
// verifier, the deny-list, the client registry, client authentication and the endpoints,
// and mounts them on the https mux. The admin API is not there: see buildAdmin.
func (a *App) buildAS(mux *http.ServeMux, publicURL string) error {
	cfg := a.cfg
	keyOpts := jose.KeyStoreOptions{Clock: a.clock, RetireAfter: cfg.Keys.RetireAfter, SigningAlg: jose.Alg(cfg.Keys.Alg), Logger: a.logger}
	dir := cfg.KeysDir()
	var err error
	switch {
	case cfg.Keys.Source == "database":
		// Shared by every node on the database; rotations and prunes arrive by polling.
		if a.KeySet, err = OpenKeySet(context.Background(), cfg, a.Store, keyOpts); err != nil {
			return fmt.Errorf("signing keys (keys.source database): %w", err)
		}
		a.Keys = a.KeySet.KeyStore()
		a.runners = append(a.runners, func(ctx context.Context) { _ = a.KeySet.Run(ctx) })
	case cfg.Dev:
		a.Keys, err = jose.LoadOrGenerate(dir, jose.Alg(cfg.Keys.Alg), keyOpts)
	default:
		a.Keys, err = jose.LoadKeyDir(dir, keyOpts)
	}
	if err != nil {
		return fmt.Errorf("keys.dir: %w", err)
	}
	if err := a.loadSealKey(); err != nil {
		return err
	}

	// Retired keys past their retirement time are dropped from the files once a minute
	// (they already stopped verifying and left /jwks at that time).
	a.runners = append(a.runners, func(ctx context.Context) {
		if a.KeySet != nil {
			return // the key set's poll prunes
		}
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if dropped, err := a.Keys.Prune(); err != nil {
					a.logger.Error("keys: prune", "err", err)
				} else if len(dropped) > 0 {
					a.logger.Info("keys: retired keys removed", "kids", dropped)
				}
			}
		}
	})

	a.DenyList, err = token.NewDenyList(token.DenyListOptions{
		Source: a.Store, Clock: a.clock, Logger: a.logger, RefreshInterval: cfg.Tokens.DenyListRefresh,
	})
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	// Loaded once before anything is served, so that the first requests do not meet a
	// deny-list that has not been read yet (and are not refused as "state unavailable"
	// while the background loop starts); the loop keeps it fresh from then on.
	if err := a.DenyList.Refresh(context.Background()); err != nil {
		return fmt.Errorf("tokens: loading the deny-list: %w", err)
	}
	a.runners = append(a.runners, func(ctx context.Context) { _ = a.DenyList.Run(ctx) })

	// The secret behind customers' subjects lives with the signing keys; generated on
	// first start.
	subjects, err := token.LoadSubjects(dir)
	if err != nil {
		return fmt.Errorf("keys.dir: %w", err)
	}
	a.Tokens, err = token.NewIssuer(token.IssuerOptions{
		Keys: a.Keys, Issuer: cfg.Issuer, AccessTokenLifetime: cfg.Tokens.AccessTokenLifetime,
		Clock: a.clock, OpenBankingIntentID: true, Subjects: subjects,
	})
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	a.Verifier, err = token.NewVerifier(token.VerifierOptions{
		Keys: a.Keys, Issuer: cfg.Issuer, MaxClockSkew: cfg.Tokens.MaxClockSkew, Clock: a.clock, DenyList: a.DenyList,
	})
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}

	// Clients' documents by URL (jwks_uri, sector_identifier_uri) are fetched under one set
	// of rules: https, public addresses only (loopback allowed in dev), bounded. In dev
	// mode a server certificate of the sandbox CA is trusted too, so that a TPP run
	// locally can serve its keys.
	jwks := jose.NewRemoteJWKS(jose.RemoteJWKSOptions{Clock: a.clock, Logger: a.logger, AllowPrivateNetworks: cfg.Dev, RootCAs: a.devDocumentRoots()})
	a.Clients = client.NewRegistry(a.Store, client.RegistryOptions{
		Sectors:  jwks,
		Validate: client.ValidateOptions{AllowLoopbackHTTPRedirect: cfg.Dev},
		// Changes made on another node (or by `portcullis client` against the same
		// database) take effect here within this TTL; local ones at once.
		CacheTTL: client.DefaultCacheTTL,
		Clock:    a.clock,
		Audit: func(ctx context.Context, e client.Event) {
			a.Audit.Record(ctx, audit.Event{Type: e.Type, ClientID: e.ClientID, Subject: e.Actor})
		},
	})

	// The TPPs' NCA register, asked at registration, at the token endpoint and by the
	// gateway (tpp_register.go).
	if a.tppRegister, err = a.buildTPPRegister(jwks); err != nil {
		return err
	}

	// One resolver of clients' keys for client assertions and request objects, sharing
	// its caches.
	clientKeys := clientauth.NewKeyResolver(jwks)
	a.clientKeys = clientKeys
	authOpts := clientauth.Options{
		Clients: a.Clients, JTIs: a.Store, JWKS: jwks, Keys: clientKeys, Clock: a.clock,
		Issuer: cfg.Issuer, TokenEndpoint: cfg.Issuer + authz.PathToken, PAREndpoint: cfg.Issuer + authz.PathPAR,
		MaxAssertionLifetime: cfg.ClientAuth.MaxAssertionLifetime,
		MaxAssertionLifetimeByProfile: map[string]time.Duration{
			client.ProfileFAPI1: cfg.ClientAuth.MaxAssertionLifetimeFAPI1, client.ProfileFAPI2: cfg.ClientAuth.MaxAssertionLifetimeFAPI2,
		},
	}
	if a.tppRegister != nil {
		authOpts.Register = a.tppRegister
	}
	a.ClientAuth, err = clientauth.New(authOpts)
	if err != nil {
		return fmt.Errorf("client authentication: %w", err)
	}

	registration, err := a.buildRegistration(jwks)
	if err != nil {
		return err
	}
	opts := authz.Options{
		Issuer: cfg.Issuer, Keys: a.Keys, Tokens: a.Tokens, Verifier: a.Verifier, ClientAuth: a.ClientAuth,
		Revocations: a.Store, DenyList: a.DenyList, Logger: a.logger, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		ScopesSupported: ScopesSupported(),
		Registerer:      a.Metrics.Registry(),
		Audit:           a.Audit,
		Clock:           a.clock,
		Registration:    registration,
	}
	if publicURL == "" {
		// No customer journey, no ID tokens: openid is not offered.
		opts.ScopesSupported = slices.DeleteFunc(opts.ScopesSupported, func(s string) bool { return s == "openid" })
	}
	if publicURL != "" {
		// The customer journey: the authorization endpoint on the public listener, PAR,
		// the code and refresh grants and userinfo on this (mTLS) one.
		opts.BrowserBaseURL = publicURL
		opts.PushedRequests, opts.Codes, opts.RefreshTokens, opts.Families = a.Store, a.Store, a.Store, a.Store
		opts.ClientKeys, opts.Clients = clientKeys, a.Clients
		opts.Signer, opts.IDTokens = a.Tokens, a.Tokens
		opts.Subjects = authz.ClientSubjects{S: subjects}
		opts.Intents = consentIntents{a.Consents}
		opts.Consents = consentIntents{a.Consents}
	}
	a.AS, err = authz.New(opts)
	if err != nil {
		return fmt.Errorf("authorization server: %w", err)
	}
	a.AS.Register(mux)
	return nil
}

// devDocumentRoots is, in dev mode, the system roots plus the sandbox CA's root: what the
// server trusts when it fetches a client's documents (jwks_uri, sector_identifier_uri).
// Outside dev mode it is nil: the system roots alone.
func (a *App) devDocumentRoots() *x509.CertPool {
	if a.Sandbox == nil {
		return nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pool.AddCert(a.Sandbox.RootCertificate())
	return pool
}
