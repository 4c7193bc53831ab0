package web

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/clock"
)

// The paths the pages are served at. [Pages] handles PathPrefix and everything below it.
const (
	PathPrefix  = "/customer/"
	LoginPath   = "/customer/login"
	OTPPath     = "/customer/otp"
	ApprovePath = "/customer/approve"
	StaticPath  = "/customer/static/"
)

// Bounds on what a form may carry.
const (
	maxFormBytes    = 16 << 10
	maxUsernameLen  = 256
	maxPasswordLen  = 1024
	maxAccountCount = 100
)

// Options configure [New]. Authenticator, Journeys and SessionKeys are required; every
// other zero value means the default stated.
type Options struct {
	// Authenticator checks passwords and one-time codes. Required unless Federation is set.
	Authenticator Authenticator
	// Federation, when set, replaces the password and one-time-code pages: the login page
	// sends the browser to the bank's identity provider and [FederatedCallbackPath]
	// finishes the login there (the approval page stays).
	Federation Federation
	// Journeys finds the pending authorization requests.
	Journeys Journeys
	// Dashboard, when set, serves the customer's consent dashboard at [ConsentsPath]
	// (its own session: login, one-time code, then the list).
	Dashboard Dashboard
	// SessionKeys seal the session cookie: the first seals, each opens (rotation:
	// prepend the new key, drop the old one after SessionLifetime). Each is KeySize
	// bytes; see [LoadOrCreateKey].
	SessionKeys [][]byte
	// SessionLifetime bounds a session from the moment its journey started. Zero means
	// DefaultSessionLifetime.
	SessionLifetime time.Duration
	// ThemeDir is the bank's theme directory (config web.theme_dir); empty means the
	// embedded theme only. See the layout in theme.go.
	ThemeDir string
	// Messages override or add catalog entries (a bank's wording, its name).
	Messages Catalog
	// ClientAddr returns the browser's address for rate limiting. Nil means the host
	// of r.RemoteAddr; a deployment behind a trusted proxy passes its own.
	ClientAddr func(r *http.Request) string
	// Clock is the time source. Nil means the wall clock.
	Clock clock.Clock
	// Logger receives causes of failures the customer sees only as a generic page.
	// Nil discards them.
	Logger *slog.Logger
}

// Pages is the http.Handler of the customer's pages. Create it with [New].
type Pages struct {
	auth     Authenticator
	fed      Federation
	journeys Journeys
	dash     Dashboard
	seal     *sealer
	lifetime time.Duration
	msg      Catalog
	theme    *theme
	addr     func(*http.Request) string
	clock    clock.Clock
	log      *slog.Logger
	mux      *http.ServeMux
}

// New loads the theme and returns the pages' handler. It fails when a required option
// is missing, a session key has the wrong size, or a theme template does not parse.
func New(o Options) (*Pages, error) {
	if (o.Authenticator == nil && o.Federation == nil) || o.Journeys == nil {
		return nil, errors.New("web: Authenticator (or Federation) and Journeys are required")
	}
	seal, err := newSealer(o.SessionKeys)
	if err != nil {
		return nil, err
	}
	p := &Pages{
		auth: o.Authenticator, fed: o.Federation, journeys: o.Journeys, dash: o.Dashboard, seal: seal,
		lifetime: o.SessionLifetime, msg: English.merge(o.Messages),
		addr: o.ClientAddr, clock: o.Clock, log: o.Logger,
	}
	if p.lifetime <= 0 {
		p.lifetime = DefaultSessionLifetime
	}
	if p.addr == nil {
		p.addr = remoteHost
	}
	if p.clock == nil {
		p.clock = clock.Real{}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.theme, err = loadTheme(o.ThemeDir, template.FuncMap{"t": p.msg.text})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	if p.fed != nil {
		mux.HandleFunc("GET "+LoginPath, p.handle(p.federatedLogin))
		mux.HandleFunc("GET "+FederatedCallbackPath, p.handle(p.federatedCallback))
	} else {
		mux.HandleFunc("GET "+LoginPath, p.handle(p.loginPage))
		mux.HandleFunc("POST "+LoginPath, p.handle(p.loginForm))
		mux.HandleFunc("GET "+OTPPath, p.handle(p.otpPage))
		mux.HandleFunc("POST "+OTPPath, p.handle(p.otpForm))
	}
	mux.HandleFunc("GET "+ApprovePath, p.handle(p.approvePage))
	mux.HandleFunc("POST "+ApprovePath, p.handle(p.approveForm))
	if p.dash != nil {
		mux.HandleFunc("GET "+ConsentsPath, p.handle(p.consentsPage))
		mux.HandleFunc("POST "+ConsentsPath, p.handle(p.consentsForm))
	}
	mux.HandleFunc("GET "+StaticPath+"{file}", p.theme.serveStatic)
	mux.HandleFunc(PathPrefix, func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, errNotFound)
	})
	p.mux = mux
	return p, nil
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ServeHTTP serves the pages under [PathPrefix]. Every response carries
// [SecurityHeaders]; a page may widen img-src and form-action for its journey.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SecurityHeaders(w.Header(), "", "")
	if strings.Contains(r.URL.Path, "/.") || strings.Contains(r.URL.Path, "//") {
		// Not the mux's cleaning redirect (301/307): no path with dot or empty segments exists.
		p.fail(w, r, errNotFound)
		return
	}
	p.mux.ServeHTTP(w, r)
}

