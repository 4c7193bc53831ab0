package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// FederatedCallbackPath is where the bank's identity provider sends the browser back to
// (the redirect_uri registered there, on the public listener).
const FederatedCallbackPath = "/customer/federated/callback"

// maxCallbackQuery bounds the query string of the callback, in bytes.
const maxCallbackQuery = 8 << 10

// Federation is a redirect-based login at the bank's own identity provider, used instead
// of the [Authenticator]'s password and one-time-code pages when [Options.Federation] is
// set. Package identity's Federated implements it through an adapter that maps its errors
// onto the sentinels below.
type Federation interface {
	// Begin returns the provider's URL to send the browser to, and pending: an opaque
	// value of at most MaxPendingBytes that the pages seal into the session and hand back
	// to Finish on the callback. Any error means "could not start" (503 page).
	Begin(ctx context.Context) (authURL, pending string, err error)
	// Finish completes the login from the callback's query. Errors: one wrapping
	// [ErrLoginRefused] for an answer that was checked and refused (state, token, claims:
	// the 400 page), one wrapping [ErrLoginCancelled] when the customer cancelled at the
	// provider (the journey is denied). Any other error means "could not check" (503).
	Finish(ctx context.Context, pending string, callback url.Values) (FederatedLogin, error)
}

// MaxPendingBytes bounds the pending value of [Federation.Begin].
const MaxPendingBytes = 512

// FederatedLogin is a login completed at the identity provider.
type FederatedLogin struct {
	CustomerID string
	AuthTime   time.Time
	// AMR are the methods the provider reported (RFC 8176).
	AMR []string
	// ACR is the Open Banking acr the authenticator determined (urn:openbanking:psd2:sca
	// or urn:openbanking:psd2:ca); it decides [Approval.SCA].
	ACR string
}

var (
	// ErrLoginRefused: the provider's answer was refused; the page says the login could
	// not be confirmed and to start again from the app (400).
	ErrLoginRefused = errors.New("web: federated login refused")
	// ErrLoginCancelled: the customer cancelled at the provider; the journey ends with
	// access_denied at the client.
	ErrLoginCancelled = errors.New("web: federated login cancelled")
)

// federatedLogin is the login page with a Federation: it begins a login at the provider,
// keeps the pending value in the session and answers 303 to the provider. Every visit
// begins afresh (the last one's state is the one the callback must carry).
func (p *Pages) federatedLogin(w http.ResponseWriter, r *http.Request) error {
	s, _, ok, err := p.page(w, r, stepLogin)
	if !ok {
		return err
	}
	target, pending, err := p.fed.Begin(r.Context())
	if err != nil {
		return err
	}
	if len(pending) > MaxPendingBytes {
		return errors.New("web: federation pending value too large")
	}
	s.Fed = pending
	p.save(w, s)
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// federatedCallback finishes the login on the provider's redirect: the session must be at
// the login step with a pending login, which is used once (cleared whatever the outcome).
// On success the session gets a fresh id and CSRF token and moves to the approval step.
func (p *Pages) federatedCallback(w http.ResponseWriter, r *http.Request) error {
	if len(r.URL.RawQuery) > maxCallbackQuery {
		return errBadForm
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errBadForm
	}
	s, j, err := p.load(r)
	if err != nil {
		return err
	}
	if s.Step != stepLogin {
		http.Redirect(w, r, stepPath(s.Step), http.StatusSeeOther)
		return nil
	}
	if s.Fed == "" {
		return ErrLoginRefused
	}
	pending := s.Fed
	s.Fed = ""
	login, err := p.fed.Finish(r.Context(), pending, q)
	switch {
	case errors.Is(err, ErrLoginCancelled):
		target, err := j.Deny(r.Context(), "")
		return p.end(w, r, target, err)
	case err != nil:
		if errors.Is(err, ErrLoginRefused) {
			// Known to the page mapping, so not logged there; the operator needs the reason.
			p.log.WarnContext(r.Context(), "federated login refused", "error", err.Error())
		}
		p.save(w, s)
		return err
	case login.CustomerID == "":
		p.save(w, s)
		return ErrLoginRefused
	}
	s.renew()
	s.Step, s.Customer, s.AMR, s.ACR = stepApprove, login.CustomerID, login.AMR, login.ACR
	s.AuthTime = login.AuthTime.Unix()
	if s.Dash {
		s.Step = stepDashboard
	}
	p.save(w, s)
	http.Redirect(w, r, stepPath(s.Step), http.StatusSeeOther)
	return nil
}
