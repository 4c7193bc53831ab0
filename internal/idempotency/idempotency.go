// Package idempotency owns the x-idempotency-key of the Open Banking POSTs the OBIE marks
// idempotent (payment consents, payments, VRP consents, funds-confirmation consents …;
// dcr-consent.md §2.4, fapi.md OB-10): [Middleware.Wrap] runs the wrapped handler at most once
// per (client, key) within 24 h, and answers every repeat with the first answer.
//
// The contract, per request to a wrapped POST route:
//
//   - the header is required: absent → 400 UK.OBIE.Header.Missing; more than one value,
//     longer than 40 characters, not printable ASCII, or with leading or trailing white
//     space → 400 UK.OBIE.Header.Invalid (Path x-idempotency-key); other methods pass
//     through untouched;
//   - keys are scoped per client (the Client hook says which; it failing is 401): the same
//     key of two clients is two keys;
//   - the first request claims the key in the store atomically (INSERT … ON CONFLICT, see
//     store.Store.ClaimIdempotencyKey) before its handler runs, so among any number of
//     concurrent requests on any number of nodes sharing the database exactly one runs the
//     handler;
//   - its answer (status, headers except x-fapi-interaction-id, x-jws-signature, Date and
//     Content-Length, and body) is kept for 24 h; a 5xx answer is not kept (the claim is
//     released, so a retry runs afresh), nor is an answer the handler did not finish
//     (panic);
//   - a repeat with the same request — same method, path and body (SHA-256) — gets the kept
//     answer, with its own x-fapi-interaction-id; a repeat that arrives while the first is
//     still running waits for it (polling the store, at most Options.Wait), then gets the
//     answer, or 409 UK.OBIE.Header.Invalid with Retry-After when the first has not finished;
//   - a repeat with a different request is refused with 400 UK.OBIE.Header.Invalid and
//     an audit event ([TypeKeyReused]); nothing is run and the kept answer is unchanged;
//   - when the store cannot answer: 503 UK.OBIE.UnexpectedError, never a run without a claim.
//
// Place it inside the x-jws-signature middleware (obsig.Middleware.Require wrapping Wrap
// wrapping the handler): the signature of each request is verified, and each answer —
// replays included — is signed afresh.
package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/store"
)

// HeaderKey is the idempotency header (canonical form).
const HeaderKey = "X-Idempotency-Key"

// Limits and defaults.
const (
	// MaxKeyLength is the longest key accepted (OBIE: 40 characters).
	MaxKeyLength = 40
	// TTL is how long a key and its answer are kept (OBIE: 24 hours).
	TTL = 24 * time.Hour
	// DefaultWait is Options.Wait when zero.
	DefaultWait = 10 * time.Second
	// DefaultPollInterval is Options.PollInterval when zero.
	DefaultPollInterval = 50 * time.Millisecond
	// DefaultMaxBodyBytes is Options.MaxBodyBytes when zero.
	DefaultMaxBodyBytes = 1 << 20
)

// TypeKeyReused is the audit event of a key sent again with a different request. Data has
// key (the idempotency key, not a secret), method and path.
const TypeKeyReused = "idempotency.key_reused"

// Store is the persistence the middleware needs: *store.Store.
type Store interface {
	ClaimIdempotencyKey(ctx context.Context, rec store.IdempotencyRecord) (store.IdempotencyRecord, bool, error)
	GetIdempotencyKey(ctx context.Context, clientID, key string) (store.IdempotencyRecord, error)
	CompleteIdempotencyKey(ctx context.Context, clientID, key, owner string, status int, headers map[string][]string, body []byte) error
	ReleaseIdempotencyKey(ctx context.Context, clientID, key, owner string) error
}

// Options configure [New].
type Options struct {
	// Store keeps keys and answers. Required.
	Store Store
	// ClientID names the client that sent r (authenticated by an earlier stage or by the
	// hook from r's credentials). An error is answered 401. Required.
	ClientID func(r *http.Request) (string, error)
	// Audit receives [TypeKeyReused] events. Nil discards.
	Audit audit.Sink
	// Clock dates claims; nil means clock.Real. It must agree with the store's clock.
	Clock clock.Clock
	// Wait bounds how long a repeat waits for the first request to finish. Zero means
	// DefaultWait.
	Wait time.Duration
	// PollInterval is how often a waiting repeat reads the store. Zero means
	// DefaultPollInterval.
	PollInterval time.Duration
	// MaxBodyBytes bounds the request body (413 beyond). Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives store failures and unkept answers. Nil discards.
	Logger *slog.Logger
}

// Middleware enforces x-idempotency-key. Safe for concurrent use.
type Middleware struct {
	opts Options
}

