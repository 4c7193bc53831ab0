package consent

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/obie"
)

// Account-access consents (AISP): OBIE Read/Write API v3.1 OBReadConsent1 and
// OBReadConsentResponse1 (dcr-consent.md §2.1).

// The account-access permissions (OBExternalPermissions1Code).
const (
	PermReadAccountsBasic           = "ReadAccountsBasic"
	PermReadAccountsDetail          = "ReadAccountsDetail"
	PermReadBalances                = "ReadBalances"
	PermReadBeneficiariesBasic      = "ReadBeneficiariesBasic"
	PermReadBeneficiariesDetail     = "ReadBeneficiariesDetail"
	PermReadDirectDebits            = "ReadDirectDebits"
	PermReadOffers                  = "ReadOffers"
	PermReadPAN                     = "ReadPAN"
	PermReadParty                   = "ReadParty"
	PermReadPartyPSU                = "ReadPartyPSU"
	PermReadProducts                = "ReadProducts"
	PermReadScheduledPaymentsBasic  = "ReadScheduledPaymentsBasic"
	PermReadScheduledPaymentsDetail = "ReadScheduledPaymentsDetail"
	PermReadStandingOrdersBasic     = "ReadStandingOrdersBasic"
	PermReadStandingOrdersDetail    = "ReadStandingOrdersDetail"
	PermReadStatementsBasic         = "ReadStatementsBasic"
	PermReadStatementsDetail        = "ReadStatementsDetail"
	PermReadTransactionsBasic       = "ReadTransactionsBasic"
	PermReadTransactionsCredits     = "ReadTransactionsCredits"
	PermReadTransactionsDebits      = "ReadTransactionsDebits"
	PermReadTransactionsDetail      = "ReadTransactionsDetail"
)

// permissionText is every permission in plain words, for the approval page.
var permissionText = map[string]string{
	PermReadAccountsBasic:           "Your account names and types",
	PermReadAccountsDetail:          "Your account names, types and account numbers",
	PermReadBalances:                "Your account balances",
	PermReadBeneficiariesBasic:      "The payees you have set up",
	PermReadBeneficiariesDetail:     "The payees you have set up, with their account details",
	PermReadDirectDebits:            "Your direct debits",
	PermReadOffers:                  "Offers available to you",
	PermReadPAN:                     "Your full card numbers",
	PermReadParty:                   "The account holders' names and contact details",
	PermReadPartyPSU:                "Your own name and contact details",
	PermReadProducts:                "The products behind your accounts",
	PermReadScheduledPaymentsBasic:  "Your scheduled payments",
	PermReadScheduledPaymentsDetail: "Your scheduled payments, with payee account details",
	PermReadStandingOrdersBasic:     "Your standing orders",
	PermReadStandingOrdersDetail:    "Your standing orders, with payee account details",
	PermReadStatementsBasic:         "Your statements",
	PermReadStatementsDetail:        "Your statements, with their full content",
	PermReadTransactionsBasic:       "Your transactions",
	PermReadTransactionsCredits:     "Money coming into your accounts",
	PermReadTransactionsDebits:      "Money going out of your accounts",
	PermReadTransactionsDetail:      "Your transactions, with their full details",
}

// AccountAccess is the account-access part of a consent.
type AccountAccess struct {
	Permissions             []string  `json:"Permissions"`
	ExpirationDateTime      time.Time `json:"ExpirationDateTime,omitzero"`
	TransactionFromDateTime time.Time `json:"TransactionFromDateTime,omitzero"`
	TransactionToDateTime   time.Time `json:"TransactionToDateTime,omitzero"`
}

// HasPermission reports whether the consent grants p.
func (a *AccountAccess) HasPermission(p string) bool {
	return a != nil && slices.Contains(a.Permissions, p)
}

// OBReadConsent1 is the POST /account-access-consents request.
type OBReadConsent1 struct {
	Data *struct {
		Permissions             []string `json:"Permissions"`
		ExpirationDateTime      string   `json:"ExpirationDateTime"`
		TransactionFromDateTime string   `json:"TransactionFromDateTime"`
		TransactionToDateTime   string   `json:"TransactionToDateTime"`
	} `json:"Data"`
	Risk json.RawMessage `json:"Risk"`
}

// OBReadConsentResponse1 is the account-access consent resource.
type OBReadConsentResponse1 struct {
	Data struct {
		StatusFields
		Permissions             []string `json:"Permissions"`
		ExpirationDateTime      string   `json:"ExpirationDateTime,omitempty"`
		TransactionFromDateTime string   `json:"TransactionFromDateTime,omitempty"`
		TransactionToDateTime   string   `json:"TransactionToDateTime,omitempty"`
	} `json:"Data"`
	Risk  json.RawMessage `json:"Risk"`
	Links Links           `json:"Links"`
	Meta  Meta            `json:"Meta"`
}

