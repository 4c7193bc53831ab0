// Package admin is the trust boundary of the bank's admin API: the handler served on its own
// listener (listen.admin, loopback by default; INTERFACE.md "Listeners"), apart from the
// mTLS listener every TPP reaches. It owns who may call the admin API and what is recorded
// about each call; the operations themselves (clients, revocation cache, consents …) are
// mounted on [Handler.Mux] by their owners (client.RegisterAdmin and others), and every route
// mounted there is behind the same guard.
//
// The guard, per request, in order:
//
//  1. A client address (the TCP peer's IP) or the whole API that failed to authenticate too
//     often recently is refused with 429 and Retry-After, without even comparing the token
//     (see [Limits]).
//  2. The request must carry "Authorization: Bearer <admin token>" (RFC 6750 §2.1); the token
//     is compared in constant time (of SHA-256 digests, so its length does not leak either).
//     A missing or wrong token is 401 with WWW-Authenticate (RFC 6750 §3) and counts as a
//     failure against the address and the API.
//  3. Otherwise the request goes to the mux.
//
// Every call, allowed or refused, is recorded as one audit.TypeAdminRequest event with the
// method, the path, the remote address, the status and the outcome; never the token.
//
// It refuses to run without a token: an admin API with no credential does not exist
// ([New] fails). It does not terminate TLS (the listener does, with the server certificate
// and no client certificate) and does not render the operations' errors beyond
// [WriteError], the admin edge's one error body shape.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/clock"
)

// MinTokenLen is the shortest admin token [New] accepts (config's admin.token rule).
const MinTokenLen = 32

// maxAuditPath bounds the request path recorded in an audit event (bytes).
const maxAuditPath = 256

// The outcomes recorded in the audit event of a call.
const (
	OutcomeAllowed      = "allowed"      // the token was right; the status is the operation's
	OutcomeUnauthorized = "unauthorized" // no or a wrong token: 401
	OutcomeRateLimited  = "rate_limited" // refused before the token was looked at: 429
)

// Options configure [New].
type Options struct {
	// Token is the admin bearer token. Required, at least [MinTokenLen] bytes.
	Token string
	// Audit records one audit.TypeAdminRequest event per call. Required (audit.Discard
	// records nothing).
	Audit audit.Sink
	// Limits bound failed authentications. Zero fields mean the defaults documented there.
	Limits Limits
	// Clock is the source of now for the limits. Nil means clock.Real.
	Clock clock.Clock
	// Logger receives a warning per refused call (no token in it). Nil discards.
	Logger *slog.Logger
}

// Handler is the guarded admin API. It is safe for concurrent use.
type Handler struct {
	mux    *http.ServeMux
	digest [sha256.Size]byte
	limit  *limiter
	audit  audit.Sink
	log    *slog.Logger
}

// New checks o and returns the admin API handler with an empty mux.
func New(o Options) (*Handler, error) {
	switch {
	case len(o.Token) < MinTokenLen:
		return nil, fmt.Errorf("admin: token must be at least %d characters", MinTokenLen)
	case o.Audit == nil:
		return nil, errors.New("admin: Options.Audit is required")
	}
	lim, err := newLimiter(o.Limits, o.Clock)
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		mux:    http.NewServeMux(),
		digest: sha256.Sum256([]byte(o.Token)),
		limit:  lim,
		audit:  o.Audit,
		log:    log,
	}, nil
}

// Mux is where admin operations are mounted (Go 1.22 patterns, under /admin/). Every route
// on it is reached only through the guard; a path nobody mounted is 404 to an authorised
// caller.
func (h *Handler) Mux() *http.ServeMux { return h.mux }

// ServeHTTP guards the request as the package documentation says and records its audit
// event. Every response carries Cache-Control: no-store.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	addr := clientAddr(r.RemoteAddr)
	if wait, limited := h.limit.limited(addr); limited {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
		WriteError(w, http.StatusTooManyRequests, "too_many_requests", "too many failed admin authentications; retry later")
		h.record(r, http.StatusTooManyRequests, OutcomeRateLimited)
		return
	}
	if !h.authorised(r) {
		h.limit.fail(addr)
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin"`)
			WriteError(w, http.StatusUnauthorized, "invalid_token", "admin token required")
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin", error="invalid_token"`)
			WriteError(w, http.StatusUnauthorized, "invalid_token", "invalid admin token")
		}
		h.record(r, http.StatusUnauthorized, OutcomeUnauthorized)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	h.mux.ServeHTTP(sw, r)
	h.record(r, sw.status, OutcomeAllowed)
}

// authorised reports whether r carries the admin token as a Bearer credential.
func (h *Handler) authorised(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(d[:], h.digest[:]) == 1
}

// record writes the call's audit event, and a warning for a refused call.
func (h *Handler) record(r *http.Request, status int, outcome string) {
	path := r.URL.Path
	if len(path) > maxAuditPath {
		path = path[:maxAuditPath]
	}
	ctx := r.Context()
	h.audit.Record(ctx, audit.Event{Type: audit.TypeAdminRequest, Data: map[string]any{
		"method":      r.Method,
		"path":        path,
		"remote_addr": r.RemoteAddr,
		"status":      status,
		"outcome":     outcome,
	}})
	if outcome != OutcomeAllowed {
		h.log.LogAttrs(ctx, slog.LevelWarn, "admin API: call refused",
			slog.String("outcome", outcome), slog.String("method", r.Method),
			slog.String("path", path), slog.String("remote_addr", r.RemoteAddr))
	}
}

// clientAddr is the IP of a RemoteAddr ("ip:port"), or the whole string when it has no port.
func clientAddr(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// statusWriter remembers the status an operation wrote, for the audit event.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
