package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

var t0 = time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)

// rig is the pages served in-process with fakes and a fake clock, and one browser-like
// client that keeps the session cookie.
type rig struct {
	t        *testing.T
	pages    *Pages
	auth     *fakeAuth
	journeys *fakeJourneys
	journey  *fakeJourney
	clock    *clock.Fake
	key      []byte
	cookie   string // current session cookie value; "" when none
}

const testRedirect = "https://tpp.example/cb"

func newRig(t *testing.T, mod ...func(*Options)) *rig {
	t.Helper()
	r := &rig{t: t, auth: newFakeAuth(), journeys: &fakeJourneys{}, clock: clock.NewFake(t0), key: testKey(t)}
	r.journey = testJourney(testRedirect, t0.Add(10*time.Minute))
	r.journeys.add("j1", r.journey)
	o := Options{Authenticator: r.auth, Journeys: r.journeys, SessionKeys: [][]byte{r.key}, Clock: r.clock}
	for _, m := range mod {
		m(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.pages = p
	return r
}

// keep records the session cookie a response set or deleted.
func (r *rig) keep(res *http.Response) {
	for _, c := range res.Cookies() {
		if c.Name == SessionCookie {
			if c.MaxAge < 0 {
				r.cookie = ""
			} else {
				r.cookie = c.Value
			}
		}
	}
}

// start begins journey id as the authorization endpoint would.
func (r *rig) start(id string) *httptest.ResponseRecorder {
	r.t.Helper()
	w := httptest.NewRecorder()
	r.pages.Start(w, httptest.NewRequest("GET", "https://bank.example/authorize", nil), id)
	r.keep(w.Result())
	return w
}

// get fetches a page with the session cookie.
func (r *rig) get(path string) *httptest.ResponseRecorder {
	r.t.Helper()
	req := httptest.NewRequest("GET", "https://bank.example"+path, nil)
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: r.cookie})
	}
	w := httptest.NewRecorder()
	r.pages.ServeHTTP(w, req)
	r.keep(w.Result())
	return w
}

// post submits a form with the session cookie.
func (r *rig) post(path string, form url.Values) *httptest.ResponseRecorder {
	r.t.Helper()
	req := httptest.NewRequest("POST", "https://bank.example"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: r.cookie})
	}
	w := httptest.NewRecorder()
	r.pages.ServeHTTP(w, req)
	r.keep(w.Result())
	return w
}

var csrfField = regexp.MustCompile(`<input type="hidden" name="csrf" value="([^"]+)">`)

// csrf returns the CSRF token of the form on a page.
func (r *rig) csrf(w *httptest.ResponseRecorder) string {
	r.t.Helper()
	m := csrfField.FindStringSubmatch(w.Body.String())
	if m == nil {
		r.t.Fatalf("no CSRF field on the page (status %d):\n%s", w.Code, w.Body.String())
	}
	return m[1]
}

// session opens the current cookie with the rig's key.
func (r *rig) session() *session {
	r.t.Helper()
	sl, err := newSealer([][]byte{r.key})
	if err != nil {
		r.t.Fatal(err)
	}
	s, err := sl.open(r.cookie, r.clock.Now())
	if err != nil {
		r.t.Fatalf("session cookie does not open: %v", err)
	}
	return s
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body:\n%s", w.Code, status, w.Body.String())
	}
}

func wantRedirect(t *testing.T, w *httptest.ResponseRecorder, location string) {
	t.Helper()
	wantStatus(t, w, http.StatusSeeOther)
	if got := w.Header().Get("Location"); got != location {
		t.Fatalf("Location %q, want %q", got, location)
	}
}

func wantText(t *testing.T, w *httptest.ResponseRecorder, id string, args ...any) {
	t.Helper()
	want := English.text(id, args...)
	if !strings.Contains(w.Body.String(), escapeHTML(want)) {
		t.Fatalf("page does not say %q (%s); body:\n%s", want, id, w.Body.String())
	}
}

// escapeHTML escapes text as html/template does in element content.
func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}

// toOTP runs the login step and returns the OTP page.
func (r *rig) toOTP() *httptest.ResponseRecorder {
	r.t.Helper()
	r.start("j1")
	login := r.get(LoginPath)
	wantStatus(r.t, login, http.StatusOK)
	w := r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"correct horse battery staple"}})
	wantRedirect(r.t, w, OTPPath)
	otp := r.get(OTPPath)
	wantStatus(r.t, otp, http.StatusOK)
	return otp
}

