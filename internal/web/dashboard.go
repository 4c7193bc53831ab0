package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ConsentsPath is the customer's consent dashboard: the consents the customer gave, per
// TPP, each active one with a revoke button and a confirmation step.
const ConsentsPath = "/customer/consents"

// maxConsentIDLen bounds the consent id a dashboard form may carry.
const maxConsentIDLen = 128

// ErrConsentNotFound is returned (wrapped) by [Dashboard.Revoke] when the consent is not
// the customer's (or does not exist). The page answers it with 404.
var ErrConsentNotFound = errors.New("web: no such consent of this customer")

// ErrConsentInactive is returned (wrapped) by [Dashboard.Revoke] when the consent can no
// longer be revoked (already revoked, rejected, consumed or expired). The dashboard is
// shown again with a notice, status 409.
var ErrConsentInactive = errors.New("web: the consent is no longer active")

// Dashboard is what the consent dashboard needs from the consent service. The
// application implements it over the consent store and the client registry.
type Dashboard interface {
	// List returns the consents customerID gave (authorised, and those that ended since),
	// newest first. Any error means "could not look them up".
	List(ctx context.Context, customerID string) ([]ConsentEntry, error)
	// Revoke withdraws consent id of customerID: the consent's refresh tokens stop at
	// once and its access tokens within the deny-list bound. Errors: ErrConsentNotFound,
	// ErrConsentInactive (wrapped), or any other for "could not revoke".
	Revoke(ctx context.Context, customerID, id string) error
}

// ConsentEntry is one consent as the dashboard shows it.
type ConsentEntry struct {
	// ID is the consent id (the value the revoke form carries).
	ID string
	// ClientID groups the consents of one TPP; ClientName is shown for it (the
	// catalog's "client.unnamed" when empty).
	ClientID, ClientName string
	// Title names the kind of access in plain words; Permissions are what the TPP may
	// see or do, one sentence each.
	Title       string
	Permissions []string
	// Accounts are the accounts the consent covers.
	Accounts []Account
	// Created and Expires are the consent's creation and expiry (zero: no expiry).
	Created, Expires time.Time
	// Status is the consent's effective OBIE status ("Authorised", "Revoked", "Expired", …),
	// worded through the catalog id "status.<Status>".
	Status string
	// Active says the customer may revoke it.
	Active bool
}

// consentGroup is the consents of one TPP on the dashboard.
type consentGroup struct {
	ClientName string
	Initial    string
	Consents   []consentRow
}

// consentRow is an entry with its dates and status in words.
type consentRow struct {
	ConsentEntry
	CreatedText, ExpiresText, StatusText string
}

// dateFormat is how the dashboard writes dates.
const dateFormat = "2 January 2006"

// dashJourney stands in for a journey in a dashboard session at the login and OTP
// steps: there is no TPP to show, and cancelling returns to the dashboard's start.
type dashJourney struct{}

func (dashJourney) Request() Request { return Request{} }
func (dashJourney) Accounts(context.Context, string) ([]Account, error) {
	return nil, nil
}
func (dashJourney) Approve(context.Context, Approval) (string, error) {
	return "", errCSRF // no approval form is accepted in a dashboard session
}
func (dashJourney) Deny(context.Context, string) (string, error) { return ConsentsPath, nil }

// startDashboard gives the browser a fresh dashboard session at the login step (a
// session it had, a journey's included, is replaced) and sends it to the login page.
func (p *Pages) startDashboard(w http.ResponseWriter, r *http.Request) {
	s := &session{Dash: true, Step: stepLogin, Exp: p.clock.Now().Add(p.lifetime).Unix()}
	s.renew()
	p.save(w, s)
	http.Redirect(w, r, LoginPath, http.StatusSeeOther)
}

// consentsPage is GET ConsentsPath: the dashboard of a signed-in dashboard session; any
// other browser is sent to log in first.
func (p *Pages) consentsPage(w http.ResponseWriter, r *http.Request) error {
	s, err := p.openSession(r)
	if err != nil || !s.Dash {
		p.startDashboard(w, r)
		return nil
	}
	if s.Step != stepDashboard {
		http.Redirect(w, r, stepPath(s.Step), http.StatusSeeOther)
		return nil
	}
	notice := ""
	if r.URL.Query().Get("done") == "revoked" {
		notice = p.msg.text("dash.revoked")
	}
	return p.showConsents(w, r, http.StatusOK, s, "", notice)
}

