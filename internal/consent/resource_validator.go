package consent

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/store"
)

// UsageCounter counts VRP payments against their periodic limits, atomically
// across nodes; *store.Store implements it (store.Store.AddConsentUsage: all or
// nothing, store.ErrConflict when a limit would be exceeded).
type UsageCounter interface {
	AddConsentUsage(ctx context.Context, consentID string, u ...store.ConsentUsage) ([]int64, error)
}

// ResourceValidator is the built-in [Validator]: it checks each resource request
// against the stored consent its token is bound to (fapi.md OB-05: "the RS checks
// consent status and permissions on every call"), reading consents through a
// [StateCache] (≤ 5 s old, fail closed). Per kind of route ([Request].Kind):
//
//   - account-access: the consent is an Authorised account-access consent of the
//     calling client, not expired; the route's resource needs a permission the
//     consent grants (permission → endpoint map, [RequiredPermissions]); an
//     {AccountId} in the path is one of the accounts the customer chose; the
//     transaction query window (fromBookingDateTime, toBookingDateTime) lies within
//     the consent's TransactionFrom/ToDateTime.
//   - domestic-payment (POST): Data.ConsentId is the token's consent, Data.Initiation
//     equals the consent's (canonical JSON hash), and then the consent moves
//     Authorised → Consumed atomically in the store: of concurrent or repeated
//     submissions on any number of nodes exactly one passes.
//   - domestic-vrp (POST): Data.ConsentId and Data.Initiation as above; the
//     Instruction's CreditorAccount, when both name one, the consent's creditor; the
//     instructed amount within MaximumIndividualAmount and its currency; now within
//     ValidFrom/ValidTo; PSUAuthenticationMethod one of the consent's; then every
//     periodic limit is counted atomically in the store (all or nothing), and a
//     payment that would exceed one is refused (UK.OBIE.Rules.FailsControlParameters).
//   - funds-confirmation (POST): Data.ConsentId is the token's, the consent is an
//     Authorised funds-confirmation consent of the client, not expired.
//   - generic (a client that sent no intent, [Service.CreateGeneric]): an Authorised
//     generic consent of the client, on generic and account-access routes (never
//     payments); an {AccountId} in the path among the accounts the customer chose.
//
// Refusals are decisions (403, or 400 for a body that does not match the consent);
// a consent store that cannot be read is an error (the gateway answers 503). The
// state-changing steps (Consumed, VRP usage) run in [ResourceValidator.Commit],
// which [Chain] calls only after every chained validator allowed the request.
type ResourceValidator struct {
	svc   *Service
	cache *StateCache
	usage UsageCounter
}

// NewResourceValidator returns the built-in validator over svc, reading through
// cache (required) and counting VRP usage in usage (nil: VRP payments are refused
// with an error, i.e. 503).
func NewResourceValidator(svc *Service, cache *StateCache, usage UsageCounter) (*ResourceValidator, error) {
	if svc == nil || cache == nil {
		return nil, errors.New("consent: NewResourceValidator needs a service and a cache")
	}
	return &ResourceValidator{svc: svc, cache: cache, usage: usage}, nil
}

// Validate is Check followed, if it allowed, by Commit.
func (v *ResourceValidator) Validate(ctx context.Context, req Request) (Decision, error) {
	d, err := v.Check(ctx, req)
	if err != nil || !d.Valid {
		return d, err
	}
	return v.Commit(ctx, req)
}

func refuse(status int, code, format string, a ...any) Decision {
	return Decision{ErrorCode: code, ErrorMessage: fmt.Sprintf(format, a...), HTTPStatus: status}
}

var allow = Decision{Valid: true}

// Check decides without changing anything.
func (v *ResourceValidator) Check(ctx context.Context, req Request) (Decision, error) {
	c, d, err := v.consentFor(ctx, req)
	if c == nil {
		return d, err
	}
	switch req.Kind {
	case KindAccountAccess:
		if c.Kind == KindGeneric {
			return checkGeneric(c, req), nil
		}
		return v.checkAccounts(c, req), nil
	case KindDomesticPayment:
		return v.checkPayment(c, req), nil
	case KindDomesticVRP:
		d, _, _ := v.checkVRP(c, req)
		return d, nil
	case KindFundsConfirmation:
		return checkBodyConsent(c, req), nil
	case KindGeneric:
		return checkGeneric(c, req), nil
	}
	return Decision{}, fmt.Errorf("%w: no built-in consent validation for kind %q", ErrUnavailable, req.Kind)
}

