package authz_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
)

// fakeConsents is a hand-written ConsentStatuser: the consents in force, by id; err, when
// set, is every answer.
type fakeConsents struct {
	mu     sync.Mutex
	active map[string]bool
	err    error
	asked  []string
}

func (f *fakeConsents) ConsentStatus(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, id)
	return f.active[id], f.err
}

func (f *fakeConsents) set(id string, active bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active[id], f.err = active, err
}

// TestTokenEndpointRechecksConsent: the code exchange and the refresh grant ask whether
// the grant's consent is still in force. Revoked (or rejected, expired …) meanwhile:
// invalid_grant and no token; the consent service unreachable: 503
// temporarily_unavailable, never a token.
func TestTokenEndpointRechecksConsent(t *testing.T) {
	t.Run("code exchange", func(t *testing.T) {
		for _, tt := range []struct {
			name      string
			active    bool
			err       error
			status    int
			errorCode string
		}{
			{"in force", true, nil, http.StatusOK, ""},
			{"revoked meanwhile", false, nil, http.StatusBadRequest, "invalid_grant"},
			{"status unknown", false, errors.New("consent store down"), http.StatusServiceUnavailable, "temporarily_unavailable"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				fc := &fakeConsents{active: map[string]bool{}}
				as := newTestASWith(t, asOptions{consents: fc})
				fc.set("consent-1", tt.active, tt.err)
				code := as.codeFor(t, clientJourney2)
				resp := as.exchange(t, as.f.clients[clientJourney2], code, testRedirect, testVerifier)
				if resp.status != tt.status {
					t.Fatalf("token: %d %s, want %d", resp.status, resp.body, tt.status)
				}
				body := resp.json(t)
				if tt.errorCode != "" && body["error"] != tt.errorCode {
					t.Errorf("error = %v, want %s", body["error"], tt.errorCode)
				}
				if tt.errorCode != "" && body["access_token"] != nil {
					t.Errorf("a token was issued: %s", resp.body)
				}
				if len(fc.asked) != 1 || fc.asked[0] != "consent-1" {
					t.Errorf("asked %v, want [consent-1]", fc.asked)
				}
			})
		}
	})
	t.Run("refresh", func(t *testing.T) {
		fc := &fakeConsents{active: map[string]bool{"consent-1": true}}
		as := newTestASWith(t, asOptions{consents: fc})
		c := as.f.clients[clientJourney2]
		rt := as.tokensFor(t, clientJourney2)["refresh_token"].(string)
		if resp := as.refresh(t, c, c.tlsCert(), rt, nil); resp.status != http.StatusOK {
			t.Fatalf("refresh while in force: %d %s", resp.status, resp.body)
		}
		fc.set("consent-1", false, errors.New("consent store down"))
		if resp := as.refresh(t, c, c.tlsCert(), rt, nil); resp.status != http.StatusServiceUnavailable || resp.json(t)["error"] != "temporarily_unavailable" {
			t.Fatalf("refresh with the status unknown: %d %s", resp.status, resp.body)
		}
		fc.set("consent-1", false, nil)
		resp := as.refresh(t, c, c.tlsCert(), rt, nil)
		if resp.status != http.StatusBadRequest || resp.json(t)["error"] != "invalid_grant" {
			t.Fatalf("refresh after revocation: %d %s", resp.status, resp.body)
		}
	})
}

// codeFor runs a journey for client id (not clientHybrid) to its authorization code.
func (as *testAS) codeFor(t *testing.T, id string) string {
	t.Helper()
	p := as.pushAndBegin(t, id, as.journeyParams(id), false)
	redirect, err := as.server.Complete(context.Background(), p, as.approval())
	if err != nil {
		t.Fatal(err)
	}
	return responseParams(t, redirect, false).Get("code")
}