// toApprove runs login and OTP and returns the approval page.
func (r *rig) toApprove() *httptest.ResponseRecorder {
	r.t.Helper()
	otp := r.toOTP()
	w := r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {"123456"}})
	wantRedirect(r.t, w, ApprovePath)
	page := r.get(ApprovePath)
	wantStatus(r.t, page, http.StatusOK)
	return page
}

func TestJourneyApprove(t *testing.T) {
	r := newRig(t)
	w := r.start("j1")
	wantRedirect(t, w, LoginPath)
	page := r.toApprove()
	for _, want := range []string{"Moneywise Budgeting Ltd", "acc-current-1", "acc-savings-2", "Everyday Current Account"} {
		if !strings.Contains(page.Body.String(), want) {
			t.Errorf("approval page lacks %q", want)
		}
	}
	wantText(t, page, "scope.accounts")
	wantText(t, page, "scope.other", "x-custom")
	wantText(t, page, "approve.expires", "21:10 UTC, 7 December 2026")
	wantText(t, page, "approve.signed_in", "Moneywise Budgeting Ltd")

	r.clock.Advance(5 * time.Second)
	w = r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"approve"}, "account": {"acc-savings-2", "acc-current-1"}})
	wantRedirect(t, w, testRedirect+"?code=code-for-cust-0001&state=st-1")
	if r.cookie != "" {
		t.Error("the session cookie outlived the journey")
	}
	a, denied, _ := r.journey.result()
	if denied || a == nil {
		t.Fatalf("approval %v denied %v", a, denied)
	}
	if a.CustomerID != "cust-0001" || strings.Join(a.Accounts, ",") != "acc-savings-2,acc-current-1" ||
		strings.Join(a.AMR, ",") != "pwd,otp" || !a.SCA() || !a.AuthTime.Equal(t0) {
		t.Errorf("approval = %+v", a)
	}
	if got := strings.Join(r.auth.addrs, ","); got != "192.0.2.1,192.0.2.1" {
		t.Errorf("client addresses passed to the Authenticator = %s", got)
	}
}

func TestJourneyDenyAndCancel(t *testing.T) {
	t.Run("deny on the approval page", func(t *testing.T) {
		r := newRig(t)
		page := r.toApprove()
		w := r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"deny"}})
		wantRedirect(t, w, testRedirect+"?error=access_denied&state=st-1")
		if _, denied, by := r.journey.result(); !denied || by != "cust-0001" {
			t.Errorf("denied %v by %q", denied, by)
		}
	})
	t.Run("cancel at login", func(t *testing.T) {
		r := newRig(t)
		r.start("j1")
		login := r.get(LoginPath)
		w := r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "action": {"cancel"}})
		wantRedirect(t, w, testRedirect+"?error=access_denied&state=st-1")
		if _, denied, by := r.journey.result(); !denied || by != "" {
			t.Errorf("denied %v by %q", denied, by)
		}
		if r.auth.callCount() != 0 {
			t.Error("cancel checked credentials")
		}
	})
	t.Run("cancel at OTP", func(t *testing.T) {
		r := newRig(t)
		otp := r.toOTP()
		w := r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "action": {"cancel"}})
		wantRedirect(t, w, testRedirect+"?error=access_denied&state=st-1")
	})
}

