package consent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// What the authorization journey (package authz and its pages) calls. The contract:
//
//  1. When a request object carries openbanking_intent_id (read from the signed
//     request object only), the journey calls [Service.ForAuthorization] with the
//     authenticated client and the intent id, and refuses the request (fapi.md OB-03)
//     on any error: ErrNotFound (no such consent), ErrWrongClient (another client's),
//     a *StatusError (not AwaitingAuthorisation), ErrExpired — and answers
//     server_error on ErrUnavailableStore.
//  2. The approval page shows [Describe] of the consent and lets the customer choose
//     among their accounts (account access: any number; a payment without a debtor
//     account: one).
//  3. Approval calls [Service.Authorise] (id, the bank's customer id, the chosen
//     account ids); refusal calls [Service.Reject]. Both can fail with the errors of
//     step 1 when the consent changed meanwhile (e.g. revoked by the TPP, or approved
//     in another tab): the journey then ends with access_denied.
//  4. Tokens issued from the grant carry the consent id (consent_id /
//     openbanking_intent_id) and the ID token openbanking_intent_id (OB-04).
//  5. A generic FAPI client that sent no intent: on approval the journey calls
//     [Service.CreateGeneric] (client, customer, granted scopes, chosen accounts) and
//     binds the tokens to the consent it returns.

// ForAuthorization returns consent intentID for the journey of client clientID,
// provided it exists, belongs to clientID, is AwaitingAuthorisation and has not
// expired. Errors: ErrNotFound, ErrWrongClient, *StatusError (errors.Is ErrStatus),
// ErrExpired, ErrUnavailableStore.
func (s *Service) ForAuthorization(ctx context.Context, clientID, intentID string) (*Consent, error) {
	c, err := s.Get(ctx, intentID)
	if err != nil {
		return nil, err
	}
	if c.ClientID != clientID {
		return nil, ErrWrongClient
	}
	now := s.clock.Now()
	if c.expired(now) {
		return nil, ErrExpired
	}
	if c.StoredStatus != StatusAwaitingAuthorisation {
		return nil, &StatusError{Status: c.StoredStatus}
	}
	return c, nil
}

// MaxGenericScopes bounds the scopes of a generic consent.
const MaxGenericScopes = 32

// CreateGeneric creates and at once authorises the consent of a generic FAPI client
// that sent no intent: clientID, the customer who approved, the scopes granted and
// the accounts the customer chose (may be empty). Its history shows both steps. The
// tokens of the grant are bound to the returned consent, so revoking it (dashboard,
// admin) ends them like any other. Errors: ErrUnavailableStore; an error for an empty
// client or customer or more than MaxGenericScopes scopes.
func (s *Service) CreateGeneric(ctx context.Context, clientID, customerID string, scopes, accounts []string) (*Consent, error) {
	if clientID == "" || customerID == "" || len(scopes) > MaxGenericScopes {
		return nil, fmt.Errorf("consent: CreateGeneric needs a client, a customer and at most %d scopes", MaxGenericScopes)
	}
	c, err := s.create(ctx, &Consent{Kind: KindGeneric, ClientID: clientID, Scopes: slices.Clone(scopes)})
	if err != nil {
		return nil, err
	}
	return s.Authorise(ctx, c.ID, customerID, accounts)
}

// Display is what the approval page (and the customer's dashboard) shows of a
// consent, in plain words. Every string is plain text, to be HTML-escaped by the
// template.
type Display struct {
	// Title names the kind: "Access to your account information", "A payment", …
	Title string
	// Permissions are the things the TPP may see or do, one sentence each.
	Permissions []string
	// Payment is set for payment consents.
	Payment *DisplayPayment
	// Limits are VRP control parameters in words ("At most 50.00 GBP per payment", …).
	Limits []string
	// Expires is the consent's expiry; zero means it does not expire.
	Expires time.Time
	// SingleUse says the consent ends with its one payment (a domestic payment), so the
	// page says that rather than an end date.
	SingleUse bool
	// TransactionWindow describes the transaction history the TPP may read ("" for all).
	TransactionWindow string
	// ChooseAccounts says the customer must pick accounts: "many" (account access), "one"
	// (a payment or VRP without a debtor account; funds confirmation names its own), or "".
	ChooseAccounts string
	// DebtorAccount is the account the TPP named, when it did (the customer cannot pick another).
	DebtorAccount string
}