// Start begins the customer's part of the journey id: it checks the journey exists,
// sets a fresh session cookie (a session the browser had before is replaced, never
// continued) and answers 303 to the login page. The authorization endpoint calls it once
// it has validated the request and stored it as a pending journey.
func (p *Pages) Start(w http.ResponseWriter, r *http.Request, journeyID string) {
	SecurityHeaders(w.Header(), "", "")
	j, err := p.journeys.Journey(r.Context(), journeyID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	now := p.clock.Now()
	exp := now.Add(p.lifetime)
	if e := j.Request().ExpiresAt; !e.IsZero() && e.Before(exp) {
		exp = e
	}
	s := &session{Journey: journeyID, Step: stepLogin, Exp: exp.Unix()}
	s.renew()
	p.save(w, s)
	http.Redirect(w, r, LoginPath, http.StatusSeeOther)
}

// Refuse ends a journey on the error page, status 400, for what must never be
// redirected: an unknown client, an unregistered or mismatched redirect_uri, a request
// that cannot be trusted. detail is shown to the app's developer under the generic
// message; it must be safe to show (an OAuth error code and description, no secret).
func (p *Pages) Refuse(w http.ResponseWriter, r *http.Request, detail string) {
	p.RefuseStatus(w, r, http.StatusBadRequest, detail)
}

// RefuseStatus is Refuse with another status: 405 for a method the endpoint does not
// answer, 503 when the request could not be processed (the detail then says to try
// again). A status outside 400–599 is answered as 400. A detail with the OAuth error code
// invalid_request_uri (a pushed request unknown, expired or already used — most often a
// customer who took too long or came back to an old page) is shown as "error.expired"
// rather than as an app that could not be verified.
func (p *Pages) RefuseStatus(w http.ResponseWriter, r *http.Request, status int, detail string) {
	SecurityHeaders(w.Header(), "", "")
	if status < 400 || status > 599 {
		status = http.StatusBadRequest
	}
	msg := "error.untrusted"
	switch {
	case status >= 500:
		msg = "error.unavailable"
	case strings.HasPrefix(detail, "invalid_request_uri:"):
		msg = "error.expired"
	}
	p.render(w, r, status, "error", &pageData{Alert: p.msg.text(msg), Detail: detail})
}

// save writes s as the session cookie.
func (p *Pages) save(w http.ResponseWriter, s *session) {
	http.SetCookie(w, sessionCookie(p.seal.seal(s), time.Unix(s.Exp, 0)))
}

// pageData is what every template receives.
type pageData struct {
	CSRF       string
	ClientName string
	// LogoURI is the TPP's logo when it is an https URL, else empty.
	LogoURI string
	// Initial stands in for a missing logo.
	Initial  string
	Alert    string
	Detail   string
	Username string
	Scopes   []string
	Accounts []accountRow
	Consent  any
	Expires  string
	// Dashboard marks the pages of a dashboard session (no TPP to show).
	Dashboard bool
	// Notice is a confirmation shown on the dashboard ("consent withdrawn").
	Notice string
	// Groups are the dashboard's consents per TPP; Entry the one to confirm revoking.
	Groups []consentGroup
	Entry  *consentRow
	// ChooseOne: the accounts are radio buttons (Request.ChooseOne).
	ChooseOne bool
}

type accountRow struct {
	Account
	Checked bool
}

// The errors of the pages themselves; pageError maps them with the Authenticator's and
// Journey's errors.
var (
	errCSRF     = errors.New("web: missing or wrong CSRF token")
	errBadForm  = errors.New("web: malformed form")
	errNotFound = errors.New("web: no such page")
)

// pageError is the one mapping from an error to the page shown: status and message id.
// Errors it does not know are "could not check": 503 with a generic message, logged.
func pageError(err error) (status int, msgID string, known bool) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, errNoSession), errors.Is(err, ErrJourneyGone):
		return http.StatusBadRequest, "error.expired", true
	case errors.Is(err, errCSRF):
		return http.StatusForbidden, "error.forbidden", true
	case errors.Is(err, errBadForm):
		return http.StatusBadRequest, "error.bad_request", true
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, "error.too_large", true
	case errors.Is(err, errNotFound):
		return http.StatusNotFound, "error.bad_request", true
	case errors.Is(err, ErrLoginRefused):
		return http.StatusBadRequest, "error.login_refused", true
	}
	return http.StatusServiceUnavailable, "error.unavailable", false
}

