package gateway

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/consent"
)

// TestLocalRoute: a route with a Handler is served in process after every stage, with
// the caller and the body; it is never forwarded, not offered in ext-authz mode, and
// Handler and Upstream are exclusive.
func TestLocalRoute(t *testing.T) {
	var seen consent.Caller
	var body string
	local := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = consent.CallerFrom(r.Context())
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.WriteHeader(http.StatusTeapot)
	})
	f := newFixture(t, fixtureOpts{routes: func(*url.URL) []Route {
		return []Route{{Name: "local", Method: http.MethodPost, Pattern: "/local/{Id}", Scopes: []string{"accounts"},
			TokenUse: TokenUseApplication, AnyRole: true, Handler: local}}
	}})
	tok := f.appToken(t, "A", "accounts")
	req, _ := http.NewRequest(http.MethodPost, f.proxySrv.URL+"/local/x", strings.NewReader(`{"a":1}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := f.clients["A"].Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || seen.ClientID != "tpp-1" || seen.CustomerToken || body != `{"a":1}` {
		t.Fatalf("local route: %d caller %+v body %q", resp.StatusCode, seen, body)
	}
	if f.bank.n.Load() != 0 {
		t.Fatal("a local route reached the upstream")
	}
	// Without a valid token the handler is never called.
	seen = consent.Caller{}
	req, _ = http.NewRequest(http.MethodPost, f.proxySrv.URL+"/local/x", strings.NewReader(`{}`))
	resp, err = f.clients["A"].Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || seen.ClientID != "" {
		t.Fatalf("no token: %d %+v", resp.StatusCode, seen)
	}
	// Not in ext-authz mode.
	if _, pattern := f.gw.checkMux.Handler(&http.Request{Method: "POST", URL: &url.URL{Path: "/local/x"}, Host: "x"}); pattern != "/" {
		t.Fatalf("local route in the ext-authz mux: pattern %q", pattern)
	}
	up, _ := url.Parse("http://127.0.0.1:1")
	r := Route{Name: "both", Method: "GET", Pattern: "/x", Scopes: []string{"a"}, AnyRole: true, Handler: local, Upstream: up}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "exclusive") {
		t.Fatalf("Handler with Upstream: %v", err)
	}
}