// consentFor loads the token's consent and applies the checks common to every kind:
// it exists, belongs to the calling client, is of the route's kind and is
// Authorised (an expired one reads Expired). A nil consent means: answer d, err.
func (v *ResourceValidator) consentFor(ctx context.Context, req Request) (*Consent, Decision, error) {
	c, err := v.cache.Get(ctx, req.ConsentID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, refuse(http.StatusForbidden, obie.CodeResourceConsentMismatch, "The consent does not exist"), nil
	case err != nil:
		return nil, Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case c.ClientID != req.ClientID || c.Kind != req.Kind && !(c.Kind == KindGeneric && req.Kind == KindAccountAccess):
		return nil, refuse(http.StatusForbidden, obie.CodeResourceConsentMismatch, "The access token's consent does not cover this API"), nil
	}
	if st := c.Status(v.svc.Now()); st != StatusAuthorised {
		status := http.StatusForbidden
		if req.Kind == KindDomesticPayment && st == StatusConsumed {
			status = http.StatusBadRequest
		}
		return nil, refuse(status, obie.CodeResourceInvalidConsentStatus, "The consent is %s", st), nil
	}
	return c, Decision{}, nil
}

// aisPermissions maps an account-information resource (the template's path after
// its "aisp" segment, parameters as {}) to the permissions any one of which allows
// it.
var aisPermissions = map[string][]string{
	"accounts":                               {PermReadAccountsBasic, PermReadAccountsDetail},
	"accounts/{}":                            {PermReadAccountsBasic, PermReadAccountsDetail},
	"balances":                               {PermReadBalances},
	"accounts/{}/balances":                   {PermReadBalances},
	"transactions":                           {PermReadTransactionsBasic, PermReadTransactionsDetail},
	"accounts/{}/transactions":               {PermReadTransactionsBasic, PermReadTransactionsDetail},
	"beneficiaries":                          {PermReadBeneficiariesBasic, PermReadBeneficiariesDetail},
	"accounts/{}/beneficiaries":              {PermReadBeneficiariesBasic, PermReadBeneficiariesDetail},
	"direct-debits":                          {PermReadDirectDebits},
	"accounts/{}/direct-debits":              {PermReadDirectDebits},
	"standing-orders":                        {PermReadStandingOrdersBasic, PermReadStandingOrdersDetail},
	"accounts/{}/standing-orders":            {PermReadStandingOrdersBasic, PermReadStandingOrdersDetail},
	"scheduled-payments":                     {PermReadScheduledPaymentsBasic, PermReadScheduledPaymentsDetail},
	"accounts/{}/scheduled-payments":         {PermReadScheduledPaymentsBasic, PermReadScheduledPaymentsDetail},
	"statements":                             {PermReadStatementsBasic, PermReadStatementsDetail},
	"accounts/{}/statements":                 {PermReadStatementsBasic, PermReadStatementsDetail},
	"accounts/{}/statements/{}":              {PermReadStatementsBasic, PermReadStatementsDetail},
	"accounts/{}/statements/{}/file":         {PermReadStatementsDetail},
	"accounts/{}/statements/{}/transactions": {PermReadTransactionsBasic, PermReadTransactionsDetail},
	"products":                               {PermReadProducts},
	"accounts/{}/product":                    {PermReadProducts},
	"offers":                                 {PermReadOffers},
	"accounts/{}/offers":                     {PermReadOffers},
	"party":                                  {PermReadPartyPSU},
	"accounts/{}/party":                      {PermReadParty},
	"accounts/{}/parties":                    {PermReadParty},
}

// RequiredPermissions returns the permissions, any one of which allows the
// account-information resource of route template tmpl (e.g.
// "/open-banking/v3.1/aisp/accounts/{AccountId}/balances" → [ReadBalances]), or nil
// for a resource the map does not know (refused: fail closed).
func RequiredPermissions(tmpl string) []string {
	segs := strings.Split(strings.Trim(tmpl, "/"), "/")
	if i := slices.Index(segs, "aisp"); i >= 0 {
		segs = segs[i+1:]
	}
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "{}"
		}
	}
	return aisPermissions[strings.Join(segs, "/")]
}

