package audit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

// outageAppender is a fakeBatchAppender whose batch writes fail with store.ErrUnavailable
// while down is set, as the store's do while the database is unreachable.
type outageAppender struct {
	*fakeBatchAppender
	mu       sync.Mutex
	down     bool
	attempts int
}

func (o *outageAppender) AppendAuditBatch(ctx context.Context, events []store.AuditEvent) error {
	o.mu.Lock()
	o.attempts++
	down := o.down
	o.mu.Unlock()
	if down {
		return fmt.Errorf("store: append audit batch: %w: dial tcp 127.0.0.1:5432: connection refused", store.ErrUnavailable)
	}
	return o.fakeBatchAppender.AppendAuditBatch(ctx, events)
}

func (o *outageAppender) set(down bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = down
}

func (o *outageAppender) tries() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.attempts
}

// TestBatchStoreSinkDatabaseOutage: a batch whose write fails because the database is
// unavailable is kept and written, in order, once it is back; nothing is lost or failed.
func TestBatchStoreSinkDatabaseOutage(t *testing.T) {
	a := &outageAppender{fakeBatchAppender: &fakeBatchAppender{}, down: true}
	s, _ := newBatchSink(t, a, BatchOptions{MaxBatch: 2, MaxDelay: time.Millisecond})
	var want []store.AuditEvent
	for i := range 5 {
		e, rec := tokenIssued(i)
		s.Record(requestCtx(), e)
		want = append(want, rec)
	}
	waitFor(t, "the write tried again", func() bool { return a.tries() >= 3 })
	a.set(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_, got, singles := a.snapshot()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("written after the outage (-want +got):\n%s", diff)
	}
	if len(singles) != 0 {
		t.Errorf("unexpected single appends: %v", singles)
	}
	if diff := cmp.Diff(BatchStats{Queued: 5, Written: 5}, s.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestBatchStoreSinkCloseDuringOutage: Close while the database is still unavailable
// returns: the batch is tried once more, then logged and counted as failed.
func TestBatchStoreSinkCloseDuringOutage(t *testing.T) {
	a := &outageAppender{fakeBatchAppender: &fakeBatchAppender{}, down: true}
	s, logs := newBatchSink(t, a, BatchOptions{MaxBatch: 2, MaxDelay: time.Millisecond})
	for i := range 2 {
		e, _ := tokenIssued(i)
		s.Record(requestCtx(), e)
	}
	waitFor(t, "a write attempt", func() bool { return a.tries() >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close during the outage: %v", err)
	}
	if st := s.Stats(); st.Failed != 2 || st.Written != 0 {
		t.Errorf("stats %+v, want 2 failed", st)
	}
	if l := logs.lines(t); len(l) < 2 {
		t.Errorf("%d log lines, want the failed events logged: %v", len(l), l)
	}
}
