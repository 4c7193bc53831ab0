package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// fakeBatchAppender records batches and single appends. When gate is set, a batch write
// signals entered and then waits until gate is closed.
type fakeBatchAppender struct {
	mu       sync.Mutex
	batches  [][]store.AuditEvent
	singles  []store.AuditEvent
	batchErr error
	// singleErr, when set, decides the error of a single append.
	singleErr func(store.AuditEvent) error
	gate      chan struct{}
	entered   chan struct{}
}

func (f *fakeBatchAppender) AppendAuditBatch(ctx context.Context, events []store.AuditEvent) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("batch write without a deadline")
	}
	if f.gate != nil {
		f.entered <- struct{}{}
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.batchErr != nil {
		return f.batchErr
	}
	f.batches = append(f.batches, append([]store.AuditEvent(nil), events...))
	return nil
}

func (f *fakeBatchAppender) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	if _, ok := ctx.Deadline(); !ok || ctx.Err() != nil {
		return errors.New("single append without a live, bounded context")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.singleErr != nil {
		if err := f.singleErr(e); err != nil {
			return err
		}
	}
	f.singles = append(f.singles, e)
	return nil
}

// snapshot returns the batch sizes, every event written in batches, then the single appends.
func (f *fakeBatchAppender) snapshot() (sizes []int, batched, singles []store.AuditEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches {
		sizes = append(sizes, len(b))
		batched = append(batched, b...)
	}
	return sizes, batched, append([]store.AuditEvent(nil), f.singles...)
}

// lockedBuffer is a log destination written by the sink's goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the JSON log lines written so far.
func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// waitFor polls cond until it holds, for at most 5 s: the sink writes in its own goroutine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

var batchNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// newBatchSink returns a sink over a with o, closed at the end of the test.
func newBatchSink(t *testing.T, a BatchAppender, o BatchOptions) (*BatchStoreSink, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	s, err := NewBatchStoreSink(a, clock.NewFake(batchNow), slog.New(slog.NewJSONHandler(logs, nil)), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, logs
}

// tokenIssued is the i-th test event and the record it must become.
func tokenIssued(i int) (Event, store.AuditEvent) {
	e := Event{Type: TypeTokenIssued, ClientID: fmt.Sprint("tpp-", i), Data: map[string]any{"jti": fmt.Sprint("at-", i)}}
	return e, store.AuditEvent{Time: batchNow, Type: TypeTokenIssued, ClientID: e.ClientID, InteractionID: requestIID,
		Data: json.RawMessage(fmt.Sprintf(`{"jti":"at-%d"}`, i))}
}

// TestBatchStoreSinkBatches: events are written in order, in batches of MaxBatch as soon as
// a batch is full, the rest on Flush; each stamped with the clock and the request's id.
func TestBatchStoreSinkBatches(t *testing.T) {
	a := &fakeBatchAppender{}
	s, logs := newBatchSink(t, a, BatchOptions{MaxBatch: 3, MaxDelay: MaxDelayLimit})
	var want []store.AuditEvent
	for i := range 7 {
		e, rec := tokenIssued(i)
		s.Record(requestCtx(), e)
		want = append(want, rec)
	}
	// Two full batches are written without a Flush; the seventh event waits for its batch.
	waitFor(t, "two full batches", func() bool { sizes, _, _ := a.snapshot(); return len(sizes) == 2 })
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	sizes, got, singles := a.snapshot()
	if diff := cmp.Diff([]int{3, 3, 1}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	if len(singles) != 0 {
		t.Errorf("unexpected single appends: %v", singles)
	}
	if diff := cmp.Diff(BatchStats{Queued: 7, Written: 7}, s.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if l := logs.lines(t); len(l) != 0 {
		t.Errorf("unexpected log lines: %v", l)
	}
}

// TestBatchStoreSinkMaxDelay: a batch that does not fill up is written MaxDelay after its
// first event, without a Flush.
func TestBatchStoreSinkMaxDelay(t *testing.T) {
	a := &fakeBatchAppender{}
	s, _ := newBatchSink(t, a, BatchOptions{MaxDelay: time.Millisecond})
	e, rec := tokenIssued(1)
	s.Record(requestCtx(), e)
	waitFor(t, "the delayed batch", func() bool { sizes, _, _ := a.snapshot(); return len(sizes) == 1 })
	if _, got, _ := a.snapshot(); !cmp.Equal([]store.AuditEvent{rec}, got) {
		t.Errorf("written = %v, want %v", got, rec)
	}
}

// TestBatchStoreSinkFullQueue: when the queue is full, Record appends the event itself
// before returning (not dropped, not queued); queued events are written once the store
// answers again.
func TestBatchStoreSinkFullQueue(t *testing.T) {
	a := &fakeBatchAppender{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	s, _ := newBatchSink(t, a, BatchOptions{QueueSize: 1, MaxBatch: 1})
	e1, r1 := tokenIssued(1)
	e2, r2 := tokenIssued(2)
	e3, r3 := tokenIssued(3)
	s.Record(requestCtx(), e1)
	<-a.entered // the writer holds e1 and waits for the store
	s.Record(requestCtx(), e2)
	s.Record(requestCtx(), e3) // the queue (one slot) holds e2: e3 is appended directly
	if _, _, singles := a.snapshot(); !cmp.Equal([]store.AuditEvent{r3}, singles) {
		t.Fatalf("direct appends = %v, want only the third event", singles)
	}
	close(a.gate)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := a.snapshot(); !cmp.Equal([]store.AuditEvent{r1, r2}, got) {
		t.Errorf("batched = %v, want the first two events", got)
	}
	if diff := cmp.Diff(BatchStats{Queued: 2, Written: 2, Direct: 1}, s.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestBatchStoreSinkClose: Close writes what is queued; afterwards Record appends
// synchronously, Flush and Close return at once.
func TestBatchStoreSinkClose(t *testing.T) {
	a := &fakeBatchAppender{}
	s, _ := newBatchSink(t, a, BatchOptions{MaxDelay: MaxDelayLimit})
	var want []store.AuditEvent
	for i := range 5 {
		e, rec := tokenIssued(i)
		s.Record(requestCtx(), e)
		want = append(want, rec)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := a.snapshot(); !cmp.Equal(want, got) {
		t.Fatalf("written at Close = %v, want %v", got, want)
	}
	e, late := tokenIssued(9)
	s.Record(requestCtx(), e)
	if _, _, singles := a.snapshot(); !cmp.Equal([]store.AuditEvent{late}, singles) {
		t.Errorf("event after Close: direct appends = %v, want %v", singles, late)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Close = %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if diff := cmp.Diff(BatchStats{Queued: 5, Written: 5, Direct: 1}, s.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestBatchStoreSinkCloseDeadline: Close reports a write still running when its context
// ends; a later Close waits for it.
func TestBatchStoreSinkCloseDeadline(t *testing.T) {
	a := &fakeBatchAppender{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	s, _ := newBatchSink(t, a, BatchOptions{MaxBatch: 1})
	e, rec := tokenIssued(1)
	s.Record(requestCtx(), e)
	<-a.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with an ended context = %v, want context.Canceled", err)
	}
	if err := s.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush with an ended context = %v, want context.Canceled", err)
	}
	close(a.gate)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := a.snapshot(); !cmp.Equal([]store.AuditEvent{rec}, got) {
		t.Errorf("written = %v, want %v", got, rec)
	}
}

// TestBatchStoreSinkFailures: what is lost is logged, and only that.
func TestBatchStoreSinkFailures(t *testing.T) {
	errDown := errors.New("database down")
	tests := []struct {
		name      string
		appender  *fakeBatchAppender
		events    []Event
		singles   []string // client ids appended one by one
		logged    []string // client ids logged as not stored
		op        string
		wantStats BatchStats
	}{
		{
			name: "one invalid event: the others are appended one by one",
			appender: &fakeBatchAppender{batchErr: store.ErrInvalidInput, singleErr: func(e store.AuditEvent) error {
				if e.ClientID == "bad" {
					return store.ErrInvalidInput
				}
				return nil
			}},
			events:    []Event{{Type: TypeTokenIssued, ClientID: "a"}, {Type: TypeTokenIssued, ClientID: "bad"}, {Type: TypeTokenIssued, ClientID: "c"}},
			singles:   []string{"a", "c"},
			logged:    []string{"bad"},
			op:        "append",
			wantStats: BatchStats{Queued: 3, Written: 2, Failed: 1},
		},
		{
			name:      "store failure: the batch is logged",
			appender:  &fakeBatchAppender{batchErr: errDown},
			events:    []Event{{Type: TypeTokenIssued, ClientID: "a"}, {Type: TypeConsentRevoked, ClientID: "b"}},
			logged:    []string{"a", "b"},
			op:        "append batch",
			wantStats: BatchStats{Queued: 2, Failed: 2},
		},
		{
			name:      "unencodable data: never queued",
			appender:  &fakeBatchAppender{},
			events:    []Event{{Type: TypeTokenIssued, ClientID: "a", Data: map[string]any{"f": func() {}}}},
			logged:    []string{"a"},
			op:        "encode data",
			wantStats: BatchStats{Failed: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newBatchSink(t, tt.appender, BatchOptions{MaxDelay: MaxDelayLimit})
			for _, e := range tt.events {
				s.Record(requestCtx(), e)
			}
			if err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, batched, singles := tt.appender.snapshot()
			if len(batched) != 0 {
				t.Errorf("batched = %v, want none", batched)
			}
			var singleIDs []string
			for _, e := range singles {
				singleIDs = append(singleIDs, e.ClientID)
			}
			if diff := cmp.Diff(tt.singles, singleIDs); diff != "" {
				t.Errorf("single appends (-want +got):\n%s", diff)
			}
			var loggedIDs []string
			for _, l := range logs.lines(t) {
				if l["level"] != "ERROR" || l["msg"] != "audit event not stored" || l["op"] != tt.op || l["interaction_id"] != requestIID {
					t.Errorf("log line = %v", l)
				}
				loggedIDs = append(loggedIDs, fmt.Sprint(l["client_id"]))
			}
			if diff := cmp.Diff(tt.logged, loggedIDs); diff != "" {
				t.Errorf("logged as not stored (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStats, s.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewBatchStoreSinkRefuses(t *testing.T) {
	tests := []struct {
		name string
		a    BatchAppender
		o    BatchOptions
	}{
		{"no appender", nil, BatchOptions{}},
		{"negative queue", &fakeBatchAppender{}, BatchOptions{QueueSize: -1}},
		{"negative batch", &fakeBatchAppender{}, BatchOptions{MaxBatch: -1}},
		{"batch above the store's limit", &fakeBatchAppender{}, BatchOptions{MaxBatch: store.MaxAuditBatch + 1}},
		{"negative delay", &fakeBatchAppender{}, BatchOptions{MaxDelay: -time.Millisecond}},
		{"delay above the limit", &fakeBatchAppender{}, BatchOptions{MaxDelay: MaxDelayLimit + time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewBatchStoreSink(tt.a, nil, nil, tt.o)
			if !errors.Is(err, ErrBatchOptions) {
				if s != nil {
					s.Close(context.Background())
				}
				t.Fatalf("NewBatchStoreSink = %v, want ErrBatchOptions", err)
			}
		})
	}
}

// *store.Store is the production BatchAppender.
var _ BatchAppender = (*store.Store)(nil)

// TestBatchStoreSinkStore: against a real SQLite store, every event recorded before Close is
// in the audit trail afterwards, in order.
func TestBatchStoreSinkStore(t *testing.T) {
	st := storetest.OpenSQLite(t)
	s, err := NewBatchStoreSink(st, clock.NewFake(batchNow), slog.New(slog.DiscardHandler), BatchOptions{MaxBatch: 64, MaxDelay: MaxDelayLimit})
	if err != nil {
		t.Fatal(err)
	}
	var want []store.AuditEvent
	for i := range 300 {
		e, rec := tokenIssued(i)
		s.Record(requestCtx(), e)
		want = append(want, rec)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.AuditEvent{}, "ID")); diff != "" {
		t.Errorf("audit trail (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(BatchStats{Queued: 300, Written: 300}, s.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}
