package consent

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// The consent APIs (OBIE Read/Write API v3.1; INTERFACE.md "Consent APIs"), served on
// the mTLS listener behind the gateway's chain: the gateway checks the certificate,
// the token (signature, expiry, deny-list), its certificate binding, the token use,
// the scope and the PSD2 role of each [Endpoint], then hands the request to [API]
// with the [Caller] in its context. The API never authenticates anyone itself.
//
// Message signing (x-jws-signature) and idempotency (x-idempotency-key) are wrappers
// around [API], not part of it: a wrapper reads the body bytes, verifies or looks them
// up, and hands on a request whose Body replays the same bytes (the API parses exactly
// those: the Service.Create* functions take the body as bytes), or answers itself
// (a repeated idempotent POST) without calling the API.

// API paths.
const (
	BasePath                      = "/open-banking/v3.1"
	PathAccountAccessConsents     = BasePath + "/aisp/account-access-consents"
	PathAccountAccessConsent      = PathAccountAccessConsents + "/{ConsentId}"
	PathDomesticPaymentConsents   = BasePath + "/pisp/domestic-payment-consents"
	PathDomesticPaymentConsent    = PathDomesticPaymentConsents + "/{ConsentId}"
	PathDomesticPaymentFunds      = PathDomesticPaymentConsent + "/funds-confirmation"
	PathFundsConfirmationConsents = BasePath + "/cbpii/funds-confirmation-consents"
	PathFundsConfirmationConsent  = PathFundsConfirmationConsents + "/{ConsentId}"
	PathDomesticVRPConsents       = BasePath + "/pisp/domestic-vrp-consents"
	PathDomesticVRPConsent        = PathDomesticVRPConsents + "/{ConsentId}"
	PathDomesticVRPFunds          = PathDomesticVRPConsent + "/funds-confirmation"
)

// Caller is who calls a consent API, as the gateway established it.
type Caller struct {
	// ClientID is the OAuth client (TPP) the access token was issued to.
	ClientID string
	// CustomerToken is true for a customer (authorization_code) token, false for a
	// client_credentials one.
	CustomerToken bool
	// ConsentID is the consent a customer token is bound to.
	ConsentID string
}

type callerKey struct{}

// WithCaller returns ctx carrying c, for [API].
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the Caller of ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok && c.ClientID != ""
}

// Endpoint is one consent API operation as a route of the gateway's table: what a
// request needs before [API] sees it.
type Endpoint struct {
	Name, Method, Pattern string
	// Scope the token must carry.
	Scope string
	// Role the client certificate must carry.
	Role eidas.Role
	// CustomerToken: the operation takes a customer token bound to the consent named
	// in the path (funds confirmation); otherwise a client_credentials token.
	CustomerToken bool
}

// Endpoints returns the consent API's operations (dcr-consent.md §2.1, §2.2; OBIE
// CoF and VRP APIs).
func Endpoints() []Endpoint {
	ep := func(name, method, pattern, scope string, role eidas.Role) Endpoint {
		return Endpoint{Name: name, Method: method, Pattern: pattern, Scope: scope, Role: role}
	}
	fundsDP := ep("consent-domestic-payment-funds", http.MethodGet, PathDomesticPaymentFunds, "payments", eidas.RolePISP)
	fundsDP.CustomerToken = true
	fundsVRP := ep("consent-domestic-vrp-funds", http.MethodPost, PathDomesticVRPFunds, "payments", eidas.RolePISP)
	fundsVRP.CustomerToken = true
	return []Endpoint{
		ep("consent-account-access-create", http.MethodPost, PathAccountAccessConsents, "accounts", eidas.RoleAISP),
		ep("consent-account-access-get", http.MethodGet, PathAccountAccessConsent, "accounts", eidas.RoleAISP),
		ep("consent-account-access-delete", http.MethodDelete, PathAccountAccessConsent, "accounts", eidas.RoleAISP),
		ep("consent-domestic-payment-create", http.MethodPost, PathDomesticPaymentConsents, "payments", eidas.RolePISP),
		ep("consent-domestic-payment-get", http.MethodGet, PathDomesticPaymentConsent, "payments", eidas.RolePISP),
		fundsDP,
		ep("consent-funds-confirmation-create", http.MethodPost, PathFundsConfirmationConsents, "fundsconfirmations", eidas.RoleCBPII),
		ep("consent-funds-confirmation-get", http.MethodGet, PathFundsConfirmationConsent, "fundsconfirmations", eidas.RoleCBPII),
		ep("consent-funds-confirmation-delete", http.MethodDelete, PathFundsConfirmationConsent, "fundsconfirmations", eidas.RoleCBPII),
		ep("consent-domestic-vrp-create", http.MethodPost, PathDomesticVRPConsents, "payments", eidas.RolePISP),
		ep("consent-domestic-vrp-get", http.MethodGet, PathDomesticVRPConsent, "payments", eidas.RolePISP),
		ep("consent-domestic-vrp-delete", http.MethodDelete, PathDomesticVRPConsent, "payments", eidas.RolePISP),
		fundsVRP,
	}
}