// fail renders the error page for err.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, id, known := pageError(err)
	if !known {
		p.log.ErrorContext(r.Context(), "customer page failed", "path", r.URL.Path, "error", err.Error())
	}
	if errors.Is(err, errNoSession) || errors.Is(err, ErrJourneyGone) {
		http.SetCookie(w, sessionCookie("", time.Time{}))
	}
	p.render(w, r, status, "error", &pageData{Alert: p.msg.text(id), Detail: ""})
}

// render executes a page into a buffer first, so a template failure becomes the error
// page rather than half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, page string, d *pageData) {
	var buf bytes.Buffer
	if err := p.theme.pages[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		p.log.ErrorContext(r.Context(), "customer page template failed", "page", page, "error", err.Error())
		if page == "error" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(p.msg.text("error.unavailable")))
			return
		}
		p.render(w, r, http.StatusServiceUnavailable, "error", &pageData{Alert: p.msg.text("error.unavailable")})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// handle adapts a page handler that returns an error to http.HandlerFunc.
func (p *Pages) handle(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			p.fail(w, r, err)
		}
	}
}

// openSession opens the session cookie.
func (p *Pages) openSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, errNoSession
	}
	return p.seal.open(c.Value, p.clock.Now())
}

// load opens the session cookie and finds its journey (a dashboard session has none: its
// login and OTP pages see a stand-in).
func (p *Pages) load(r *http.Request) (*session, Journey, error) {
	s, err := p.openSession(r)
	if err != nil {
		return nil, nil, err
	}
	if s.Dash {
		if p.dash == nil {
			return nil, nil, errNoSession
		}
		return s, dashJourney{}, nil
	}
	j, err := p.journeys.Journey(r.Context(), s.Journey)
	if err != nil {
		return nil, nil, err
	}
	return s, j, nil
}

// stepPath is the page of a step.
func stepPath(st step) string {
	switch st {
	case stepOTP:
		return OTPPath
	case stepApprove:
		return ApprovePath
	case stepDashboard:
		return ConsentsPath
	}
	return LoginPath
}

// page loads the session for a GET of the page of want; a session at another step is
// sent to its own page (ok false).
func (p *Pages) page(w http.ResponseWriter, r *http.Request, want step) (*session, Journey, bool, error) {
	s, j, err := p.load(r)
	if err != nil {
		return nil, nil, false, err
	}
	if s.Step != want {
		http.Redirect(w, r, stepPath(s.Step), http.StatusSeeOther)
		return nil, nil, false, nil
	}
	return s, j, true, nil
}

// form loads the session for a POST to the form of want: the body is bounded and
// parsed, the CSRF token checked before anything else is read, and the session must be
// at step want.
func (p *Pages) form(w http.ResponseWriter, r *http.Request, want step) (*session, Journey, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, nil, err
		}
		return nil, nil, errBadForm
	}
	s, j, err := p.load(r)
	if err != nil {
		return nil, nil, err
	}
	got := r.PostForm["csrf"]
	if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(s.CSRF)) != 1 {
		return nil, nil, errCSRF
	}
	if s.Step != want {
		return nil, nil, errCSRF
	}
	return s, j, nil
}

// field returns the single value of a form field, or "" and false when it is absent,
// repeated, too long or not UTF-8.
func field(r *http.Request, name string, maxLen int) (string, bool) {
	v := r.PostForm[name]
	if len(v) != 1 || len(v[0]) > maxLen || !utf8.ValidString(v[0]) {
		return "", false
	}
	return v[0], true
}

// client fills the TPP's part of d from the journey.
func (p *Pages) client(d *pageData, req Request) {
	d.ClientName = req.ClientName
	if strings.TrimSpace(d.ClientName) == "" {
		d.ClientName = p.msg.text("client.unnamed")
	}
	if o := origin(req.LogoURI); strings.HasPrefix(o, "https://") {
		d.LogoURI = req.LogoURI
	}
	if r, _ := utf8.DecodeRuneInString(d.ClientName); r != utf8.RuneError {
		d.Initial = strings.ToUpper(string(r))
	}
}

