package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// fakeFederation is a hand-written Federation that keeps no state, as the real one: Begin's
// pending value is the state it puts into the provider URL; Finish wants that state back
// and reads the outcome from the code: "ok", "cancel", "down", anything else is refused.
type fakeFederation struct{ n int }

func (f *fakeFederation) Begin(context.Context) (string, string, error) {
	f.n++
	state := fmt.Sprintf("state-%d", f.n)
	return "https://idp.bank.example/auth?state=" + state, state, nil
}

func (f *fakeFederation) Finish(_ context.Context, pending string, q url.Values) (FederatedLogin, error) {
	if q.Get("state") != pending {
		return FederatedLogin{}, fmt.Errorf("identity: state: %w", ErrLoginRefused)
	}
	switch q.Get("code") {
	case "ok":
		return FederatedLogin{CustomerID: "cust-fed-7", AuthTime: t0, AMR: []string{"pwd", "hwk"}, ACR: "urn:openbanking:psd2:sca"}, nil
	case "cancel":
		return FederatedLogin{}, fmt.Errorf("identity: access_denied: %w", ErrLoginCancelled)
	case "down":
		return FederatedLogin{}, errors.New("identity: token endpoint: connection refused")
	}
	return FederatedLogin{}, fmt.Errorf("identity: ID token: %w", ErrLoginRefused)
}

func federated(fed Federation) func(*Options) {
	return func(o *Options) { o.Authenticator, o.Federation = nil, fed }
}

// toProvider starts journey j1 and follows the login page to the provider; it returns
// the state the provider was sent.
func (r *rig) toProvider() string {
	r.t.Helper()
	wantRedirect(r.t, r.start("j1"), LoginPath)
	w := r.get(LoginPath)
	wantStatus(r.t, w, http.StatusSeeOther)
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil || u.Host != "idp.bank.example" {
		r.t.Fatalf("login page sent the browser to %q", w.Header().Get("Location"))
	}
	return u.Query().Get("state")
}

// TestFederatedJourney: with a Federation the login page 303s to the provider (no password
// or one-time-code page exists), the callback — here on another node holding the same
// session key — moves the session to the approval step with a fresh id and CSRF token, and
// the approval carries the federated login's customer, amr and acr.
func TestFederatedJourney(t *testing.T) {
	fed := &fakeFederation{}
	a := newRig(t, federated(fed))
	b := newRig(t, federated(fed), func(o *Options) { o.Journeys, o.SessionKeys, o.Clock = a.journeys, [][]byte{a.key}, a.clock })

	state := a.toProvider()
	before := a.session()
	if before.Step != stepLogin || before.Fed != state {
		t.Fatalf("session after the redirect: step %q, pending %q; want login, %q", before.Step, before.Fed, state)
	}
	for _, path := range []string{OTPPath} {
		wantStatus(t, a.get(path), http.StatusNotFound)
	}
	wantStatus(t, a.post(LoginPath, formOf("csrf", before.CSRF, "username", "alice", "password", "x")), http.StatusNotFound)

	a.pages = b.pages // the provider's redirect lands on the other node
	wantRedirect(t, a.get(FederatedCallbackPath+"?"+url.Values{"state": {state}, "code": {"ok"}}.Encode()), ApprovePath)
	after := a.session()
	if after.Step != stepApprove || after.Customer != "cust-fed-7" || after.Fed != "" || after.ID == before.ID || after.CSRF == before.CSRF {
		t.Fatalf("session after the callback: %+v (before %+v)", after, before)
	}
	page := a.get(ApprovePath)
	wantStatus(t, page, http.StatusOK)
	wantRedirect(t, a.post(ApprovePath, formOf("csrf", a.csrf(page), "action", "approve", "account", "acc-current-1")),
		testRedirect+"?code=code-for-cust-fed-7&state=st-1")
	ap, _, _ := a.journey.result()
	if ap == nil || ap.ACR != "urn:openbanking:psd2:sca" || !ap.SCA() || strings.Join(ap.AMR, " ") != "pwd hwk" || !ap.AuthTime.Equal(t0) {
		t.Fatalf("approval %+v", ap)
	}
}

