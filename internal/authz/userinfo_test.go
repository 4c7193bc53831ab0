package authz_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/authz"
)

// userinfoReq calls /userinfo with method, presenting certs and the Authorization header.
func (as *testAS) userinfoReq(t *testing.T, method string, certs []tls.Certificate, authz_ string) *response {
	t.Helper()
	req, err := http.NewRequest(method, as.base+authz.PathUserinfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz_ != "" {
		req.Header.Set("Authorization", authz_)
	}
	return do(t, as.httpClient(t, certs), req)
}

func TestUserinfo(t *testing.T) {
	as := newTestAS(t)
	c := as.f.clients[clientJourney2]
	tokens := as.tokensFor(t, clientJourney2)
	at := tokens["access_token"].(string)
	idSub := jwtPart(t, tokens["id_token"].(string), 1)["sub"]
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
			resp := as.userinfoReq(t, m, c.tlsCert(), scheme+" "+at)
			if resp.status != http.StatusOK {
				t.Fatalf("%s %s: %d %s", m, scheme, resp.status, resp.body)
			}
			if body := resp.json(t); body["sub"] != idSub || body["openbanking_intent_id"] != "consent-1" {
				t.Errorf("userinfo %v, want sub %v", body, idSub)
			}
		}
	}

	appToken := func() string {
		resp := as.postForm(t, c.tlsCert(), authz.PathToken, as.clientCredentials(t, c, nil), nil)
		if resp.status != http.StatusOK {
			t.Fatalf("client_credentials: %d %s", resp.status, resp.body)
		}
		return resp.json(t)["access_token"].(string)
	}()
	rows := []struct {
		name   string
		certs  []tls.Certificate
		header string
		status int
		code   string
	}{
		{"no token", c.tlsCert(), "", 401, "invalid_token"},
		{"basic scheme", c.tlsCert(), "Basic " + at, 401, "invalid_token"},
		{"garbage token", c.tlsCert(), "Bearer abc.def.ghi", 401, "invalid_token"},
		{"another certificate", []tls.Certificate{as.f.stranger.TLS}, "Bearer " + at, 401, "invalid_token"},
		{"no certificate", nil, "Bearer " + at, 401, "invalid_token"},
		{"application token", c.tlsCert(), "Bearer " + appToken, 403, "insufficient_scope"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			resp := as.userinfoReq(t, http.MethodGet, tc.certs, tc.header)
			if resp.status != tc.status || resp.json(t)["error"] != tc.code {
				t.Fatalf("%d %s, want %d %s", resp.status, resp.body, tc.status, tc.code)
			}
			if tc.status == 401 && !strings.Contains(resp.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", resp.header.Get("WWW-Authenticate"))
			}
		})
	}
}
