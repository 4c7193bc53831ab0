package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/obie"
)

// Domestic VRP consents (variable recurring payments): OBIE VRP API v3.1.x
// OBDomesticVRPConsentRequest and OBDomesticVRPConsentResponse, with their
// ControlParameters.

// The VRP period types and alignments (OBIE PeriodType, PeriodAlignment).
var (
	vrpPeriodTypes      = []string{"Day", "Week", "Fortnight", "Month", "Half-year", "Year"}
	vrpPeriodAlignments = []string{"Consent", "Calendar"}
	vrpTypes            = []string{"UK.OBIE.VRPType.Sweeping", "UK.OBIE.VRPType.Other"}
	vrpAuthMethods      = []string{"UK.OBIE.SCA", "UK.OBIE.SCANotRequired"}
)

// PeriodicLimit is one OBIE VRP periodic limit.
type PeriodicLimit struct {
	PeriodType      string `json:"PeriodType"`
	PeriodAlignment string `json:"PeriodAlignment"`
	Amount          string `json:"Amount"`
	Currency        string `json:"Currency"`
}

// ControlParameters are the limits every VRP payment must respect.
type ControlParameters struct {
	PSUAuthenticationMethods []string        `json:"PSUAuthenticationMethods"`
	VRPType                  []string        `json:"VRPType"`
	ValidFromDateTime        string          `json:"ValidFromDateTime,omitempty"`
	ValidToDateTime          string          `json:"ValidToDateTime,omitempty"`
	MaximumIndividualAmount  *Amount         `json:"MaximumIndividualAmount"`
	PeriodicLimits           []PeriodicLimit `json:"PeriodicLimits"`
}

// DomesticVRP is the VRP part of a consent.
type DomesticVRP struct {
	ControlParameters ControlParameters `json:"ControlParameters"`
	ValidFrom         time.Time         `json:"ValidFrom,omitzero"`
	ValidTo           time.Time         `json:"ValidTo,omitzero"`
	// Initiation is the object as sent; InitiationHash its [CanonicalHash] (hex).
	Initiation        json.RawMessage `json:"Initiation"`
	InitiationHash    string          `json:"InitiationHash"`
	ReadRefundAccount string          `json:"ReadRefundAccount,omitempty"`
	Risk              json.RawMessage `json:"Risk,omitempty"`
}

// OBDomesticVRPConsentRequest is the POST /domestic-vrp-consents request.
type OBDomesticVRPConsentRequest struct {
	Data *struct {
		ReadRefundAccount string             `json:"ReadRefundAccount,omitempty"`
		ControlParameters *ControlParameters `json:"ControlParameters"`
		Initiation        json.RawMessage    `json:"Initiation"`
	} `json:"Data"`
	Risk json.RawMessage `json:"Risk"`
}

// OBDomesticVRPConsentResponse is the VRP consent resource.
type OBDomesticVRPConsentResponse struct {
	Data struct {
		StatusFields
		ReadRefundAccount string            `json:"ReadRefundAccount,omitempty"`
		ControlParameters ControlParameters `json:"ControlParameters"`
		Initiation        json.RawMessage   `json:"Initiation"`
	} `json:"Data"`
	Risk  json.RawMessage `json:"Risk"`
	Links Links           `json:"Links"`
	Meta  Meta            `json:"Meta"`
}

// vrpInitiation is the VRP consent's Initiation (all optional).
type vrpInitiation struct {
	DebtorAccount         *AccountRef     `json:"DebtorAccount,omitempty"`
	CreditorAccount       *AccountRef     `json:"CreditorAccount,omitempty"`
	RemittanceInformation json.RawMessage `json:"RemittanceInformation,omitempty"`
}