func (v *ResourceValidator) checkAccounts(c *Consent, req Request) Decision {
	aa := c.AccountAccess
	perms := RequiredPermissions(req.ResourceTemplate)
	if perms == nil || !slices.ContainsFunc(perms, aa.HasPermission) {
		return refuse(http.StatusForbidden, obie.CodeResourceConsentMismatch, "The consent does not grant access to this resource")
	}
	if id, ok := req.PathParams["AccountId"]; ok && !slices.Contains(c.Accounts, id) {
		return refuse(http.StatusForbidden, obie.CodeResourceConsentMismatch, "The account is not part of the consent")
	}
	if strings.HasSuffix(req.ResourceTemplate, "/transactions") {
		q, err := url.ParseQuery(req.RawQuery)
		if err != nil {
			return refuse(http.StatusBadRequest, obie.CodeFieldInvalid, "Malformed query string")
		}
		for _, p := range []struct {
			name   string
			before bool // the bound must not be before the consent's start
		}{{"fromBookingDateTime", true}, {"toBookingDateTime", false}} {
			s := q.Get(p.name)
			if s == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t, err = time.Parse("2006-01-02T15:04:05", s)
			}
			if err != nil {
				return refuse(http.StatusBadRequest, obie.CodeFieldInvalidDate, "Invalid %s", p.name)
			}
			if !aa.TransactionFromDateTime.IsZero() && t.Before(aa.TransactionFromDateTime) ||
				!aa.TransactionToDateTime.IsZero() && t.After(aa.TransactionToDateTime) {
				return refuse(http.StatusBadRequest, obie.CodeFieldInvalidDate, "%s is outside the consent's transaction window", p.name)
			}
		}
	}
	return allow
}

// checkGeneric: a generic consent (a client that sent no intent) allows what its
// token's scopes allow (the gateway checked them), on routes of kind generic or
// account-access (reads), and an {AccountId} in the path only when the customer
// chose that account. It never allows payments: those need their own consent.
func checkGeneric(c *Consent, req Request) Decision {
	if id, ok := req.PathParams["AccountId"]; ok && !slices.Contains(c.Accounts, id) {
		return refuse(http.StatusForbidden, obie.CodeResourceConsentMismatch, "The account is not part of the consent")
	}
	return allow
}

// paymentBody is the part of a payment submission (OBWriteDomestic2,
// OBDomesticVRPRequest, OBFundsConfirmation1) the validators read.
type paymentBody struct {
	Data *struct {
		ConsentID               string          `json:"ConsentId"`
		Initiation              json.RawMessage `json:"Initiation"`
		PSUAuthenticationMethod string          `json:"PSUAuthenticationMethod"`
		Instruction             *struct {
			InstructedAmount *Amount     `json:"InstructedAmount"`
			CreditorAccount  *AccountRef `json:"CreditorAccount"`
		} `json:"Instruction"`
	} `json:"Data"`
}

func parsePaymentBody(c *Consent, req Request) (*paymentBody, Decision) {
	var b paymentBody
	if err := decodeRequest(req.Body, &b); err != nil || b.Data == nil {
		return nil, refuse(http.StatusBadRequest, obie.CodeResourceInvalidFormat, "The request body is not a payment request")
	}
	if b.Data.ConsentID != c.ID {
		return nil, refuse(http.StatusBadRequest, obie.CodeResourceConsentMismatch, "Data.ConsentId is not the consent of the access token")
	}
	return &b, allow
}

func checkBodyConsent(c *Consent, req Request) Decision {
	_, d := parsePaymentBody(c, req)
	return d
}

// sameInitiation reports whether raw is the consent's Initiation (canonical hash).
func sameInitiation(raw json.RawMessage, wantHex string) bool {
	if len(raw) == 0 {
		return false
	}
	h, err := CanonicalHash(raw)
	return err == nil && hex.EncodeToString(h[:]) == wantHex
}

func (v *ResourceValidator) checkPayment(c *Consent, req Request) Decision {
	b, d := parsePaymentBody(c, req)
	if b == nil {
		return d
	}
	if !sameInitiation(b.Data.Initiation, c.DomesticPayment.InitiationHash) {
		return refuse(http.StatusBadRequest, obie.CodeResourceConsentMismatch, "Data.Initiation differs from the consent's Initiation")
	}
	return allow
}