// New checks opts and returns a Middleware.
func New(opts Options) (*Middleware, error) {
	if opts.Store == nil || opts.ClientID == nil {
		return nil, errors.New("idempotency: Store and ClientID are required")
	}
	if opts.Audit == nil {
		opts.Audit = audit.Discard
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Wait <= 0 {
		opts.Wait = DefaultWait
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Middleware{opts: opts}, nil
}

// CheckKey validates an x-idempotency-key value: 1 to 40 printable ASCII characters, no
// leading or trailing space.
func CheckKey(k string) error {
	if k == "" || len(k) > MaxKeyLength || k[0] == ' ' || k[len(k)-1] == ' ' {
		return errBadKey
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return errBadKey
		}
	}
	return nil
}

var (
	errBadKey     = errors.New("idempotency: invalid x-idempotency-key")
	errNoKey      = errors.New("idempotency: x-idempotency-key missing")
	errReused     = errors.New("idempotency: key reused with a different request")
	errInProgress = errors.New("idempotency: first request still running")
	errNoClient   = errors.New("idempotency: client not identified")
	errTooLarge   = errors.New("idempotency: request body too large")
)

// Wrap enforces x-idempotency-key on POST requests to next, as the package documentation
// describes.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if err := m.serve(w, r, next); err != nil {
			m.refuse(w, r, err)
		}
	})
}

// serve runs the protocol for one POST; a returned error is answered by refuse.
func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) error {
	keys := r.Header.Values(HeaderKey)
	switch {
	case len(keys) == 0:
		return errNoKey
	case len(keys) > 1:
		return errBadKey
	}
	key := keys[0]
	if err := CheckKey(key); err != nil {
		return err
	}
	clientID, err := m.opts.ClientID(r)
	if err != nil || clientID == "" {
		return fmt.Errorf("%w: %v", errNoClient, err)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, m.opts.MaxBodyBytes+1))
	_ = r.Body.Close()
	if err != nil {
		return fmt.Errorf("reading the request body: %w", err)
	}
	if int64(len(body)) > m.opts.MaxBodyBytes {
		return errTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	hash := requestHash(r, body)
	owner, err := newOwner()
	if err != nil {
		return err
	}

	ctx := r.Context()
	deadline := time.NewTimer(m.opts.Wait)
	defer deadline.Stop()
	for {
		now := m.opts.Clock.Now()
		rec, claimed, err := m.opts.Store.ClaimIdempotencyKey(ctx, store.IdempotencyRecord{
			ClientID: clientID, Key: key, RequestHash: hash, Owner: owner, CreatedAt: now, ExpiresAt: now.Add(TTL),
		})
		if err != nil {
			return fmt.Errorf("claiming the key: %w", err)
		}
		if claimed {
			m.run(w, r, next, clientID, key, owner)
			return nil
		}
		// A repeat. Different request: refused, whatever state the first is in.
		if subtle.ConstantTimeCompare([]byte(rec.RequestHash), []byte(hash)) != 1 {
			m.opts.Audit.Record(ctx, audit.Event{Type: TypeKeyReused, ClientID: clientID,
				Data: map[string]any{"key": key, "method": r.Method, "path": r.URL.Path}})
			return errReused
		}
		if rec.Status != 0 {
			replay(w, r, rec)
			return nil
		}
		// The first is still running: wait for it, reading the store.
		if done, err := m.await(ctx, deadline.C, clientID, key, hash); err != nil {
			return err
		} else if done != nil {
			replay(w, r, *done)
			return nil
		}
		// Released (or expired, or replaced by another request): the next claim decides.
	}
}

// await polls the running claim of (clientID, key) until it is completed — returning the
// record — or is no longer this request's (released, expired, replaced by a request with
// another hash) — returning nil, nil — or until deadline ([errInProgress]) or ctx ends.
func (m *Middleware) await(ctx context.Context, deadline <-chan time.Time, clientID, key, hash string) (*store.IdempotencyRecord, error) {
	for {
		poll := time.NewTimer(m.opts.PollInterval)
		select {
		case <-ctx.Done():
			poll.Stop()
			return nil, ctx.Err()
		case <-deadline:
			poll.Stop()
			return nil, errInProgress
		case <-poll.C:
		}
		rec, err := m.opts.Store.GetIdempotencyKey(ctx, clientID, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("reading the key: %w", err)
		case subtle.ConstantTimeCompare([]byte(rec.RequestHash), []byte(hash)) != 1:
			return nil, nil
		case rec.Status != 0:
			return &rec, nil
		}
	}
}

