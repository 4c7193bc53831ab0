package audit

import (
	"context"
	"encoding/json"
	"log/slog"
)

// NewLogSink returns a Sink that writes each event to logger as one record at info
// level with the message "audit" and the stable attributes
//
//	"audit": true, "type", "client_id", "subject", "interaction_id", "data"
//
// Give it a logger of its own (a separate JSON stream) so audit lines can be shipped
// apart from request logs.
func NewLogSink(logger *slog.Logger) Sink {
	return logSink{logger: logger.With(slog.Bool("audit", true))}
}

type logSink struct{ logger *slog.Logger }

func (s logSink) Record(ctx context.Context, e Event) { s.recordEncoded(ctx, e, nil) }

func (s logSink) recordEncoded(ctx context.Context, e Event, encoded json.RawMessage) {
	e = withInteractionID(ctx, e)
	// The data as encoded once by Multi, when it did (the same JSON a JSON handler would
	// write for the map).
	var data any = e.Data
	if encoded != nil {
		data = encodedJSON(encoded)
	}
	// The schema is exactly the event: logged without ctx so that context-aware
	// handlers add nothing.
	s.logger.LogAttrs(context.Background(), slog.LevelInfo, "audit",
		slog.String("type", e.Type),
		slog.String("client_id", e.ClientID),
		slog.String("subject", e.Subject),
		slog.String("interaction_id", e.InteractionID),
		slog.Any("data", data),
	)
}

// encodedJSON is an already encoded JSON value as a log attribute: written as is by a JSON
// handler, as its text by a text handler.
type encodedJSON []byte

func (j encodedJSON) MarshalJSON() ([]byte, error) { return j, nil }
func (j encodedJSON) MarshalText() ([]byte, error) { return j, nil }
