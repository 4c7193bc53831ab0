package web

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/web/webtest"
)

// The real-browser tests drive Debian's chromium through package webtest: JavaScript off in
// the page, HTTPS on loopback, a screenshot of every page under test-output/screenshots/.

// startTLS serves h over HTTPS on 127.0.0.1, port 0.
func startTLS(t *testing.T, cert tls.Certificate, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// browserRig is a bank (the pages plus a stand-in /authorize that starts journeys) and
// a TPP (whose callback records what it receives), both on loopback HTTPS, and one
// chromium tab.
type browserRig struct {
	*webtest.Browser
	bank     *httptest.Server
	tpp      *httptest.Server
	auth     *fakeAuth
	journeys *fakeJourneys

	mu        sync.Mutex
	callbacks []url.Values
	logoGets  int
}

func newBrowserRig(t *testing.T) *browserRig {
	cert, spki := webtest.LoopbackCert(t)
	rig := &browserRig{auth: newFakeAuth(), journeys: &fakeJourneys{}}

	pages, err := New(Options{
		Authenticator: rig.auth, Journeys: rig.journeys,
		SessionKeys: [][]byte{testKey(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	bankMux := http.NewServeMux()
	bankMux.Handle(PathPrefix, pages)
	// A stand-in for the authorization endpoint: the journey was validated and stored,
	// now the browser is handed to the pages.
	bankMux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		pages.Start(w, r, r.URL.Query().Get("journey"))
	})
	rig.bank = startTLS(t, cert, bankMux)

	tppMux := http.NewServeMux()
	tppMux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		rig.mu.Lock()
		rig.callbacks = append(rig.callbacks, r.URL.Query())
		rig.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><title>TPP</title><body><h1 id="tpp-done">Back at the TPP</h1><p>%s</p></body></html>`,
			strings.ReplaceAll(r.URL.RawQuery, "<", ""))
	})
	tppMux.HandleFunc("GET /logo.svg", func(w http.ResponseWriter, r *http.Request) {
		rig.mu.Lock()
		rig.logoGets++
		rig.mu.Unlock()
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 56 56"><rect width="56" height="56" rx="10" fill="#6c2bd9"/>`+
			`<path d="M14 38 L22 18 L28 30 L34 18 L42 38" fill="none" stroke="#fff" stroke-width="4" stroke-linejoin="round"/></svg>`)
	})
	rig.tpp = startTLS(t, cert, tppMux)

	rig.Browser = webtest.NewBrowser(t, 3*time.Minute, spki)
	return rig
}

// begin adds a journey and opens it as the authorization endpoint would.
func (rig *browserRig) begin(t *testing.T, id string) *fakeJourney {
	t.Helper()
	j := testJourney(rig.tpp.URL+"/cb", time.Now().Add(10*time.Minute))
	j.req.LogoURI = rig.tpp.URL + "/logo.svg"
	rig.journeys.add(id, j)
	rig.Run(t, "open "+id, chromedp.Navigate(rig.bank.URL+"/authorize?journey="+id), chromedp.WaitVisible(chromedp.CSS("#username")))
	return j
}

func (rig *browserRig) login(t *testing.T, username, password string) {
	t.Helper()
	rig.Run(t, "log in",
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#submit")),
	)
}

// alert returns the text of the page's alert once it is shown.
func (rig *browserRig) alert(t *testing.T) string {
	t.Helper()
	rig.Run(t, "wait for alert", chromedp.WaitVisible(chromedp.CSS("#alert")))
	return rig.Text(t, "#alert")
}

func (rig *browserRig) lastCallback() url.Values {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	if len(rig.callbacks) == 0 {
		return nil
	}
	return rig.callbacks[len(rig.callbacks)-1]
}