// TestFormErrors: each failure the Authenticator reports is shown on the same form with
// the catalog's text and the right status; the session stays at its step.
func TestFormErrors(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		r := newRig(t)
		r.start("j1")
		login := r.get(LoginPath)
		w := r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"nope"}})
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "login.wrong")
		if !strings.Contains(w.Body.String(), `value="alice"`) {
			t.Error("the username is not kept")
		}
		if s := r.session(); s.Step != stepLogin || s.Customer != "" {
			t.Errorf("session after a wrong password: %+v", s)
		}
		// The form shown again carries the same session's token and works.
		w = r.post(LoginPath, url.Values{"csrf": {r.csrf(w)}, "username": {"alice"}, "password": {"correct horse battery staple"}})
		wantRedirect(t, w, OTPPath)
	})
	t.Run("missing fields", func(t *testing.T) {
		r := newRig(t)
		r.start("j1")
		login := r.get(LoginPath)
		w := r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}})
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "login.missing")
		if r.auth.callCount() != 0 {
			t.Error("the Authenticator was called without a password")
		}
	})
	t.Run("locked out with retry time", func(t *testing.T) {
		r := newRig(t)
		r.auth.lockout = &TooManyAttemptsError{Wait: 29500 * time.Millisecond}
		r.start("j1")
		login := r.get(LoginPath)
		w := r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"x"}})
		wantStatus(t, w, http.StatusTooManyRequests)
		wantText(t, w, "attempts.locked", 30)
		if got := w.Header().Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After %q", got)
		}
	})
	t.Run("locked out without retry time", func(t *testing.T) {
		r := newRig(t)
		r.auth.lockout = errors.Join(errors.New("identity: locked"), ErrTooManyAttempts)
		r.start("j1")
		login := r.get(LoginPath)
		w := r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"x"}})
		wantStatus(t, w, http.StatusTooManyRequests)
		wantText(t, w, "attempts.later")
		if w.Header().Get("Retry-After") != "" {
			t.Error("Retry-After without a known wait")
		}
	})
	t.Run("wrong OTP", func(t *testing.T) {
		r := newRig(t)
		otp := r.toOTP()
		w := r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {"000000"}})
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "otp.wrong")
		if s := r.session(); s.Step != stepOTP {
			t.Errorf("step after a wrong code: %s", s.Step)
		}
	})
	t.Run("OTP used twice", func(t *testing.T) {
		r := newRig(t)
		r.auth.codes["123456"] = true
		otp := r.toOTP()
		w := r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {"123456"}})
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "otp.used")
	})
	t.Run("OTP malformed is not sent to the Authenticator", func(t *testing.T) {
		for _, code := range []string{"", "12345", "1234567", "12 456", "abcdef", "١٢٣٤٥٦"} {
			r := newRig(t)
			otp := r.toOTP()
			calls := r.auth.callCount()
			w := r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {code}})
			wantStatus(t, w, http.StatusBadRequest)
			wantText(t, w, "otp.format")
			if r.auth.callCount() != calls {
				t.Errorf("code %q reached the Authenticator", code)
			}
		}
	})
	t.Run("payment: one debtor account", func(t *testing.T) {
		// A payment is made from one account: radio buttons, and an approval naming two
		// accounts (a forged or stale form) or none is refused, not recorded.
		r := newRig(t)
		r.journey.req.ChooseOne = true
		page := r.toApprove()
		wantText(t, page, "approve.debtor")
		if body := page.Body.String(); !strings.Contains(body, `type="radio" name="account"`) || strings.Contains(body, `type="checkbox"`) {
			t.Errorf("the accounts are not radio buttons:\n%s", body)
		}
		for _, accounts := range [][]string{{"acc-current-1", "acc-savings-2"}, nil} {
			w := r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"approve"}, "account": accounts})
			wantStatus(t, w, http.StatusBadRequest)
			if accounts == nil {
				wantText(t, w, "approve.choose")
			} else {
				wantText(t, w, "approve.choose_one")
			}
			if a, _, _ := r.journey.result(); a != nil {
				t.Fatalf("approved with accounts %v", accounts)
			}
		}
		w := r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"approve"}, "account": {"acc-savings-2"}})
		wantRedirect(t, w, testRedirect+"?code=code-for-cust-0001&state=st-1")
		if a, _, _ := r.journey.result(); a == nil || strings.Join(a.Accounts, ",") != "acc-savings-2" {
			t.Errorf("approval %+v, want the one account", a)
		}
	})
	t.Run("no account chosen", func(t *testing.T) {
		r := newRig(t)
		page := r.toApprove()
		w := r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"approve"}})
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "approve.choose")
		if a, _, _ := r.journey.result(); a != nil {
			t.Error("approved without an account")
		}
	})
}