// checkControlParameters validates cp (path Data.ControlParameters): at least one
// known PSUAuthenticationMethod and VRPType, MaximumIndividualAmount, at least one
// PeriodicLimit with a known PeriodType and PeriodAlignment, no PeriodType twice,
// every amount in one currency, and ValidFrom before ValidTo.
func checkControlParameters(cp *ControlParameters) (from, to time.Time, err error) {
	const p = "Data.ControlParameters"
	if cp == nil {
		return from, to, missing(p)
	}
	if len(cp.PSUAuthenticationMethods) == 0 {
		return from, to, missing(p + ".PSUAuthenticationMethods")
	}
	for _, m := range cp.PSUAuthenticationMethods {
		if !slices.Contains(vrpAuthMethods, m) {
			return from, to, fieldErr(obie.CodeFieldInvalid, p+".PSUAuthenticationMethods", "unknown method %q", m)
		}
	}
	if len(cp.VRPType) == 0 {
		return from, to, missing(p + ".VRPType")
	}
	for _, t := range cp.VRPType {
		if !slices.Contains(vrpTypes, t) {
			return from, to, fieldErr(obie.CodeFieldInvalid, p+".VRPType", "unknown VRP type %q", t)
		}
	}
	if err := cp.MaximumIndividualAmount.check(p + ".MaximumIndividualAmount"); err != nil {
		return from, to, err
	}
	cur := cp.MaximumIndividualAmount.Currency
	if cur != "GBP" {
		return from, to, fieldErr(obie.CodeUnsupportedCurrency, p+".MaximumIndividualAmount.Currency", "domestic VRPs are in GBP")
	}
	if len(cp.PeriodicLimits) == 0 {
		return from, to, missing(p + ".PeriodicLimits")
	}
	seen := map[string]bool{}
	for i, l := range cp.PeriodicLimits {
		lp := fmt.Sprintf("%s.PeriodicLimits[%d]", p, i)
		if !slices.Contains(vrpPeriodTypes, l.PeriodType) {
			return from, to, fieldErr(obie.CodeFieldInvalid, lp+".PeriodType", "unknown PeriodType %q", l.PeriodType)
		}
		if !slices.Contains(vrpPeriodAlignments, l.PeriodAlignment) {
			return from, to, fieldErr(obie.CodeFieldInvalid, lp+".PeriodAlignment", "unknown PeriodAlignment %q", l.PeriodAlignment)
		}
		key := l.PeriodType + "/" + l.PeriodAlignment
		if seen[key] {
			return from, to, fieldErr(obie.CodeFieldInvalid, lp, "PeriodType %s with alignment %s appears twice", l.PeriodType, l.PeriodAlignment)
		}
		seen[key] = true
		a := Amount{Amount: l.Amount, Currency: l.Currency}
		if err := a.check(lp); err != nil {
			return from, to, err
		}
		if l.Currency != cur {
			return from, to, fieldErr(obie.CodeFieldInvalid, lp+".Currency", "every limit must be in %s", cur)
		}
	}
	if from, err = optDateTime(p+".ValidFromDateTime", cp.ValidFromDateTime); err != nil {
		return from, to, err
	}
	if to, err = optDateTime(p+".ValidToDateTime", cp.ValidToDateTime); err != nil {
		return from, to, err
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, fieldErr(obie.CodeFieldInvalidDate, p+".ValidToDateTime", "ValidToDateTime is not after ValidFromDateTime")
	}
	return from, to, nil
}

