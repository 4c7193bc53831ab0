package nca

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// Webhook bounds and defaults.
const (
	DefaultWebhookTimeout  = 2 * time.Second
	MaxWebhookTimeout      = 30 * time.Second
	DefaultWebhookCacheTTL = 5 * time.Minute
	maxWebhookAnswer       = 16 << 10
	maxWebhookCache        = 100_000
)

// WebhookOptions configure [NewWebhook].
type WebhookOptions struct {
	// URL receives the POST: https, or http to a loopback address. Required.
	URL string
	// Client makes the calls; it should refuse redirects. Nil means a client with
	// Timeout that does not follow redirects and uses no proxy from the environment.
	Client *http.Client
	// Timeout bounds one call. Zero means [DefaultWebhookTimeout]; at most
	// [MaxWebhookTimeout].
	Timeout time.Duration
	// CacheTTL is how long an answer is reused for the same TPP: the refresh bound. Zero
	// means [DefaultWebhookCacheTTL].
	CacheTTL time.Duration
	// MaxAge is the freshness bound under [PolicyLastKnown]: an answer older than CacheTTL
	// is still used when the webhook fails, up to MaxAge. Zero means [DefaultMaxAge].
	MaxAge time.Duration
	// Policy applies when the webhook cannot be reached. Empty means [PolicyFailClosed].
	Policy Policy
	// Headers are added to every call (e.g. a shared secret); never logged.
	Headers http.Header
	// Clock is the source of now. Nil means clock.Real.
	Clock clock.Clock
}

// Webhook asks a bank-operated service whether a TPP is authorised. Each call POSTs
//
//	{"nca": "GB-FCA", "authorisation_number": "123456", "roles": ["PSP_AI", "PSP_PI"]}
//
// (the roles the TPP uses, TS 119 495 names) and expects 200 with
//
//	{"authorised": true|false, "roles": ["PSP_AI", …], "withdrawn_at": "2026-12-01T00:00:00Z"}
//
// where "roles" are all the roles the authorisation covers and "withdrawn_at" is optional;
// "listed": false (optional) means the NCA does not know the TPP. Anything else — a
// non-200 status, a redirect, a body over 16 KiB, no "authorised" member — is "could not
// check". Answers are cached per TPP for CacheTTL. Safe for concurrent use.
type Webhook struct {
	o      WebhookOptions
	url    string
	client *http.Client

	mu    sync.Mutex
	cache map[string]webhookCached
}

type webhookCached struct {
	entry *Entry // nil: not listed
	at    time.Time
}

// NewWebhook checks o and returns a Webhook.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || o.URL == "" || u.Host == "" || u.User != nil || u.Fragment != "":
		return nil, errors.New("nca: WebhookOptions.URL must be an absolute URL without user information or fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"):
	default:
		return nil, errors.New("nca: WebhookOptions.URL must be https (http only to a loopback address)")
	}
	if err := o.Policy.check(); err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultWebhookTimeout
	}
	if o.Timeout < 0 || o.Timeout > MaxWebhookTimeout {
		return nil, fmt.Errorf("nca: WebhookOptions.Timeout outside (0, %v]", MaxWebhookTimeout)
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultWebhookCacheTTL
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.CacheTTL < 0 || o.MaxAge < o.CacheTTL {
		return nil, errors.New("nca: WebhookOptions: CacheTTL must be positive and at most MaxAge")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	c := o.Client
	if c == nil {
		c = &http.Client{Transport: &http.Transport{Proxy: nil, TLSHandshakeTimeout: o.Timeout}}
	} else {
		cc := *c
		c = &cc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Webhook{o: o, url: u.String(), client: c, cache: map[string]webhookCached{}}, nil
}

type webhookRequest struct {
	NCA                 string       `json:"nca"`
	AuthorisationNumber string       `json:"authorisation_number"`
	Roles               []eidas.Role `json:"roles"`
}

type webhookAnswer struct {
	Authorised  *bool        `json:"authorised"`
	Listed      *bool        `json:"listed"`
	Roles       []eidas.Role `json:"roles"`
	WithdrawnAt *time.Time   `json:"withdrawn_at"`
}

// Check answers like [Register.Check]: nil, a [*RefusedError], or an error matching
// [ErrUnavailable] when the webhook could not answer and no cached answer may be used
// (younger than CacheTTL always; up to MaxAge under PolicyLastKnown). An invalid id is
// ErrNotListed without a call.
func (w *Webhook) Check(ctx context.Context, id ID, roles []eidas.Role) error {
	if !id.Valid() {
		return &RefusedError{Reason: ErrNotListed, ID: id}
	}
	now := w.o.Clock.Now()
	key := id.Key()
	w.mu.Lock()
	cached, ok := w.cache[key]
	w.mu.Unlock()
	if ok && now.Sub(cached.at) < w.o.CacheTTL {
		return Decide(id, cached.entry, roles, now)
	}
	e, err := w.call(ctx, id, roles)
	if err != nil {
		if ok && w.o.Policy == PolicyLastKnown && now.Sub(cached.at) <= w.o.MaxAge {
			return Decide(id, cached.entry, roles, now)
		}
		return fmt.Errorf("%w: webhook: %w", ErrUnavailable, err)
	}
	w.mu.Lock()
	if len(w.cache) >= maxWebhookCache {
		clear(w.cache)
	}
	w.cache[key] = webhookCached{entry: e, at: now}
	w.mu.Unlock()
	return Decide(id, e, roles, now)
}

func (w *Webhook) call(ctx context.Context, id ID, roles []eidas.Role) (*Entry, error) {
	body, err := json.Marshal(webhookRequest{NCA: id.Country + "-" + id.Authority, AuthorisationNumber: id.Number, Roles: roles})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range w.o.Headers {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswer+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxWebhookAnswer {
		return nil, errors.New("answer too large")
	}
	var a webhookAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("answer: %w", err)
	}
	if a.Authorised == nil {
		return nil, errors.New("answer has no \"authorised\"")
	}
	if a.Listed != nil && !*a.Listed {
		return nil, nil
	}
	e := &Entry{ID: id, Authorised: *a.Authorised, Roles: a.Roles}
	if a.WithdrawnAt != nil {
		e.WithdrawnAt = *a.WithdrawnAt
	}
	return e, nil
}
