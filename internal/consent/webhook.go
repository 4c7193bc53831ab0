package consent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Webhook limits and defaults.
const (
	DefaultWebhookTimeout   = 2 * time.Second
	MaxWebhookTimeout       = 30 * time.Second
	DefaultMaxResponseBytes = 64 << 10
	MaxErrorCodeLen         = 128
	MaxErrorMessageLen      = 1024
)

// WebhookOptions configures a [Webhook].
type WebhookOptions struct {
	// URL receives the POST. It must be https, or http to a loopback address
	// (127.0.0.0/8, ::1, localhost); it must not carry user information.
	// Required.
	URL string
	// Timeout bounds one call (connect, send, answer). Zero means 2 s; more than
	// 30 s is refused.
	Timeout time.Duration
	// HTTPClient makes the calls. Nil means a client of its own (no proxy from the
	// environment, TLS 1.2+, dial and TLS handshake timeouts, kept-alive
	// connections). A given client is copied and never follows redirects.
	HTTPClient *http.Client
	// MaxResponseBytes bounds the answer body. Zero means 64 KiB.
	MaxResponseBytes int64
	// Headers are added to every call, e.g. a shared secret the validator checks.
	// Their values are never logged or put in errors. Content-Type, Accept,
	// Content-Length, Host and hop-by-hop headers cannot be set here.
	Headers http.Header
}

// Webhook is a [Validator] that asks an HTTP service (INTERFACE.md "Consent
// validation webhook"). Each call POSTs, as application/json,
//
//	{"consentId": "…", "clientId": "…", "userId": "…",
//	 "consent": <stored consent JSON or null>,
//	 "tokenClaims": {…verified access-token claims…},
//	 "request": {"method": "GET", "path": "/open-banking/v3.1/aisp/accounts/22289",
//	             "resourceTemplate": "/open-banking/v3.1/aisp/accounts/{AccountId}",
//	             "headers": {"x-fapi-interaction-id": ["…"], …},
//	             "body": <request body>}}
//
// where "headers" has lower-case names (filtered by [RequestHeaders]) and "body" is
// the request body itself when it is JSON, null when there is none, and a JSON
// string of its bytes otherwise (invalid UTF-8 replaced by U+FFFD). The service
// answers 2xx with
//
//	{"valid": true|false, "errorCode": "UK.OBIE.…", "errorMessage": "…",
//	 "httpStatus": 403, "modifiedPayload": <JSON, optional>}
//
// checked by [Decision.Check]; unknown members are ignored. A non-2xx status, a
// redirect, a timeout, a body over MaxResponseBytes, anything but one JSON object,
// or a missing "valid" is an error (could not decide), never a decision.
type Webhook struct {
	url      string
	timeout  time.Duration
	client   *http.Client
	maxBytes int64
	headers  http.Header
}

// reservedWebhookHeaders are set by the webhook itself or by net/http.
var reservedWebhookHeaders = map[string]bool{
	"Content-Type": true, "Accept": true, "Content-Length": true, "Host": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// NewWebhook checks o and returns a Webhook. Errors name the offending field.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(o.URL)
	if err != nil || o.URL == "" {
		return nil, errors.New("consent: WebhookOptions.URL is not a valid URL")
	}
	switch {
	case u.User != nil:
		return nil, errors.New("consent: WebhookOptions.URL must not carry user information (use Headers)")
	case u.Host == "" || u.Opaque != "" || u.Fragment != "":
		return nil, errors.New("consent: WebhookOptions.URL must be an absolute http(s) URL without fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	default:
		return nil, fmt.Errorf("consent: WebhookOptions.URL scheme %q: want https (http only to a loopback address)", u.Scheme)
	}
	w := &Webhook{url: u.String(), timeout: o.Timeout, maxBytes: o.MaxResponseBytes, headers: make(http.Header)}
	if w.timeout == 0 {
		w.timeout = DefaultWebhookTimeout
	}
	if w.timeout < 0 || w.timeout > MaxWebhookTimeout {
		return nil, fmt.Errorf("consent: WebhookOptions.Timeout %v outside (0, %v]", w.timeout, MaxWebhookTimeout)
	}
	if w.maxBytes == 0 {
		w.maxBytes = DefaultMaxResponseBytes
	}
	if w.maxBytes < 0 {
		return nil, errors.New("consent: WebhookOptions.MaxResponseBytes is negative")
	}
	for k, vs := range o.Headers {
		ck := http.CanonicalHeaderKey(k)
		if !validHeaderName(k) || reservedWebhookHeaders[ck] {
			return nil, fmt.Errorf("consent: WebhookOptions.Headers: header %q cannot be set", k)
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				// The value may be a secret: name the header only.
				return nil, fmt.Errorf("consent: WebhookOptions.Headers: header %q has an invalid value", k)
			}
			w.headers.Add(ck, v)
		}
	}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		w.client = &c
	} else {
		w.client = &http.Client{Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: w.timeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   w.timeout,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
			ExpectContinueTimeout: time.Second,
		}}
	}
	w.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return w, nil
}

// webhookPayload is INTERFACE.md's request document.
type webhookPayload struct {
	ConsentID   string          `json:"consentId"`
	ClientID    string          `json:"clientId"`
	UserID      string          `json:"userId"`
	Consent     json.RawMessage `json:"consent"`
	TokenClaims map[string]any  `json:"tokenClaims"`
	Request     webhookRequest  `json:"request"`
}

