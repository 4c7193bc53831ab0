package obsig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/obs"
)

// Signer signs a response body as a detached message signature: *jose.KeyStore with its
// message-signing key set (jose.KeyStore.SetSealKey).
type Signer interface {
	SignDetached(body []byte, form jose.DetachedForm, c jose.DetachedClaims) (string, error)
}

// Limits of the middleware.
const (
	// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is zero.
	DefaultMaxBodyBytes = 1 << 20
	// MaxResponseBytes bounds a response the middleware buffers to sign; a larger one
	// becomes a signed 500.
	MaxResponseBytes = 4 << 20
)

var (
	errNoClient     = errors.New("obsig: client not identified")
	errBodyTooLarge = errors.New("obsig: request body too large")
)

// Options configure a [Middleware].
type Options struct {
	// Verifier verifies request signatures. Required for [Middleware.Require].
	Verifier *Verifier
	// Client names the client that sent r, as an earlier stage (or r's own credentials,
	// checked by the hook) authenticated it. An error is answered 401 and the handler does
	// not run. Required for [Middleware.Require].
	Client func(r *http.Request) (*client.Client, error)
	// Signer signs responses with the bank's message-signing key. Required.
	Signer Signer
	// Issuer is the iss of response signatures: the bank's org_id. Required.
	Issuer string
	// TrustAnchor is the tan of response signatures, e.g. "openbanking.org.uk". Required.
	TrustAnchor string
	// ResponseForm is the form of response signatures; zero means jose.DetachedEncoded
	// (v3.1.4+). jose.DetachedUnencoded serves v3.1.3 clients.
	ResponseForm jose.DetachedForm
	// MaxBodyBytes bounds a request body (413 beyond); zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Clock is read for the iat of response signatures; nil means clock.Real.
	Clock clock.Clock
	// Logger receives refusals (code and cause, never the signature). Nil discards.
	Logger *slog.Logger
}

// Middleware requires and verifies request signatures and signs responses.
type Middleware struct {
	opts Options
}

// New checks opts and returns a Middleware.
func New(opts Options) (*Middleware, error) {
	if opts.Signer == nil || opts.Issuer == "" || opts.TrustAnchor == "" {
		return nil, errors.New("obsig: Signer, Issuer and TrustAnchor are required")
	}
	if opts.ResponseForm == 0 {
		opts.ResponseForm = jose.DetachedEncoded
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Middleware{opts: opts}, nil
}

// Require wraps next (a payment consent or payment submission endpoint): the request must
// carry exactly one x-jws-signature that [Verifier.Verify] accepts over the body for the
// client the Client hook names; otherwise the answer is the OBIE refusal of [WireError]
// and next does not run. next reads the same body. Every response, refusals included, is
// signed as [Middleware.Sign] does. Require panics if Options.Verifier or Options.Client
// is nil: a wiring error, found at start-up.
func (m *Middleware) Require(next http.Handler) http.Handler {
	if m.opts.Verifier == nil || m.opts.Client == nil {
		panic("obsig: Require needs Options.Verifier and Options.Client")
	}
	return m.Sign(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.verify(r); err != nil {
			m.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// verify reads the body, puts it back for the handler, and verifies the signature.
func (m *Middleware) verify(r *http.Request) error {
	sigs := r.Header.Values(Header)
	if len(sigs) > 1 {
		return ErrMultiple
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, m.opts.MaxBodyBytes+1))
		_ = r.Body.Close()
		if err != nil {
			return fmt.Errorf("reading the request body: %w", err)
		}
		if int64(len(body)) > m.opts.MaxBodyBytes {
			return errBodyTooLarge
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	if len(sigs) == 0 {
		return ErrMissing
	}
	c, err := m.opts.Client(r)
	if err != nil || c == nil {
		return fmt.Errorf("%w: %v", errNoClient, err)
	}
	_, err = m.opts.Verifier.Verify(r.Context(), c, sigs[0], body)
	return err
}

// refuse writes the OBIE answer of err and logs it.
func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request, err error) {
	we := WireError(err)
	m.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "x-jws-signature refused",
		slog.Int("status", we.Status), slog.String("code", we.ErrorCode), slog.String("path", we.Path),
		slog.String("interaction_id", interactionID(r)), slog.String("error", err.Error()))
	if we.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	obie.Write(w, we.Status, obie.NewError(codeFor(we.Status), interactionID(r), we.ErrorCode, we.Message, we.Path))
}

// codeFor is the high-level Code of an OBIE body with status.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "400 BadRequest"
	case http.StatusUnauthorized:
		return "401 Unauthorized"
	case http.StatusRequestEntityTooLarge:
		return "413 PayloadTooLarge"
	case http.StatusServiceUnavailable:
		return "503 ServiceUnavailable"
	}
	return strconv.Itoa(status) + " " + http.StatusText(status)
}

func interactionID(r *http.Request) string {
	if id := obs.InteractionID(r.Context()); id != "" {
		return id
	}
	return r.Header.Get(obie.HeaderInteractionID)
}

// Sign wraps next so that every response it writes carries x-jws-signature: the body
// (empty included) signed with Options.Signer in Options.ResponseForm, with the bank's iss
// and tan and iat = now. The response is buffered (at most [MaxResponseBytes]); a response
// that is larger, or that cannot be signed, is replaced by a signed 500
// UK.OBIE.UnexpectedError (the cause is logged).
func (m *Middleware) Sign(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{header: http.Header{}}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		sig, err := "", errors.New("response too large to sign")
		if !rec.overflow {
			sig, err = m.signBody(rec.header, rec.body.Bytes())
		}
		if err != nil {
			m.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "response could not be signed",
				slog.String("interaction_id", interactionID(r)), slog.String("error", err.Error()))
			rec = &recorder{header: http.Header{}}
			obie.Write(rec, http.StatusInternalServerError, obie.NewError(codeFor(500), interactionID(r), obie.CodeUnexpectedError, "internal error", ""))
			if sig, err = m.signBody(rec.header, rec.body.Bytes()); err != nil {
				// Nothing can be signed: answer unsigned rather than not at all.
				sig = ""
			}
		}
		h := w.Header()
		for k, v := range rec.header {
			h[k] = v
		}
		h.Del(Header)
		if sig != "" {
			h.Set(Header, sig)
		}
		h.Set("Content-Length", strconv.Itoa(rec.body.Len()))
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	})
}

func (m *Middleware) signBody(h http.Header, body []byte) (string, error) {
	cty := ""
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil && mt == "application/json" {
		cty = "application/json"
	}
	return m.opts.Signer.SignDetached(body, m.opts.ResponseForm, jose.DetachedClaims{
		Issuer: m.opts.Issuer, TrustAnchor: m.opts.TrustAnchor, IssuedAt: m.opts.Clock.Now(), ContentType: cty,
	})
}

// recorder buffers a handler's response.
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
	if r.overflow || r.body.Len()+len(p) > MaxResponseBytes {
		r.overflow = true
		return 0, errors.New("obsig: response too large to sign")
	}
	return r.body.Write(p)
}
