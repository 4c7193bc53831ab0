package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/clock"
)

const testToken = "0123456789abcdef0123456789abcdef-admin"

// events is an audit.Sink that keeps what it is given.
type events struct {
	mu  sync.Mutex
	all []audit.Event
}

func (e *events) Record(_ context.Context, ev audit.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) list() []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]audit.Event(nil), e.all...)
}

// newTestHandler is a guard with one mounted operation, GET /admin/ping, that counts its calls.
func newTestHandler(t *testing.T, lim Limits) (*Handler, *clock.Fake, *events, *int) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	ev := &events{}
	h, err := New(Options{Token: testToken, Audit: ev, Limits: lim, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	calls := new(int)
	h.Mux().HandleFunc("GET /admin/ping", func(w http.ResponseWriter, r *http.Request) {
		*calls++
		WriteJSON(w, http.StatusOK, map[string]string{"pong": "yes"})
	})
	return h, clk, ev, calls
}

func call(h http.Handler, remote, authorization, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = remote
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return body.Error
}

func TestNew(t *testing.T) {
	for _, o := range []Options{
		{Token: "", Audit: audit.Discard},
		{Token: testToken[:MinTokenLen-1], Audit: audit.Discard},
		{Token: testToken},
		{Token: testToken, Audit: audit.Discard, Limits: Limits{PerAddress: -1}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o.Limits)
		}
	}
}

func TestAuthentication(t *testing.T) {
	tests := []struct {
		name      string
		header    string
		wantCode  int
		wantError string
		wantChall string
	}{
		{"no header", "", 401, "invalid_token", `Bearer realm="portcullis-admin"`},
		{"basic scheme", "Basic " + testToken, 401, "invalid_token", `Bearer realm="portcullis-admin", error="invalid_token"`},
		{"wrong token", "Bearer " + testToken + "x", 401, "invalid_token", `Bearer realm="portcullis-admin", error="invalid_token"`},
		{"prefix of token", "Bearer " + testToken[:32], 401, "invalid_token", `Bearer realm="portcullis-admin", error="invalid_token"`},
		{"right token", "Bearer " + testToken, 200, "", ""},
		{"scheme case-insensitive", "bearer " + testToken, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, _, calls := newTestHandler(t, Limits{})
			rec := call(h, "127.0.0.1:4000", tt.header, "/admin/ping")
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tt.wantCode, rec.Body)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			if tt.wantError == "" {
				if *calls != 1 {
					t.Errorf("operation called %d times, want 1", *calls)
				}
				return
			}
			if *calls != 0 {
				t.Errorf("operation called %d times by a refused request", *calls)
			}
			if code := errorCode(t, rec); code != tt.wantError {
				t.Errorf("error = %q, want %q", code, tt.wantError)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantChall {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChall)
			}
		})
	}
}

// TestFailureLimitPerAddress: after PerAddress failures an address gets 429 with Retry-After,
// even with the right token, while another address still gets in; one refill interval later
// the address may try once more.
func TestFailureLimitPerAddress(t *testing.T) {
	h, clk, _, calls := newTestHandler(t, Limits{PerAddress: 3, Global: 100, Window: time.Minute})
	const attacker, operator = "192.0.2.1:5000", "192.0.2.2:5000"
	for i := range 3 {
		if rec := call(h, attacker, "Bearer wrong-"+fmt.Sprint(i), "/admin/ping"); rec.Code != 401 {
			t.Fatalf("failure %d: status %d, want 401", i+1, rec.Code)
		}
	}
	for _, tc := range []struct{ name, auth string }{{"wrong token", "Bearer wrong"}, {"right token", "Bearer " + testToken}, {"no token", ""}} {
		rec := call(h, attacker, tc.auth, "/admin/ping")
		if rec.Code != http.StatusTooManyRequests || errorCode(t, rec) != "too_many_requests" {
			t.Fatalf("limited address, %s: %d %s, want 429 too_many_requests", tc.name, rec.Code, rec.Body)
		}
		// The bucket refills 3 per minute: one failure's worth in 20 s.
		if ra := rec.Header().Get("Retry-After"); ra != "20" {
			t.Errorf("Retry-After = %q, want 20", ra)
		}
	}
	if *calls != 0 {
		t.Fatalf("operation called %d times from the limited address", *calls)
	}
	// The same port of another address, and the same address's other ports, are told apart by IP.
	if rec := call(h, operator, "Bearer "+testToken, "/admin/ping"); rec.Code != 200 {
		t.Errorf("other address with the right token: %d, want 200", rec.Code)
	}
	if rec := call(h, "192.0.2.1:6000", "Bearer "+testToken, "/admin/ping"); rec.Code != 429 {
		t.Errorf("limited address from another port: %d, want 429", rec.Code)
	}

	clk.Advance(15 * time.Second)
	rec := call(h, attacker, "Bearer "+testToken, "/admin/ping")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "5" {
		t.Errorf("15 s later: %d Retry-After %q, want 429 and 5", rec.Code, rec.Header().Get("Retry-After"))
	}
	clk.Advance(5 * time.Second)
	if rec := call(h, attacker, "Bearer "+testToken, "/admin/ping"); rec.Code != 200 {
		t.Errorf("20 s later with the right token: %d, want 200", rec.Code)
	}
	// One failure's worth only: the next failure empties the bucket again.
	call(h, attacker, "Bearer wrong", "/admin/ping")
	if rec := call(h, attacker, "Bearer "+testToken, "/admin/ping"); rec.Code != 429 {
		t.Errorf("after another failure: %d, want 429", rec.Code)
	}
}