// mobile switches the tab to a phone-sized viewport (on) or back (off).
func (rig *browserRig) mobile(t *testing.T, on bool) {
	t.Helper()
	var err error
	if on {
		_, err = chromedp.Call(rig.Ctx, emulation.SetDeviceMetricsOverride,
			emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true})
	} else {
		_, err = chromedp.Call(rig.Ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// wantRedirect asserts that the last redirect to prefix was a 303.
func (rig *browserRig) wantRedirect(t *testing.T, prefix string) {
	t.Helper()
	r, ok := rig.LastRedirectTo(prefix)
	if !ok {
		t.Fatalf("no redirect to %s seen", prefix)
	}
	if r.Status != http.StatusSeeOther {
		t.Fatalf("redirect %s → %s: status %d, want 303", r.From, r.To, r.Status)
	}
}

// TestBrowserJourney drives chromium through the pages: login → OTP → approve, deny,
// cancel at login, wrong password, wrong and reused OTP. Every redirect the browser
// follows must be a 303 and the journey must end at the TPP's redirect_uri.
func TestBrowserJourney(t *testing.T) {
	rig := newBrowserRig(t)
	otpPrefix := rig.bank.URL + OTPPath
	approvePrefix := rig.bank.URL + ApprovePath
	cb := rig.tpp.URL + "/cb"

	t.Run("approve", func(t *testing.T) {
		j := rig.begin(t, "j-approve")
		rig.wantRedirect(t, rig.bank.URL+LoginPath)
		rig.Shot(t, "01-login")
		rig.login(t, "alice", "correct horse battery staple")
		rig.Run(t, "otp page", chromedp.WaitVisible(chromedp.CSS("#otp")))
		rig.wantRedirect(t, otpPrefix)
		rig.Shot(t, "02-otp")
		rig.Run(t, "enter otp", chromedp.SendKeys(chromedp.CSS("#otp"), "123456"), chromedp.Click(chromedp.CSS("#submit")))
		rig.Run(t, "approval page", chromedp.WaitVisible(chromedp.CSS("#approve")))
		rig.wantRedirect(t, approvePrefix)
		if client := rig.Text(t, "#client-name"); client != "Moneywise Budgeting Ltd" {
			t.Errorf("client name shown = %q", client)
		}
		rig.Shot(t, "03-approve")
		rig.mobile(t, true)
		rig.Run(t, "reload on a phone", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#approve")))
		rig.Shot(t, "03-approve-phone")
		rig.mobile(t, false)
		rig.mu.Lock()
		logoGets := rig.logoGets
		rig.mu.Unlock()
		if logoGets == 0 {
			t.Error("the TPP's logo was not loaded (img-src)")
		}
		rig.Run(t, "choose and approve",
			chromedp.Click(chromedp.CSS(`input[value="acc-current-1"]`)),
			chromedp.Click(chromedp.CSS("#approve")),
			chromedp.WaitVisible(chromedp.CSS("#tpp-done")),
		)
		rig.wantRedirect(t, cb)
		rig.Shot(t, "04-returned-to-tpp")
		if got := rig.lastCallback(); got.Get("code") != "code-for-cust-0001" || got.Get("state") != "st-1" {
			t.Errorf("TPP callback = %v", got)
		}
		a, denied, _ := j.result()
		if denied || a == nil {
			t.Fatalf("journey: approval %v, denied %v", a, denied)
		}
		if a.CustomerID != "cust-0001" || len(a.Accounts) != 1 || a.Accounts[0] != "acc-current-1" || !a.SCA() {
			t.Errorf("approval = %+v", a)
		}
		rig.WantNoProblems(t)
	})

	t.Run("deny", func(t *testing.T) {
		j := rig.begin(t, "j-deny")
		rig.login(t, "alice", "correct horse battery staple")
		rig.Run(t, "otp", chromedp.WaitVisible(chromedp.CSS("#otp")),
			chromedp.SendKeys(chromedp.CSS("#otp"), "654321"), chromedp.Click(chromedp.CSS("#submit")),
			chromedp.WaitVisible(chromedp.CSS("#deny")),
			chromedp.Click(chromedp.CSS("#deny")),
			chromedp.WaitVisible(chromedp.CSS("#tpp-done")))
		rig.wantRedirect(t, cb)
		if got := rig.lastCallback(); got.Get("error") != "access_denied" || got.Get("state") != "st-1" {
			t.Errorf("TPP callback = %v", got)
		}
		if _, denied, by := j.result(); !denied || by != "cust-0001" {
			t.Errorf("journey denied %v by %q", denied, by)
		}
		rig.WantNoProblems(t)
	})

	t.Run("cancel at login", func(t *testing.T) {
		j := rig.begin(t, "j-cancel")
		rig.Run(t, "cancel", chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.CSS("#tpp-done")))
		rig.wantRedirect(t, cb)
		if got := rig.lastCallback(); got.Get("error") != "access_denied" {
			t.Errorf("TPP callback = %v", got)
		}
		if _, denied, by := j.result(); !denied || by != "" {
			t.Errorf("journey denied %v by %q", denied, by)
		}
		rig.WantNoProblems(t)
	})

	t.Run("wrong password", func(t *testing.T) {
		rig.begin(t, "j-wrong-password")
		rig.login(t, "alice", "not the password")
		if got := rig.alert(t); got != English["login.wrong"] {
			t.Errorf("alert = %q", got)
		}
		rig.Shot(t, "05-wrong-password")
		if loc := rig.Location(t); loc != rig.bank.URL+LoginPath {
			t.Errorf("after a wrong password the browser is at %s", loc)
		}
		rig.WantNoProblems(t)
	})

	t.Run("wrong and reused otp", func(t *testing.T) {
		rig.begin(t, "j-wrong-otp")
		rig.login(t, "alice", "correct horse battery staple")
		rig.Run(t, "otp", chromedp.WaitVisible(chromedp.CSS("#otp")),
			chromedp.SendKeys(chromedp.CSS("#otp"), "000000"), chromedp.Click(chromedp.CSS("#submit")))
		if got := rig.alert(t); got != English["otp.wrong"] {
			t.Errorf("alert = %q", got)
		}
		rig.Shot(t, "06-wrong-otp")
		rig.Run(t, "reused otp", chromedp.SendKeys(chromedp.CSS("#otp"), "123456"), chromedp.Click(chromedp.CSS("#submit")),
			chromedp.WaitVisible(chromedp.Search(`//div[@id="alert"][contains(., "already been used")]`)))
		rig.Shot(t, "07-reused-otp")
		if loc := rig.Location(t); loc != otpPrefix {
			t.Errorf("after a wrong code the browser is at %s", loc)
		}
		rig.WantNoProblems(t)
	})

	t.Run("expired journey", func(t *testing.T) {
		rig.Run(t, "unknown journey", chromedp.Navigate(rig.bank.URL+"/authorize?journey=nope"), chromedp.WaitVisible(chromedp.CSS("#alert")))
		rig.Shot(t, "08-error")
		rig.WantNoProblems(t)
	})
}
