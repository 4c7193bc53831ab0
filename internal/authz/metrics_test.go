package authz_test

import (
	"testing"

	"github.com/portcullis/portcullis/internal/authz"
)

// counterValue is the value of the series of name with exactly the labels want in as's
// registry (0 when there is none).
func counterValue(t *testing.T, as *testAS, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := as.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if want[lp.GetName()] != lp.GetValue() {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestTokenMetrics: the token endpoint counts client authentications by endpoint, method
// and outcome (ok, or the OAuth error code; a failed private_key_jwt is labelled by its
// client_assertion) and token requests by grant type and outcome (issued, or the error
// code; a grant type the server does not implement is "unsupported", never the caller's
// string).
func TestTokenMetrics(t *testing.T) {
	as := newTestAS(t)
	f := as.f
	tls, pkj := f.clients[clientTLS], f.clients[clientPKJ]

	for range 2 {
		if r := as.postForm(t, tls.tlsCert(), authz.PathToken, as.clientCredentials(t, tls, nil), nil); r.status != 200 {
			t.Fatalf("tls_client_auth token: %d %s", r.status, r.body)
		}
	}
	if r := as.postForm(t, pkj.tlsCert(), authz.PathToken, as.clientCredentials(t, pkj, nil), nil); r.status != 200 {
		t.Fatalf("private_key_jwt token: %d %s", r.status, r.body)
	}
	bad := as.clientCredentials(t, pkj, func(c map[string]any) { c["aud"] = "https://other.example" })
	if r := as.postForm(t, pkj.tlsCert(), authz.PathToken, bad, nil); r.status != 401 {
		t.Fatalf("private_key_jwt with a wrong audience: %d, want 401", r.status)
	}
	weird := as.clientCredentials(t, tls, nil)
	weird.Set("grant_type", "urn:example:client-chosen-"+f.now().String())
	if r := as.postForm(t, tls.tlsCert(), authz.PathToken, weird, nil); r.status != 400 {
		t.Fatalf("unknown grant type: %d, want 400", r.status)
	}

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"portcullis_client_authentications_total", map[string]string{"endpoint": "token", "method": "tls_client_auth", "outcome": "ok"}, 2},
		{"portcullis_client_authentications_total", map[string]string{"endpoint": "token", "method": "private_key_jwt", "outcome": "ok"}, 1},
		{"portcullis_client_authentications_total", map[string]string{"endpoint": "token", "method": "private_key_jwt", "outcome": "invalid_client"}, 1},
		{"portcullis_token_requests_total", map[string]string{"grant_type": "client_credentials", "outcome": "issued"}, 3},
		{"portcullis_token_requests_total", map[string]string{"grant_type": "client_credentials", "outcome": "invalid_client"}, 1},
		{"portcullis_token_requests_total", map[string]string{"grant_type": "unsupported", "outcome": "unsupported_grant_type"}, 1},
	} {
		if got := counterValue(t, as, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
