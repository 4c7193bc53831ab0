package web

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"
)

// fakeAuth is a hand-written Authenticator: one customer, a password, and a set of
// one-time codes each accepted once. lockout, when set, is returned by every check.
type fakeAuth struct {
	mu       sync.Mutex
	username string
	password string
	customer string
	codes    map[string]bool // code → already used
	lockout  error
	broken   error
	calls    int
	addrs    []string
}

func newFakeAuth() *fakeAuth {
	return &fakeAuth{
		username: "alice", password: "correct horse battery staple", customer: "cust-0001",
		codes: map[string]bool{"123456": false, "654321": false},
	}
}

func (a *fakeAuth) CheckPassword(_ context.Context, username, password, clientAddr string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	a.addrs = append(a.addrs, clientAddr)
	switch {
	case a.broken != nil:
		return "", a.broken
	case a.lockout != nil:
		return "", a.lockout
	case username != a.username || password != a.password:
		return "", fmt.Errorf("identity: %q: %w", username, ErrWrongCredentials)
	}
	return a.customer, nil
}

func (a *fakeAuth) CheckOTP(_ context.Context, customerID, code, clientAddr string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	a.addrs = append(a.addrs, clientAddr)
	if a.broken != nil {
		return a.broken
	}
	if a.lockout != nil {
		return a.lockout
	}
	used, ok := a.codes[code]
	if customerID != a.customer || !ok {
		return fmt.Errorf("identity: totp: %w", ErrWrongCredentials)
	}
	if used {
		return fmt.Errorf("identity: totp: %w", ErrCodeUsed)
	}
	a.codes[code] = true
	return nil
}

func (a *fakeAuth) callCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// fakeJourney is a hand-written Journey: completes once, then is gone.
type fakeJourney struct {
	mu       sync.Mutex
	req      Request
	accounts []Account
	done     bool
	approval *Approval
	denied   bool
	deniedBy string
}

func (j *fakeJourney) Request() Request { return j.req }

func (j *fakeJourney) Accounts(_ context.Context, customerID string) ([]Account, error) {
	return j.accounts, nil
}

func (j *fakeJourney) Approve(_ context.Context, a Approval) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done {
		return "", fmt.Errorf("authz: journey: %w", ErrJourneyGone)
	}
	j.done, j.approval = true, &a
	return j.req.RedirectURI + "?" + url.Values{"code": {"code-for-" + a.CustomerID}, "state": {"st-1"}}.Encode(), nil
}

func (j *fakeJourney) Deny(_ context.Context, customerID string) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done {
		return "", fmt.Errorf("authz: journey: %w", ErrJourneyGone)
	}
	j.done, j.denied, j.deniedBy = true, true, customerID
	return j.req.RedirectURI + "?" + url.Values{"error": {"access_denied"}, "state": {"st-1"}}.Encode(), nil
}

func (j *fakeJourney) result() (*Approval, bool, string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.approval, j.denied, j.deniedBy
}

// fakeJourneys holds journeys by id; a completed journey is gone.
type fakeJourneys struct {
	mu sync.Mutex
	m  map[string]*fakeJourney
	// broken, when set, is returned by every lookup.
	broken error
}

func (f *fakeJourneys) Journey(_ context.Context, id string) (Journey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken != nil {
		return nil, f.broken
	}
	j, ok := f.m[id]
	if !ok {
		return nil, fmt.Errorf("authz: journey %q: %w", id, ErrJourneyGone)
	}
	j.mu.Lock()
	done := j.done
	j.mu.Unlock()
	if done {
		return nil, fmt.Errorf("authz: journey %q: %w", id, ErrJourneyGone)
	}
	return j, nil
}

func (f *fakeJourneys) add(id string, j *fakeJourney) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*fakeJourney{}
	}
	f.m[id] = j
}

// testJourney returns a journey as the authorization endpoint would describe a FAPI
// client asking for account access, ending at redirectURI.
func testJourney(redirectURI string, expires time.Time) *fakeJourney {
	return &fakeJourney{
		req: Request{
			ClientName:  "Moneywise Budgeting Ltd",
			Scopes:      []string{"openid", "accounts", "x-custom"},
			ExpiresAt:   expires,
			RedirectURI: redirectURI,
		},
		accounts: []Account{
			{ID: "acc-current-1", Name: "Everyday Current Account", Identification: "20-00-00 •••• 4821"},
			{ID: "acc-savings-2", Name: "Instant Saver", Identification: "20-00-00 •••• 9034"},
		},
	}
}
