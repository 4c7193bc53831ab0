package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The real-browser tests drive Debian's chromium (installed by scripts/deps.sh) through
// the Chrome DevTools protocol, with JavaScript switched off in the page, over HTTPS on
// loopback. They save a screenshot of every page under test-output/screenshots/.

// chromiumPath finds the browser: $PORTCULLIS_CHROMIUM, else chromium on PATH. Missing,
// the test fails under CI=true and skips elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PORTCULLIS_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("chromium not found (CI=true): scripts/deps.sh installs it: %v", err)
	}
	t.Skipf("chromium not found; run scripts/deps.sh (or set PORTCULLIS_CHROMIUM) to run the browser tests: %v", err)
	return ""
}

// loopbackCert is a self-signed certificate for 127.0.0.1 and the base64 SHA-256 of its
// SubjectPublicKeyInfo, which chromium is told to accept (--ignore-certificate-errors-spki-list
// accepts exactly this key, nothing else, and only with a --user-data-dir of our own).
func loopbackCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, base64.StdEncoding.EncodeToString(sum[:])
}

// startTLS serves h over HTTPS on 127.0.0.1, port 0.
func startTLS(t *testing.T, cert tls.Certificate, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// screenshotDir is test-output/screenshots at the repository root (gitignored).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			out := filepath.Join(dir, "test-output", "screenshots")
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			return out
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("go.mod not found above the test's directory")
	return ""
}

// browserRig is a bank (the pages plus a stand-in /authorize that starts journeys) and
// a TPP (whose callback records what it receives), both on loopback HTTPS, and one
// chromium tab.
type browserRig struct {
	ctx      context.Context
	bank     *httptest.Server
	tpp      *httptest.Server
	auth     *fakeAuth
	journeys *fakeJourneys
	shots    string

	mu        sync.Mutex
	redirects []redirectSeen
	callbacks []url.Values
	logoGets  int
	// problems are the browser's log entries of level error other than a page's own
	// 4xx status: CSP violations, mixed content, blocked navigations.
	problems []string
}

// stepTimeout bounds one step of a browser test (a page load and what it waits for), so
// a page that never appears fails the test promptly.
const stepTimeout = 30 * time.Second

// redirectSeen is one redirect chromium followed: the status and where it went.
type redirectSeen struct {
	status int64
	from   string
	to     string
}