func (p *Pages) showConsents(w http.ResponseWriter, r *http.Request, status int, s *session, alert, notice string) error {
	list, err := p.dash.List(r.Context(), s.Customer)
	if err != nil {
		return err
	}
	d := &pageData{CSRF: s.CSRF, Alert: alert, Notice: notice, Dashboard: true}
	for _, e := range list {
		name := e.ClientName
		if strings.TrimSpace(name) == "" {
			name = p.msg.text("client.unnamed")
		}
		i := slices.IndexFunc(d.Groups, func(g consentGroup) bool { return g.ClientName == name })
		if i < 0 {
			g := consentGroup{ClientName: name}
			if c, _ := utf8.DecodeRuneInString(name); c != utf8.RuneError {
				g.Initial = strings.ToUpper(string(c))
			}
			d.Groups = append(d.Groups, g)
			i = len(d.Groups) - 1
		}
		d.Groups[i].Consents = append(d.Groups[i].Consents, p.row(e))
	}
	p.render(w, r, status, "consents", d)
	return nil
}

func (p *Pages) row(e ConsentEntry) consentRow {
	row := consentRow{ConsentEntry: e, StatusText: e.Status}
	if !e.Created.IsZero() {
		row.CreatedText = e.Created.UTC().Format(dateFormat)
	}
	if e.Expires.IsZero() {
		row.ExpiresText = p.msg.text("dash.no_expiry")
	} else {
		row.ExpiresText = e.Expires.UTC().Format(dateFormat)
	}
	if _, ok := p.msg["status."+e.Status]; ok {
		row.StatusText = p.msg.text("status." + e.Status)
	}
	return row
}

// consentsForm is POST ConsentsPath: action=revoke shows the confirmation page of one
// active consent, action=confirm revokes it (then 303 back to the dashboard), action=keep
// returns to the dashboard, action=logout ends the session.
func (p *Pages) consentsForm(w http.ResponseWriter, r *http.Request) error {
	s, _, err := p.form(w, r, stepDashboard)
	if err != nil {
		return err
	}
	if !s.Dash {
		return errCSRF
	}
	action := r.PostForm.Get("action")
	switch action {
	case "keep":
		http.Redirect(w, r, ConsentsPath, http.StatusSeeOther)
		return nil
	case "logout":
		http.SetCookie(w, sessionCookie("", time.Time{}))
		http.Redirect(w, r, ConsentsPath, http.StatusSeeOther)
		return nil
	case "revoke", "confirm":
	default:
		return errBadForm
	}
	id, ok := field(r, "consent", maxConsentIDLen)
	if !ok || id == "" {
		return errBadForm
	}
	ctx := r.Context()
	if action == "confirm" {
		err := p.dash.Revoke(ctx, s.Customer, id)
		switch {
		case errors.Is(err, ErrConsentNotFound):
			return errNotFound
		case errors.Is(err, ErrConsentInactive):
			return p.showConsents(w, r, http.StatusConflict, s, p.msg.text("dash.inactive"), "")
		case err != nil:
			return err
		}
		http.Redirect(w, r, ConsentsPath+"?done=revoked", http.StatusSeeOther)
		return nil
	}
	list, err := p.dash.List(ctx, s.Customer)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(e ConsentEntry) bool { return e.ID == id })
	if i < 0 {
		return errNotFound
	}
	if !list[i].Active {
		return p.showConsents(w, r, http.StatusConflict, s, p.msg.text("dash.inactive"), "")
	}
	e := list[i]
	if strings.TrimSpace(e.ClientName) == "" {
		e.ClientName = p.msg.text("client.unnamed")
	}
	row := p.row(e)
	d := &pageData{CSRF: s.CSRF, Dashboard: true, Entry: &row, ClientName: e.ClientName}
	p.render(w, r, http.StatusOK, "revoke", d)
	return nil
}
