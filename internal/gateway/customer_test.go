package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/internal/upstream"
)

// The token the TPP holds does not name the customer; the bank, behind the gateway, gets the
// real customer id from the consent the token names — in proxy mode, in every ext-authz
// answer, and in the identity JWT.
func TestUpstreamGetsCustomerFromConsent(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.userToken(t, "A", "aac-ok", "accounts")
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(payload), testCustomer) {
		t.Fatalf("the TPP's token names the customer: %s", payload)
	}
	for _, m := range allModes {
		got := f.do(t, m, call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + tok})
		if got.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", m, got.status, got.body)
		}
		psu := got.header.Get(upstream.HeaderPSUID)
		if m == modeDirect {
			up, _ := f.bank.lastRequest()
			psu = up.Header.Get(upstream.HeaderPSUID)
		}
		if psu != testCustomer {
			t.Errorf("%s: PSU id %q, want the customer id %q", m, psu, testCustomer)
		}
	}
	// Identity JWT mode: the signed identity carries the customer id.
	fj := newFixture(t, fixtureOpts{identity: true})
	before := fj.bank.n.Load()
	fj.do(t, modeDirect, call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + fj.userToken(t, "A", "aac-ok", "accounts")})
	if fj.bank.n.Load() != before+1 {
		t.Fatal("jwt mode: the request was not forwarded")
	}
	up, _ := fj.bank.lastRequest()
	idPayload, err := base64.RawURLEncoding.DecodeString(strings.Split(up.Header.Get(upstream.HeaderIdentity), ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(idPayload), `"`+testCustomer+`"`) {
		t.Errorf("identity JWT without the customer id: %s", idPayload)
	}
}

// A consent nobody has authorised names no customer: refused (403), never forwarded.
// A customer store that cannot answer fails closed: 503 with the OBIE body, never forwarded.
func TestCustomerLookupFailsClosed(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	if err := f.store.CreateConsent(ctx, store.Consent{ID: "aac-unauthorised", Kind: "account-access", ClientID: "tpp-1", Status: "AwaitingAuthorisation"}); err != nil {
		t.Fatal(err)
	}
	f.consent.mu.Lock()
	f.consent.decisions["aac-unauthorised"] = f.consent.decisions["aac-ok"]
	f.consent.decisions["aac-missing"] = f.consent.decisions["aac-ok"]
	f.consent.mu.Unlock()
	before := f.bank.n.Load()
	for _, id := range []string{"aac-unauthorised", "aac-missing"} {
		got := f.do(t, modeDirect, call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + f.userToken(t, "A", id, "accounts")})
		if got.status != http.StatusForbidden || !got.obDecoded || got.ob.Code != CodeConsentInvalid ||
			got.ob.Errors[0].ErrorCode != "UK.OBIE.Resource.ConsentMismatch" {
			t.Errorf("%s: %d %s, want 403 consent_invalid", id, got.status, got.body)
		}
	}

	tok := f.userToken(t, "A", "aac-ok", "accounts")
	if err := f.store.Close(); err != nil { // the database goes away
		t.Fatal(err)
	}
	for _, m := range allModes {
		got := f.do(t, m, call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + tok})
		if got.status != http.StatusServiceUnavailable || !got.obDecoded || got.ob.Code != CodeConsentUnavailable ||
			got.ob.Errors[0].ErrorCode != "UK.OBIE.UnexpectedError" || got.header.Get("Retry-After") == "" {
			t.Errorf("%s: %d %s, want 503 consent_validator_unavailable", m, got.status, got.body)
		}
	}
	if n := f.bank.n.Load() - before; n != 0 {
		t.Fatalf("%d refused requests reached the bank", n)
	}
	evs := f.audit.since(f.audit.count() - 1)
	if !errors.Is(evs[0].Err, ErrCustomerUnavailable) {
		t.Errorf("audit error = %v, want ErrCustomerUnavailable", evs[0].Err)
	}
}

// Without a CustomerLookup a customer token with a consent is refused (503): the upstream
// never gets a request without its customer. Application tokens need no lookup.
func TestCustomerStageWithoutLookup(t *testing.T) {
	user := &exchange{at: &token.AccessToken{Use: token.UseUser, ConsentID: "aac-ok", UserID: "opaque"}}
	err := customerStage{}.Check(context.Background(), user)
	if !errors.Is(err, ErrCustomerUnavailable) || problemFor(err).status != http.StatusServiceUnavailable {
		t.Fatalf("no lookup: %v (status %d), want ErrCustomerUnavailable 503", err, problemFor(err).status)
	}
	for _, at := range []*token.AccessToken{{Use: token.UseApplication}, {Use: token.UseUser, UserID: "opaque"}} {
		x := &exchange{at: at}
		if err := (customerStage{}).Check(context.Background(), x); err != nil || x.customer != "" {
			t.Fatalf("%+v: %v, customer %q", at, err, x.customer)
		}
	}
}

// countingCustomers is a CustomerLookup over a map that counts its calls.
type countingCustomers struct {
	m     map[string]string
	err   error
	calls atomic.Int32
}

func (c *countingCustomers) ConsentUserID(_ context.Context, id string) (string, error) {
	c.calls.Add(1)
	if c.err != nil {
		return "", c.err
	}
	u, ok := c.m[id]
	if !ok {
		return "", store.ErrNotFound
	}
	return u, nil
}

// The cache answers from memory for at most CustomerCacheTTL (≤ 5 s, the deny-list's bound),
// keeps neither failures nor consents without a customer, and stays bounded.
func TestCustomerCache(t *testing.T) {
	if CustomerCacheTTL > 5*time.Second {
		t.Fatalf("CustomerCacheTTL %v over 5 s", CustomerCacheTTL)
	}
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	src := &countingCustomers{m: map[string]string{"c1": "u1", "pending": ""}}
	c := newCustomerCache(src, clk)
	lookup := func(id, want string, wantCalls int32) {
		t.Helper()
		got, err := c.customer(ctx, id)
		if err != nil || got != want {
			t.Fatalf("customer(%s) = %q, %v; want %q", id, got, err, want)
		}
		if n := src.calls.Load(); n != wantCalls {
			t.Fatalf("after customer(%s): %d lookups, want %d", id, n, wantCalls)
		}
	}
	lookup("c1", "u1", 1)
	clk.Advance(CustomerCacheTTL - time.Millisecond)
	lookup("c1", "u1", 1) // cached
	clk.Advance(time.Millisecond)
	lookup("c1", "u1", 2) // stale: asked again
	lookup("pending", "", 3)
	lookup("pending", "", 4) // not cached: the next request may find it authorised

	src.err = errors.New("database down")
	clk.Advance(CustomerCacheTTL)
	if _, err := c.customer(ctx, "c1"); err == nil {
		t.Fatal("a failed lookup was answered from an expired entry")
	}
	src.err = nil
	if _, err := c.customer(ctx, "unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown consent: %v", err)
	}

	c.max = 3
	for _, id := range []string{"a", "b", "c", "d"} {
		src.m[id] = "u-" + id
		if _, err := c.customer(ctx, id); err != nil {
			t.Fatal(err)
		}
		if len(c.m) > c.max {
			t.Fatalf("cache holds %d entries, bound %d", len(c.m), c.max)
		}
	}
}
