package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDashboard is a hand-written Dashboard: consents per customer; a revoked consent
// turns Revoked and inactive.
type fakeDashboard struct {
	mu      sync.Mutex
	byCust  map[string][]ConsentEntry
	revoked []string // "customer/id" per successful revocation
}

func newFakeDashboard() *fakeDashboard {
	created := t0.Add(-48 * time.Hour)
	return &fakeDashboard{byCust: map[string][]ConsentEntry{
		"cust-0001": {
			{ID: "c-1", ClientID: "tpp-a", ClientName: "Moneywise Budgeting Ltd", Title: "Access to your account information",
				Permissions: []string{"Your account balances"}, Accounts: []Account{{ID: "acc-1", Name: "Everyday Current Account", Identification: "•••• 4821"}},
				Created: created, Expires: t0.Add(90 * 24 * time.Hour), Status: "Authorised", Active: true},
			{ID: "c-2", ClientID: "tpp-b", ClientName: "Ledgerly", Title: "Access to your account information",
				Permissions: []string{"Your transactions"}, Created: created, Status: "Authorised", Active: true},
			{ID: "c-3", ClientID: "tpp-a", ClientName: "Moneywise Budgeting Ltd", Title: "A single payment",
				Created: created, Status: "Consumed"},
		},
		"cust-other": {{ID: "c-9", ClientID: "tpp-a", ClientName: "Moneywise Budgeting Ltd", Status: "Authorised", Active: true}},
	}}
}

func (f *fakeDashboard) List(_ context.Context, customerID string) ([]ConsentEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ConsentEntry(nil), f.byCust[customerID]...), nil
}

func (f *fakeDashboard) Revoke(_ context.Context, customerID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, e := range f.byCust[customerID] {
		if e.ID != id {
			continue
		}
		if !e.Active {
			return fmt.Errorf("consent: status is %s: %w", e.Status, ErrConsentInactive)
		}
		f.byCust[customerID][i].Active, f.byCust[customerID][i].Status = false, "Revoked"
		f.revoked = append(f.revoked, customerID+"/"+id)
		return nil
	}
	return fmt.Errorf("consent %s: %w", id, ErrConsentNotFound)
}

func (f *fakeDashboard) revocations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.revoked...)
}

func newDashRig(t *testing.T) (*rig, *fakeDashboard) {
	t.Helper()
	d := newFakeDashboard()
	return newRig(t, func(o *Options) { o.Dashboard = d }), d
}

// toDashboard opens the dashboard afresh, logs in and passes the OTP step, and returns
// the dashboard page.
func (r *rig) toDashboard(code string) *httptest.ResponseRecorder {
	r.t.Helper()
	wantRedirect(r.t, r.get(ConsentsPath), LoginPath)
	login := r.get(LoginPath)
	wantStatus(r.t, login, http.StatusOK)
	wantRedirect(r.t, r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"correct horse battery staple"}}), OTPPath)
	otp := r.get(OTPPath)
	wantStatus(r.t, otp, http.StatusOK)
	wantRedirect(r.t, r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {code}}), ConsentsPath)
	page := r.get(ConsentsPath)
	wantStatus(r.t, page, http.StatusOK)
	return page
}

