package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

// Defaults and bounds of [BatchOptions].
const (
	// DefaultQueueSize is how many events may wait to be written.
	DefaultQueueSize = 4096
	// DefaultMaxBatch is how many events one write (one transaction) carries at most.
	DefaultMaxBatch = 256
	// DefaultMaxDelay is how long the first event of a batch waits for more to join it.
	DefaultMaxDelay = 50 * time.Millisecond
	// MaxDelayLimit is the longest MaxDelay [NewBatchStoreSink] accepts.
	MaxDelayLimit = 5 * time.Second
	// BatchTimeout bounds the write of one batch.
	BatchTimeout = 10 * time.Second
)

// ErrBatchOptions is returned by [NewBatchStoreSink] for invalid [BatchOptions] or a
// missing appender.
var ErrBatchOptions = errors.New("audit: invalid batch store sink options")

// BatchAppender appends to the audit trail one event or a batch of them;
// *store.Store implements it. AppendAuditBatch writes every event or none, and returns
// an error matching store.ErrInvalidInput, having written nothing, when one of them is
// invalid.
type BatchAppender interface {
	Appender
	AppendAuditBatch(ctx context.Context, events []store.AuditEvent) error
}

// BatchOptions configure [NewBatchStoreSink]. The zero value is valid.
type BatchOptions struct {
	// QueueSize bounds the events waiting to be written. Zero means [DefaultQueueSize].
	QueueSize int
	// MaxBatch bounds the events of one write. Zero means [DefaultMaxBatch]; at most
	// store.MaxAuditBatch.
	MaxBatch int
	// MaxDelay is how long an event may wait for others before its batch is written.
	// Zero means [DefaultMaxDelay]; at most [MaxDelayLimit].
	MaxDelay time.Duration
}

// BatchStats counts what a [BatchStoreSink] did with the events it was given.
type BatchStats struct {
	// Queued events went through the queue; Written of them are in the store.
	Queued, Written uint64
	// Direct events were appended in the recording goroutine, because the queue was full
	// or the sink closed ([BatchStoreSink.Record]).
	Direct uint64
	// Failed events could not be stored (logged at error level with the event).
	Failed uint64
}

// BatchStoreSink is a Sink that appends events to the store off the request path, many
// per transaction (group commit). See [NewBatchStoreSink].
type BatchStoreSink struct {
	direct   storeSink
	a        BatchAppender
	maxBatch int
	maxDelay time.Duration

	q        chan store.AuditEvent
	flushReq chan chan struct{}
	stop     chan struct{}
	done     chan struct{}

	mu     sync.RWMutex // held for reading while sending to q, for writing to close
	closed bool

	queued, written, directN, failed atomic.Uint64
}

