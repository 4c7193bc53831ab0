package consent

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/portcullis/portcullis/internal/obie"
)

// Domestic payment consents (PISP): OBIE Read/Write API v3.1
// OBWriteDomesticConsent4 and OBWriteDomesticConsentResponse5 (dcr-consent.md §2.2).

// PaymentInitiation is the parsed OBWriteDomestic2 Initiation (the fields checked
// and shown; the consent keeps the object as sent in DomesticPayment.Initiation).
type PaymentInitiation struct {
	InstructionIdentification string      `json:"InstructionIdentification"`
	EndToEndIdentification    string      `json:"EndToEndIdentification"`
	LocalInstrument           string      `json:"LocalInstrument,omitempty"`
	InstructedAmount          *Amount     `json:"InstructedAmount"`
	DebtorAccount             *AccountRef `json:"DebtorAccount,omitempty"`
	CreditorAccount           *AccountRef `json:"CreditorAccount"`
	RemittanceInformation     *struct {
		Unstructured string `json:"Unstructured,omitempty"`
		Reference    string `json:"Reference,omitempty"`
	} `json:"RemittanceInformation,omitempty"`
}

// check validates a domestic payment Initiation at path.
func (in *PaymentInitiation) check(path string) error {
	if in == nil {
		return missing(path)
	}
	if err := checkText(path+".InstructionIdentification", in.InstructionIdentification, 35, true); err != nil {
		return err
	}
	if err := checkText(path+".EndToEndIdentification", in.EndToEndIdentification, 35, true); err != nil {
		return err
	}
	if err := in.InstructedAmount.check(path + ".InstructedAmount"); err != nil {
		return err
	}
	if in.InstructedAmount.Currency != "GBP" {
		return fieldErr(obie.CodeUnsupportedCurrency, path+".InstructedAmount.Currency", "domestic payments are in GBP")
	}
	if in.DebtorAccount != nil {
		if err := in.DebtorAccount.check(path+".DebtorAccount", false); err != nil {
			return err
		}
	}
	if err := in.CreditorAccount.check(path+".CreditorAccount", true); err != nil {
		return err
	}
	if ri := in.RemittanceInformation; ri != nil {
		if err := checkText(path+".RemittanceInformation.Reference", ri.Reference, 35, false); err != nil {
			return err
		}
		if err := checkText(path+".RemittanceInformation.Unstructured", ri.Unstructured, 140, false); err != nil {
			return err
		}
	}
	return nil
}

// DomesticPayment is the domestic-payment part of a consent.
type DomesticPayment struct {
	// Initiation is the object as the TPP sent it; InitiationHash its
	// [CanonicalHash]: a payment submission must carry the same Initiation.
	Initiation     json.RawMessage `json:"Initiation"`
	InitiationHash string          `json:"InitiationHash"`
	Authorisation  json.RawMessage `json:"Authorisation,omitempty"`
	SCASupportData json.RawMessage `json:"SCASupportData,omitempty"`
	// ReadRefundAccount is "Yes" or "No" (empty: not asked).
	ReadRefundAccount string          `json:"ReadRefundAccount,omitempty"`
	Risk              json.RawMessage `json:"Risk,omitempty"`
}

// parsed decodes the stored Initiation.
func (p *DomesticPayment) parsed() PaymentInitiation {
	var in PaymentInitiation
	_ = json.Unmarshal(p.Initiation, &in) // checked when created
	return in
}

// OBWriteDomesticConsent4 is the POST /domestic-payment-consents request.
type OBWriteDomesticConsent4 struct {
	Data *struct {
		Initiation        json.RawMessage `json:"Initiation"`
		Authorisation     json.RawMessage `json:"Authorisation,omitempty"`
		SCASupportData    json.RawMessage `json:"SCASupportData,omitempty"`
		ReadRefundAccount string          `json:"ReadRefundAccount,omitempty"`
	} `json:"Data"`
	Risk json.RawMessage `json:"Risk"`
}

// OBWriteDomesticConsentResponse5 is the domestic-payment consent resource.
type OBWriteDomesticConsentResponse5 struct {
	Data struct {
		StatusFields
		ReadRefundAccount string          `json:"ReadRefundAccount,omitempty"`
		Initiation        json.RawMessage `json:"Initiation"`
		Authorisation     json.RawMessage `json:"Authorisation,omitempty"`
		SCASupportData    json.RawMessage `json:"SCASupportData,omitempty"`
	} `json:"Data"`
	Risk  json.RawMessage `json:"Risk"`
	Links Links           `json:"Links"`
	Meta  Meta            `json:"Meta"`
}

// CreateDomesticPayment validates an OBWriteDomesticConsent4 body of client clientID
// and stores the consent, AwaitingAuthorisation. body is the request body exactly as
// received (a wrapper may have verified its x-jws-signature over these bytes).
// Errors: *FieldError (400): Initiation fields (InstructionIdentification and
// EndToEndIdentification 1..35, InstructedAmount pattern and GBP
// (UK.OBIE.Unsupported.Currency), CreditorAccount with a supported scheme
// (UK.OBIE.Unsupported.Scheme) and a Name), ReadRefundAccount Yes|No, Risk present;
// ErrUnavailableStore.
func (s *Service) CreateDomesticPayment(ctx context.Context, clientID string, body []byte) (*Consent, error) {
	var req OBWriteDomesticConsent4
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	if req.Data == nil {
		return nil, missing("Data")
	}
	if len(req.Data.Initiation) == 0 || string(req.Data.Initiation) == "null" {
		return nil, missing("Data.Initiation")
	}
	var in PaymentInitiation
	if err := decodeRequest(req.Data.Initiation, &in); err != nil {
		if fe, ok := err.(*FieldError); ok && fe.Path != "" {
			fe.Path = "Data.Initiation." + fe.Path
		}
		return nil, err
	}
	if err := in.check("Data.Initiation"); err != nil {
		return nil, err
	}
	switch req.Data.ReadRefundAccount {
	case "", "Yes", "No":
	default:
		return nil, fieldErr(obie.CodeFieldInvalid, "Data.ReadRefundAccount", "ReadRefundAccount must be Yes or No")
	}
	if err := checkRisk(req.Risk); err != nil {
		return nil, err
	}
	h, err := CanonicalHash(req.Data.Initiation)
	if err != nil {
		return nil, fieldErr(obie.CodeFieldInvalid, "Data.Initiation", "Initiation is not valid JSON")
	}
	dp := &DomesticPayment{Initiation: req.Data.Initiation, InitiationHash: hex.EncodeToString(h[:]), Authorisation: req.Data.Authorisation,
		SCASupportData: req.Data.SCASupportData, ReadRefundAccount: req.Data.ReadRefundAccount, Risk: req.Risk}
	return s.create(ctx, &Consent{Kind: KindDomesticPayment, ClientID: clientID, DomesticPayment: dp})
}

// domesticPaymentResponse renders c as OBWriteDomesticConsentResponse5.
func domesticPaymentResponse(c *Consent, now time.Time, self string) any {
	var r OBWriteDomesticConsentResponse5
	dp := c.DomesticPayment
	r.Data.StatusFields = statusFields(c, now)
	r.Data.ReadRefundAccount, r.Data.Initiation = dp.ReadRefundAccount, dp.Initiation
	r.Data.Authorisation, r.Data.SCASupportData = dp.Authorisation, dp.SCASupportData
	r.Risk = dp.Risk
	r.Links, r.Meta = Links{Self: self}, Meta{TotalPages: 1}
	return r
}