// TestErrorPages: every failure that is not a form's own is the error page with a
// fixed status and message, never a redirect and never the cause.
func TestErrorPages(t *testing.T) {
	cases := []struct {
		name   string
		run    func(r *rig) *httptest.ResponseRecorder
		status int
		msg    string
	}{
		{"no session", func(r *rig) *httptest.ResponseRecorder { return r.get(LoginPath) }, 400, "error.expired"},
		{"unknown journey at start", func(r *rig) *httptest.ResponseRecorder { return r.start("nope") }, 400, "error.expired"},
		{"session expired", func(r *rig) *httptest.ResponseRecorder {
			r.start("j1")
			r.clock.Advance(DefaultSessionLifetime)
			return r.get(LoginPath)
		}, 400, "error.expired"},
		{"session ends with the journey's expiry", func(r *rig) *httptest.ResponseRecorder {
			r.start("j1")
			r.clock.Advance(10 * time.Minute)
			return r.get(LoginPath)
		}, 400, "error.expired"},
		{"tampered cookie", func(r *rig) *httptest.ResponseRecorder {
			r.start("j1")
			b := []byte(r.cookie)
			if i := len(b) / 2; b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			r.cookie = string(b)
			return r.get(LoginPath)
		}, 400, "error.expired"},
		{"cookie sealed with another key", func(r *rig) *httptest.ResponseRecorder {
			other, _ := newSealer([][]byte{testKey(t)})
			r.cookie = other.seal(&session{ID: "x", CSRF: "y", Journey: "j1", Step: stepApprove, Customer: "cust-0001", Exp: t0.Add(time.Hour).Unix()})
			return r.get(ApprovePath)
		}, 400, "error.expired"},
		{"journey completed meanwhile", func(r *rig) *httptest.ResponseRecorder {
			page := r.toApprove()
			token, cookie := r.csrf(page), r.cookie
			r.post(ApprovePath, url.Values{"csrf": {token}, "action": {"approve"}, "account": {"acc-current-1"}})
			r.cookie = cookie // the approved step replayed
			return r.post(ApprovePath, url.Values{"csrf": {token}, "action": {"approve"}, "account": {"acc-current-1"}})
		}, 400, "error.expired"},
		{"forged account", func(r *rig) *httptest.ResponseRecorder {
			page := r.toApprove()
			return r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"approve"}, "account": {"acc-someone-else"}})
		}, 400, "error.bad_request"},
		{"repeated account", func(r *rig) *httptest.ResponseRecorder {
			page := r.toApprove()
			return r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"approve"}, "account": {"acc-current-1", "acc-current-1"}})
		}, 400, "error.bad_request"},
		{"unknown action", func(r *rig) *httptest.ResponseRecorder {
			page := r.toApprove()
			return r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"maybe"}})
		}, 400, "error.bad_request"},
		{"form too large", func(r *rig) *httptest.ResponseRecorder {
			r.start("j1")
			login := r.get(LoginPath)
			return r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {strings.Repeat("a", maxFormBytes)}})
		}, 413, "error.too_large"},
		{"Authenticator could not check", func(r *rig) *httptest.ResponseRecorder {
			r.auth.broken = errors.New("identity: database down at 10.0.0.5")
			r.start("j1")
			login := r.get(LoginPath)
			return r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"x"}})
		}, 503, "error.unavailable"},
		{"journey store could not look up", func(r *rig) *httptest.ResponseRecorder {
			r.start("j1")
			r.journeys.broken = errors.New("authz: database down at 10.0.0.5")
			return r.get(LoginPath)
		}, 503, "error.unavailable"},
		{"unknown page", func(r *rig) *httptest.ResponseRecorder { return r.get(PathPrefix + "nothing") }, 404, "error.bad_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			w := c.run(r)
			wantStatus(t, w, c.status)
			wantText(t, w, c.msg)
			if w.Header().Get("Location") != "" {
				t.Error("an error page redirects")
			}
			if strings.Contains(w.Body.String(), "10.0.0.5") {
				t.Error("the cause reached the page")
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	r := newRig(t)
	w := httptest.NewRecorder()
	r.pages.Refuse(w, httptest.NewRequest("GET", "/authorize", nil), `invalid_request: redirect_uri "<x>" is not registered`)
	wantStatus(t, w, http.StatusBadRequest)
	wantText(t, w, "error.untrusted")
	if !strings.Contains(w.Body.String(), `redirect_uri &#34;&lt;x&gt;&#34; is not registered`) {
		t.Errorf("detail not shown escaped:\n%s", w.Body.String())
	}
	if w.Header().Get("Location") != "" || w.Header().Get("Content-Security-Policy") == "" {
		t.Error("Refuse redirects or lacks the security headers")
	}
}

// TestRefuseExpiredRequest: a request_uri unknown, expired or used is shown to the customer
// as an expired request, not as an app that could not be verified.
func TestRefuseExpiredRequest(t *testing.T) {
	r := newRig(t)
	w := httptest.NewRecorder()
	r.pages.Refuse(w, httptest.NewRequest("GET", "/authorize", nil), "invalid_request_uri: the request_uri is unknown, expired or already used")
	wantStatus(t, w, http.StatusBadRequest)
	wantText(t, w, "error.expired")
	if strings.Contains(w.Body.String(), English["error.untrusted"]) {
		t.Error("an expired request is shown as an untrusted app")
	}
}

// TestCSRF: a POST without the token, with a wrong one, with two, or with another
// session's is refused with 403 before the Authenticator or the Journey is asked.
func TestCSRF(t *testing.T) {
	forms := []struct {
		path string
		to   func(r *rig) *httptest.ResponseRecorder
		form url.Values
	}{
		{LoginPath, func(r *rig) *httptest.ResponseRecorder { r.start("j1"); return r.get(LoginPath) },
			url.Values{"username": {"alice"}, "password": {"correct horse battery staple"}}},
		{OTPPath, (*rig).toOTP, url.Values{"otp": {"123456"}}},
		{ApprovePath, (*rig).toApprove, url.Values{"action": {"approve"}, "account": {"acc-current-1"}}},
	}
	tokens := []struct {
		name  string
		token func(page string, other string) []string
	}{
		{"missing", func(string, string) []string { return nil }},
		{"empty", func(string, string) []string { return []string{""} }},
		{"wrong", func(p, _ string) []string { return []string{p[:len(p)-1] + "x"} }},
		{"repeated", func(p, _ string) []string { return []string{p, p} }},
		{"another session's", func(_, o string) []string { return []string{o} }},
	}
	for _, f := range forms {
		for _, tk := range tokens {
			t.Run(f.path+"/"+tk.name, func(t *testing.T) {
				r := newRig(t)
				// Another browser's token for the same journey and step.
				otherToken := r.csrf(f.to(r))
				r.cookie = ""
				r.auth.codes["123456"] = false
				page := f.to(r)
				calls := r.auth.callCount()
				form := url.Values{}
				for k, v := range f.form {
					form[k] = v
				}
				if v := tk.token(r.csrf(page), otherToken); v != nil {
					form["csrf"] = v
				}
				w := r.post(f.path, form)
				wantStatus(t, w, http.StatusForbidden)
				wantText(t, w, "error.forbidden")
				if r.auth.callCount() != calls {
					t.Error("the Authenticator was asked")
				}
				if a, denied, _ := r.journey.result(); a != nil || denied {
					t.Error("the journey ended")
				}
			})
		}
	}
	t.Run("a form of an earlier step", func(t *testing.T) {
		r := newRig(t)
		r.start("j1")
		login := r.get(LoginPath)
		token := r.csrf(login)
		r.post(LoginPath, url.Values{"csrf": {token}, "username": {"alice"}, "password": {"correct horse battery staple"}})
		w := r.post(LoginPath, url.Values{"csrf": {token}, "username": {"alice"}, "password": {"correct horse battery staple"}})
		wantStatus(t, w, http.StatusForbidden)
	})
}

// TestJourneyAcrossNodes: two nodes holding the same session key and journey store
// serve one journey in turns, as behind a load balancer when a node dies mid-journey.
func TestJourneyAcrossNodes(t *testing.T) {
	a := newRig(t)
	b := newRig(t, func(o *Options) {
		o.Authenticator, o.Journeys, o.SessionKeys = a.auth, a.journeys, [][]byte{a.key}
		o.Clock = a.clock
	})
	nodes := []*Pages{a.pages, b.pages}
	a.start("j1")
	login := a.get(LoginPath)
	a.pages = nodes[1]
	w := a.post(LoginPath, formOf("csrf", a.csrf(login), "username", "alice", "password", "correct horse battery staple"))
	wantRedirect(t, w, OTPPath)
	a.pages = nodes[0]
	otp := a.get(OTPPath)
	a.pages = nodes[1]
	wantRedirect(t, a.post(OTPPath, formOf("csrf", a.csrf(otp), "otp", "123456")), ApprovePath)
	page := a.get(ApprovePath)
	a.pages = nodes[0]
	w = a.post(ApprovePath, formOf("csrf", a.csrf(page), "action", "approve", "account", "acc-current-1"))
	wantRedirect(t, w, testRedirect+"?code=code-for-cust-0001&state=st-1")
}

func TestUnnamedClient(t *testing.T) {
	r := newRig(t)
	r.journey.req.ClientName = "  "
	r.start("j1")
	w := r.get(LoginPath)
	wantText(t, w, "client.unnamed")
}
