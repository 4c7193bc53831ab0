package idempotency

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const path = "/open-banking/v3.1/pisp/domestic-payment-consents"

// sink records audit events.
type sink struct {
	mu     sync.Mutex
	events []audit.Event
}

func (s *sink) Record(_ context.Context, e audit.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

// creator is a consent-creating handler: each run makes a new resource.
type creator struct {
	runs   atomic.Int64
	status int // 0: 201
}

func (c *creator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.runs.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", fmt.Sprintf("%s/pdc-%d", path, n))
	w.Header().Set(obie.HeaderInteractionID, r.Header.Get(obie.HeaderInteractionID))
	status := c.status
	if status == 0 {
		status = http.StatusCreated
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"Data":{"ConsentId":"pdc-%d"}}`, n)
}

func newMiddleware(t *testing.T, st Store, clk clock.Clock, s *sink, mutate ...func(*Options)) *Middleware {
	t.Helper()
	opts := Options{Store: st, Clock: clk, Audit: s, ClientID: func(r *http.Request) (string, error) {
		if id := r.Header.Get("X-Test-Client"); id != "" {
			return id, nil
		}
		return "", errors.New("no client")
	}}
	for _, f := range mutate {
		f(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func post(t *testing.T, h http.Handler, client, key, body string, interaction string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if client != "" {
		req.Header.Set("X-Test-Client", client)
	}
	if key != "" {
		req.Header.Set(HeaderKey, key)
	}
	if interaction != "" {
		req.Header.Set(obie.HeaderInteractionID, interaction)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func wantOBIE(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	var eb obie.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || len(eb.Errors) != 1 || eb.Errors[0].ErrorCode != code {
		t.Fatalf("body %s, want ErrorCode %s", rec.Body, code)
	}
}

const body1 = `{"Data":{"Initiation":{"InstructedAmount":{"Amount":"10.00","Currency":"GBP"}}},"Risk":{}}`

// TestKeyHeader: the header's rules, and methods other than POST pass through.
func TestKeyHeader(t *testing.T) {
	st := storetest.OpenSQLite(t)
	h := &creator{}
	m := newMiddleware(t, st, clock.Real{}, &sink{})
	wrapped := m.Wrap(h)
	wantOBIE(t, post(t, wrapped, "c1", "", body1, ""), 400, obie.CodeHeaderMissing)
	wantOBIE(t, post(t, wrapped, "c1", strings.Repeat("k", 41), body1, ""), 400, obie.CodeHeaderInvalid)
	wantOBIE(t, post(t, wrapped, "c1", " lead", body1, ""), 400, obie.CodeHeaderInvalid)
	wantOBIE(t, post(t, wrapped, "c1", "tab\tkey", body1, ""), 400, obie.CodeHeaderInvalid)
	wantOBIE(t, post(t, wrapped, "", "k1", body1, ""), 401, obie.CodeUnexpectedError)
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body1))
	req.Header.Set("X-Test-Client", "c1")
	req.Header.Add(HeaderKey, "a")
	req.Header.Add(HeaderKey, "b")
	rec := httptest.NewRecorder()
	wrapped.ServeHTTP(rec, req)
	wantOBIE(t, rec, 400, obie.CodeHeaderInvalid)
	if h.runs.Load() != 0 {
		t.Fatalf("handler ran %d times for refused requests", h.runs.Load())
	}
	if rec := post(t, wrapped, "c1", strings.Repeat("k", 40), body1, ""); rec.Code != 201 {
		t.Fatalf("40-character key: %d %s", rec.Code, rec.Body)
	}
	get := httptest.NewRecorder()
	wrapped.ServeHTTP(get, httptest.NewRequest(http.MethodGet, path+"/pdc-1", nil))
	if get.Code != 201 || h.runs.Load() != 2 {
		t.Fatalf("GET without key: %d, runs %d", get.Code, h.runs.Load())
	}
}

// TestRepeat: a repeat gets the original answer (status, body, Location) with its own
// interaction id; a different body is refused and audited; keys are per client; a key
// expires after 24 h; a 5xx answer is not kept.
func TestRepeat(t *testing.T) {
	clk := clock.NewFake(t0)
	st := storetest.OpenSQLiteClock(t, clk)
	h := &creator{}
	s := &sink{}
	wrapped := newMiddleware(t, st, clk, s).Wrap(h)

	first := post(t, wrapped, "c1", "key-1", body1, "id-1")
	if first.Code != 201 {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	again := post(t, wrapped, "c1", "key-1", body1, "id-2")
	if again.Code != 201 || again.Body.String() != first.Body.String() || again.Header().Get("Location") != first.Header().Get("Location") {
		t.Fatalf("repeat: %d %s %v", again.Code, again.Body, again.Header())
	}
	if again.Header().Get(obie.HeaderInteractionID) != "id-2" {
		t.Fatalf("repeat interaction id %q", again.Header().Get(obie.HeaderInteractionID))
	}
	if h.runs.Load() != 1 {
		t.Fatalf("handler ran %d times", h.runs.Load())
	}

	// Same key, different body: refused, audited, nothing run, the answer unchanged.
	wantOBIE(t, post(t, wrapped, "c1", "key-1", `{"Data":{"Initiation":{"InstructedAmount":{"Amount":"99.00","Currency":"GBP"}}},"Risk":{}}`, ""), 400, obie.CodeHeaderInvalid)
	if h.runs.Load() != 1 || len(s.events) != 1 || s.events[0].Type != TypeKeyReused || s.events[0].ClientID != "c1" || s.events[0].Data["key"] != "key-1" {
		t.Fatalf("runs %d, audit %+v", h.runs.Load(), s.events)
	}
	if again := post(t, wrapped, "c1", "key-1", body1, ""); again.Body.String() != first.Body.String() {
		t.Fatalf("answer changed after a refused reuse: %s", again.Body)
	}

	// Per client: the same key of another client is another request.
	if other := post(t, wrapped, "c2", "key-1", body1, ""); other.Code != 201 || other.Body.String() == first.Body.String() {
		t.Fatalf("other client: %d %s", other.Code, other.Body)
	}
	// After 24 h the key is new again.
	clk.Advance(TTL)
	if later := post(t, wrapped, "c1", "key-1", body1, ""); later.Code != 201 || later.Body.String() == first.Body.String() {
		t.Fatalf("after 24 h: %d %s", later.Code, later.Body)
	}
	if h.runs.Load() != 3 {
		t.Fatalf("handler ran %d times, want 3", h.runs.Load())
	}

	// A 5xx answer is not kept: the retry runs.
	failing := &creator{status: http.StatusServiceUnavailable}
	wf := newMiddleware(t, st, clk, s).Wrap(failing)
	for range 2 {
		if rec := post(t, wf, "c1", "key-5xx", body1, ""); rec.Code != 503 {
			t.Fatalf("failing handler: %d", rec.Code)
		}
	}
	if failing.runs.Load() != 2 {
		t.Fatalf("5xx answers kept: handler ran %d times", failing.runs.Load())
	}
	// A 4xx answer is kept.
	refusing := &creator{status: http.StatusBadRequest}
	wr := newMiddleware(t, st, clk, s).Wrap(refusing)
	post(t, wr, "c1", "key-4xx", body1, "")
	if rec := post(t, wr, "c1", "key-4xx", body1, ""); rec.Code != 400 || refusing.runs.Load() != 1 {
		t.Fatalf("4xx answer: %d, runs %d", rec.Code, refusing.runs.Load())
	}
}

// TestPanicReleases: a handler that panics leaves no claim behind.
func TestPanicReleases(t *testing.T) {
	st := storetest.OpenSQLite(t)
	m := newMiddleware(t, st, clock.Real{}, &sink{})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		post(t, m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })), "c1", "key-p", body1, "")
	}()
	if _, err := st.GetIdempotencyKey(context.Background(), "c1", "key-p"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim after panic: %v", err)
	}
	h := &creator{}
	if rec := post(t, m.Wrap(h), "c1", "key-p", body1, ""); rec.Code != 201 || h.runs.Load() != 1 {
		t.Fatalf("retry after panic: %d", rec.Code)
	}
}

// TestInProgress: a repeat while the first request runs waits for it; past Options.Wait it
// gets 409 with Retry-After; once the first finishes, repeats get its answer.
func TestInProgress(t *testing.T) {
	st := storetest.OpenSQLite(t)
	release := make(chan struct{})
	started := make(chan struct{})
	h := &creator{}
	blocking := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		h.ServeHTTP(w, r)
	})
	m := newMiddleware(t, st, clock.Real{}, &sink{}, func(o *Options) { o.Wait = 30 * time.Millisecond; o.PollInterval = 5 * time.Millisecond })
	wrapped := m.Wrap(blocking)
	firstDone := make(chan *httptest.ResponseRecorder)
	go func() { firstDone <- post(t, wrapped, "c1", "key-w", body1, "") }()
	<-started
	busy := post(t, wrapped, "c1", "key-w", body1, "")
	wantOBIE(t, busy, http.StatusConflict, obie.CodeHeaderInvalid)
	if busy.Header().Get("Retry-After") == "" {
		t.Fatal("409 without Retry-After")
	}
	// A waiting repeat gets the answer once the first finishes.
	patient := newMiddleware(t, st, clock.Real{}, &sink{}, func(o *Options) { o.Wait = time.Minute; o.PollInterval = 5 * time.Millisecond }).Wrap(blocking)
	waited := make(chan *httptest.ResponseRecorder)
	go func() { waited <- post(t, patient, "c1", "key-w", body1, "") }()
	close(release)
	first := <-firstDone
	got := <-waited
	if first.Code != 201 || got.Code != 201 || got.Body.String() != first.Body.String() || h.runs.Load() != 1 {
		t.Fatalf("first %d %s, waiting repeat %d %s, runs %d", first.Code, first.Body, got.Code, got.Body, h.runs.Load())
	}
}

// TestStoreDown: without a working store nothing runs and the answer is 503.
func TestStoreDown(t *testing.T) {
	st := storetest.OpenSQLite(t)
	h := &creator{}
	wrapped := newMiddleware(t, st, clock.Real{}, &sink{}).Wrap(h)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	wantOBIE(t, post(t, wrapped, "c1", "key-d", body1, ""), 503, obie.CodeUnexpectedError)
	if h.runs.Load() != 0 {
		t.Fatal("handler ran without a claim")
	}
}

// claimCounter counts claims across nodes and closes all when n have been made.
type claimCounter struct {
	claims atomic.Int64
	n      int64
	all    chan struct{}
}

// countingStore is a node's store whose claims go through a shared claimCounter: the handler
// of the race below holds the first request until every request has tried to claim the key.
type countingStore struct {
	Store
	c *claimCounter
}

func (s countingStore) ClaimIdempotencyKey(ctx context.Context, rec store.IdempotencyRecord) (store.IdempotencyRecord, bool, error) {
	r, claimed, err := s.Store.ClaimIdempotencyKey(ctx, rec)
	if s.c.claims.Add(1) == s.c.n {
		close(s.c.all)
	}
	return r, claimed, err
}

// TestConcurrentTwoNodes: 20 concurrent identical requests, alternating between two nodes
// (two Store instances on one database), run the handler exactly once; every one of them
// gets that run's answer. The handler holds the first request until all 20 have tried to
// claim the key, so every repeat meets it running. On PostgreSQL (the multi-node database)
// and SQLite.
func TestConcurrentTwoNodes(t *testing.T) {
	const n = 20
	for name, open := range map[string]storetest.PairOpener{"postgres": storetest.OpenPostgresPair, "sqlite": storetest.OpenSQLitePair} {
		t.Run(name, func(t *testing.T) {
			a, b := open(t, clock.Real{})
			counter := &claimCounter{n: n, all: make(chan struct{})}
			h := &creator{}
			holding := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-counter.all:
				case <-time.After(time.Minute):
					t.Error("not every request claimed within a minute")
				}
				h.ServeHTTP(w, r)
			})
			opt := func(o *Options) { o.Wait = 2 * time.Minute; o.PollInterval = 10 * time.Millisecond }
			nodes := []http.Handler{
				newMiddleware(t, countingStore{a, counter}, clock.Real{}, &sink{}, opt).Wrap(holding),
				newMiddleware(t, countingStore{b, counter}, clock.Real{}, &sink{}, opt).Wrap(holding),
			}
			results := make([]*httptest.ResponseRecorder, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					results[i] = post(t, nodes[i%2], "c1", "race-key", body1, "")
				})
			}
			close(start)
			wg.Wait()
			if h.runs.Load() != 1 {
				t.Fatalf("handler ran %d times, want 1", h.runs.Load())
			}
			for i, r := range results {
				if r.Code != 201 || !bytes.Equal(r.Body.Bytes(), results[0].Body.Bytes()) {
					t.Fatalf("request %d: %d %s (first: %s)", i, r.Code, r.Body, results[0].Body)
				}
			}
		})
	}
}
