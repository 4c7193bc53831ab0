package consent_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/store"
)

func TestPeriod(t *testing.T) {
	start := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		typ, align string
		at         time.Time
		name       string
		end        time.Time
	}{
		{"Day", "Calendar", time.Date(2026, 3, 4, 23, 59, 0, 0, time.UTC), "Day/2026-03-04", time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)},
		{"Week", "Calendar", time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), "Week/2026-03-02", time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)}, // Sunday → Monday's week
		{"Month", "Calendar", time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC), "Month/2026-02", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"Half-year", "Calendar", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "Half-year/2026-07", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Year", "Calendar", time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "Year/2026", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Day", "Consent", time.Date(2026, 2, 1, 9, 59, 0, 0, time.UTC), "Day/consent/0", time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)},
		{"Day", "Consent", time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC), "Day/consent/1", time.Date(2026, 2, 2, 10, 0, 0, 0, time.UTC)},
		{"Month", "Consent", time.Date(2026, 3, 31, 9, 0, 0, 0, time.UTC), "Month/consent/1", time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)},
		{"Year", "Consent", time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC), "Year/consent/4", time.Date(2031, 1, 31, 10, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		name, end := consent.PeriodicLimit{PeriodType: tc.typ, PeriodAlignment: tc.align}.Period(start, tc.at)
		if name != tc.name || !end.Equal(tc.end) {
			t.Errorf("%s/%s at %v: %s until %v, want %s until %v", tc.typ, tc.align, tc.at, name, end, tc.name, tc.end)
		}
	}
	// Fortnights: both weeks of a pair share a name.
	l := consent.PeriodicLimit{PeriodType: "Fortnight", PeriodAlignment: "Calendar"}
	a, _ := l.Period(start, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	b, _ := l.Period(start, time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC))
	c, _ := l.Period(start, time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC))
	if (a == b) == (b == c) {
		t.Fatalf("fortnights %s %s %s: exactly one boundary expected", a, b, c)
	}
}

