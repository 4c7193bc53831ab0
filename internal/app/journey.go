package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/httpserver"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/web"
)

// bindPublic binds the browser-facing listener (listen.public) before the authorization
// server is built, so that its URL is known for discovery's authorization_endpoint. The
// handler is set by buildJourney. It returns the public base URL, or "" when no public
// listener is configured (no customer journey is served then).
func (a *App) bindPublic(serverCert tls.Certificate) (string, error) {
	cfg := a.cfg
	if cfg.Listen.Public == "" {
		return "", nil
	}
	o := a.listenerOptions("public", cfg.Listen.Public,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.publicHandler.ServeHTTP(w, r) }))
	o.Middleware = obs.Middleware(a.logger, a.Metrics)
	o.TLSConfig = serverTLSConfig(serverCert, tls.NoClientCert) // a customer's browser never sees a certificate prompt
	o.MaxConnections, o.MaxConnectionsPerAddress = cfg.HTTP.MaxConnections, cfg.HTTP.MaxConnectionsPerAddress
	o.PerAddressExempt = cfg.MTLS.Proxies()
	o.MaxConcurrentStreams = cfg.HTTP.MaxConcurrentStreams
	a.public = httpserver.New(o)
	addr, err := a.public.Listen()
	if err != nil {
		return "", fmt.Errorf("public listener: %w", err)
	}
	a.servers = append(a.servers, a.public)
	base := cfg.PublicURL
	// Dev mode's default public_url follows the bound port (listen.public ":0" in tests).
	if cfg.Dev && base == config.DevPublicURL {
		if ta, ok := addr.(*net.TCPAddr); ok {
			base = "https://localhost:" + strconv.Itoa(ta.Port)
		}
	}
	return base, nil
}

// PublicAddr is the bound address of the browser-facing listener, or nil without one.
func (a *App) PublicAddr() net.Addr {
	if a.public == nil {
		return nil
	}
	addr, _ := a.public.Listen()
	return addr
}

// buildJourney serves the customer journey on the public listener: the authorization
// endpoint (authz), the customer's pages (web) over the embedded customers (identity), and
// discovery and /jwks for clients without their certificate at hand.
func (a *App) buildJourney() error {
	if a.public == nil {
		return nil
	}
	keyFile := a.cfg.Web.SessionKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(a.cfg.DataDir, "web-session.key")
	}
	key, err := web.LoadOrCreateKey(keyFile)
	if err != nil {
		return fmt.Errorf("web.session_key_file: %w", err)
	}
	fed, err := a.buildFederation()
	if err != nil {
		return err
	}
	pages, err := web.New(web.Options{
		Authenticator:   customerLogin{a.Identity},
		Federation:      fed,
		Journeys:        journeys{as: a.AS, clients: a.Clients, consents: a.Consents, accounts: a.accounts},
		Dashboard:       consentDashboard{consents: a.Consents, clients: a.Clients, accounts: a.accounts, clock: a.clock},
		SessionKeys:     [][]byte{key},
		SessionLifetime: a.cfg.Web.SessionLifetime,
		ThemeDir:        a.cfg.Web.ThemeDir,
		Clock:           a.clock,
		Logger:          a.logger,
	})
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	mux := http.NewServeMux()
	a.AS.RegisterBrowser(mux, a.AS.AuthorizeHandler(pages.Start, pages.RefuseStatus))
	mux.Handle(web.PathPrefix, pages)
	if a.cfg.Dev {
		mux.HandleFunc("GET "+PathDevCallback, devCallback)
	}
	// Every answer of the browser-facing listener carries the pages' security headers
	// (HSTS, CSP with frame-ancestors 'none', no-store, never a CORS header), the
	// authorization endpoint's 303s and error pages included (FAPI2-AS-31); a page widens
	// its own CSP where it must.
	a.publicHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.SecurityHeaders(w.Header(), "", "")
		mux.ServeHTTP(w, r)
	})
	return nil
}

// AccountsLookup lists the accounts a customer may choose from on the approval page.
type AccountsLookup interface {
	CustomerAccounts(ctx context.Context, customerID string) ([]bank.AccountSummary, error)
}

// customerLogin adapts the embedded customers to the pages' Authenticator, mapping the
// identity errors onto what the pages show.
type customerLogin struct{ id *identity.Embedded }

func (c customerLogin) CheckPassword(ctx context.Context, username, password, addr string) (string, error) {
	id, err := c.id.CheckPassword(ctx, username, password, addr)
	return id, loginError(err)
}

func (c customerLogin) CheckOTP(ctx context.Context, customerID, code, addr string) error {
	return loginError(c.id.CheckOTP(ctx, customerID, code, addr))
}

func loginError(err error) error {
	var rl *identity.RateLimitedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rl):
		return &web.TooManyAttemptsError{Wait: rl.RetryAfter}
	case errors.Is(err, identity.ErrInvalidCredentials), errors.Is(err, identity.ErrInvalidOTP):
		return fmt.Errorf("%w: %w", web.ErrWrongCredentials, err)
	case errors.Is(err, identity.ErrOTPReplayed):
		return fmt.Errorf("%w: %w", web.ErrCodeUsed, err)
	}
	return err
}

