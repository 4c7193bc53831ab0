package authz_test

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/clientauth"
)

// TestClientAuthenticationFailuresLookAlike is the client-id oracle test: whatever made
// client authentication fail at /token, /par, /introspect or /revoke — an unknown client, the
// wrong method, a bad assertion, a certificate with another subject DN — the caller gets a
// byte-identical 401 invalid_client body, and only the audit trail tells the reasons apart.
func TestClientAuthenticationFailuresLookAlike(t *testing.T) {
	as := newTestAS(t)
	f := as.f
	pkj, pkj2, tlsc := f.clients[clientPKJ], f.clients[clientPKJ2], f.clients[clientTLS]

	assertion := func(c *testClient, key any, kid string) func(t *testing.T) url.Values {
		return func(t *testing.T) url.Values {
			return url.Values{
				"client_assertion_type": {clientauth.AssertionType},
				"client_assertion":      {signJWT(t, "ES256", key, kid, as.assertion(c.id, as.issuer))},
			}
		}
	}
	byID := func(id string) func(*testing.T) url.Values {
		return func(*testing.T) url.Values { return url.Values{"client_id": {id}} }
	}
	tests := []struct {
		name     string
		certs    []tls.Certificate
		form     func(t *testing.T) url.Values
		reason   error
		clientID string // the claimed id the audit event names
	}{
		{name: "unknown client_id", certs: tlsc.tlsCert(), form: byID("nobody"), reason: clientauth.ErrUnknownClient, clientID: "nobody"},
		{name: "assertion of an unknown client", certs: pkj.tlsCert(), form: assertion(&testClient{id: "nobody"}, pkj.key, pkj.kid),
			reason: clientauth.ErrUnknownClient, clientID: "nobody"},
		{name: "private_key_jwt client without an assertion", certs: pkj.tlsCert(), form: byID(clientPKJ), reason: clientauth.ErrMethodMismatch, clientID: clientPKJ},
		{name: "tls_client_auth client sending an assertion", certs: tlsc.tlsCert(), form: assertion(tlsc, tlsc.key, tlsc.kid),
			reason: clientauth.ErrMethodMismatch, clientID: clientTLS},
		{name: "assertion signed by another client's key", certs: pkj.tlsCert(), form: assertion(pkj, pkj2.key, pkj.kid),
			reason: clientauth.ErrBadSignature, clientID: clientPKJ},
		{name: "tls_client_auth with another subject DN", certs: []tls.Certificate{f.stranger.TLS}, form: byID(clientTLS),
			reason: clientauth.ErrSubjectMismatch, clientID: clientTLS},
		{name: "tls_client_auth with a revoked certificate", certs: []tls.Certificate{f.revoked.TLS}, form: byID(clientTLS),
			reason: clientauth.ErrCertificateInvalid, clientID: clientTLS},
		{name: "no client authentication", certs: tlsc.tlsCert(), form: func(*testing.T) url.Values { return url.Values{} }, reason: clientauth.ErrNoCredentials},
		{name: "client_secret", certs: tlsc.tlsCert(), form: func(*testing.T) url.Values {
			return url.Values{"client_id": {clientTLS}, "client_secret": {"hunter2"}}
		}, reason: clientauth.ErrInvalidRequest, clientID: clientTLS},
	}
	endpoints := []struct {
		path  string
		ep    clientauth.Endpoint
		extra url.Values
	}{
		{authz.PathToken, clientauth.EndpointToken, url.Values{"grant_type": {"client_credentials"}}},
		{authz.PathIntrospect, clientauth.EndpointIntrospection, url.Values{"token": {"x"}}},
		{authz.PathRevoke, clientauth.EndpointRevocation, url.Values{"token": {"x"}}},
		{authz.PathPAR, clientauth.EndpointPAR, url.Values{}},
	}

	var first []byte
	reasons := map[error]bool{}  // the distinct reasons of the rows
	audited := map[string]bool{} // the distinct reasons the audit trail recorded
	for _, ep := range endpoints {
		for _, tt := range tests {
			t.Run(strings.TrimPrefix(ep.path, "/")+"/"+tt.name, func(t *testing.T) {
				form := tt.form(t)
				for k, v := range ep.extra {
					form[k] = v
				}
				id := newUUID()
				r := as.postForm(t, tt.certs, ep.path, form, http.Header{"X-Fapi-Interaction-Id": {id}})
				checkError(t, r, http.StatusUnauthorized, "invalid_client")
				if first == nil {
					first = r.body
				}
				if !bytes.Equal(r.body, first) {
					t.Errorf("body %q, want the same bytes as every other failure: %q", r.body, first)
				}
				if got := r.json(t)["error_description"]; got != clientauth.FailureDescription {
					t.Errorf("error_description %q, want %q", got, clientauth.FailureDescription)
				}

				var events []audit.Event
				for _, e := range as.audit.all() {
					if e.Type == audit.TypeClientAuthenticationFailed && e.InteractionID == id {
						events = append(events, e)
					}
				}
				if len(events) != 1 {
					t.Fatalf("%d %s audit events for the request, want 1", len(events), audit.TypeClientAuthenticationFailed)
				}
				e := events[0]
				reason, _ := e.Data["reason"].(string)
				detail, _ := e.Data["detail"].(string)
				if want := strings.TrimPrefix(tt.reason.Error(), "clientauth: "); reason != want {
					t.Errorf("audit reason %q, want %q", reason, want)
				}
				if detail == "" || e.Data["endpoint"] != string(ep.ep) || e.Data["remote_addr"] == "" || e.ClientID != tt.clientID {
					t.Errorf("audit event %+v: want detail, endpoint %q, remote_addr and client id %q", e, ep.ep, tt.clientID)
				}
				reasons[tt.reason], audited[reason] = true, true
			})
		}
	}
	if len(audited) != len(reasons) {
		t.Errorf("the audit trail recorded %d distinct reasons for %d distinct failures: %v", len(audited), len(reasons), audited)
	}
}
