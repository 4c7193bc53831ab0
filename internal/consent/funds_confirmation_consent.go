package consent

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/internal/obie"
)

// Funds-confirmation consents (CBPII): OBIE Confirmation of Funds API v3.1
// OBFundsConfirmationConsent1 and OBFundsConfirmationConsentResponse1.

// FundsConfirmation is the funds-confirmation part of a consent.
type FundsConfirmation struct {
	DebtorAccount      AccountRef `json:"DebtorAccount"`
	ExpirationDateTime time.Time  `json:"ExpirationDateTime,omitzero"`
}

// OBFundsConfirmationConsent1 is the POST /funds-confirmation-consents request.
type OBFundsConfirmationConsent1 struct {
	Data *struct {
		ExpirationDateTime string      `json:"ExpirationDateTime"`
		DebtorAccount      *AccountRef `json:"DebtorAccount"`
	} `json:"Data"`
}

// OBFundsConfirmationConsentResponse1 is the funds-confirmation consent resource.
type OBFundsConfirmationConsentResponse1 struct {
	Data struct {
		StatusFields
		ExpirationDateTime string     `json:"ExpirationDateTime,omitempty"`
		DebtorAccount      AccountRef `json:"DebtorAccount"`
	} `json:"Data"`
	Links Links `json:"Links"`
	Meta  Meta  `json:"Meta"`
}

// CreateFundsConfirmation validates an OBFundsConfirmationConsent1 body of client
// clientID and stores the consent, AwaitingAuthorisation. Errors: *FieldError (400):
// DebtorAccount missing or with an unsupported scheme, an ExpirationDateTime that is
// malformed or past (UK.OBIE.Field.InvalidDate); ErrUnavailableStore.
func (s *Service) CreateFundsConfirmation(ctx context.Context, clientID string, body []byte) (*Consent, error) {
	var req OBFundsConfirmationConsent1
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	if req.Data == nil {
		return nil, missing("Data")
	}
	if err := req.Data.DebtorAccount.check("Data.DebtorAccount", false); err != nil {
		return nil, err
	}
	exp, err := optDateTime("Data.ExpirationDateTime", req.Data.ExpirationDateTime)
	if err != nil {
		return nil, err
	}
	if !exp.IsZero() && !exp.After(s.clock.Now()) {
		return nil, fieldErr(obie.CodeFieldInvalidDate, "Data.ExpirationDateTime", "ExpirationDateTime is in the past")
	}
	fc := &FundsConfirmation{DebtorAccount: *req.Data.DebtorAccount, ExpirationDateTime: exp}
	return s.create(ctx, &Consent{Kind: KindFundsConfirmation, ClientID: clientID, ExpiresAt: exp, FundsConfirmation: fc})
}

func fundsConfirmationResponse(c *Consent, now time.Time, self string) any {
	var r OBFundsConfirmationConsentResponse1
	r.Data.StatusFields = statusFields(c, now)
	r.Data.ExpirationDateTime = formatDateTime(c.FundsConfirmation.ExpirationDateTime)
	r.Data.DebtorAccount = c.FundsConfirmation.DebtorAccount
	r.Links, r.Meta = Links{Self: self}, Meta{TotalPages: 1}
	return r
}