// FundsChecker answers funds confirmations: whether the customer's account holds at
// least amount. An error means "could not tell" (the API answers 503).
type FundsChecker interface {
	FundsAvailable(ctx context.Context, customerID, accountID string, amount Amount) (bool, error)
}

// APIOptions configures an [API].
type APIOptions struct {
	// BaseURL is how callers reach the mTLS listener (scheme and host): Links.Self is
	// BaseURL + path. Empty: Self is the path alone.
	BaseURL string
	// Funds answers funds confirmations. Nil: they are answered 503.
	Funds FundsChecker
	// Logger receives failures (never bodies or tokens). Nil discards.
	Logger *slog.Logger
}

// API serves the consent APIs. Build it with [NewAPI]; mount it behind the gateway
// (one route per [Endpoint]). Safe for concurrent use.
type API struct {
	svc   *Service
	base  string
	funds FundsChecker
	log   *slog.Logger
	mux   *http.ServeMux
}

// NewAPI returns the consent APIs over svc.
func NewAPI(svc *Service, o APIOptions) *API {
	a := &API{svc: svc, base: strings.TrimSuffix(o.BaseURL, "/"), funds: o.Funds, log: o.Logger, mux: http.NewServeMux()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for _, k := range []struct {
		kind, list, one string
		del             bool
	}{
		{KindAccountAccess, PathAccountAccessConsents, PathAccountAccessConsent, true},
		{KindDomesticPayment, PathDomesticPaymentConsents, PathDomesticPaymentConsent, false},
		{KindFundsConfirmation, PathFundsConfirmationConsents, PathFundsConfirmationConsent, true},
		{KindDomesticVRP, PathDomesticVRPConsents, PathDomesticVRPConsent, true},
	} {
		a.mux.Handle("POST "+k.list, a.handle(false, true, func(w http.ResponseWriter, r *http.Request, c Caller, body []byte) error {
			return a.create(w, r, c, k.kind, body)
		}))
		a.mux.Handle("GET "+k.one, a.handle(false, false, func(w http.ResponseWriter, r *http.Request, c Caller, _ []byte) error {
			return a.get(w, r, c, k.kind)
		}))
		if k.del {
			a.mux.Handle("DELETE "+k.one, a.handle(false, false, func(w http.ResponseWriter, r *http.Request, c Caller, _ []byte) error {
				return a.revoke(w, r, c, k.kind)
			}))
		}
	}
	a.mux.Handle("GET "+PathDomesticPaymentFunds, a.handle(true, false, a.paymentFunds))
	a.mux.Handle("POST "+PathDomesticVRPFunds, a.handle(true, true, a.vrpFunds))
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errRouteNotFound)
	})
	return a
}

