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
func NewStoreSink(a Appender, clk clock.Clock, logger *slog.Logger) Sink {
	return storeSink{a: a, clk: clk, log: logger}
}

type storeSink struct {
	a   Appender
	clk clock.Clock
	log *slog.Logger
}

func (s storeSink) Record(ctx context.Context, e Event) {
	e = withInteractionID(ctx, e)
	rec := store.AuditEvent{
		Time:          s.clk.Now(),
		Type:          e.Type,
		ClientID:      e.ClientID,
		Subject:       e.Subject,
		InteractionID: e.InteractionID,
	}
	if len(e.Data) > 0 {
		data, err := json.Marshal(e.Data)
		if err != nil {
			s.fail(e, "encode data", err)
			return
		}
		rec.Data = data
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StoreTimeout)
	defer cancel()
	if err := s.a.AppendAudit(ctx, rec); err != nil {
		s.fail(e, "append", err)
	}
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