func (v *ResourceValidator) checkVRP(c *Consent, req Request) (Decision, Amount, int64) {
	b, d := parsePaymentBody(c, req)
	if b == nil {
		return d, Amount{}, 0
	}
	vrp := c.DomesticVRP
	cp := vrp.ControlParameters
	if !sameInitiation(b.Data.Initiation, vrp.InitiationHash) {
		return refuse(http.StatusBadRequest, obie.CodeResourceConsentMismatch, "Data.Initiation differs from the consent's Initiation"), Amount{}, 0
	}
	if b.Data.Instruction == nil || b.Data.Instruction.InstructedAmount.check("Data.Instruction.InstructedAmount") != nil {
		return refuse(http.StatusBadRequest, obie.CodeFieldInvalid, "Data.Instruction.InstructedAmount is missing or malformed"), Amount{}, 0
	}
	amt := *b.Data.Instruction.InstructedAmount
	var in vrpInitiation
	_ = json.Unmarshal(vrp.Initiation, &in) // checked when created
	if ca, want := b.Data.Instruction.CreditorAccount, in.CreditorAccount; want != nil && ca != nil &&
		(ca.SchemeName != want.SchemeName || ca.Identification != want.Identification) {
		return refuse(http.StatusBadRequest, obie.CodeRulesFailsControlParameters, "Instruction.CreditorAccount differs from the consent's creditor"), amt, 0
	}
	if m := b.Data.PSUAuthenticationMethod; m != "" && !slices.Contains(cp.PSUAuthenticationMethods, m) {
		return refuse(http.StatusBadRequest, obie.CodeRulesFailsControlParameters, "PSUAuthenticationMethod is not allowed by the consent"), amt, 0
	}
	now := v.svc.Now()
	if !vrp.ValidFrom.IsZero() && now.Before(vrp.ValidFrom) {
		return refuse(http.StatusBadRequest, obie.CodeRulesFailsControlParameters, "The consent is not valid yet"), amt, 0
	}
	minor, err := amt.Minor()
	maxMinor, err2 := cp.MaximumIndividualAmount.Minor()
	if err != nil || err2 != nil || amt.Currency != cp.MaximumIndividualAmount.Currency || minor > maxMinor {
		return refuse(http.StatusBadRequest, obie.CodeRulesFailsControlParameters, "The amount exceeds the consent's MaximumIndividualAmount"), amt, 0
	}
	return allow, amt, minor
}

