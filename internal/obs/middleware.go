package obs

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// maxLoggedPath bounds the request path copied into the request log event.
const maxLoggedPath = 256

// Middleware returns the outermost request middleware. Per request it
//
//   - assigns a fresh request id;
//   - takes the x-fapi-interaction-id the caller sent if it is exactly one UUID and
//     generates a UUIDv4 otherwise (FAPI1-RS-04), stores it on the request header (so
//     anything forwarding the request forwards the checked value) and sets it on the
//     response header before calling next, so every response carries it, whatever
//     status next writes;
//   - makes both ids available through [InteractionID] and [RequestID], and collects
//     [Annotate] attributes;
//   - after next returns (or panics), writes one log event "request" with method,
//     route, path (no query string), status, bytes written, duration, remote address,
//     both ids and the annotations, at info level, or error for 5xx and panics; and
//     records it in m (m may be nil).
//
// The route is the ServeMux pattern that matched (r.Pattern, set by net/http's
// ServeMux on the request it is given). Wrap the ServeMux directly, or through
// middleware that passes the same *http.Request on; middleware in between that
// replaces the request (r.WithContext) hides the pattern and the route is recorded
// as "unmatched", as are requests refused before routing (404, 405, and the 413 of
// httpserver's body limit for a declared oversize body).
//
// Durations are measured on the monotonic clock for metrics only; they never feed a
// decision.
func Middleware(logger *slog.Logger, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			st := &state{requestID: newUUID(), interactionID: interactionID(r.Header)}
			if v := r.Header[HeaderInteractionID]; len(v) != 1 || v[0] != st.interactionID {
				r.Header.Set(HeaderInteractionID, st.interactionID) // a replaced or missing caller's value
			}
			w.Header().Set(HeaderInteractionID, st.interactionID)
			rec := &recorder{ResponseWriter: w}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, st))

			defer func() {
				p := recover()
				status := rec.status
				if status == 0 {
					status = http.StatusOK
					if p != nil {
						// The client sees an aborted response; count it as a failure.
						status = http.StatusInternalServerError
					}
				}
				d := time.Since(start)
				if m != nil {
					m.observe(r.Pattern, r.Method, status, d)
				}
				logRequest(logger, r, st, status, rec.bytes, d, p != nil)
				if p != nil {
					panic(p)
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

func logRequest(logger *slog.Logger, r *http.Request, st *state, status int, bytes int64, d time.Duration, panicked bool) {
	level := slog.LevelInfo
	if status >= 500 || panicked {
		level = slog.LevelError
	}
	ctx := r.Context()
	h := logger.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	route := r.Pattern
	if route == "" {
		route = RouteUnmatched
	}
	path := r.URL.EscapedPath()
	if len(path) > maxLoggedPath {
		path = path[:maxLoggedPath] + "…"
	}
	// Room for every attribute, annotations included, so the slice stays on the stack
	// (AddAttrs copies it into the record).
	var buf [10 + maxAnnotations]slog.Attr
	attrs := append(buf[:0],
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Int64("bytes", bytes),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("remote_addr", r.RemoteAddr),
		slog.String(LogKeyRequestID, st.requestID),
		slog.String(LogKeyInteractionID, st.interactionID),
	)
	if panicked {
		attrs = append(attrs, slog.Bool("panic", true))
	}
	attrs = st.appendAnnotations(attrs)
	// The record is built here rather than through logger.LogAttrs, which spends a
	// runtime.Callers on the source position (never logged: NewLogger does not set
	// AddSource, and it would point here anyway). It already carries both ids, so
	// contextHandler's search for them is skipped too. The output is the same.
	if ch, ok := h.(contextHandler); ok {
		h = ch.Handler
	}
	rec := slog.NewRecord(time.Now(), level, "request", 0)
	rec.AddAttrs(attrs...)
	_ = h.Handle(ctx, rec)
}

// recorder captures the status and size of a response. It passes everything through,
// and Unwrap lets http.ResponseController reach the connection's optional
// capabilities (flush, hijack, deadlines).
type recorder struct {
	http.ResponseWriter
	status int // final status; 0 until written
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	// 1xx responses other than 101 are informational; the final status follows.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher for handlers that assert it instead of using
// http.ResponseController.
func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