func TestCanonicalHash(t *testing.T) {
	h := func(s string) [32]byte {
		v, err := consent.CanonicalHash(json.RawMessage(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if h(`{"a":1,"b":{"c":"x","d":[1,2]}}`) != h(" {\"b\":{\"d\":[1, 2],\"c\":\"\\u0078\"}, \"a\":1}") {
		t.Fatal("same value, different hash")
	}
	for _, other := range []string{`{"a":1,"b":{"c":"x","d":[2,1]}}`, `{"a":1.0,"b":{"c":"x","d":[1,2]}}`, `{"a":1,"b":{"c":"X","d":[1,2]}}`} {
		if h(`{"a":1,"b":{"c":"x","d":[1,2]}}`) == h(other) {
			t.Fatalf("%s hashes like the original", other)
		}
	}
	if _, err := consent.CanonicalHash(json.RawMessage(`{"a":1}{}`)); err == nil {
		t.Fatal("trailing data accepted")
	}
}

func TestAmountMinor(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1": 100000, "165.88": 16588000, "0.00001": 1, "9999999999999.99999": 999999999999999999} {
		if got, err := (consent.Amount{Amount: in, Currency: "GBP"}).Minor(); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1,00", "1.123456", "12345678901234", "1e3", " 1"} {
		if _, err := (consent.Amount{Amount: bad}).Minor(); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRequiredPermissions(t *testing.T) {
	tests := map[string][]string{
		"/open-banking/v3.1/aisp/accounts":                         {"ReadAccountsBasic", "ReadAccountsDetail"},
		"/open-banking/v3.1/aisp/accounts/{AccountId}/balances":    {"ReadBalances"},
		"/open-banking/v3.1.10/aisp/accounts/{Id}/transactions":    {"ReadTransactionsBasic", "ReadTransactionsDetail"},
		"/open-banking/v3.1/aisp/accounts/{AccountId}/party":       {"ReadParty"},
		"/open-banking/v3.1/aisp/party":                            {"ReadPartyPSU"},
		"/open-banking/v3.1/aisp/accounts/{AccountId}/unknown-api": nil,
	}
	for tmpl, want := range tests {
		if got := consent.RequiredPermissions(tmpl); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", tmpl, got, want)
		}
	}
}

// TestDescribe: the approval page's plain words for each kind.
func TestDescribe(t *testing.T) {
	ctx := context.Background()
	svc, err := consent.NewService(consent.Options{Store: &memStore{}})
	if err != nil {
		t.Fatal(err)
	}
	aa, _, err := svc.CreateAccountAccess(ctx, "tpp", []byte(accountAccessBody))
	if err != nil {
		t.Fatal(err)
	}
	d := consent.Describe(aa)
	if d.ChooseAccounts != "many" || len(d.Permissions) != 5 || d.Permissions[1] != "Your account balances" ||
		d.TransactionWindow != "Transactions from 1 January 2026 to 31 December 2026" {
		t.Fatalf("account access: %+v", d)
	}
	p, err := svc.CreateDomesticPayment(ctx, "tpp", []byte(paymentConsentBody))
	if err != nil {
		t.Fatal(err)
	}
	d = consent.Describe(p)
	if d.Payment == nil || *d.Payment != (consent.DisplayPayment{Amount: "165.88", Currency: "GBP", Creditor: "ACME Inc",
		CreditorAccount: "08080021325698", Reference: "FRESCO-101"}) || d.ChooseAccounts != "one" || !d.SingleUse {
		t.Fatalf("payment: %+v %+v", d, d.Payment)
	}
	v, err := svc.CreateDomesticVRP(ctx, "tpp", []byte(vrpConsentBody))
	if err != nil {
		t.Fatal(err)
	}
	d = consent.Describe(v)
	if !slices.Equal(d.Limits, []string{"At most 50.00 GBP per payment", "At most 100.00 GBP per day"}) || d.Payment.Creditor != "Marcus Sweepimus" ||
		d.Payment.Amount != "" || d.SingleUse {
		t.Fatalf("vrp: %+v", d)
	}
}

// memStore is a hand-written in-memory consent.Store for tests that need no database.
type memStore struct{ m map[string]store.Consent }

func (s *memStore) CreateConsent(_ context.Context, c store.Consent) error {
	if s.m == nil {
		s.m = map[string]store.Consent{}
	}
	s.m[c.ID] = c
	return nil
}

func (s *memStore) GetConsent(_ context.Context, id string) (store.Consent, error) {
	c, ok := s.m[id]
	if !ok {
		return store.Consent{}, store.ErrNotFound
	}
	return c, nil
}

func (s *memStore) TransitionConsent(context.Context, string, []string, string, string, json.RawMessage) (store.Consent, error) {
	return store.Consent{}, errors.New("memStore: not supported")
}

func (s *memStore) ListConsents(context.Context, store.ConsentFilter) ([]store.Consent, error) {
	return nil, errors.New("memStore: not supported")
}

func (s *memStore) InTx(context.Context, func(*store.Tx) error) error {
	return errors.New("memStore: not supported")
}

// FuzzConsentRequests feeds arbitrary bytes to the four OBIE request parsers: they
// must never panic, and anything they accept must render and parse back.
func FuzzConsentRequests(f *testing.F) {
	for _, s := range []string{accountAccessBody, paymentConsentBody, fundsConsentBody, vrpConsentBody, `{}`, `{"Data":null}`, `[]`, `{"Data":{"Permissions":[1]}}`} {
		f.Add(s)
	}
	svc, err := consent.NewService(consent.Options{Store: &memStore{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ctx := context.Background()
		for _, create := range []func() (*consent.Consent, error){
			func() (*consent.Consent, error) {
				c, _, err := svc.CreateAccountAccess(ctx, "tpp", []byte(body))
				return c, err
			},
			func() (*consent.Consent, error) { return svc.CreateDomesticPayment(ctx, "tpp", []byte(body)) },
			func() (*consent.Consent, error) { return svc.CreateFundsConfirmation(ctx, "tpp", []byte(body)) },
			func() (*consent.Consent, error) { return svc.CreateDomesticVRP(ctx, "tpp", []byte(body)) },
		} {
			c, err := create()
			var fe *consent.FieldError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("not a FieldError: %v", err)
			}
			if err == nil {
				_ = consent.Describe(c)
				if _, err := svc.Get(ctx, c.ID); err != nil {
					t.Fatalf("accepted consent does not read back: %v", err)
				}
			}
		}
	})
}