// DisplayPayment is a payment in plain words.
type DisplayPayment struct {
	Amount, Currency, Creditor, CreditorAccount, Reference string
}

// Describe returns what the approval page shows of c.
func Describe(c *Consent) Display {
	var d Display
	d.Expires = c.ExpiresAt
	switch c.Kind {
	case KindAccountAccess:
		d.Title, d.ChooseAccounts = "Access to your account information", "many"
		for _, p := range c.AccountAccess.Permissions {
			d.Permissions = append(d.Permissions, permissionText[p])
		}
		aa := c.AccountAccess
		switch {
		case !aa.TransactionFromDateTime.IsZero() && !aa.TransactionToDateTime.IsZero():
			d.TransactionWindow = "Transactions from " + aa.TransactionFromDateTime.Format("2 January 2006") + " to " + aa.TransactionToDateTime.Format("2 January 2006")
		case !aa.TransactionFromDateTime.IsZero():
			d.TransactionWindow = "Transactions from " + aa.TransactionFromDateTime.Format("2 January 2006")
		case !aa.TransactionToDateTime.IsZero():
			d.TransactionWindow = "Transactions up to " + aa.TransactionToDateTime.Format("2 January 2006")
		}
	case KindDomesticPayment:
		in := c.DomesticPayment.parsed()
		d.Title, d.SingleUse = "A single payment", true
		d.Permissions = []string{"Make this one payment from your account"}
		p := &DisplayPayment{}
		if in.InstructedAmount != nil {
			p.Amount, p.Currency = in.InstructedAmount.Amount, in.InstructedAmount.Currency
		}
		if in.CreditorAccount != nil {
			p.Creditor, p.CreditorAccount = in.CreditorAccount.Name, in.CreditorAccount.Identification
		}
		if in.RemittanceInformation != nil {
			p.Reference = in.RemittanceInformation.Reference
		}
		d.Payment = p
		d.ChooseAccounts = "one"
		if in.DebtorAccount != nil {
			d.DebtorAccount, d.ChooseAccounts = in.DebtorAccount.Identification, ""
		}
	case KindFundsConfirmation:
		d.Title = "Confirmation of funds"
		d.Permissions = []string{"Ask whether your account holds enough money for a payment (yes or no; never your balance)"}
		d.DebtorAccount = c.FundsConfirmation.DebtorAccount.Identification
	case KindDomesticVRP:
		v := c.DomesticVRP
		cp := v.ControlParameters
		d.Title = "Variable recurring payments"
		d.Permissions = []string{"Make payments from your account, within the limits below, without asking you each time"}
		if cp.MaximumIndividualAmount != nil {
			d.Limits = append(d.Limits, fmt.Sprintf("At most %s %s per payment", cp.MaximumIndividualAmount.Amount, cp.MaximumIndividualAmount.Currency))
		}
		for _, l := range cp.PeriodicLimits {
			per := map[string]string{"Day": "day", "Week": "week", "Fortnight": "fortnight", "Month": "month", "Half-year": "half-year", "Year": "year"}[l.PeriodType]
			d.Limits = append(d.Limits, fmt.Sprintf("At most %s %s per %s", l.Amount, l.Currency, per))
		}
		if !v.ValidFrom.IsZero() {
			d.Limits = append(d.Limits, "Starting "+v.ValidFrom.Format("2 January 2006"))
		}
		var in vrpInitiation
		if decodeRequest(v.Initiation, &in) == nil {
			if in.CreditorAccount != nil {
				d.Payment = &DisplayPayment{Creditor: in.CreditorAccount.Name, CreditorAccount: in.CreditorAccount.Identification}
			}
			if in.DebtorAccount != nil {
				d.DebtorAccount = in.DebtorAccount.Identification
			}
		}
		d.ChooseAccounts = "one"
		if d.DebtorAccount != "" {
			d.ChooseAccounts = ""
		}
	case KindGeneric:
		d.Title = "Access for " + c.ClientID
		d.Permissions = []string{"Use: " + strings.Join(c.Scopes, ", ")}
		d.ChooseAccounts = "many"
	}
	return d
}