// NewBatchStoreSink returns a Sink that appends events to a asynchronously, and starts the
// goroutine that writes them; [BatchStoreSink.Close] stops it.
//
// Record stamps the event with clk's time and the request's interaction id, encodes its
// Data (logging and dropping an event whose Data cannot be encoded, as [NewStoreSink]
// does) and puts it on a bounded queue. One goroutine takes events off the queue and
// writes them with AppendAuditBatch, in the order they were queued, one transaction per
// batch: a batch is written when it holds MaxBatch events, MaxDelay after its first event
// was taken, on [BatchStoreSink.Flush] and on [BatchStoreSink.Close]. So an event reaches
// the database at most about MaxDelay after Record returns, and the request that caused
// it never waits for the database.
//
// Nothing is dropped silently. The trade-offs, each chosen to fail safe:
//
//   - a full queue (the database cannot keep up, or is down): Record appends that event
//     itself, synchronously, bounded by [StoreTimeout] — the request waits, as it would
//     with [NewStoreSink], instead of the event being lost; counted in [BatchStats].Direct;
//   - a batch refused because one event is invalid (store.ErrInvalidInput): its events
//     are appended one by one, so only the invalid one is lost, and it is logged;
//   - a write that failed because the database is unavailable (store.ErrUnavailable: down,
//     restarting, unreachable): the batch is kept and written again, in order, with a
//     back-off of 50 ms to 2 s, until the database is back; later events wait in the queue
//     meanwhile (and once it is full, Record appends them itself, as above). A batch whose
//     commit was made but not acknowledged is then written twice: an audit event may be
//     duplicated by an outage, never lost to it. When the sink is closing it makes one
//     last attempt, then fails as below;
//   - any other failed write: every event of the batch is logged at error level with its
//     content, as NewStoreSink logs a failed append (no retry: the next batches go on);
//   - events still queued when the process stops are written by Close; an event recorded
//     after Close is appended synchronously. A crash (kill -9, power loss) loses the
//     events queued but not yet written: at most QueueSize, and at most MaxDelay old.
//     Their log-sink lines (when [Multi] pairs this sink with [NewLogSink]) were written.
//   - an event appended directly (full queue) may get a lower ID than events queued
//     before it; its Time is still when it was recorded.
//
// A nil clk means clock.Real, a nil logger discards. It returns [ErrBatchOptions] for a nil
// appender or options out of bounds.
func NewBatchStoreSink(a BatchAppender, clk clock.Clock, logger *slog.Logger, o BatchOptions) (*BatchStoreSink, error) {
	switch {
	case a == nil:
		return nil, fmt.Errorf("%w: no appender", ErrBatchOptions)
	case o.QueueSize < 0:
		return nil, fmt.Errorf("%w: QueueSize must not be negative", ErrBatchOptions)
	case o.MaxBatch < 0 || o.MaxBatch > store.MaxAuditBatch:
		return nil, fmt.Errorf("%w: MaxBatch must be between 0 and %d", ErrBatchOptions, store.MaxAuditBatch)
	case o.MaxDelay < 0 || o.MaxDelay > MaxDelayLimit:
		return nil, fmt.Errorf("%w: MaxDelay must be between 0 and %v", ErrBatchOptions, MaxDelayLimit)
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &BatchStoreSink{
		direct:   storeSink{a: a, clk: clk, log: logger},
		a:        a,
		maxBatch: o.MaxBatch,
		maxDelay: o.MaxDelay,
		q:        make(chan store.AuditEvent, o.QueueSize),
		flushReq: make(chan chan struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go s.run()
	return s, nil
}

// Record queues e to be written; see [NewBatchStoreSink]. It never waits for the database
// unless the queue is full or the sink is closed, then it appends e itself.
func (s *BatchStoreSink) Record(ctx context.Context, e Event) { s.recordEncoded(ctx, e, nil) }

func (s *BatchStoreSink) recordEncoded(ctx context.Context, e Event, data json.RawMessage) {
	rec, ok := s.direct.encode(ctx, e, data)
	if !ok {
		s.failed.Add(1)
		return
	}
	s.mu.RLock()
	if !s.closed {
		select {
		case s.q <- rec:
			s.mu.RUnlock()
			s.queued.Add(1)
			return
		default:
		}
	}
	s.mu.RUnlock()
	s.directN.Add(1)
	if !s.direct.append(ctx, rec) {
		s.failed.Add(1)
	}
}

// Flush returns once every event queued before the call has been written (or, having
// failed, logged), or with ctx's error. After Close it returns nil at once: Close wrote
// everything.
func (s *BatchStoreSink) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case s.flushReq <- ack:
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops queueing (later events are appended synchronously by Record), writes every
// queued event and stops the writing goroutine. It returns ctx's error if that takes
// longer than ctx allows; the goroutine then still finishes its work in the background.
// Calling Close again waits again.
func (s *BatchStoreSink) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: events still being written at close: %w", ctx.Err())
	}
}

// Stats returns the counters so far.
func (s *BatchStoreSink) Stats() BatchStats {
	return BatchStats{Queued: s.queued.Load(), Written: s.written.Load(), Direct: s.directN.Load(), Failed: s.failed.Load()}
}

// run is the writing goroutine: it collects queued events into batches and writes them.
func (s *BatchStoreSink) run() {
	defer close(s.done)
	batch := make([]store.AuditEvent, 0, s.maxBatch)
	timer := time.NewTimer(s.maxDelay)
	timer.Stop()
	defer timer.Stop()
	var due <-chan time.Time // the timer's channel while a batch is open, else nil
	flush := func() {
		if len(batch) > 0 {
			s.write(batch)
			clear(batch) // drop references to the written events
			batch = batch[:0]
		}
		timer.Stop()
		due = nil
	}
	add := func(rec store.AuditEvent) {
		batch = append(batch, rec)
		switch {
		case len(batch) >= s.maxBatch:
			flush()
		case len(batch) == 1:
			timer.Reset(s.maxDelay)
			due = timer.C
		}
	}
	// drain adds the events queued so far: for Flush, every event queued before it was
	// called; for Close, which has closed the queue to new events, all of them.
	drain := func() {
		for range len(s.q) {
			add(<-s.q)
		}
	}
	for {
		select {
		case rec := <-s.q:
			add(rec)
		case <-due:
			flush()
		case ack := <-s.flushReq:
			drain()
			flush()
			close(ack)
		case <-s.stop:
			drain()
			flush()
			return
		}
	}
}

// Retry back-off of a batch whose write failed because the database is unavailable.
const (
	retryMinBackoff = 50 * time.Millisecond
	retryMaxBackoff = 2 * time.Second
)

// write stores one batch, each attempt bounded by BatchTimeout; see NewBatchStoreSink for
// failures. While the database is unavailable (store.ErrUnavailable) it keeps the batch and
// tries again, with a back-off from 50 ms to 2 s, until the write succeeds or the sink is
// closing (then one last attempt).
func (s *BatchStoreSink) write(batch []store.AuditEvent) {
	err := s.appendBatch(batch)
	if errors.Is(err, store.ErrUnavailable) && !s.closing() {
		s.direct.log.Warn("audit: database unavailable; the batch is kept and written once it is back",
			slog.Int("events", len(batch)), slog.String("error", err.Error()))
	}
	for backoff := retryMinBackoff; errors.Is(err, store.ErrUnavailable) && !s.closing(); backoff = min(2*backoff, retryMaxBackoff) {
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
		}
		err = s.appendBatch(batch)
	}
	switch {
	case err == nil:
		s.written.Add(uint64(len(batch)))
	case errors.Is(err, store.ErrInvalidInput):
		// One event is refused: store the others one by one, so only it is lost (logged).
		for _, rec := range batch {
			if s.direct.append(context.Background(), rec) {
				s.written.Add(1)
			} else {
				s.failed.Add(1)
			}
		}
	default:
		for _, rec := range batch {
			s.direct.failStored(rec, "append batch", err)
		}
		s.failed.Add(uint64(len(batch)))
	}
}

// appendBatch is one attempt at writing batch, bounded by BatchTimeout.
func (s *BatchStoreSink) appendBatch(batch []store.AuditEvent) error {
	ctx, cancel := context.WithTimeout(context.Background(), BatchTimeout)
	defer cancel()
	return s.a.AppendAuditBatch(ctx, batch)
}

// closing reports whether Close has been called.
func (s *BatchStoreSink) closing() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}