// TestFederatedCallbackErrors: each way the callback can fail, with its page; a pending
// login is used once.
func TestFederatedCallbackErrors(t *testing.T) {
	cb := func(state, code string) string {
		return FederatedCallbackPath + "?" + url.Values{"state": {state}, "code": {code}}.Encode()
	}
	t.Run("state of another login", func(t *testing.T) {
		r := newRig(t, federated(&fakeFederation{}))
		state := r.toProvider()
		w := r.get(cb("state-forged", "ok"))
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "error.login_refused")
		// The pending login is gone: the right state no longer works either.
		w = r.get(cb(state, "ok"))
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "error.login_refused")
	})
	t.Run("ID token refused", func(t *testing.T) {
		r := newRig(t, federated(&fakeFederation{}))
		w := r.get(cb(r.toProvider(), "bad-token"))
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "error.login_refused")
		if _, denied, _ := r.journey.result(); denied {
			t.Fatal("a refused login denied the journey")
		}
	})
	t.Run("cancelled at the provider", func(t *testing.T) {
		r := newRig(t, federated(&fakeFederation{}))
		wantRedirect(t, r.get(cb(r.toProvider(), "cancel")), testRedirect+"?error=access_denied&state=st-1")
		if _, denied, by := r.journey.result(); !denied || by != "" {
			t.Fatalf("journey denied %v by %q", denied, by)
		}
	})
	t.Run("provider down", func(t *testing.T) {
		r := newRig(t, federated(&fakeFederation{}))
		w := r.get(cb(r.toProvider(), "down"))
		wantStatus(t, w, http.StatusServiceUnavailable)
		wantText(t, w, "error.unavailable")
	})
	t.Run("callback before the login page", func(t *testing.T) {
		r := newRig(t, federated(&fakeFederation{}))
		r.start("j1")
		w := r.get(cb("state-1", "ok"))
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "error.login_refused")
	})
	t.Run("no session", func(t *testing.T) {
		r := newRig(t, federated(&fakeFederation{}))
		w := r.get(cb("state-1", "ok"))
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "error.expired")
	})
	t.Run("session expired", func(t *testing.T) {
		r := newRig(t, federated(&fakeFederation{}))
		state := r.toProvider()
		r.clock.Advance(11 * time.Minute) // past the journey's expiry
		w := r.get(cb(state, "ok"))
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "error.expired")
	})
	t.Run("query too large", func(t *testing.T) {
		r := newRig(t, federated(&fakeFederation{}))
		state := r.toProvider()
		w := r.get(cb(state, strings.Repeat("x", maxCallbackQuery)))
		wantStatus(t, w, http.StatusBadRequest)
		wantText(t, w, "error.bad_request")
	})
	t.Run("already at the approval step", func(t *testing.T) {
		r := newRig(t, federated(&fakeFederation{}))
		state := r.toProvider()
		wantRedirect(t, r.get(cb(state, "ok")), ApprovePath)
		wantRedirect(t, r.get(cb(state, "ok")), ApprovePath)
	})
}

// TestApprovalSCA: a federated login's acr decides, whatever its amr; without one, the
// embedded login's two factors do.
func TestApprovalSCA(t *testing.T) {
	for _, tc := range []struct {
		a    Approval
		want bool
	}{
		{Approval{AMR: []string{"pwd", "otp"}}, true},
		{Approval{AMR: []string{"pwd"}}, false},
		{Approval{AMR: []string{"pwd", "otp"}, ACR: "urn:openbanking:psd2:ca"}, false},
		{Approval{AMR: []string{"pwd"}, ACR: "urn:openbanking:psd2:sca"}, true},
	} {
		if got := tc.a.SCA(); got != tc.want {
			t.Errorf("%+v: SCA %v, want %v", tc.a, got, tc.want)
		}
	}
}
