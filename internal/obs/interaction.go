package obs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
)

// HeaderInteractionID is the FAPI interaction id header (FAPI1-RS-04).
const HeaderInteractionID = "X-Fapi-Interaction-Id"

// maxAnnotations bounds the attributes [Annotate] keeps per request.
const maxAnnotations = 32

// state is what the middleware keeps per request. The ids never change once set;
// attrs grows through Annotate.
type state struct {
	requestID     string
	interactionID string

	mu    sync.Mutex
	attrs []slog.Attr
}

type ctxKey struct{}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(ctxKey{}).(*state)
	return st
}

// NewContext returns a context carrying the given identifiers, for work that does not
// pass through [Middleware] (command-line actions, background jobs, tests). An empty
// interactionID is replaced by a fresh UUIDv4, an empty requestID likewise.
func NewContext(ctx context.Context, requestID, interactionID string) context.Context {
	if requestID == "" {
		requestID = newUUID()
	}
	if interactionID == "" {
		interactionID = newUUID()
	}
	return context.WithValue(ctx, ctxKey{}, &state{requestID: requestID, interactionID: interactionID})
}

// InteractionID returns the x-fapi-interaction-id of the request ctx belongs to, or ""
// outside a request.
func InteractionID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.interactionID
	}
	return ""
}

// RequestID returns the id [Middleware] assigned to the request ctx belongs to, or ""
// outside a request. Unlike the interaction id it is always generated here.
func RequestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.requestID
	}
	return ""
}

// Annotate adds attributes (such as client_id or consent_id) to the request's log
// event. It is safe for concurrent use and a no-op outside a request; attributes
// beyond 32 per request are dropped. Never annotate secrets: tokens, codes,
// assertions, passwords.
func Annotate(ctx context.Context, attrs ...slog.Attr) {
	st := stateFrom(ctx)
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	room := maxAnnotations - len(st.attrs)
	if room <= 0 {
		return
	}
	st.attrs = append(st.attrs, attrs[:min(len(attrs), room)]...)
}

// appendAnnotations appends the request's annotations to dst.
func (st *state) appendAnnotations(dst []slog.Attr) []slog.Attr {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append(dst, st.attrs...)
}

// interactionID returns the caller's x-fapi-interaction-id if the request carries
// exactly one and it is a UUID, and a fresh UUIDv4 otherwise (FAPI1-RS-04).
func interactionID(h http.Header) string {
	if v := h.Values(HeaderInteractionID); len(v) == 1 && isUUID(v[0]) {
		return v[0]
	}
	return newUUID()
}

// isUUID reports whether s is an RFC 9562 (RFC 4122) UUID in its 36-character text
// form, in either case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID, RFC 9562 §5.4.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
