package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

// StoreTimeout bounds one append to the store, so a slow or unreachable database
// delays the request that caused the event by at most this much.
const StoreTimeout = 2 * time.Second

// Appender appends to the audit trail; *store.Store implements it.
type Appender interface {
	AppendAudit(ctx context.Context, e store.AuditEvent) error
}

// NewStoreSink returns a Sink that appends each event to a, stamped with clk's time.
// The append runs in the caller's goroutine, detached from the caller's cancellation
// (an event is recorded even if the client has gone) and bounded by [StoreTimeout].
// A failed append, or Data that cannot be encoded, is logged to logger at error level
// with the event, and otherwise ignored.
//
// [NewBatchStoreSink] keeps the append off the caller's path; this one is for callers
// that record rarely (command-line tools) or need the row written before Record returns.
func NewStoreSink(a Appender, clk clock.Clock, logger *slog.Logger) Sink {
	return storeSink{a: a, clk: clk, log: logger}
}

type storeSink struct {
	a   Appender
	clk clock.Clock
	log *slog.Logger
}

func (s storeSink) Record(ctx context.Context, e Event) { s.recordEncoded(ctx, e, nil) }

func (s storeSink) recordEncoded(ctx context.Context, e Event, data json.RawMessage) {
	if rec, ok := s.encode(ctx, e, data); ok {
		s.append(ctx, rec)
	}
}

// encode turns e into the stored record, stamped with the clock's time and the request's
// interaction id; data, when not nil, is e.Data already encoded. Data that cannot be
// encoded is logged, and ok is false.
func (s storeSink) encode(ctx context.Context, e Event, encoded json.RawMessage) (rec store.AuditEvent, ok bool) {
	e = withInteractionID(ctx, e)
	rec = store.AuditEvent{
		Time:          s.clk.Now(),
		Type:          e.Type,
		ClientID:      e.ClientID,
		Subject:       e.Subject,
		InteractionID: e.InteractionID,
	}
	if len(e.Data) > 0 {
		data, err := encodeData(e, encoded)
		if err != nil {
			s.fail(e, "encode data", err)
			return store.AuditEvent{}, false
		}
		rec.Data = data
	}
	return rec, true
}

// append appends rec in the caller's goroutine, detached from ctx's cancellation and bounded
// by StoreTimeout; a failure is logged. It reports whether the event was stored.
func (s storeSink) append(ctx context.Context, rec store.AuditEvent) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StoreTimeout)
	defer cancel()
	if err := s.a.AppendAudit(ctx, rec); err != nil {
		s.failStored(rec, "append", err)
		return false
	}
	return true
}

// fail logs an event that could not be stored, so it survives at least in the log.
func (s storeSink) fail(e Event, op string, err error) {
	s.log.LogAttrs(context.Background(), slog.LevelError, "audit event not stored",
		slog.String("op", op),
		slog.String("error", err.Error()),
		slog.String("type", e.Type),
		slog.String("client_id", e.ClientID),
		slog.String("subject", e.Subject),
		slog.String("interaction_id", e.InteractionID),
		slog.Any("data", e.Data),
	)
}

// failStored is fail for an encoded event: the same attributes, data as the JSON document.
func (s storeSink) failStored(rec store.AuditEvent, op string, err error) {
	s.log.LogAttrs(context.Background(), slog.LevelError, "audit event not stored",
		slog.String("op", op),
		slog.String("error", err.Error()),
		slog.String("type", rec.Type),
		slog.String("client_id", rec.ClientID),
		slog.String("subject", rec.Subject),
		slog.String("interaction_id", rec.InteractionID),
		slog.Time("occurred_at", rec.Time),
		slog.Any("data", rec.Data),
	)
}
