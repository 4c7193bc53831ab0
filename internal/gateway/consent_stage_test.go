package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
)

// TestConsentStageFailsClosed is issue 9 point 6: a route with a consent stage and
// no further flags refuses a customer token without a consent (403
// consent_invalid, UK.OBIE.Resource.ConsentMismatch), without asking the validator
// and without forwarding; only an explicit Optional lets it through. Application
// tokens pass a consent stage without a consent unless the route says Required.
func TestConsentStageFailsClosed(t *testing.T) {
	route := func(name, path string, use TokenUse, cc ConsentCheck) func(*url.URL) Route {
		return func(up *url.URL) Route {
			return Route{Name: name, Method: http.MethodGet, Pattern: path, Scopes: []string{"accounts"}, TokenUse: use,
				Roles: []eidas.Role{eidas.RoleAISP}, Consent: cc, Upstream: up}
		}
	}
	routes := []func(*url.URL) Route{
		route("zero", bank.PathAccounts, TokenUseAny, ConsentCheck{Kind: consent.KindAccountAccess}),
		route("optional", bank.PathBalances, TokenUseAny, ConsentCheck{Kind: consent.KindAccountAccess, Optional: true}),
		route("required", bank.PathTransactions, TokenUseAny, ConsentCheck{Kind: consent.KindAccountAccess, Required: true}),
	}
	f := newFixture(t, fixtureOpts{routes: func(up *url.URL) []Route {
		var rs []Route
		for _, r := range routes {
			rs = append(rs, r(up))
		}
		return rs
	}})
	user := "Bearer " + f.userToken(t, "A", "", "accounts")
	app := "Bearer " + f.appToken(t, "A", "accounts")
	refused := func(t *testing.T, got response) {
		t.Helper()
		if got.status != http.StatusForbidden || got.ob.Code != CodeConsentInvalid || len(got.ob.Errors) != 1 ||
			got.ob.Errors[0].ErrorCode != "UK.OBIE.Resource.ConsentMismatch" || got.header.Get("X-Fapi-Interaction-Id") != testInteractionID {
			t.Errorf("%d %s, want 403 consent_invalid UK.OBIE.Resource.ConsentMismatch", got.status, got.body)
		}
	}
	tests := []struct {
		name    string
		path    string
		auth    string
		forward bool
	}{
		{"zero value, customer token without consent", bank.PathAccounts, user, false},
		{"optional, customer token without consent", bank.PathBalances, user, true},
		{"required, customer token without consent", bank.PathTransactions, user, false},
		{"zero value, application token", bank.PathAccounts, app, true},
		{"optional, application token", bank.PathBalances, app, true},
		{"required, application token", bank.PathTransactions, app, false},
	}
	for _, tt := range tests {
		for _, m := range allModes {
			t.Run(tt.name+"/"+string(m), func(t *testing.T) {
				before := f.bank.n.Load()
				_, calls := f.consent.last()
				got := f.do(t, m, call{cert: "A", method: "GET", path: tt.path, auth: tt.auth})
				if _, after := f.consent.last(); after != calls {
					t.Errorf("the validator was asked about a token without a consent")
				}
				forwarded := f.bank.n.Load() - before
				if !tt.forward {
					refused(t, got)
					if forwarded != 0 {
						t.Errorf("forwarded %d requests", forwarded)
					}
					return
				}
				// Allowed through the consent stage: the bank itself refuses a
				// request without a consent (403 from upstream in proxy mode).
				switch {
				case m == modeDirect && forwarded != 1:
					t.Errorf("proxy: forwarded %d requests, want 1 (%d %s)", forwarded, got.status, got.body)
				case m != modeDirect && got.status != http.StatusOK:
					t.Errorf("%s: %d %s, want 200", m, got.status, got.body)
				}
			})
		}
	}
}

// TestChunkedBodyOverLimit is issue 9 point 9 (gateway part): a request body of
// unknown length (chunked) over the limit on a route without a consent stage is
// 413 with the OBIE body, and the upstream receives no request at all; a body
// under the limit is forwarded whole, with its length.
func TestChunkedBodyOverLimit(t *testing.T) {
	const limit = 256
	f := newFixture(t, fixtureOpts{maxBody: limit, routes: func(up *url.URL) []Route {
		return []Route{{Name: "upload", Method: http.MethodPost, Pattern: bank.PathDomesticPayments, Scopes: []string{"payments"},
			TokenUse: TokenUseApplication, Roles: []eidas.Role{eidas.RolePISP}, Upstream: up}}
	}})
	tok := "Bearer " + f.appToken(t, "A", "payments")
	post := func(body string) response {
		t.Helper()
		// io.MultiReader hides the length: the client sends Transfer-Encoding: chunked.
		req, err := http.NewRequest(http.MethodPost, f.proxySrv.URL+bank.PathDomesticPayments, io.MultiReader(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Fapi-Interaction-Id", testInteractionID)
		resp, err := f.clients["A"].Do(req)
		return readResponse(t, resp, err)
	}

	before := f.bank.n.Load()
	got := post(strings.Repeat("x", 4*limit))
	if got.status != http.StatusRequestEntityTooLarge || got.ob.Code != CodeBodyTooLarge || got.ob.ID != testInteractionID ||
		len(got.ob.Errors) != 1 || got.ob.Errors[0].ErrorCode != "UK.OBIE.Resource.InvalidFormat" ||
		got.header.Get("X-Fapi-Interaction-Id") != testInteractionID {
		t.Errorf("over the limit: %d %s, want 413 %s UK.OBIE.Resource.InvalidFormat", got.status, got.body, CodeBodyTooLarge)
	}
	if n := f.bank.n.Load() - before; n != 0 {
		t.Errorf("the upstream received %d requests, want none", n)
	}

	body := `{"Data":{}}` + strings.Repeat(" ", limit-20)
	got = post(body)
	if n := f.bank.n.Load() - before; n != 1 {
		t.Fatalf("under the limit: forwarded %d requests (%d %s)", n, got.status, got.body)
	}
	up, upBody := f.bank.lastRequest()
	if !bytes.Equal(upBody, []byte(body)) || up.ContentLength != int64(len(body)) || len(up.TransferEncoding) != 0 {
		t.Errorf("upstream body %d bytes, Content-Length %d, Transfer-Encoding %q; want %d bytes with their length",
			len(upBody), up.ContentLength, up.TransferEncoding, len(body))
	}
}
