package consent_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// TestAdminAPI: search by customer, client and status (Expired included), get with
// history, revoke (refresh tokens die, history names the admin), and the error codes.
func TestAdminAPI(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc := newService(t, storetest.OpenSQLiteClock(t, clk), clk, nil)
	mux := http.NewServeMux()
	consent.RegisterAdmin(mux, svc, nil)

	// One second apart: lists are newest first.
	a, _, _ := svc.CreateAccountAccess(ctx, "tpp-1", []byte(accountAccessBody))
	clk.Advance(time.Second)
	exp := clk.Now().Add(time.Hour).Format(time.RFC3339)
	b, _, _ := svc.CreateAccountAccess(ctx, "tpp-2", []byte(`{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"`+exp+`"},"Risk":{}}`))
	clk.Advance(time.Second)
	p, _ := svc.CreateDomesticPayment(ctx, "tpp-1", []byte(paymentConsentBody))
	for _, id := range []string{a.ID, b.ID} {
		if _, err := svc.Authorise(ctx, id, "demo", []string{"22289"}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Hour) // b expires

	do := func(method, target string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return rec.Code, m
	}
	ids := func(m map[string]any) []string {
		var out []string
		for _, c := range m["consents"].([]any) {
			out = append(out, c.(map[string]any)["id"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{p.ID, b.ID, a.ID}},
		{"?client=tpp-1", []string{p.ID, a.ID}},
		{"?customer=demo", []string{b.ID, a.ID}},
		{"?status=Authorised", []string{a.ID}},
		{"?status=Expired", []string{b.ID}},
		{"?status=AwaitingAuthorisation&client=tpp-1", []string{p.ID}},
		{"?client=tpp-1&limit=1", []string{p.ID}},
	} {
		code, m := do("GET", "/admin/consents"+tc.query)
		if got := ids(m); code != 200 || len(got) != len(tc.want) || len(got) > 0 && got[0] != tc.want[0] {
			t.Errorf("%s: %d %v, want %v", tc.query, code, got, tc.want)
		}
	}
	if code, m := do("GET", "/admin/consents?status=Bogus"); code != 400 || m["error"] != "invalid_request" {
		t.Errorf("bad status: %d %v", code, m)
	}
	if code, _ := do("GET", "/admin/consents?limit=5000"); code != 400 {
		t.Errorf("bad limit: %d", code)
	}
	if code, m := do("GET", "/admin/consents/"+a.ID); code != 200 || m["status"] != "Authorised" || len(m["history"].([]any)) != 2 {
		t.Errorf("get: %d %v", code, m)
	}
	if code, m := do("GET", "/admin/consents/"+b.ID); code != 200 || m["status"] != "Expired" || len(m["history"].([]any)) != 3 {
		t.Errorf("get expired: %d %v", code, m)
	}
	if code, _ := do("GET", "/admin/consents/nope"); code != 404 {
		t.Errorf("unknown: %d", code)
	}
	code, m := do("POST", "/admin/consents/"+a.ID+"/revoke")
	if code != 200 || m["status"] != "Revoked" {
		t.Fatalf("revoke: %d %v", code, m)
	}
	h := m["history"].([]any)
	if last := h[len(h)-1].(map[string]any); last["By"] != "admin" || last["To"] != "Revoked" {
		t.Errorf("history after admin revoke: %v", last)
	}
	if code, m := do("POST", "/admin/consents/"+a.ID+"/revoke"); code != 409 || m["error"] != "invalid_request" {
		t.Errorf("revoke twice: %d %v", code, m)
	}
	// The customer's revoke: only their own consent.
	if _, err := svc.RevokeForCustomer(ctx, "mallory", b.ID); err == nil {
		t.Error("another customer revoked the consent")
	}
	if c, err := svc.RevokeForCustomer(ctx, "demo", b.ID); err != nil || c.History[len(c.History)-1].By != "customer:demo" {
		t.Errorf("customer revoke: %v", err)
	}
}
