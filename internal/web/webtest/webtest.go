// Package webtest is the real-browser harness of the customer pages' tests (package web's,
// and the whole journey's in package app): Debian's chromium, installed by
// scripts/deps.sh, driven through the Chrome DevTools protocol with JavaScript switched
// off in the tab, over HTTPS on loopback, accepting exactly the test servers' keys. It
// records every redirect and every error the browser logs, and saves screenshots under
// test-output/screenshots/ at the repository root (gitignored). For tests only.
package webtest

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

// StepTimeout bounds one Run.
const StepTimeout = 30 * time.Second

// Chromium finds the browser: $PORTCULLIS_CHROMIUM, else chromium on PATH. Missing, the
// test fails under CI=true and is skipped elsewhere.
func Chromium(t testing.TB) string {
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

// SPKIHash is the base64 SHA-256 of c's SubjectPublicKeyInfo, the form chromium's
// --ignore-certificate-errors-spki-list takes.
func SPKIHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// LoopbackCert is a self-signed certificate for 127.0.0.1 and its SPKIHash.
func LoopbackCert(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, SPKIHash(leaf)
}

// ScreenshotDir is test-output/screenshots at the repository root (the directory holding
// go.mod), created if missing.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	out := filepath.Join(dir, "test-output", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// Redirect is a redirect the browser followed.
type Redirect struct {
	Status   int64
	From, To string
}

// Browser is one chromium tab.
type Browser struct {
	Ctx   context.Context
	shots string

	mu        sync.Mutex
	redirects []Redirect
	problems  []string
}

// NewBrowser starts chromium (headless, no sandbox, no background networking, a user data
// dir of its own) accepting only the keys in trusted (SPKIHash values), for at most total,
// with JavaScript off in the tab. It is stopped when the test ends.
func NewBrowser(t testing.TB, total time.Duration, trusted ...string) *Browser {
	t.Helper()
	return newBrowser(t, total, "", trusted)
}

// NewBrowserMapping is NewBrowser with chromium's --host-resolver-rules set to rules (for
// example "MAP tpp.example.com 127.0.0.1"): a page under a public name is served from
// loopback, with no DNS query.
func NewBrowserMapping(t testing.TB, total time.Duration, rules string, trusted ...string) *Browser {
	t.Helper()
	return newBrowser(t, total, rules, trusted)
}

func newBrowser(t testing.TB, total time.Duration, rules string, trusted []string) *Browser {
	t.Helper()
	b := &Browser{shots: ScreenshotDir(t)}
	opts := []chromedp.ExecAllocatorOption{}
	if rules != "" {
		opts = append(opts, chromedp.Flag("host-resolver-rules", rules))
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts,
		chromedp.ExecPath(Chromium(t)),
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
		// Exactly the test servers' keys are accepted, nothing else.
		chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(trusted, ",")),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1000),
	)...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, total)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b.Ctx = ctx
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.RedirectResponse != nil {
			b.mu.Lock()
			b.redirects = append(b.redirects, Redirect{Status: e.RedirectResponse.Status, From: e.RedirectResponse.URL, To: e.Request.URL})
			b.mu.Unlock()
		}
		// An error page answered with 4xx is expected in some tests; anything else logged
		// as an error (a CSP violation, a blocked navigation) is a problem.
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry.Level == cdplog.EntryLevelError &&
			!(e.Entry.Source == cdplog.EntrySourceNetwork && strings.Contains(e.Entry.Text, "status of 4")) {
			b.mu.Lock()
			b.problems = append(b.problems, fmt.Sprintf("%s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			b.mu.Unlock()
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
	return b
}

// Run runs browser actions, bounded by StepTimeout, failing the test with what went wrong.
func (b *Browser) Run(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Shot saves a full-page screenshot as name.png in ScreenshotDir.
func (b *Browser) Shot(t testing.TB, name string) {
	t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Location returns the tab's URL.
func (b *Browser) Location(t testing.TB) string {
	t.Helper()
	loc, err := chromedp.Run(b.Ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return loc
}

// Text returns the trimmed text of the element css selects.
func (b *Browser) Text(t testing.TB, css string) string {
	t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(v)
}

// TakeRedirects returns the redirects seen since the previous call and forgets them.
func (b *Browser) TakeRedirects() []Redirect {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.redirects
	b.redirects = nil
	return out
}

// LastRedirectTo returns the last redirect to a URL starting with prefix.
func (b *Browser) LastRedirectTo(prefix string) (Redirect, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.redirects) - 1; i >= 0; i-- {
		if strings.HasPrefix(b.redirects[i].To, prefix) {
			return b.redirects[i], true
		}
	}
	return Redirect{}, false
}

// WantNoProblems asserts the browser logged no error since the previous call: no CSP
// violation, no blocked navigation or resource.
func (b *Browser) WantNoProblems(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("browser: %s", p)
	}
	b.problems = nil
}