// TestFailureLimitGlobal: failures spread over many addresses exhaust the global bucket, and
// then every address is refused, the operator's too.
func TestFailureLimitGlobal(t *testing.T) {
	h, clk, _, _ := newTestHandler(t, Limits{PerAddress: 5, Global: 10, Window: time.Minute})
	for i := range 10 {
		if rec := call(h, fmt.Sprintf("198.51.100.%d:1234", i), "Bearer wrong", "/admin/ping"); rec.Code != 401 {
			t.Fatalf("failure %d: %d, want 401", i, rec.Code)
		}
	}
	rec := call(h, "127.0.0.1:4000", "Bearer "+testToken, "/admin/ping")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "6" {
		t.Fatalf("after the global limit: %d Retry-After %q, want 429 and 6", rec.Code, rec.Header().Get("Retry-After"))
	}
	clk.Advance(6 * time.Second)
	if rec := call(h, "127.0.0.1:4000", "Bearer "+testToken, "/admin/ping"); rec.Code != 200 {
		t.Errorf("after the refill: %d, want 200", rec.Code)
	}
}

// TestAuditEveryCall: allowed, refused and limited calls each leave one admin.request event
// with method, path, remote address, status and outcome, and the token appears in none.
func TestAuditEveryCall(t *testing.T) {
	h, _, ev, _ := newTestHandler(t, Limits{PerAddress: 1, Global: 100, Window: time.Minute})
	call(h, "127.0.0.1:4000", "Bearer "+testToken, "/admin/ping")
	call(h, "127.0.0.1:4000", "Bearer "+testToken, "/admin/nothing-here")
	call(h, "192.0.2.1:5000", "Bearer "+testToken+"x", "/admin/ping")
	call(h, "192.0.2.1:5000", "Bearer "+testToken, "/admin/ping")
	want := []map[string]any{
		{"method": "GET", "path": "/admin/ping", "remote_addr": "127.0.0.1:4000", "status": 200, "outcome": OutcomeAllowed},
		{"method": "GET", "path": "/admin/nothing-here", "remote_addr": "127.0.0.1:4000", "status": 404, "outcome": OutcomeAllowed},
		{"method": "GET", "path": "/admin/ping", "remote_addr": "192.0.2.1:5000", "status": 401, "outcome": OutcomeUnauthorized},
		{"method": "GET", "path": "/admin/ping", "remote_addr": "192.0.2.1:5000", "status": 429, "outcome": OutcomeRateLimited},
	}
	got := ev.list()
	if len(got) != len(want) {
		t.Fatalf("%d audit events, want %d: %+v", len(got), len(want), got)
	}
	for i, e := range got {
		if e.Type != audit.TypeAdminRequest {
			t.Errorf("event %d type %q, want %q", i, e.Type, audit.TypeAdminRequest)
		}
		for k, v := range want[i] {
			if e.Data[k] != v {
				t.Errorf("event %d %s = %v, want %v", i, k, e.Data[k], v)
			}
		}
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), testToken[:16]) {
			t.Errorf("event %d carries the admin token: %s", i, b)
		}
	}
}

// TestLimiterTableBounded: the per-address table never grows past its bound; addresses
// beyond it are held to the global limit.
func TestLimiterTableBounded(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	l, err := newLimiter(Limits{PerAddress: 2, Global: 1000, Window: time.Minute}, clk)
	if err != nil {
		t.Fatal(err)
	}
	l.maxAddresses = 4
	for i := range 10 {
		l.fail(fmt.Sprintf("a%d", i))
	}
	if n := len(l.addrs); n != 4 {
		t.Fatalf("%d addresses tracked, want 4", n)
	}
	clk.Advance(time.Minute) // every bucket full again: prunable
	l.fail("new")
	if _, ok := l.addrs["new"]; !ok || len(l.addrs) != 1 {
		t.Errorf("after pruning: %d addresses tracked (new tracked: %v), want 1", len(l.addrs), ok)
	}
}
