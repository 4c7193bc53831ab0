// Package obs owns observability: the JSON logger, the per-request identifiers
// (request id and x-fapi-interaction-id), the one structured log event per request,
// Prometheus metrics on a private registry, and the ops endpoints /healthz, /readyz and
// /metrics.
//
// It implements FAPI1-RS-04 / OB-09 (fapi.md): every response carries
// x-fapi-interaction-id, echoing the caller's value when it is a UUID and a fresh UUIDv4
// otherwise, set before the handler runs so error responses carry it too; and
// dcr-consent.md's "put it on every log line" through [NewLogger], whose records pick
// the identifiers up from the context.
//
// obs has no protocol logic. It never logs request or response bodies, headers (the
// Authorization header included) or query strings, and its metric labels never hold a
// raw path: routes are net/http ServeMux patterns, so label cardinality is bounded by
// the routes registered.
//
// # Log output
//
// [NewLogger] writes each record as one JSON line in one Write, under the handler's
// lock. Writing to os.Stderr directly makes that a write(2) per line on the request
// goroutine, with every other logging goroutine queued behind it. The server instead
// gives the logger a [LogWriter] over os.Stderr: Write only copies the line into a
// buffer, and one goroutine makes the write(2) calls, one per batch of lines under
// load, at once when idle. The wiring, in main:
//
//	logOut := obs.NewLogWriter(os.Stderr, obs.LogWriterOptions{})
//	logger := obs.NewLogger(logOut, cfg.Log.Level) // the audit logger may share logOut
//	...
//	// On shutdown, last, after the servers have stopped and the final line is logged:
//	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//	defer cancel()
//	_ = logOut.Close(ctx)
//
// A LogWriter never drops a line: if stderr cannot keep up, logging blocks once
// [LogWriterOptions.MaxBuffered] bytes wait. Lines still in its buffer are lost if the
// process ends without Close or Flush (os.Exit, a crash), so every exit path after
// NewLogWriter must close it first; a line logged after Close is written
// synchronously.
package obs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// Log attribute keys used for the request identifiers.
const (
	LogKeyRequestID     = "request_id"
	LogKeyInteractionID = "x-fapi-interaction-id"
)

// ParseLevel parses a log level name: debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("obs: unknown log level %q (want debug, info, warn or error)", s)
}

// NewLogger returns a logger writing JSON lines to w at level (see [ParseLevel]; an
// unknown level means info, config validates it beforehand). Records logged with a
// request's context (InfoContext, LogAttrs, ...) carry its request id and
// x-fapi-interaction-id.
func NewLogger(w io.Writer, level string) *slog.Logger {
	lvl, err := ParseLevel(level)
	if err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(contextHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})})
}

// contextHandler adds the request identifiers from the context to every record that
// does not already carry them.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if st := stateFrom(ctx); st != nil {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == LogKeyRequestID
			return !has
		})
		if !has {
			r.AddAttrs(slog.String(LogKeyRequestID, st.requestID), slog.String(LogKeyInteractionID, st.interactionID))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
