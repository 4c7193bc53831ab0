package revocation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// parseHTTPURL accepts an absolute http URL with a host and no user info (the form
// RFC 5280 §4.2.1.13 and RFC 6960 use) and returns it re-serialized.
func parseHTTPURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("scheme %q is not http", u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", errors.New("not a plain http URL")
	}
	return u.String(), nil
}

// fetch performs one HTTP request (POST with body when body is non-nil, else GET)
// and returns the response body, at most limit bytes. A body over the limit yields
// tooLarge; a transport error or a status other than 200 yields
// ErrResponderUnavailable.
func (c *Checker) fetch(ctx context.Context, rawURL string, body []byte, contentType, accept string, limit int64, tooLarge error) ([]byte, error) {
	method := http.MethodGet
	var rd io.Reader
	if body != nil {
		method = http.MethodPost
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrResponderUnavailable, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", accept)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrResponderUnavailable, err)
	}
	defer func() {
		// Drain a little so the connection can be reused, never the whole body.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP status %d", ErrResponderUnavailable, resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", tooLarge, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %w", ErrResponderUnavailable, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: body exceeds %d bytes", tooLarge, limit)
	}
	return data, nil
}
