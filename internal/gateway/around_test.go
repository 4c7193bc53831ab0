package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/consent"
)

// TestRouteAround: Route.Around runs only after client authentication (never for a
// request without a valid token), sees the authenticated caller, runs before the consent
// stage (so it can answer a request itself — an idempotent replay — without the consent
// being asked), may hand on a re-read body, and its route is not offered in ext-authz mode.
func TestRouteAround(t *testing.T) {
	var (
		wrapped     int
		seen        consent.Caller
		callsBefore int
		handlerBody string
	)
	local := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		handlerBody = string(b)
		w.WriteHeader(http.StatusCreated)
	})
	var f *fixture
	around := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			wrapped++
			seen, _ = consent.CallerFrom(r.Context())
			_, callsBefore = f.consent.last()
			if r.Header.Get("X-Replay") != "" {
				w.WriteHeader(http.StatusAccepted) // answered here: the consent is not asked
				return
			}
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			w.Header().Set("X-Wrapped", "yes")
			next.ServeHTTP(w, r)
		})
	}
	f = newFixture(t, fixtureOpts{routes: func(*url.URL) []Route {
		return []Route{{Name: "wrapped", Method: http.MethodPost, Pattern: "/pay", Scopes: []string{"payments"},
			AnyRole: true, Consent: ConsentCheck{Kind: consent.KindDomesticPayment}, Handler: local, Around: around}}
	}})
	post := func(tok string, replay bool) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, f.proxySrv.URL+"/pay", strings.NewReader(`{"p":1}`))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if replay {
			req.Header.Set("X-Replay", "1")
		}
		resp, err := f.clients["A"].Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	if resp := post("", false); resp.StatusCode != http.StatusUnauthorized || wrapped != 0 {
		t.Fatalf("no token: %d, wrapper ran %d times", resp.StatusCode, wrapped)
	}
	tok := f.userToken(t, "A", "pdc-ok", "payments")
	resp := post(tok, false)
	_, callsAfter := f.consent.last()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Wrapped") != "yes" || handlerBody != `{"p":1}` {
		t.Fatalf("wrapped request: %d %q body %q", resp.StatusCode, resp.Header.Get("X-Wrapped"), handlerBody)
	}
	if seen.ClientID != "tpp-1" || !seen.CustomerToken || seen.ConsentID != "pdc-ok" {
		t.Errorf("caller in the wrapper: %+v", seen)
	}
	if callsAfter != callsBefore+1 {
		t.Errorf("consent asked %d times before the wrapper and %d after: want the wrapper first", callsBefore, callsAfter)
	}
	if resp := post(tok, true); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("answered by the wrapper: %d", resp.StatusCode)
	}
	if _, n := f.consent.last(); n != callsAfter {
		t.Errorf("the consent was asked for a request the wrapper answered (%d → %d)", callsAfter, n)
	}
	if _, pattern := f.gw.checkMux.Handler(&http.Request{Method: "POST", URL: &url.URL{Path: "/pay"}, Host: "x"}); pattern != "/" {
		t.Fatalf("wrapped route in the ext-authz mux: pattern %q", pattern)
	}
}

// TestRouteAroundAnswerOnly: a route whose Around only decorates the answer stays
// offered in ext-authz mode (checked there without the wrapper).
func TestRouteAroundAnswerOnly(t *testing.T) {
	ran := 0
	around := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran++; next.ServeHTTP(w, r) })
	}
	f := newFixture(t, fixtureOpts{routes: func(bank *url.URL) []Route {
		return []Route{{Name: "signed-get", Method: http.MethodGet, Pattern: "/open-banking/v3.1/pisp/domestic-payments/{Id}",
			Scopes: []string{"payments"}, TokenUse: TokenUseApplication, AnyRole: true, Upstream: bank,
			Around: around, AroundAnswerOnly: true}}
	}})
	if _, pattern := f.gw.checkMux.Handler(&http.Request{Method: "GET", URL: &url.URL{Path: "/open-banking/v3.1/pisp/domestic-payments/x"}, Host: "x"}); pattern == "/" {
		t.Fatal("answer-only wrapped route missing from the ext-authz mux")
	}
	req, _ := http.NewRequest(http.MethodGet, f.proxySrv.URL+"/open-banking/v3.1/pisp/domestic-payments/x", nil)
	req.Header.Set("Authorization", "Bearer "+f.appToken(t, "A", "payments"))
	resp, err := f.clients["A"].Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ran != 1 {
		t.Fatalf("proxy mode: wrapper ran %d times (status %d), want 1", ran, resp.StatusCode)
	}
}