func newBrowserRig(t *testing.T) *browserRig {
	chromium := chromiumPath(t)
	cert, spki := loopbackCert(t)
	rig := &browserRig{auth: newFakeAuth(), journeys: &fakeJourneys{}, shots: screenshotDir(t)}

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

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	rig.ctx = ctx

	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.RedirectResponse != nil {
			rig.mu.Lock()
			rig.redirects = append(rig.redirects, redirectSeen{status: e.RedirectResponse.Status, from: e.RedirectResponse.URL, to: e.Request.URL})
			rig.mu.Unlock()
		}
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry.Level == cdplog.EntryLevelError &&
			!(e.Entry.Source == cdplog.EntrySourceNetwork && strings.Contains(e.Entry.Text, "status of 4")) {
			rig.mu.Lock()
			rig.problems = append(rig.problems, fmt.Sprintf("%s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			rig.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	// The pages must work without JavaScript: the tab runs none.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	return rig
}

// run runs browser actions, failing the test with what went wrong.
func (rig *browserRig) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(rig.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// shot saves a full-page screenshot as name.png.
func (rig *browserRig) shot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(rig.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(rig.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// begin adds a journey and opens it as the authorization endpoint would.
func (rig *browserRig) begin(t *testing.T, id string) *fakeJourney {
	t.Helper()
	j := testJourney(rig.tpp.URL+"/cb", time.Now().Add(10*time.Minute))
	j.req.LogoURI = rig.tpp.URL + "/logo.svg"
	rig.journeys.add(id, j)
	rig.run(t, "open "+id, chromedp.Navigate(rig.bank.URL+"/authorize?journey="+id), chromedp.WaitVisible(chromedp.CSS("#username")))
	return j
}

func (rig *browserRig) login(t *testing.T, username, password string) {
	t.Helper()
	rig.run(t, "log in",
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#submit")),
	)
}

// alert returns the text of the page's alert once it is shown.
func (rig *browserRig) alert(t *testing.T) string {
	t.Helper()
	rig.run(t, "wait for alert", chromedp.WaitVisible(chromedp.CSS("#alert")))
	return rig.text(t, "#alert")
}

// location returns the tab's URL.
func (rig *browserRig) location(t *testing.T) string {
	t.Helper()
	loc, err := chromedp.Run(rig.ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return loc
}

// text returns the trimmed text of the element css selects.
func (rig *browserRig) text(t *testing.T, css string) string {
	t.Helper()
	v, err := chromedp.Run(rig.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(v)
}

// lastRedirectTo returns the last redirect that went to a URL with prefix.
func (rig *browserRig) lastRedirectTo(prefix string) (redirectSeen, bool) {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	for i := len(rig.redirects) - 1; i >= 0; i-- {
		if strings.HasPrefix(rig.redirects[i].to, prefix) {
			return rig.redirects[i], true
		}
	}
	return redirectSeen{}, false
}

func (rig *browserRig) lastCallback() url.Values {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	if len(rig.callbacks) == 0 {
		return nil
	}
	return rig.callbacks[len(rig.callbacks)-1]
}

// wantNoProblems asserts the browser logged no error: no CSP violation, no blocked
// navigation or resource.
func (rig *browserRig) wantNoProblems(t *testing.T) {
	t.Helper()
	rig.mu.Lock()
	defer rig.mu.Unlock()
	for _, p := range rig.problems {
		t.Errorf("browser: %s", p)
	}
	rig.problems = nil
}

// mobile switches the tab to a phone-sized viewport (on) or back (off).
func (rig *browserRig) mobile(t *testing.T, on bool) {
	t.Helper()
	var err error
	if on {
		_, err = chromedp.Call(rig.ctx, emulation.SetDeviceMetricsOverride,
			emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true})
	} else {
		_, err = chromedp.Call(rig.ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// wantRedirect asserts that the last redirect to prefix was a 303.
func (rig *browserRig) wantRedirect(t *testing.T, prefix string) {
	t.Helper()
	r, ok := rig.lastRedirectTo(prefix)
	if !ok {
		t.Fatalf("no redirect to %s seen", prefix)
	}
	if r.status != http.StatusSeeOther {
		t.Fatalf("redirect %s → %s: status %d, want 303", r.from, r.to, r.status)
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
		rig.shot(t, "01-login")
		rig.login(t, "alice", "correct horse battery staple")
		rig.run(t, "otp page", chromedp.WaitVisible(chromedp.CSS("#otp")))
		rig.wantRedirect(t, otpPrefix)
		rig.shot(t, "02-otp")
		rig.run(t, "enter otp", chromedp.SendKeys(chromedp.CSS("#otp"), "123456"), chromedp.Click(chromedp.CSS("#submit")))
		rig.run(t, "approval page", chromedp.WaitVisible(chromedp.CSS("#approve")))
		rig.wantRedirect(t, approvePrefix)
		if client := rig.text(t, "#client-name"); client != "Moneywise Budgeting Ltd" {
			t.Errorf("client name shown = %q", client)
		}
		rig.shot(t, "03-approve")
		rig.mobile(t, true)
		rig.run(t, "reload on a phone", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#approve")))
		rig.shot(t, "03-approve-phone")
		rig.mobile(t, false)
		rig.mu.Lock()
		logoGets := rig.logoGets
		rig.mu.Unlock()
		if logoGets == 0 {
			t.Error("the TPP's logo was not loaded (img-src)")
		}
		rig.run(t, "choose and approve",
			chromedp.Click(chromedp.CSS(`input[value="acc-current-1"]`)),
			chromedp.Click(chromedp.CSS("#approve")),
			chromedp.WaitVisible(chromedp.CSS("#tpp-done")),
		)
		rig.wantRedirect(t, cb)
		rig.shot(t, "04-returned-to-tpp")
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
		rig.wantNoProblems(t)
	})

	t.Run("deny", func(t *testing.T) {
		j := rig.begin(t, "j-deny")
		rig.login(t, "alice", "correct horse battery staple")
		rig.run(t, "otp", chromedp.WaitVisible(chromedp.CSS("#otp")),
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
		rig.wantNoProblems(t)
	})

	t.Run("cancel at login", func(t *testing.T) {
		j := rig.begin(t, "j-cancel")
		rig.run(t, "cancel", chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.CSS("#tpp-done")))
		rig.wantRedirect(t, cb)
		if got := rig.lastCallback(); got.Get("error") != "access_denied" {
			t.Errorf("TPP callback = %v", got)
		}
		if _, denied, by := j.result(); !denied || by != "" {
			t.Errorf("journey denied %v by %q", denied, by)
		}
		rig.wantNoProblems(t)
	})

	t.Run("wrong password", func(t *testing.T) {
		rig.begin(t, "j-wrong-password")
		rig.login(t, "alice", "not the password")
		if got := rig.alert(t); got != English["login.wrong"] {
			t.Errorf("alert = %q", got)
		}
		rig.shot(t, "05-wrong-password")
		if loc := rig.location(t); loc != rig.bank.URL+LoginPath {
			t.Errorf("after a wrong password the browser is at %s", loc)
		}
		rig.wantNoProblems(t)
	})

	t.Run("wrong and reused otp", func(t *testing.T) {
		rig.begin(t, "j-wrong-otp")
		rig.login(t, "alice", "correct horse battery staple")
		rig.run(t, "otp", chromedp.WaitVisible(chromedp.CSS("#otp")),
			chromedp.SendKeys(chromedp.CSS("#otp"), "000000"), chromedp.Click(chromedp.CSS("#submit")))
		if got := rig.alert(t); got != English["otp.wrong"] {
			t.Errorf("alert = %q", got)
		}
		rig.shot(t, "06-wrong-otp")
		rig.run(t, "reused otp", chromedp.SendKeys(chromedp.CSS("#otp"), "123456"), chromedp.Click(chromedp.CSS("#submit")),
			chromedp.WaitVisible(chromedp.Search(`//div[@id="alert"][contains(., "already been used")]`)))
		rig.shot(t, "07-reused-otp")
		if loc := rig.location(t); loc != otpPrefix {
			t.Errorf("after a wrong code the browser is at %s", loc)
		}
		rig.wantNoProblems(t)
	})

	t.Run("expired journey", func(t *testing.T) {
		rig.run(t, "unknown journey", chromedp.Navigate(rig.bank.URL+"/authorize?journey=nope"), chromedp.WaitVisible(chromedp.CSS("#alert")))
		rig.shot(t, "08-error")
		rig.wantNoProblems(t)
	})
}