type webhookRequest struct {
	Method           string              `json:"method"`
	Path             string              `json:"path"`
	ResourceTemplate string              `json:"resourceTemplate"`
	Headers          map[string][]string `json:"headers"`
	Body             json.RawMessage     `json:"body"`
}

// webhookAnswer is INTERFACE.md's response document.
type webhookAnswer struct {
	Valid           *bool           `json:"valid"`
	ErrorCode       string          `json:"errorCode"`
	ErrorMessage    string          `json:"errorMessage"`
	HTTPStatus      int             `json:"httpStatus"`
	ModifiedPayload json.RawMessage `json:"modifiedPayload"`
}

// Validate implements [Validator] by calling the webhook. Errors match
// [ErrUnavailable] (transport failure, timeout, non-2xx status) or
// [ErrBadResponse] (an answer that is not a well-formed decision); an error
// building the payload (a Consent that is not JSON) matches neither. Every error
// means "could not decide".
func (w *Webhook) Validate(ctx context.Context, req Request) (Decision, error) {
	payload, err := encodePayload(req)
	if err != nil {
		return Decision{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(payload))
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for k, vs := range w.headers {
		hr.Header[k] = vs
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	resp, err := w.client.Do(hr)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, w.maxBytes)) // keep the connection reusable
		return Decision{}, fmt.Errorf("%w: webhook answered HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, w.maxBytes+1))
	if err != nil {
		return Decision{}, fmt.Errorf("%w: reading answer: %w", ErrUnavailable, err)
	}
	if int64(len(data)) > w.maxBytes {
		return Decision{}, fmt.Errorf("%w: answer larger than %d bytes", ErrBadResponse, w.maxBytes)
	}
	return decodeAnswer(data)
}

func encodePayload(req Request) ([]byte, error) {
	if req.Consent != nil && !json.Valid(req.Consent) {
		return nil, errors.New("consent: Request.Consent is not valid JSON")
	}
	claims := req.TokenClaims
	if claims == nil {
		claims = map[string]any{}
	}
	headers := make(map[string][]string, len(req.Headers))
	for k, v := range RequestHeaders(req.Headers) {
		lk := strings.ToLower(k)
		headers[lk] = append(headers[lk], v...)
	}
	var body json.RawMessage
	switch {
	case len(req.Body) == 0:
	case json.Valid(req.Body):
		body = req.Body
	default:
		b, err := json.Marshal(string(req.Body))
		if err != nil {
			return nil, fmt.Errorf("consent: encoding body: %w", err)
		}
		body = b
	}
	p := webhookPayload{
		ConsentID: req.ConsentID, ClientID: req.ClientID, UserID: req.UserID,
		Consent: req.Consent, TokenClaims: claims,
		Request: webhookRequest{
			Method: req.Method, Path: req.Path, ResourceTemplate: req.ResourceTemplate,
			Headers: headers, Body: body,
		},
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("consent: encoding webhook payload: %w", err)
	}
	return b, nil
}

// decodeAnswer parses and checks a webhook answer.
func decodeAnswer(data []byte) (Decision, error) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return Decision{}, fmt.Errorf("%w: not a JSON object", ErrBadResponse)
	}
	var a webhookAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return Decision{}, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if a.Valid == nil {
		return Decision{}, fmt.Errorf("%w: \"valid\" missing", ErrBadResponse)
	}
	d := Decision{Valid: *a.Valid}
	if d.Valid {
		if len(a.ModifiedPayload) > 0 && !bytes.Equal(bytes.TrimSpace(a.ModifiedPayload), []byte("null")) {
			d.ModifiedPayload = a.ModifiedPayload
		}
	} else {
		d.ErrorCode, d.ErrorMessage, d.HTTPStatus = a.ErrorCode, a.ErrorMessage, a.HTTPStatus
	}
	if err := d.Check(); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// Check reports whether d is a usable decision, with an error matching
// [ErrBadResponse] when it is not. For a refusal: ErrorCode empty or 1–128
// characters of [A-Za-z0-9._-]; ErrorMessage at most 1024 bytes of printable
// UTF-8 without control characters; HTTPStatus zero or a 4xx other than 401 (a 401
// needs a token challenge, which is the gateway's to make). For an allow:
// ModifiedPayload empty or valid JSON. The gateway checks every decision, from any
// Validator, with it.
func (d Decision) Check() error {
	if d.Valid {
		if len(d.ModifiedPayload) > 0 && !json.Valid(d.ModifiedPayload) {
			return fmt.Errorf("%w: modifiedPayload is not JSON", ErrBadResponse)
		}
		return nil
	}
	if len(d.ErrorCode) > MaxErrorCodeLen || !validErrorCode(d.ErrorCode) {
		return fmt.Errorf("%w: unusable errorCode", ErrBadResponse)
	}
	if len(d.ErrorMessage) > MaxErrorMessageLen || !printable(d.ErrorMessage) {
		return fmt.Errorf("%w: unusable errorMessage", ErrBadResponse)
	}
	if d.HTTPStatus != 0 && (d.HTTPStatus < 400 || d.HTTPStatus > 499 || d.HTTPStatus == http.StatusUnauthorized) {
		return fmt.Errorf("%w: httpStatus %d is not a 4xx other than 401", ErrBadResponse, d.HTTPStatus)
	}
	return nil
}

func validErrorCode(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than HTAB (CR/LF injection).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