// TestDashboardRevoke: a browser without a session is sent to log in (a dashboard
// session, no TPP on the pages), gets a fresh session id at each step, sees its consents
// grouped per TPP with status in words and a revoke button only on active ones; revoke
// shows a confirmation and revokes nothing; confirm revokes through the Dashboard and
// comes back with a notice.
func TestDashboardRevoke(t *testing.T) {
	r, d := newDashRig(t)
	wantRedirect(t, r.get(ConsentsPath), LoginPath)
	first := r.session()
	if !first.Dash || first.Journey != "" || first.Step != stepLogin {
		t.Fatalf("session %+v, want a dashboard session at the login step", first)
	}
	login := r.get(LoginPath)
	wantText(t, login, "dash.login_title")
	if strings.Contains(login.Body.String(), English.text("client.from")) || strings.Contains(login.Body.String(), `value="cancel"`) {
		t.Errorf("the dashboard's login page shows a TPP or a cancel button:\n%s", login.Body.String())
	}
	wantRedirect(t, r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"correct horse battery staple"}}), OTPPath)
	afterPwd := r.session()
	otp := r.get(OTPPath)
	wantRedirect(t, r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {"123456"}}), ConsentsPath)
	s := r.session()
	if s.ID == first.ID || s.ID == afterPwd.ID || s.CSRF == afterPwd.CSRF || s.Step != stepDashboard || s.Customer != "cust-0001" {
		t.Fatalf("session after SCA %+v (before: %+v, %+v): want a fresh id at the dashboard step", s, first, afterPwd)
	}
	page := r.get(ConsentsPath)
	wantStatus(t, page, http.StatusOK)
	body := page.Body.String()
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") || !strings.Contains(csp, "script-src 'none'") {
		t.Errorf("dashboard CSP %q", csp)
	}
	if page.Header().Get("Cache-Control") != "no-store" || page.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("dashboard headers %v", page.Header())
	}
	if n := strings.Count(body, `class="tpp-group"`); n != 2 {
		t.Errorf("%d TPP groups, want 2 (Moneywise with two consents, Ledgerly)", n)
	}
	if i, j := strings.Index(body, `id="consent-c-3"`), strings.Index(body, "Ledgerly"); i < 0 || j < 0 || i > j {
		t.Errorf("Moneywise's second consent is not listed under Moneywise")
	}
	for _, want := range []string{"Your account balances", "Everyday Current Account", "•••• 4821", English["status.Authorised"],
		English["status.Consumed"], "5 December 2026", "7 March 2027", English["dash.no_expiry"]} {
		if !strings.Contains(body, escapeHTML(want)) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	if n := strings.Count(body, `value="revoke"`); n != 2 {
		t.Errorf("%d revoke buttons, want 2 (the consumed consent has none)", n)
	}
	if strings.Contains(body, "c-9") {
		t.Error("the dashboard shows another customer's consent")
	}

	confirm := r.post(ConsentsPath, url.Values{"csrf": {r.csrf(page)}, "action": {"revoke"}, "consent": {"c-1"}})
	wantStatus(t, confirm, http.StatusOK)
	wantText(t, confirm, "dash.confirm_title", "Moneywise Budgeting Ltd")
	if got := d.revocations(); len(got) != 0 {
		t.Fatalf("revoked before the confirmation: %v", got)
	}
	wantRedirect(t, r.post(ConsentsPath, url.Values{"csrf": {r.csrf(confirm)}, "action": {"keep"}, "consent": {"c-1"}}), ConsentsPath)
	if got := d.revocations(); len(got) != 0 {
		t.Fatalf("revoked after keep: %v", got)
	}
	wantRedirect(t, r.post(ConsentsPath, url.Values{"csrf": {r.csrf(confirm)}, "action": {"confirm"}, "consent": {"c-1"}}), ConsentsPath+"?done=revoked")
	if got := d.revocations(); len(got) != 1 || got[0] != "cust-0001/c-1" {
		t.Fatalf("revocations %v, want cust-0001/c-1", got)
	}
	done := r.get(ConsentsPath + "?done=revoked")
	wantText(t, done, "dash.revoked")
	wantText(t, done, "status.Revoked")
	if n := strings.Count(done.Body.String(), `value="revoke"`); n != 1 {
		t.Errorf("%d revoke buttons after the revocation, want 1", n)
	}

	// Sign out ends the session: the dashboard asks for a login again.
	wantRedirect(t, r.post(ConsentsPath, url.Values{"csrf": {r.csrf(done)}, "action": {"logout"}}), ConsentsPath)
	if r.cookie != "" {
		t.Error("sign out kept the session cookie")
	}
	wantRedirect(t, r.get(ConsentsPath), LoginPath)
}

// TestDashboardForms: every refusal of the dashboard's forms, with its status; none
// revokes anything.
func TestDashboardForms(t *testing.T) {
	r, d := newDashRig(t)
	page := r.toDashboard("123456")
	csrf := r.csrf(page)
	cases := []struct {
		name   string
		form   url.Values
		status int
		msg    string
	}{
		{"no CSRF token", formOf("action", "confirm", "consent", "c-1"), http.StatusForbidden, "error.forbidden"},
		{"wrong CSRF token", formOf("csrf", "x"+csrf, "action", "confirm", "consent", "c-1"), http.StatusForbidden, "error.forbidden"},
		{"two CSRF tokens", formOf("csrf", csrf, "csrf", csrf, "action", "confirm", "consent", "c-1"), http.StatusForbidden, "error.forbidden"},
		{"unknown action", formOf("csrf", csrf, "action", "delete", "consent", "c-1"), http.StatusBadRequest, "error.bad_request"},
		{"no consent", formOf("csrf", csrf, "action", "confirm"), http.StatusBadRequest, "error.bad_request"},
		{"two consents", formOf("csrf", csrf, "action", "confirm", "consent", "c-1", "consent", "c-2"), http.StatusBadRequest, "error.bad_request"},
		{"consent id too long", formOf("csrf", csrf, "action", "confirm", "consent", strings.Repeat("c", maxConsentIDLen+1)), http.StatusBadRequest, "error.bad_request"},
		{"revoke another customer's consent", formOf("csrf", csrf, "action", "revoke", "consent", "c-9"), http.StatusNotFound, "error.bad_request"},
		{"confirm another customer's consent", formOf("csrf", csrf, "action", "confirm", "consent", "c-9"), http.StatusNotFound, "error.bad_request"},
		{"revoke an ended consent", formOf("csrf", csrf, "action", "revoke", "consent", "c-3"), http.StatusConflict, "dash.inactive"},
		{"confirm an ended consent", formOf("csrf", csrf, "action", "confirm", "consent", "c-3"), http.StatusConflict, "dash.inactive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := r.post(ConsentsPath, c.form)
			wantStatus(t, w, c.status)
			wantText(t, w, c.msg)
		})
	}
	if got := d.revocations(); len(got) != 0 {
		t.Fatalf("refused forms revoked %v", got)
	}
	// A dashboard session never approves a journey.
	w := r.post(ApprovePath, url.Values{"csrf": {csrf}, "action": {"approve"}})
	wantStatus(t, w, http.StatusForbidden)
	wantRedirect(t, r.get(ApprovePath), ConsentsPath)
}

