package consent_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// auditRecorder is a hand-written audit.Sink.
type auditRecorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *auditRecorder) Record(_ context.Context, e audit.Event) {
	a.mu.Lock()
	a.events = append(a.events, e)
	a.mu.Unlock()
}

func (a *auditRecorder) types() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.events {
		out = append(out, e.Type+":"+e.Data["from"].(string)+">"+e.Data["to"].(string))
	}
	return out
}

func newService(t *testing.T, st consent.Store, clk clock.Clock, rec audit.Sink) *consent.Service {
	t.Helper()
	svc, err := consent.NewService(consent.Options{Store: st, Clock: clk, Audit: rec})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestLifecycle walks the state machine with a fake clock: every allowed transition,
// every refused one (with its status), the history with actors and times, the audit
// trail, and expiry read from the clock.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	rec := &auditRecorder{}
	svc := newService(t, storetest.OpenSQLiteClock(t, clk), clk, rec)

	exp := clk.Now().Add(2 * time.Hour).Format(time.RFC3339)
	c, _, err := svc.CreateAccountAccess(ctx, "tpp-1", []byte(`{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"`+exp+`"},"Risk":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := func(err error, status string) {
		t.Helper()
		var se *consent.StatusError
		if !errors.As(err, &se) || se.Status != status || !errors.Is(err, consent.ErrStatus) {
			t.Fatalf("got %v, want a StatusError %s", err, status)
		}
	}
	if _, err := svc.Consume(ctx, c.ID); err != nil {
		wantStatus(err, consent.StatusAwaitingAuthorisation)
	} else {
		t.Fatal("consumed an unauthorised consent")
	}
	clk.Advance(time.Minute)
	a, err := svc.Authorise(ctx, c.ID, "demo", []string{"22289"})
	if err != nil || a.StoredStatus != consent.StatusAuthorised || a.CustomerID != "demo" || len(a.Accounts) != 1 {
		t.Fatalf("authorise: %+v %v", a, err)
	}
	_, err = svc.Authorise(ctx, c.ID, "demo", nil)
	wantStatus(err, consent.StatusAuthorised)
	_, err = svc.Reject(ctx, c.ID, "demo")
	wantStatus(err, consent.StatusAuthorised)

	clk.Advance(2 * time.Hour) // past ExpirationDateTime
	got, _ := svc.Get(ctx, c.ID)
	if got.Status(clk.Now()) != consent.StatusExpired || got.StoredStatus != consent.StatusAuthorised {
		t.Fatalf("expired consent reads %s (stored %s)", got.Status(clk.Now()), got.StoredStatus)
	}
	if _, err := svc.ForAuthorization(ctx, "tpp-1", c.ID); !errors.Is(err, consent.ErrExpired) {
		t.Fatalf("ForAuthorization of an expired consent: %v", err)
	}
	// An expired consent can still be revoked (its refresh tokens die with it).
	r, err := svc.Revoke(ctx, c.ID, "customer:demo")
	if err != nil || r.StoredStatus != consent.StatusRevoked {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	_, err = svc.Revoke(ctx, c.ID, "admin")
	wantStatus(err, consent.StatusRevoked)

	got, _ = svc.Get(ctx, c.ID)
	want := []consent.Transition{
		{To: "AwaitingAuthorisation", At: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), By: "client:tpp-1"},
		{From: "AwaitingAuthorisation", To: "Authorised", At: time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC), By: "customer:demo"},
		{From: "Authorised", To: "Revoked", At: time.Date(2026, 3, 1, 14, 1, 0, 0, time.UTC), By: "customer:demo"},
	}
	if len(got.History) != len(want) {
		t.Fatalf("history %+v", got.History)
	}
	for i := range want {
		if h := got.History[i]; h.From != want[i].From || h.To != want[i].To || !h.At.Equal(want[i].At) || h.By != want[i].By {
			t.Fatalf("history[%d] = %+v, want %+v", i, h, want[i])
		}
	}
	wantAudit := []string{"consent.created:>AwaitingAuthorisation", "consent.authorised:AwaitingAuthorisation>Authorised", "consent.revoked:Authorised>Revoked"}
	if got := rec.types(); len(got) != len(wantAudit) || got[0] != wantAudit[0] || got[1] != wantAudit[1] || got[2] != wantAudit[2] {
		t.Fatalf("audit %v, want %v", got, wantAudit)
	}

	// Payments: Authorised → Consumed once; a consumed consent cannot be revoked.
	p, err := svc.CreateDomesticPayment(ctx, "tpp-1", []byte(paymentConsentBody))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reject(ctx, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Authorise(ctx, p.ID, "demo", nil)
	wantStatus(err, consent.StatusRejected)
	p, _ = svc.CreateDomesticPayment(ctx, "tpp-1", []byte(paymentConsentBody))
	if _, err := svc.Authorise(ctx, p.ID, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Consume(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Revoke(ctx, p.ID, "admin")
	wantStatus(err, consent.StatusConsumed)
	if _, err := svc.Get(ctx, "nope"); !errors.Is(err, consent.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

// TestForAuthorization: the journey's check of openbanking_intent_id (fapi.md OB-03).
func TestForAuthorization(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc := newService(t, storetest.OpenSQLiteClock(t, clk), clk, nil)
	c, _, err := svc.CreateAccountAccess(ctx, "tpp-1", []byte(accountAccessBody))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.ForAuthorization(ctx, "tpp-1", c.ID); err != nil || got.ID != c.ID {
		t.Fatalf("own awaiting consent: %v", err)
	}
	if _, err := svc.ForAuthorization(ctx, "tpp-2", c.ID); !errors.Is(err, consent.ErrWrongClient) {
		t.Fatalf("another client's: %v", err)
	}
	if _, err := svc.ForAuthorization(ctx, "tpp-1", "aac-unknown"); !errors.Is(err, consent.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := svc.Authorise(ctx, c.ID, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ForAuthorization(ctx, "tpp-1", c.ID); !errors.Is(err, consent.ErrStatus) {
		t.Fatalf("already authorised: %v", err)
	}
	g, err := svc.CreateGeneric(ctx, "tpp-9", "demo", []string{"openid", "accounts"}, []string{"31820"})
	if err != nil || g.StoredStatus != consent.StatusAuthorised || g.Kind != consent.KindGeneric || len(g.History) != 2 {
		t.Fatalf("generic: %+v %v", g, err)
	}
}

// TestConcurrentAuthorise: of 20 concurrent approvals of one consent from two Store
// instances on one PostgreSQL database, exactly one wins.
func TestConcurrentAuthorise(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	a, b := storetest.OpenPostgresPair(t, clk)
	svcs := []*consent.Service{newService(t, a, clk, nil), newService(t, b, clk, nil)}
	c, _, err := svcs[0].CreateAccountAccess(ctx, "tpp-1", []byte(accountAccessBody))
	if err != nil {
		t.Fatal(err)
	}
	var won atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svcs[i%2].Authorise(ctx, c.ID, "demo", []string{"22289"})
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, consent.ErrStatus):
				t.Errorf("authorise: %v", err)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d approvals won, want 1", won.Load())
	}
	got, _ := svcs[1].Get(ctx, c.ID)
	if len(got.History) != 2 {
		t.Fatalf("history %+v: want creation and one approval", got.History)
	}
}