// headersFor sets the CSP of a page of a journey: its logo's origin in img-src, its
// redirect_uri's origin in form-action (every form of a journey can end it with a 303
// there: approve, deny or cancel).
func headersFor(w http.ResponseWriter, req Request) {
	img := ""
	if o := origin(req.LogoURI); strings.HasPrefix(o, "https://") {
		img = o
	}
	SecurityHeaders(w.Header(), img, origin(req.RedirectURI))
}

// end sends the browser to the URL a journey ended with, clearing the session. The
// form-action of the page that posted must allow it (see headersFor).
func (p *Pages) end(w http.ResponseWriter, r *http.Request, target string, err error) error {
	if err != nil {
		return err
	}
	http.SetCookie(w, sessionCookie("", time.Time{}))
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// cancel handles action=cancel of the login and OTP forms: the journey is denied.
func (p *Pages) cancel(w http.ResponseWriter, r *http.Request, s *session, j Journey) error {
	target, err := j.Deny(r.Context(), s.Customer)
	return p.end(w, r, target, err)
}

func (p *Pages) loginPage(w http.ResponseWriter, r *http.Request) error {
	s, j, ok, err := p.page(w, r, stepLogin)
	if !ok {
		return err
	}
	return p.showLogin(w, r, http.StatusOK, s, j, "", "")
}

func (p *Pages) showLogin(w http.ResponseWriter, r *http.Request, status int, s *session, j Journey, alert, username string) error {
	req := j.Request()
	headersFor(w, req)
	d := &pageData{CSRF: s.CSRF, Alert: alert, Username: username, Dashboard: s.Dash}
	p.client(d, req)
	p.render(w, r, status, "login", d)
	return nil
}

func (p *Pages) loginForm(w http.ResponseWriter, r *http.Request) error {
	s, j, err := p.form(w, r, stepLogin)
	if err != nil {
		return err
	}
	if r.PostForm.Get("action") == "cancel" {
		return p.cancel(w, r, s, j)
	}
	username, ok1 := field(r, "username", maxUsernameLen)
	password, ok2 := field(r, "password", maxPasswordLen)
	if !ok1 || !ok2 || username == "" || password == "" {
		return p.showLogin(w, r, http.StatusBadRequest, s, j, p.msg.text("login.missing"), username)
	}
	customer, err := p.auth.CheckPassword(r.Context(), username, password, p.addr(r))
	if err != nil {
		status, alert, ferr := p.authFailure(w, err, "login.wrong")
		if ferr != nil {
			return ferr
		}
		return p.showLogin(w, r, status, s, j, alert, username)
	}
	s.renew()
	s.Step, s.Customer, s.AMR = stepOTP, customer, []string{"pwd"}
	p.save(w, s)
	http.Redirect(w, r, OTPPath, http.StatusSeeOther)
	return nil
}

// authFailure maps an Authenticator error to the status and alert of the form page
// that is shown again; an error it does not know is returned to become the error page.
func (p *Pages) authFailure(w http.ResponseWriter, err error, wrongID string) (int, string, error) {
	switch {
	case errors.Is(err, ErrTooManyAttempts):
		if d := retryAfter(err); d > 0 {
			secs := int((d + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			return http.StatusTooManyRequests, p.msg.text("attempts.locked", secs), nil
		}
		return http.StatusTooManyRequests, p.msg.text("attempts.later"), nil
	case errors.Is(err, ErrCodeUsed):
		return http.StatusBadRequest, p.msg.text("otp.used"), nil
	case errors.Is(err, ErrWrongCredentials):
		return http.StatusBadRequest, p.msg.text(wrongID), nil
	}
	return 0, "", err
}

func (p *Pages) otpPage(w http.ResponseWriter, r *http.Request) error {
	s, j, ok, err := p.page(w, r, stepOTP)
	if !ok {
		return err
	}
	return p.showOTP(w, r, http.StatusOK, s, j, "")
}

func (p *Pages) showOTP(w http.ResponseWriter, r *http.Request, status int, s *session, j Journey, alert string) error {
	req := j.Request()
	headersFor(w, req)
	d := &pageData{CSRF: s.CSRF, Alert: alert, Dashboard: s.Dash}
	p.client(d, req)
	p.render(w, r, status, "otp", d)
	return nil
}

// otpFormat is the shape of a TOTP code (RFC 6238 with 6 digits).
var otpFormat = regexp.MustCompile(`^[0-9]{6}$`)

func (p *Pages) otpForm(w http.ResponseWriter, r *http.Request) error {
	s, j, err := p.form(w, r, stepOTP)
	if err != nil {
		return err
	}
	if r.PostForm.Get("action") == "cancel" {
		return p.cancel(w, r, s, j)
	}
	code, ok := field(r, "otp", 16)
	if !ok || !otpFormat.MatchString(code) {
		return p.showOTP(w, r, http.StatusBadRequest, s, j, p.msg.text("otp.format"))
	}
	if err := p.auth.CheckOTP(r.Context(), s.Customer, code, p.addr(r)); err != nil {
		status, alert, ferr := p.authFailure(w, err, "otp.wrong")
		if ferr != nil {
			return ferr
		}
		return p.showOTP(w, r, status, s, j, alert)
	}
	s.renew()
	s.Step, s.AMR, s.AuthTime = stepApprove, append(s.AMR, "otp"), p.clock.Now().Unix()
	if s.Dash {
		s.Step = stepDashboard
	}
	p.save(w, s)
	http.Redirect(w, r, stepPath(s.Step), http.StatusSeeOther)
	return nil
}

func (p *Pages) approvePage(w http.ResponseWriter, r *http.Request) error {
	s, j, ok, err := p.page(w, r, stepApprove)
	if !ok {
		return err
	}
	accounts, err := j.Accounts(r.Context(), s.Customer)
	if err != nil {
		return err
	}
	return p.showApprove(w, r, http.StatusOK, s, j, accounts, nil, "")
}

func (p *Pages) showApprove(w http.ResponseWriter, r *http.Request, status int, s *session, j Journey, accounts []Account, checked []string, alert string) error {
	req := j.Request()
	headersFor(w, req)
	d := &pageData{CSRF: s.CSRF, Alert: alert, Consent: req.Consent, ChooseOne: req.ChooseOne}
	p.client(d, req)
	for _, sc := range req.Scopes {
		if _, ok := p.msg["scope."+sc]; ok {
			d.Scopes = append(d.Scopes, p.msg.text("scope."+sc))
		} else {
			d.Scopes = append(d.Scopes, p.msg.text("scope.other", sc))
		}
	}
	for _, a := range accounts {
		d.Accounts = append(d.Accounts, accountRow{Account: a, Checked: slices.Contains(checked, a.ID)})
	}
	if !req.ExpiresAt.IsZero() {
		d.Expires = req.ExpiresAt.UTC().Format("15:04 MST, 2 January 2006")
	}
	p.render(w, r, status, "approve", d)
	return nil
}

func (p *Pages) approveForm(w http.ResponseWriter, r *http.Request) error {
	s, j, err := p.form(w, r, stepApprove)
	if err != nil {
		return err
	}
	ctx := r.Context()
	switch r.PostForm.Get("action") {
	case "deny":
		target, err := j.Deny(ctx, s.Customer)
		return p.end(w, r, target, err)
	case "approve":
	default:
		return errBadForm
	}
	accounts, err := j.Accounts(ctx, s.Customer)
	if err != nil {
		return err
	}
	chosen, err := chosenAccounts(r.PostForm["account"], accounts)
	if err != nil {
		return err
	}
	if len(chosen) == 0 && len(accounts) > 0 {
		return p.showApprove(w, r, http.StatusBadRequest, s, j, accounts, nil, p.msg.text("approve.choose"))
	}
	if j.Request().ChooseOne && len(accounts) > 0 && len(chosen) != 1 {
		return p.showApprove(w, r, http.StatusBadRequest, s, j, accounts, nil, p.msg.text("approve.choose_one"))
	}
	target, err := j.Approve(ctx, Approval{
		CustomerID: s.Customer, Accounts: chosen,
		AuthTime: time.Unix(s.AuthTime, 0), AMR: slices.Clone(s.AMR), ACR: s.ACR,
	})
	return p.end(w, r, target, err)
}

// chosenAccounts checks the submitted account ids against those offered: each must be
// offered, none repeated. Anything else is a forged form (errBadForm).
func chosenAccounts(submitted []string, offered []Account) ([]string, error) {
	if len(submitted) > maxAccountCount {
		return nil, errBadForm
	}
	var chosen []string
	for _, id := range submitted {
		if slices.Contains(chosen, id) || !slices.ContainsFunc(offered, func(a Account) bool { return a.ID == id }) {
			return nil, errBadForm
		}
		chosen = append(chosen, id)
	}
	return chosen, nil
}

var _ http.Handler = (*Pages)(nil)