// ServeHTTP serves the consent APIs. A request without a [Caller] in its context
// (the API mounted without the gateway in front) is refused with 500, never served.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// API-level errors (mapped in writeError).
var (
	errRouteNotFound   = errors.New("consent: no such consent API")
	errNoCaller        = errors.New("consent: consent API served without the gateway's caller")
	errMediaType       = errors.New("consent: Content-Type must be application/json")
	errNotAcceptable   = errors.New("consent: Accept does not allow application/json")
	errTokenUse        = errors.New("consent: token type not allowed here")
	errConsentMismatch = errors.New("consent: token not bound to this consent")
	errNoFunds         = errors.New("consent: funds confirmation unavailable")
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, c Caller, body []byte) error

// handle wraps an operation: the caller, the token kind, Accept, Content-Type and
// the body (POST), and the one error renderer.
func (a *API) handle(customer, withBody bool, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := CallerFrom(r.Context())
		if !ok {
			a.writeError(w, r, errNoCaller)
			return
		}
		if c.CustomerToken != customer {
			a.writeError(w, r, errTokenUse)
			return
		}
		if !acceptsJSON(r.Header.Values("Accept")) {
			a.writeError(w, r, errNotAcceptable)
			return
		}
		var body []byte
		if withBody {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				a.writeError(w, r, errMediaType)
				return
			}
			body, err = io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
			if err != nil {
				a.writeError(w, r, fieldErr(obie.CodeResourceInvalidFormat, "", "request body unreadable"))
				return
			}
			if len(body) == 0 {
				a.writeError(w, r, fieldErr(obie.CodeResourceInvalidFormat, "", "request body is empty"))
				return
			}
		}
		if err := h(w, r, c, body); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// acceptsJSON reports whether the Accept header values allow application/json (no
// header: yes).
func acceptsJSON(vals []string) bool {
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			if mt == "application/json" || mt == "*/*" || mt == "application/*" {
				return true
			}
		}
	}
	return false
}

func (a *API) create(w http.ResponseWriter, r *http.Request, c Caller, kind string, body []byte) error {
	ctx := r.Context()
	var cs *Consent
	var err error
	switch kind {
	case KindAccountAccess:
		cs, _, err = a.svc.CreateAccountAccess(ctx, c.ClientID, body)
	case KindDomesticPayment:
		cs, err = a.svc.CreateDomesticPayment(ctx, c.ClientID, body)
	case KindFundsConfirmation:
		cs, err = a.svc.CreateFundsConfirmation(ctx, c.ClientID, body)
	case KindDomesticVRP:
		cs, err = a.svc.CreateDomesticVRP(ctx, c.ClientID, body)
	}
	if err != nil {
		return err
	}
	self := a.base + r.URL.Path + "/" + cs.ID
	w.Header().Set("Location", self)
	writeJSON(w, http.StatusCreated, a.render(cs, self))
	return nil
}

func (a *API) render(c *Consent, self string) any {
	now := a.svc.Now()
	switch c.Kind {
	case KindAccountAccess:
		return accountAccessResponse(c, now, self)
	case KindDomesticPayment:
		return domesticPaymentResponse(c, now, self)
	case KindFundsConfirmation:
		return fundsConfirmationResponse(c, now, self)
	default:
		return domesticVRPResponse(c, now, self)
	}
}