// journeys finds the pending authorization requests for the pages (on any node: they are
// in the store).
type journeys struct {
	as       *authz.Server
	clients  *client.Registry
	consents *consent.Service
	accounts AccountsLookup
}

func (j journeys) Journey(ctx context.Context, id string) (web.Journey, error) {
	p, err := j.as.Journey(ctx, id)
	if err != nil {
		if errors.Is(err, authz.ErrJourneyGone) {
			return nil, fmt.Errorf("%w: %w", web.ErrJourneyGone, err)
		}
		return nil, err
	}
	c, err := j.clients.Get(ctx, p.Request.ClientID)
	if err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return nil, fmt.Errorf("%w: client removed", web.ErrJourneyGone)
		}
		return nil, err
	}
	jr := &journey{j: j, p: p, c: c}
	if id := p.Request.IntentID; id != "" {
		// The consent the request names, as the customer will approve it (OB-03: it must
		// still be this client's and await authorisation).
		if jr.intent, err = j.consents.ForAuthorization(ctx, c.ID, id); err != nil {
			if errors.Is(err, consent.ErrUnavailableStore) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: consent %s: %w", web.ErrJourneyGone, id, err)
		}
	}
	return jr, nil
}

// journey is one pending request as the pages see it.
type journey struct {
	j      journeys
	p      *authz.Pending
	c      *client.Client
	intent *consent.Consent // the Open Banking consent the request names, or nil
}

func (jr *journey) Request() web.Request {
	name := jr.c.Name
	if name == "" {
		name = jr.c.ID
	}
	r := web.Request{
		ClientName: name, LogoURI: jr.c.LogoURI, Scopes: jr.p.Request.Scope,
		ExpiresAt: jr.p.ExpiresAt, RedirectURI: jr.p.Request.RedirectURI,
	}
	if jr.intent != nil {
		d := consent.Describe(jr.intent)
		r.Consent, r.ChooseOne = d, d.ChooseAccounts == "one"
	}
	return r
}

// Accounts offers the customer's accounts when the request asks for account or payment
// access, none otherwise.
func (jr *journey) Accounts(ctx context.Context, customerID string) ([]web.Account, error) {
	if jr.j.accounts == nil || (!slices.Contains(jr.p.Request.Scope, "accounts") && !slices.Contains(jr.p.Request.Scope, "payments")) {
		return nil, nil
	}
	list, err := jr.j.accounts.CustomerAccounts(ctx, customerID)
	if err != nil {
		return nil, err
	}
	out := make([]web.Account, 0, len(list))
	for _, a := range list {
		out = append(out, web.Account{ID: a.ID, Name: a.Name, Identification: a.Identification})
	}
	return out, nil
}

func (jr *journey) Approve(ctx context.Context, ap web.Approval) (string, error) {
	acr := authz.ACRCA
	if ap.SCA() {
		acr = authz.ACRSCA
	}
	to, err := jr.j.as.Complete(ctx, jr.p, authz.Approval{
		CustomerID: ap.CustomerID, AuthTime: ap.AuthTime, ACR: acr, AMR: ap.AMR,
		Grant: func(ctx context.Context) (string, error) {
			// The consent the request named is authorised with the customer and the
			// accounts chosen; a request naming none gets a generic consent of its scopes.
			var c *consent.Consent
			var err error
			if jr.intent != nil {
				c, err = jr.j.consents.Authorise(ctx, jr.intent.ID, ap.CustomerID, ap.Accounts)
			} else {
				c, err = jr.j.consents.CreateGeneric(ctx, jr.c.ID, ap.CustomerID, jr.p.Request.Scope, ap.Accounts)
			}
			switch {
			case errors.Is(err, consent.ErrStatus), errors.Is(err, consent.ErrExpired),
				errors.Is(err, consent.ErrNotFound), errors.Is(err, consent.ErrWrongClient):
				return "", oauth.AccessDenied("the consent can no longer be authorised").WithCause(err)
			case err != nil:
				return "", err
			}
			return c.ID, nil
		},
	})
	return to, journeyError(err)
}

func (jr *journey) Deny(ctx context.Context, customerID string) (string, error) {
	to, err := jr.j.as.Deny(ctx, jr.p)
	if err == nil && jr.intent != nil {
		// The customer refused the consent itself (OBIE: Rejected).
		if _, rerr := jr.j.consents.Reject(ctx, jr.intent.ID, customerID); rerr != nil && errors.Is(rerr, consent.ErrUnavailableStore) {
			return "", rerr
		}
	}
	return to, journeyError(err)
}

func journeyError(err error) error {
	if errors.Is(err, authz.ErrJourneyGone) {
		return fmt.Errorf("%w: %w", web.ErrJourneyGone, err)
	}
	return err
}
