package web

import (
	"context"
	"errors"
	"time"
)

// ErrJourneyGone is returned (wrapped) by [Journeys] and [Journey] when the pending
// authorization request is unknown, expired or already completed (approved or denied once:
// completion is single use). The pages answer it with the 400 error page, never a redirect.
var ErrJourneyGone = errors.New("web: authorization request unknown, expired or completed")

// Journeys finds pending authorization requests by the id that [Pages.Start] was given.
// The authorization endpoint implements it over its store, so that any node can continue
// a journey another node began.
type Journeys interface {
	// Journey returns the pending request id names, or an error wrapping
	// [ErrJourneyGone]. Any other error means "could not look it up".
	Journey(ctx context.Context, id string) (Journey, error)
}

// Journey is one pending authorization request as the customer's pages see it: what to
// show, and the two ways it can end.
type Journey interface {
	// Request returns what the pages show about the request.
	Request() Request
	// Accounts returns the accounts the authenticated customer may choose from for this
	// request (none when it asks for no account access).
	Accounts(ctx context.Context, customerID string) ([]Account, error)
	// Approve records the customer's approval (a grant whose id goes into the tokens)
	// and returns the URL the browser is sent to with a 303: the client's redirect_uri
	// carrying the code. accounts is a subset of those Accounts returned. Returns an
	// error wrapping [ErrJourneyGone] when the request was completed meanwhile.
	Approve(ctx context.Context, a Approval) (redirectURL string, err error)
	// Deny ends the request with access_denied and returns the URL the browser is sent
	// to with a 303. customerID is empty when the customer cancelled before logging in.
	// Returns an error wrapping [ErrJourneyGone] as Approve does.
	Deny(ctx context.Context, customerID string) (redirectURL string, err error)
}

// Request is the display data of a pending authorization request.
type Request struct {
	// ClientName is the TPP's registered client_name (shown prominently). Required.
	ClientName string
	// LogoURI is the TPP's registered logo_uri; shown when it is an https URL, and its
	// origin is then allowed in the page's img-src.
	LogoURI string
	// Scopes are the requested scope values; the approval page words each through the
	// catalog id "scope.<value>" ([Catalog]), and shows a value without an entry as
	// "scope.other" with the raw value.
	Scopes []string
	// Consent is the slot for the Open Banking consent details: rendered by the
	// "consent_details" template block, which is empty by default.
	Consent any
	// ChooseOne says the customer must choose exactly one of the offered accounts (the
	// account a payment is made from): the approval page offers them as radio buttons
	// and refuses an approval with no account or several ("approve.choose_one").
	ChooseOne bool
	// ExpiresAt is when the request expires; the session ends then at the latest.
	ExpiresAt time.Time
	// RedirectURI is the client's registered redirect_uri the journey ends at. Its
	// origin is added to form-action on the approval page, since browsers apply
	// form-action to the 303 that follows the form post. Required.
	RedirectURI string
}

// Account is one account offered on the approval page.
type Account struct {
	// ID is the account id submitted as the value of the "account" field.
	ID string
	// Name is what the customer calls it ("Current account").
	Name string
	// Identification is a masked identification ("•••• 1234", sort code and number).
	Identification string
}

// Approval is what the customer approved, and how they were authenticated.
type Approval struct {
	// CustomerID is the authenticated customer (from [Authenticator.CheckPassword]).
	CustomerID string
	// Accounts are the chosen account ids, each one of those offered.
	Accounts []string
	// AuthTime is when the customer completed authentication (OIDC auth_time).
	AuthTime time.Time
	// AMR lists the methods checked, in order: "pwd", then "otp" (RFC 8176 values).
	AMR []string
	// ACR is the acr a federated login determined ([FederatedLogin.ACR]); empty for the
	// embedded login, whose acr follows from AMR.
	ACR string
}

// SCA reports whether the login was a strong customer authentication (acr
// urn:openbanking:psd2:sca): ACR says so when set; otherwise both factors ("pwd" and
// "otp") were checked.
func (a Approval) SCA() bool {
	if a.ACR != "" {
		return a.ACR == "urn:openbanking:psd2:sca"
	}
	var pwd, otp bool
	for _, m := range a.AMR {
		pwd = pwd || m == "pwd"
		otp = otp || m == "otp"
	}
	return pwd && otp
}
