package consent

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
)

// ActorAdmin is the actor recorded in a consent's history and the audit trail for
// revocations made through the admin API.
const ActorAdmin = "admin"

// AdminView is a consent as the bank's admin API and CLI show it: every stored field,
// the effective status and the history.
type AdminView struct {
	ID                string             `json:"id"`
	Kind              string             `json:"kind"`
	ClientID          string             `json:"client_id"`
	CustomerID        string             `json:"customer_id,omitempty"`
	Status            string             `json:"status"`
	StoredStatus      string             `json:"stored_status"`
	CreatedAt         time.Time          `json:"created_at"`
	UpdatedAt         time.Time          `json:"updated_at"`
	ExpiresAt         time.Time          `json:"expires_at,omitzero"`
	Accounts          []string           `json:"accounts,omitempty"`
	Scopes            []string           `json:"scopes,omitempty"`
	AccountAccess     *AccountAccess     `json:"account_access,omitempty"`
	DomesticPayment   *DomesticPayment   `json:"domestic_payment,omitempty"`
	FundsConfirmation *FundsConfirmation `json:"funds_confirmation,omitempty"`
	DomesticVRP       *DomesticVRP       `json:"domestic_vrp,omitempty"`
	History           []Transition       `json:"history"`
}

// View returns c as an [AdminView] at now.
func View(c *Consent, now time.Time) AdminView {
	h := history(c, now)
	return AdminView{ID: c.ID, Kind: c.Kind, ClientID: c.ClientID, CustomerID: c.CustomerID, Status: c.Status(now),
		StoredStatus: c.StoredStatus, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, ExpiresAt: c.ExpiresAt,
		Accounts: c.Accounts, Scopes: c.Scopes, AccountAccess: c.AccountAccess, DomesticPayment: c.DomesticPayment,
		FundsConfirmation: c.FundsConfirmation, DomesticVRP: c.DomesticVRP, History: h}
}

// RegisterAdmin mounts the bank's consent operations over svc on mux, the admin API's
// (package admin guards it: its own listener, the admin token, failure limits, one
// audit event per call; nothing here checks a credential, so mount it nowhere else):
//
//	GET  /admin/consents?customer=&client=&status=&limit=  search → 200 {"consents": [...]}
//	GET  /admin/consents/{id}                               one consent with its history → 200
//	POST /admin/consents/{id}/revoke                        revoke → 200 + the revoked consent
//
// Revocation is [Service.Revoke] by [ActorAdmin]: the consent's refresh tokens die at
// once, its access tokens at every gateway within the consent cache's bound. Errors
// are admin.WriteError bodies: 400 invalid_request (bad limit or filter), 404
// invalid_request (no such consent), 409 invalid_request (status does not allow
// revocation), 503 server_error (store unavailable; cause logged, never sent).
func RegisterAdmin(mux *http.ServeMux, svc *Service, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &adminOps{svc: svc, log: logger}
	mux.HandleFunc("GET /admin/consents", a.list)
	mux.HandleFunc("GET /admin/consents/{id}", a.get)
	mux.HandleFunc("POST /admin/consents/{id}/revoke", a.revoke)
}

type adminOps struct {
	svc *Service
	log *slog.Logger
}

func (a *adminOps) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{ClientID: q.Get("client"), CustomerID: q.Get("customer"), Status: q.Get("status")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxListLimit {
			admin.WriteError(w, http.StatusBadRequest, "invalid_request", "limit must be 1 to 1000")
			return
		}
		f.Limit = n
	}
	switch f.Status {
	case "", StatusAwaitingAuthorisation, StatusAuthorised, StatusRejected, StatusConsumed, StatusRevoked, StatusExpired:
	default:
		admin.WriteError(w, http.StatusBadRequest, "invalid_request", "unknown status")
		return
	}
	cs, err := a.svc.List(r.Context(), f)
	if err != nil {
		a.fail(w, err)
		return
	}
	now := a.svc.Now()
	out := struct {
		Consents []AdminView `json:"consents"`
	}{Consents: []AdminView{}}
	for _, c := range cs {
		out.Consents = append(out.Consents, View(c, now))
	}
	admin.WriteJSON(w, http.StatusOK, out)
}

func (a *adminOps) get(w http.ResponseWriter, r *http.Request) {
	c, err := a.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	admin.WriteJSON(w, http.StatusOK, View(c, a.svc.Now()))
}

func (a *adminOps) revoke(w http.ResponseWriter, r *http.Request) {
	c, err := a.svc.Revoke(r.Context(), r.PathValue("id"), ActorAdmin)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.log.Info("admin API: consent revoked", "consent_id", c.ID, "client_id", c.ClientID)
	admin.WriteJSON(w, http.StatusOK, View(c, a.svc.Now()))
}

func (a *adminOps) fail(w http.ResponseWriter, err error) {
	var se *StatusError
	switch {
	case errors.Is(err, ErrNotFound):
		admin.WriteError(w, http.StatusNotFound, "invalid_request", "no such consent")
	case errors.As(err, &se):
		admin.WriteError(w, http.StatusConflict, "invalid_request", "the consent is "+se.Status)
	case errors.Is(err, ErrUnavailableStore):
		a.log.Error("admin API: consent store", "err", err)
		admin.WriteError(w, http.StatusServiceUnavailable, "server_error", "consent store unavailable")
	default:
		admin.WriteError(w, http.StatusBadRequest, "invalid_request", "bad request")
	}
}