func (a *API) get(w http.ResponseWriter, r *http.Request, c Caller, kind string) error {
	cs, err := a.svc.GetForClient(r.Context(), c.ClientID, kind, r.PathValue("ConsentId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.render(cs, a.base+r.URL.Path))
	return nil
}

// revoke is DELETE: the consent is revoked (refresh tokens at once, access tokens at
// every gateway within the consent cache's bound). 204.
func (a *API) revoke(w http.ResponseWriter, r *http.Request, c Caller, kind string) error {
	id := r.PathValue("ConsentId")
	if _, err := a.svc.GetForClient(r.Context(), c.ClientID, kind, id); err != nil {
		return err
	}
	if _, err := a.svc.Revoke(r.Context(), id, "client:"+c.ClientID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// authorisedFor returns the consent of a customer-token call on /{ConsentId}/…: the
// token must be bound to that consent, of this client and kind, and Authorised.
func (a *API) authorisedFor(r *http.Request, c Caller, kind string) (*Consent, error) {
	id := r.PathValue("ConsentId")
	if c.ConsentID != id {
		return nil, errConsentMismatch
	}
	cs, err := a.svc.GetForClient(r.Context(), c.ClientID, kind, id)
	if err != nil {
		return nil, err
	}
	if st := cs.Status(a.svc.Now()); st != StatusAuthorised {
		return nil, &StatusError{Status: st}
	}
	return cs, nil
}

type fundsResult struct {
	FundsAvailableDateTime string `json:"FundsAvailableDateTime"`
	FundsAvailable         bool   `json:"FundsAvailable"`
}

// paymentFunds is GET /domestic-payment-consents/{ConsentId}/funds-confirmation
// (OBWriteFundsConfirmationResponse1).
func (a *API) paymentFunds(w http.ResponseWriter, r *http.Request, c Caller, _ []byte) error {
	cs, err := a.authorisedFor(r, c, KindDomesticPayment)
	if err != nil {
		return err
	}
	in := cs.DomesticPayment.parsed()
	ok, err := a.fundsAvailable(r.Context(), cs, *in.InstructedAmount)
	if err != nil {
		return err
	}
	var resp struct {
		Data struct {
			FundsAvailableResult fundsResult `json:"FundsAvailableResult"`
		} `json:"Data"`
		Links Links `json:"Links"`
		Meta  Meta  `json:"Meta"`
	}
	resp.Data.FundsAvailableResult = fundsResult{FundsAvailableDateTime: formatDateTime(a.svc.Now()), FundsAvailable: ok}
	resp.Links, resp.Meta = Links{Self: a.base + r.URL.Path}, Meta{TotalPages: 1}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// vrpFunds is POST /domestic-vrp-consents/{ConsentId}/funds-confirmation
// (OBVRPFundsConfirmationRequest → OBVRPFundsConfirmationResponse).
func (a *API) vrpFunds(w http.ResponseWriter, r *http.Request, c Caller, body []byte) error {
	cs, err := a.authorisedFor(r, c, KindDomesticVRP)
	if err != nil {
		return err
	}
	var req struct {
		Data *struct {
			ConsentID        string  `json:"ConsentId"`
			Reference        string  `json:"Reference"`
			InstructedAmount *Amount `json:"InstructedAmount"`
		} `json:"Data"`
	}
	if err := decodeRequest(body, &req); err != nil {
		return err
	}
	switch {
	case req.Data == nil:
		return missing("Data")
	case req.Data.ConsentID != cs.ID:
		return fieldErr(obie.CodeFieldInvalid, "Data.ConsentId", "ConsentId does not match the path")
	}
	if err := checkText("Data.Reference", req.Data.Reference, 35, false); err != nil {
		return err
	}
	if err := req.Data.InstructedAmount.check("Data.InstructedAmount"); err != nil {
		return err
	}
	ok, err := a.fundsAvailable(r.Context(), cs, *req.Data.InstructedAmount)
	if err != nil {
		return err
	}
	avail := "NotAvailable"
	if ok {
		avail = "Available"
	}
	now := formatDateTime(a.svc.Now())
	var resp struct {
		Data struct {
			FundsConfirmationID  string `json:"FundsConfirmationId"`
			ConsentID            string `json:"ConsentId"`
			CreationDateTime     string `json:"CreationDateTime"`
			Reference            string `json:"Reference,omitempty"`
			FundsAvailableResult struct {
				FundsAvailableDateTime string `json:"FundsAvailableDateTime"`
				FundsAvailable         string `json:"FundsAvailable"`
			} `json:"FundsAvailableResult"`
			InstructedAmount Amount `json:"InstructedAmount"`
		} `json:"Data"`
		Links Links `json:"Links"`
		Meta  Meta  `json:"Meta"`
	}
	d := &resp.Data
	d.FundsConfirmationID, d.ConsentID, d.CreationDateTime, d.Reference = rand.Text(), cs.ID, now, req.Data.Reference
	d.FundsAvailableResult.FundsAvailableDateTime, d.FundsAvailableResult.FundsAvailable = now, avail
	d.InstructedAmount = *req.Data.InstructedAmount
	resp.Links, resp.Meta = Links{Self: a.base + r.URL.Path}, Meta{TotalPages: 1}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) fundsAvailable(ctx context.Context, cs *Consent, amt Amount) (bool, error) {
	if a.funds == nil || len(cs.Accounts) == 0 {
		return false, errNoFunds
	}
	ok, err := a.funds.FundsAvailable(ctx, cs.CustomerID, cs.Accounts[0], amt)
	if err != nil {
		return false, errors.Join(errNoFunds, err)
	}
	return ok, nil
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

// Top-level Codes of the consent APIs' OBIE error bodies.
const (
	CodeBadRequest         = "consent_request_invalid"
	CodeNotFound           = "consent_not_found"
	CodeStatus             = "consent_status_invalid"
	CodeUnsupportedMedia   = "unsupported_media_type"
	CodeNotAcceptable      = "not_acceptable"
	CodeForbidden          = "consent_forbidden"
	CodeServiceUnavailable = "consent_service_unavailable"
	CodeInternal           = "server_error"
)

// problem maps a domain error to the wire: the one place (STYLE.md).
func problem(err error) (status int, code string, item obie.ErrorItem) {
	var fe *FieldError
	var se *StatusError
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, CodeBadRequest, obie.ErrorItem{ErrorCode: fe.Code, Message: fe.Message, Path: fe.Path}
	case errors.Is(err, ErrNotFound), errors.Is(err, errRouteNotFound):
		return http.StatusNotFound, CodeNotFound, obie.ErrorItem{ErrorCode: obie.CodeResourceNotFound, Message: "No such consent"}
	case errors.As(err, &se):
		return http.StatusBadRequest, CodeStatus, obie.ErrorItem{ErrorCode: obie.CodeResourceInvalidConsentStatus, Message: "The consent is " + se.Status}
	case errors.Is(err, ErrExpired):
		return http.StatusBadRequest, CodeStatus, obie.ErrorItem{ErrorCode: obie.CodeResourceInvalidConsentStatus, Message: "The consent has expired"}
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType, CodeUnsupportedMedia, obie.ErrorItem{ErrorCode: obie.CodeHeaderInvalid, Message: "Content-Type must be application/json", Path: "Content-Type"}
	case errors.Is(err, errNotAcceptable):
		return http.StatusNotAcceptable, CodeNotAcceptable, obie.ErrorItem{ErrorCode: obie.CodeHeaderInvalid, Message: "Only application/json is available", Path: "Accept"}
	case errors.Is(err, errTokenUse):
		return http.StatusForbidden, CodeForbidden, obie.ErrorItem{ErrorCode: obie.CodeResourceConsentMismatch, Message: "This operation needs another kind of access token"}
	case errors.Is(err, errConsentMismatch):
		return http.StatusForbidden, CodeForbidden, obie.ErrorItem{ErrorCode: obie.CodeResourceConsentMismatch, Message: "The access token is not bound to this consent"}
	case errors.Is(err, ErrUnavailableStore), errors.Is(err, errNoFunds):
		return http.StatusServiceUnavailable, CodeServiceUnavailable, obie.ErrorItem{ErrorCode: obie.CodeUnexpectedError, Message: "The consent service is unavailable"}
	}
	return http.StatusInternalServerError, CodeInternal, obie.ErrorItem{ErrorCode: obie.CodeUnexpectedError, Message: "Internal error"}
}

// writeError renders err as an OBIE error body; causes are logged, never sent.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, item := problem(err)
	if status >= 500 {
		a.log.Error("consent API", "interaction_id", obs.InteractionID(r.Context()), "err", err)
	}
	obie.Write(w, status, &obie.ErrorBody{Code: code, ID: obs.InteractionID(r.Context()), Message: item.Message, Errors: []obie.ErrorItem{item}})
}