// CreateDomesticVRP validates an OBDomesticVRPConsentRequest body of client clientID
// and stores the consent, AwaitingAuthorisation; ValidToDateTime becomes its expiry.
// Errors: *FieldError (400) as [checkControlParameters] says, a ValidToDateTime in the
// past, a malformed Initiation, a missing Risk; ErrUnavailableStore.
func (s *Service) CreateDomesticVRP(ctx context.Context, clientID string, body []byte) (*Consent, error) {
	var req OBDomesticVRPConsentRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	if req.Data == nil {
		return nil, missing("Data")
	}
	from, to, err := checkControlParameters(req.Data.ControlParameters)
	if err != nil {
		return nil, err
	}
	if !to.IsZero() && !to.After(s.clock.Now()) {
		return nil, fieldErr(obie.CodeFieldInvalidDate, "Data.ControlParameters.ValidToDateTime", "ValidToDateTime is in the past")
	}
	if len(req.Data.Initiation) == 0 || string(req.Data.Initiation) == "null" {
		return nil, missing("Data.Initiation")
	}
	var in vrpInitiation
	if err := decodeRequest(req.Data.Initiation, &in); err != nil {
		return nil, err
	}
	if in.DebtorAccount != nil {
		if err := in.DebtorAccount.check("Data.Initiation.DebtorAccount", false); err != nil {
			return nil, err
		}
	}
	if in.CreditorAccount != nil {
		if err := in.CreditorAccount.check("Data.Initiation.CreditorAccount", true); err != nil {
			return nil, err
		}
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
	v := &DomesticVRP{ControlParameters: *req.Data.ControlParameters, ValidFrom: from, ValidTo: to,
		Initiation: req.Data.Initiation, InitiationHash: fmt.Sprintf("%x", h[:]), ReadRefundAccount: req.Data.ReadRefundAccount, Risk: req.Risk}
	return s.create(ctx, &Consent{Kind: KindDomesticVRP, ClientID: clientID, ExpiresAt: to, DomesticVRP: v})
}

func domesticVRPResponse(c *Consent, now time.Time, self string) any {
	var r OBDomesticVRPConsentResponse
	v := c.DomesticVRP
	r.Data.StatusFields = statusFields(c, now)
	r.Data.ReadRefundAccount, r.Data.ControlParameters, r.Data.Initiation = v.ReadRefundAccount, v.ControlParameters, v.Initiation
	r.Risk = v.Risk
	r.Links, r.Meta = Links{Self: self}, Meta{TotalPages: 1}
	return r
}

// Period returns the name of the period of limit l that t falls in, and the period's
// end: calendar-aligned periods are the calendar day, ISO week, fortnight (pairs of
// ISO weeks), month, half-year or year (UTC); consent-aligned periods count from
// start (the consent's ValidFromDateTime, else its creation).
func (l PeriodicLimit) Period(start, t time.Time) (string, time.Time) {
	t, start = t.UTC(), start.UTC()
	if l.PeriodAlignment == "Calendar" {
		y, m, d := t.Date()
		switch l.PeriodType {
		case "Day":
			s := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
			return "Day/" + s.Format("2006-01-02"), s.AddDate(0, 0, 1)
		case "Week", "Fortnight":
			wd := (int(t.Weekday()) + 6) % 7 // Monday 0
			s := time.Date(y, m, d-wd, 0, 0, 0, 0, time.UTC)
			days := 7
			if l.PeriodType == "Fortnight" {
				// Fortnights: pairs of weeks counted from Monday 1970-01-05.
				n := int(s.Sub(time.Date(1970, 1, 5, 0, 0, 0, 0, time.UTC)).Hours()/24) / 7
				if n%2 == 1 {
					s = s.AddDate(0, 0, -7)
				}
				days = 14
			}
			return l.PeriodType + "/" + s.Format("2006-01-02"), s.AddDate(0, 0, days)
		case "Month":
			s := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
			return "Month/" + s.Format("2006-01"), s.AddDate(0, 1, 0)
		case "Half-year":
			hm := time.January
			if m > time.June {
				hm = time.July
			}
			s := time.Date(y, hm, 1, 0, 0, 0, 0, time.UTC)
			return "Half-year/" + s.Format("2006-01"), s.AddDate(0, 6, 0)
		default: // Year
			s := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
			return "Year/" + s.Format("2006"), s.AddDate(1, 0, 0)
		}
	}
	// Consent-aligned: the n-th period since start.
	step := func(s time.Time, n int) time.Time {
		switch l.PeriodType {
		case "Day":
			return s.AddDate(0, 0, n)
		case "Week":
			return s.AddDate(0, 0, 7*n)
		case "Fortnight":
			return s.AddDate(0, 0, 14*n)
		case "Month":
			return s.AddDate(0, n, 0)
		case "Half-year":
			return s.AddDate(0, 6*n, 0)
		default:
			return s.AddDate(n, 0, 0)
		}
	}
	n := 0
	if t.After(start) {
		// Estimate by days, then correct: bounded work for any distance.
		days := int(t.Sub(start).Hours() / 24)
		per := map[string]int{"Day": 1, "Week": 7, "Fortnight": 14, "Month": 31, "Half-year": 184, "Year": 366}[l.PeriodType]
		n = days / per
		for step(start, n+1).Compare(t) <= 0 {
			n++
		}
		for n > 0 && step(start, n).After(t) {
			n--
		}
	}
	return fmt.Sprintf("%s/consent/%d", l.PeriodType, n), step(start, n+1)
}