// run executes next as the key's owner and keeps its answer (or releases the key).
func (m *Middleware) run(w http.ResponseWriter, r *http.Request, next http.Handler, clientID, key, owner string) {
	// The claim must not outlive a handler that did not answer: release it on the way out
	// unless it was completed. A detached context, so a cancelled request still releases.
	done := false
	defer func() {
		if !done {
			m.release(r, clientID, key, owner)
		}
	}()
	rec := &recorder{header: http.Header{}}
	next.ServeHTTP(rec, r)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if status < 500 && !rec.overflow {
		err := m.opts.Store.CompleteIdempotencyKey(context.WithoutCancel(r.Context()), clientID, key, owner, status, keptHeaders(rec.header), rec.body.Bytes())
		if err == nil {
			done = true
		} else {
			m.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "idempotency: answer not kept",
				slog.String("client_id", clientID), slog.String("interaction_id", obs.InteractionID(r.Context())), slog.String("error", err.Error()))
		}
	}
	h := w.Header()
	for k, v := range rec.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(rec.body.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(rec.body.Bytes())
}

func (m *Middleware) release(r *http.Request, clientID, key, owner string) {
	err := m.opts.Store.ReleaseIdempotencyKey(context.WithoutCancel(r.Context()), clientID, key, owner)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		m.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "idempotency: claim not released (it expires in 24 h)",
			slog.String("client_id", clientID), slog.String("error", err.Error()))
	}
}

// replay writes a kept answer, with this request's interaction id.
func replay(w http.ResponseWriter, r *http.Request, rec store.IdempotencyRecord) {
	h := w.Header()
	for k, v := range rec.Headers {
		if !dropped[http.CanonicalHeaderKey(k)] {
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	if id := interactionID(r); id != "" {
		h.Set(obie.HeaderInteractionID, id)
	}
	h.Set("Content-Length", strconv.Itoa(len(rec.Body)))
	w.WriteHeader(rec.Status)
	_, _ = w.Write(rec.Body)
}

// dropped are the response headers not kept: per-answer values.
var dropped = map[string]bool{
	obie.HeaderInteractionID: true, "X-Jws-Signature": true, "Date": true, "Content-Length": true,
	"Connection": true, "Transfer-Encoding": true, "Set-Cookie": true,
}

func keptHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		if !dropped[http.CanonicalHeaderKey(k)] {
			out[k] = v
		}
	}
	return out
}

// requestHash identifies a request under a key: SHA-256 over method, path and body.
func requestHash(r *http.Request, body []byte) string {
	h := sha256.New()
	h.Write([]byte(r.Method))
	h.Write([]byte{0})
	h.Write([]byte(r.URL.Path))
	h.Write([]byte{0})
	h.Write(body)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func newOwner() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func interactionID(r *http.Request) string {
	id := obs.InteractionID(r.Context())
	if id == "" {
		id = r.Header.Get(obie.HeaderInteractionID)
	}
	if !obie.SafeInteractionID(id) {
		return ""
	}
	return id
}

// refuse answers err with the OBIE body; the one domain → wire mapping of this package.
func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status, code, path, msg := http.StatusServiceUnavailable, obie.CodeUnexpectedError, "", "the request could not be processed; try again later"
	switch {
	case errors.Is(err, errNoKey):
		status, code, path, msg = http.StatusBadRequest, obie.CodeHeaderMissing, "x-idempotency-key", "x-idempotency-key is required"
	case errors.Is(err, errBadKey):
		status, code, path, msg = http.StatusBadRequest, obie.CodeHeaderInvalid, "x-idempotency-key", "x-idempotency-key must be one value of 1 to 40 printable characters"
	case errors.Is(err, errReused):
		status, code, path, msg = http.StatusBadRequest, obie.CodeHeaderInvalid, "x-idempotency-key", "x-idempotency-key was already used for a different request"
	case errors.Is(err, errInProgress):
		status, code, path, msg = http.StatusConflict, obie.CodeHeaderInvalid, "x-idempotency-key", "a request with this x-idempotency-key is still being processed; retry later"
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, errNoClient):
		status, code, msg = http.StatusUnauthorized, obie.CodeUnexpectedError, "the client could not be identified"
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case errors.Is(err, errTooLarge):
		status, code, msg = http.StatusRequestEntityTooLarge, obie.CodeFieldInvalid, "request body too large"
	default:
		m.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "idempotency: store unavailable",
			slog.String("interaction_id", interactionID(r)), slog.String("error", err.Error()))
	}
	obie.Write(w, status, obie.NewError(strconv.Itoa(status)+" "+http.StatusText(status), interactionID(r), code, msg, path))
}

// recorder buffers the handler's answer so it can be kept.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(p) > store.MaxIdempotentResponse {
		r.overflow = true
	}
	return r.body.Write(p)
}