// CheckPermissions applies the OBIE combination rules to a permission list:
// at least one; every code known (OBExternalPermissions1Code); no duplicates;
// ReadAccountsBasic or ReadAccountsDetail present; transaction permissions only as
// ReadTransactionsBasic or ReadTransactionsDetail together with ReadTransactionsCredits
// and/or ReadTransactionsDebits. Failures are *FieldError with path Data.Permissions:
// UK.OBIE.Field.Missing for an empty list, UK.OBIE.Field.Invalid otherwise.
func CheckPermissions(perms []string) error {
	const path = "Data.Permissions"
	if len(perms) == 0 {
		return missing(path)
	}
	seen := make(map[string]bool, len(perms))
	for _, p := range perms {
		if _, ok := permissionText[p]; !ok {
			return fieldErr(obie.CodeFieldInvalid, path, "unknown permission %q", p)
		}
		if seen[p] {
			return fieldErr(obie.CodeFieldInvalid, path, "permission %q appears twice", p)
		}
		seen[p] = true
	}
	if !seen[PermReadAccountsBasic] && !seen[PermReadAccountsDetail] {
		return fieldErr(obie.CodeFieldInvalid, path, "ReadAccountsBasic or ReadAccountsDetail is required")
	}
	txBase := seen[PermReadTransactionsBasic] || seen[PermReadTransactionsDetail]
	txDir := seen[PermReadTransactionsCredits] || seen[PermReadTransactionsDebits]
	if txBase != txDir {
		return fieldErr(obie.CodeFieldInvalid, path,
			"ReadTransactionsBasic or ReadTransactionsDetail must be requested together with ReadTransactionsCredits and/or ReadTransactionsDebits")
	}
	return nil
}

// CreateAccountAccess validates an OBReadConsent1 body of client clientID and stores
// the consent, AwaitingAuthorisation. Errors: *FieldError (400) for a bad request —
// permissions (see [CheckPermissions]), an ExpirationDateTime in the past or a
// transaction window whose start is after its end (UK.OBIE.Field.InvalidDate), a
// missing Risk; ErrUnavailableStore.
func (s *Service) CreateAccountAccess(ctx context.Context, clientID string, body []byte) (*Consent, json.RawMessage, error) {
	var req OBReadConsent1
	if err := decodeRequest(body, &req); err != nil {
		return nil, nil, err
	}
	if req.Data == nil {
		return nil, nil, missing("Data")
	}
	if err := CheckPermissions(req.Data.Permissions); err != nil {
		return nil, nil, err
	}
	aa := &AccountAccess{Permissions: slices.Clone(req.Data.Permissions)}
	var err error
	if aa.ExpirationDateTime, err = optDateTime("Data.ExpirationDateTime", req.Data.ExpirationDateTime); err != nil {
		return nil, nil, err
	}
	if aa.TransactionFromDateTime, err = optDateTime("Data.TransactionFromDateTime", req.Data.TransactionFromDateTime); err != nil {
		return nil, nil, err
	}
	if aa.TransactionToDateTime, err = optDateTime("Data.TransactionToDateTime", req.Data.TransactionToDateTime); err != nil {
		return nil, nil, err
	}
	if !aa.ExpirationDateTime.IsZero() && !aa.ExpirationDateTime.After(s.clock.Now()) {
		return nil, nil, fieldErr(obie.CodeFieldInvalidDate, "Data.ExpirationDateTime", "ExpirationDateTime is in the past")
	}
	if !aa.TransactionFromDateTime.IsZero() && !aa.TransactionToDateTime.IsZero() && aa.TransactionFromDateTime.After(aa.TransactionToDateTime) {
		return nil, nil, fieldErr(obie.CodeFieldInvalidDate, "Data.TransactionFromDateTime", "TransactionFromDateTime is after TransactionToDateTime")
	}
	if err := checkRisk(req.Risk); err != nil {
		return nil, nil, err
	}
	c, err := s.create(ctx, &Consent{Kind: KindAccountAccess, ClientID: clientID, ExpiresAt: aa.ExpirationDateTime, AccountAccess: aa})
	return c, req.Risk, err
}

// accountAccessResponse renders c as OBReadConsentResponse1.
func accountAccessResponse(c *Consent, now time.Time, self string) any {
	var r OBReadConsentResponse1
	aa := c.AccountAccess
	r.Data.StatusFields = statusFields(c, now)
	r.Data.Permissions = aa.Permissions
	r.Data.ExpirationDateTime = formatDateTime(aa.ExpirationDateTime)
	r.Data.TransactionFromDateTime = formatDateTime(aa.TransactionFromDateTime)
	r.Data.TransactionToDateTime = formatDateTime(aa.TransactionToDateTime)
	r.Risk = json.RawMessage(`{}`)
	r.Links, r.Meta = Links{Self: self}, Meta{TotalPages: 1}
	return r
}