// TestDashboardSessions: the dashboard's session and a journey's are separate — a
// journey's session posting to the dashboard is refused, a journey's browser opening the
// dashboard gets a new dashboard session, a dashboard session before SCA is sent back to
// its step, and without a Dashboard the path does not exist.
func TestDashboardSessions(t *testing.T) {
	r, d := newDashRig(t)
	approve := r.toApprove()
	w := r.post(ConsentsPath, url.Values{"csrf": {r.csrf(approve)}, "action": {"confirm"}, "consent": {"c-1"}})
	wantStatus(t, w, http.StatusForbidden)
	if got := d.revocations(); len(got) != 0 {
		t.Fatalf("a journey's session revoked %v", got)
	}
	wantRedirect(t, r.get(ConsentsPath), LoginPath)
	if s := r.session(); !s.Dash || s.Journey != "" || s.Customer != "" {
		t.Fatalf("session %+v: want a new, unauthenticated dashboard session", s)
	}
	login := r.get(LoginPath)
	wantRedirect(t, r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"correct horse battery staple"}}), OTPPath)
	// Between the two factors the dashboard is not shown.
	wantRedirect(t, r.get(ConsentsPath), OTPPath)
	otp := r.get(OTPPath)
	w = r.post(ConsentsPath, url.Values{"csrf": {r.csrf(otp)}, "action": {"revoke"}, "consent": {"c-1"}})
	wantStatus(t, w, http.StatusForbidden)

	plain := newRig(t)
	w = plain.get(ConsentsPath)
	wantStatus(t, w, http.StatusNotFound)
}

// TestDashboardFederatedLogin: with a Federation the dashboard's login goes to the bank's
// identity provider and its callback ends at the dashboard (not the approval page) with a
// fresh session id; cancelling at the provider returns to the dashboard's start.
func TestDashboardFederatedLogin(t *testing.T) {
	d := newFakeDashboard()
	d.byCust["cust-fed-7"] = []ConsentEntry{{ID: "c-7", ClientID: "tpp-a", ClientName: "Moneywise Budgeting Ltd", Status: "Authorised", Active: true}}
	r := newRig(t, federated(&fakeFederation{}), func(o *Options) { o.Dashboard = d })
	begin := func() string {
		t.Helper()
		wantRedirect(t, r.get(ConsentsPath), LoginPath)
		w := r.get(LoginPath)
		wantStatus(t, w, http.StatusSeeOther)
		u, err := url.Parse(w.Header().Get("Location"))
		if err != nil || u.Host != "idp.bank.example" {
			t.Fatalf("login page sent the browser to %q", w.Header().Get("Location"))
		}
		return u.Query().Get("state")
	}
	state := begin()
	before := r.session()
	wantRedirect(t, r.get(FederatedCallbackPath+"?"+url.Values{"state": {state}, "code": {"ok"}}.Encode()), ConsentsPath)
	after := r.session()
	if !after.Dash || after.Step != stepDashboard || after.Customer != "cust-fed-7" || after.ID == before.ID {
		t.Fatalf("session after the federated login %+v (before %+v)", after, before)
	}
	page := r.get(ConsentsPath)
	wantStatus(t, page, http.StatusOK)
	if !strings.Contains(page.Body.String(), `id="consent-c-7"`) {
		t.Errorf("the federated customer's consent is not listed:\n%s", page.Body.String())
	}

	r.cookie = ""
	state = begin()
	wantRedirect(t, r.get(FederatedCallbackPath+"?"+url.Values{"state": {state}, "code": {"cancel"}}.Encode()), ConsentsPath)
	if r.cookie != "" {
		t.Error("a cancelled federated login kept the session")
	}
}