// Commit performs the state changes of an allowed request: a domestic payment
// consumes its consent (Authorised → Consumed, exactly once across nodes); a VRP
// payment is counted against every periodic limit (all or nothing). A refusal here
// is a decision (the consent was consumed meanwhile: 400
// UK.OBIE.Resource.InvalidConsentStatus; a limit would be exceeded: 400
// UK.OBIE.Rules.FailsControlParameters); a store failure is an error. Other kinds
// have nothing to commit. The change is not undone if the upstream then fails: a
// consumed consent or counted amount errs on the side of paying less.
func (v *ResourceValidator) Commit(ctx context.Context, req Request) (Decision, error) {
	switch req.Kind {
	case KindDomesticPayment:
		_, err := v.svc.Consume(ctx, req.ConsentID)
		var se *StatusError
		switch {
		case err == nil:
			return allow, nil
		case errors.As(err, &se):
			return refuse(http.StatusBadRequest, obie.CodeResourceInvalidConsentStatus, "The consent is %s", se.Status), nil
		case errors.Is(err, ErrExpired), errors.Is(err, ErrNotFound):
			return refuse(http.StatusForbidden, obie.CodeResourceInvalidConsentStatus, "The consent is no longer usable"), nil
		}
		return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case KindDomesticVRP:
		c, d, err := v.consentFor(ctx, req)
		if c == nil {
			return d, err
		}
		d, _, minor := v.checkVRP(c, req)
		if !d.Valid {
			return d, nil
		}
		if v.usage == nil {
			return Decision{}, fmt.Errorf("%w: no VRP usage counter configured", ErrUnavailable)
		}
		start := c.DomesticVRP.ValidFrom
		if start.IsZero() {
			start = c.CreatedAt
		}
		now := v.svc.Now()
		var us []store.ConsentUsage
		for _, l := range c.DomesticVRP.ControlParameters.PeriodicLimits {
			limit, err := Amount{Amount: l.Amount, Currency: l.Currency}.Minor()
			if err != nil {
				return Decision{}, fmt.Errorf("%w: stored limit: %w", ErrUnavailable, err)
			}
			name, end := l.Period(start, now)
			us = append(us, store.ConsentUsage{Period: name + "/" + l.PeriodAlignment, Amount: minor, Limit: limit, ExpiresAt: end.Add(24 * time.Hour)})
		}
		_, err = v.usage.AddConsentUsage(ctx, c.ID, us...)
		switch {
		case err == nil:
			return allow, nil
		case errors.Is(err, store.ErrConflict):
			return refuse(http.StatusBadRequest, obie.CodeRulesFailsControlParameters, "The payment exceeds a periodic limit of the consent"), nil
		}
		return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return allow, nil
}

// Chain returns a Validator that asks each of vs in order — typically the built-in
// [ResourceValidator], then a bank's [Webhook] — and allows a request only when all
// allow it. The first refusal or error stops the chain. Validators with a state
// change (a Commit method, as ResourceValidator has) are checked first (Check) and
// committed only once every validator has allowed, so a refusal by a later
// validator never consumes a consent. When the chain holds a built-in validator (or
// its LiveOnly), the others see the stored consent in Request.Consent (as [View]
// renders it: the webhook's "consent"). The allow carries the last non-empty
// ModifiedPayload.
func Chain(vs ...Validator) Validator {
	return chain(slices.Clone(vs))
}

// twoPhase is a validator whose decision has a state change to commit.
type twoPhase interface {
	Check(ctx context.Context, req Request) (Decision, error)
	Commit(ctx context.Context, req Request) (Decision, error)
}

// describer is a validator that can show later validators the stored consent
// (Request.Consent, the webhook's "consent").
type describer interface {
	consentJSON(ctx context.Context, id string) json.RawMessage
}

type chain []Validator

func (ch chain) Validate(ctx context.Context, req Request) (Decision, error) {
	out := allow
	for _, v := range ch {
		if d, ok := v.(describer); ok && req.Consent == nil {
			req.Consent = d.consentJSON(ctx, req.ConsentID)
		}
	}
	for _, v := range ch {
		var d Decision
		var err error
		if tp, ok := v.(twoPhase); ok {
			d, err = tp.Check(ctx, req)
		} else {
			d, err = v.Validate(ctx, req)
		}
		if err != nil || !d.Valid {
			return d, err
		}
		if len(d.ModifiedPayload) > 0 {
			out.ModifiedPayload = d.ModifiedPayload
		}
	}
	for _, v := range ch {
		if tp, ok := v.(twoPhase); ok {
			if d, err := tp.Commit(ctx, req); err != nil || !d.Valid {
				return d, err
			}
		}
	}
	return out, nil
}

// LiveOnly returns a Validator that checks only what revocation needs on a route
// whose rules are somebody else's (a route naming the bank's webhook alone): the
// token's consent exists, belongs to the calling client and is Authorised (not
// revoked, rejected, consumed or expired), read through the same state cache. Chain
// it before that validator so that revoking a consent stops its tokens on every
// route within the cache's bound.
func (v *ResourceValidator) LiveOnly() Validator { return liveOnly{v} }

type liveOnly struct{ v *ResourceValidator }

// Validate implements Validator.
func (l liveOnly) Validate(ctx context.Context, req Request) (Decision, error) {
	c, err := l.v.cache.Get(ctx, req.ConsentID)
	switch {
	case errors.Is(err, ErrNotFound):
		return refuse(http.StatusForbidden, obie.CodeResourceConsentMismatch, "The consent does not exist"), nil
	case err != nil:
		return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case c.ClientID != req.ClientID:
		return refuse(http.StatusForbidden, obie.CodeResourceConsentMismatch, "The access token's consent does not cover this API"), nil
	}
	if st := c.Status(l.v.svc.Now()); st != StatusAuthorised {
		return refuse(http.StatusForbidden, obie.CodeResourceInvalidConsentStatus, "The consent is %s", st), nil
	}
	return allow, nil
}

// consentJSON is the consent as [View] renders it (from the state cache), or nil.
func (v *ResourceValidator) consentJSON(ctx context.Context, id string) json.RawMessage {
	c, err := v.cache.Get(ctx, id)
	if err != nil {
		return nil
	}
	raw, err := json.Marshal(View(c, v.svc.Now()))
	if err != nil {
		return nil
	}
	return raw
}

// consentJSON lets LiveOnly show the consent to the validators after it.
func (l liveOnly) consentJSON(ctx context.Context, id string) json.RawMessage {
	return l.v.consentJSON(ctx, id)
}
