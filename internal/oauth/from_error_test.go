package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

func TestFromError(t *testing.T) {
	// A client authentication failure as clientauth returns it, wrapping a store replay.
	replay := clientAuthError(t)
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		desc   string // "" = not checked
	}{
		{"wire error as is", oauth.InvalidGrant("code expired"), 400, "invalid_grant", "code expired"},
		{"wrapped wire error", fmt.Errorf("grant: %w", oauth.InvalidScope("no")), 400, "invalid_scope", "no"},
		{"client authentication", replay, 401, "invalid_client", clientauth.FailureDescription},
		{"wrapped client authentication", fmt.Errorf("x: %w", replay), 401, "invalid_client", ""},
		{"deadline", fmt.Errorf("db: %w", context.DeadlineExceeded), 503, "temporarily_unavailable", ""},
		{"canceled", context.Canceled, 503, "temporarily_unavailable", ""},
		{"deny-list stale", fmt.Errorf("%w: old", token.ErrRevocationStateUnavailable), 503, "temporarily_unavailable", ""},
		{"token expired", fmt.Errorf("%w: at x", token.ErrExpired), 401, "invalid_token", ""},
		{"token revoked", token.ErrRevoked, 401, "invalid_token", ""},
		{"token bad signature", token.ErrBadSignature, 401, "invalid_token", ""},
		{"token malformed", token.ErrMalformed, 401, "invalid_token", ""},
		{"token certificate mismatch", token.ErrCertificateMismatch, 401, "invalid_token", ""},
		{"token wrong audience", token.ErrWrongAudience, 401, "invalid_token", ""},
		{"no client certificate", mtls.ErrNoClientCertificate, 401, "invalid_client", "client certificate required"},
		{"malformed forwarded certificate", fmt.Errorf("%w: x", mtls.ErrMalformedHeader), 401, "invalid_client", "client certificate invalid"},
		{"certificate refused by pki", &pki.ValidationError{Reason: pki.ErrExpired}, 401, "invalid_client", "client certificate invalid"},
		{"certificate revoked", &pki.ValidationError{Reason: pki.ErrRevoked}, 401, "invalid_client", "client certificate invalid"},
		{"certificate status unavailable", &pki.ValidationError{Reason: pki.ErrRevocationUnavailable}, 503, "temporarily_unavailable", ""},
		{"client certificate status unavailable", fmt.Errorf("%w: %w", clientauth.ErrCertificateStatusUnavailable,
			&pki.ValidationError{Reason: pki.ErrRevocationUnavailable}), 503, "temporarily_unavailable", ""},
		{"code consumed", fmt.Errorf("consume: %w", store.ErrConsumed), 400, "invalid_grant", ""},
		{"code not found", store.ErrNotFound, 400, "invalid_grant", ""},
		{"refresh token revoked", store.ErrRevoked, 400, "invalid_grant", ""},
		{"store expired", store.ErrExpired, 400, "invalid_grant", ""},
		{"store invalid input", store.ErrInvalidInput, 400, "invalid_request", ""},
		{"database unavailable", fmt.Errorf("store: consume code: %w: dial tcp: refused", store.ErrUnavailable), 503, "temporarily_unavailable", ""},
		{"client authentication could not reach the database", fmt.Errorf("%w: %w", clientauth.ErrInternal,
			fmt.Errorf("store: use jti: %w: EOF", store.ErrUnavailable)), 503, "temporarily_unavailable", ""},
		{"client authentication could not complete otherwise", fmt.Errorf("%w: %w", clientauth.ErrInternal,
			fmt.Errorf("store: use jti: %w", errors.New("syntax error"))), 500, "server_error", "internal error"},
		// Deliberately unmapped: context decides, a forgotten wrap fails closed.
		{"bare store replay", store.ErrReplay, 500, "server_error", "internal error"},
		{"token unbound at issuance", token.ErrUnbound, 500, "server_error", "internal error"},
		{"token invalid claims", token.ErrInvalidClaims, 500, "server_error", "internal error"},
		{"jose error", jose.ErrKeyConfig, 500, "server_error", "internal error"},
		{"unknown", errors.New("disk on fire"), 500, "server_error", "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := oauth.FromError(tt.err)
			if e.Status != tt.status || e.Code != tt.code {
				t.Fatalf("FromError = %d %s, want %d %s", e.Status, e.Code, tt.status, tt.code)
			}
			if tt.desc != "" && e.Description != tt.desc {
				t.Errorf("description %q, want %q", e.Description, tt.desc)
			}
			var want *oauth.Error
			if !errors.As(tt.err, &want) && !errors.Is(e, tt.err) {
				t.Errorf("the cause %v is not kept for the log", tt.err)
			}
		})
	}
	if oauth.FromError(nil) != nil {
		t.Error("FromError(nil) != nil")
	}
}

// TestFromErrorClientAuthentication: every error clientauth.Authenticate can return goes on
// the wire as clientauth documents it: an *clientauth.Error, whatever its reason, as 401
// invalid_client with its own description (in the RFC 6749 charset already); anything else
// (clientauth.ErrInternal) as 500 server_error with no detail, even when what it wraps is a
// context or store error that the rules for other packages would map to 503 or 400.
func TestFromErrorClientAuthentication(t *testing.T) {
	reasons := []error{
		clientauth.ErrInvalidRequest, clientauth.ErrNoCredentials, clientauth.ErrUnknownClient,
		clientauth.ErrMethodMismatch, clientauth.ErrClientIDMismatch, clientauth.ErrAssertionInvalid,
		clientauth.ErrAlgNotAllowed, clientauth.ErrUnknownKey, clientauth.ErrBadSignature,
		clientauth.ErrKeysUnavailable, clientauth.ErrAudience, clientauth.ErrExpired,
		clientauth.ErrIssuedInFuture, clientauth.ErrReplay, clientauth.ErrNoCertificate,
		clientauth.ErrCertificateInvalid, clientauth.ErrSubjectMismatch,
	}
	for _, reason := range reasons {
		t.Run(reason.Error(), func(t *testing.T) {
			err := fmt.Errorf("authz: %w", &clientauth.Error{Reason: reason, Description: "client authentication failed"})
			e := oauth.FromError(err)
			if e.Status != http.StatusUnauthorized || e.Code != oauth.CodeInvalidClient || e.Description != "client authentication failed" {
				t.Errorf("FromError = %d %s %q, want 401 invalid_client %q", e.Status, e.Code, e.Description, "client authentication failed")
			}
			if !errors.Is(e, reason) {
				t.Errorf("the cause %v is not kept for the log", err)
			}
		})
	}

	tlsClient := &client.Client{ID: "tls-client", TokenEndpointAuthMethod: client.AuthTLSClientAuth}
	down := errors.New("database unreachable")
	tests := []struct {
		name     string
		registry fixedClients
		req      clientauth.Request
		status   int
		code     string
	}{
		{"client secret", fixedClients{}, clientauth.Request{Form: url.Values{"client_id": {"c"}, "client_secret": {"s"}}, Endpoint: clientauth.EndpointToken}, 401, "invalid_client"},
		{"no credentials", fixedClients{}, clientauth.Request{Endpoint: clientauth.EndpointToken}, 401, "invalid_client"},
		{"unknown client", fixedClients{err: client.ErrNotFound}, clientauth.Request{Form: url.Values{"client_id": {"c"}}, Endpoint: clientauth.EndpointToken}, 401, "invalid_client"},
		{"no certificate", fixedClients{c: tlsClient}, clientauth.Request{Form: url.Values{"client_id": {"tls-client"}}, IdentityErr: mtls.ErrNoClientCertificate, Endpoint: clientauth.EndpointToken}, 401, "invalid_client"},
		{"certificate refused by pki", fixedClients{c: tlsClient}, clientauth.Request{Form: url.Values{"client_id": {"tls-client"}}, IdentityErr: &pki.ValidationError{Reason: pki.ErrExpired}, Endpoint: clientauth.EndpointToken}, 401, "invalid_client"},
		{"registry down", fixedClients{err: down}, clientauth.Request{Form: url.Values{"client_id": {"c"}}, Endpoint: clientauth.EndpointToken}, 500, "server_error"},
		{"registry deadline", fixedClients{err: fmt.Errorf("db: %w", context.DeadlineExceeded)}, clientauth.Request{Form: url.Values{"client_id": {"c"}}, Endpoint: clientauth.EndpointToken}, 500, "server_error"},
		{"registry canceled", fixedClients{err: context.Canceled}, clientauth.Request{Form: url.Values{"client_id": {"c"}}, Endpoint: clientauth.EndpointToken}, 500, "server_error"},
		{"registry store not found", fixedClients{err: fmt.Errorf("client: get c: %w", store.ErrNotFound)}, clientauth.Request{Form: url.Values{"client_id": {"c"}}, Endpoint: clientauth.EndpointToken}, 500, "server_error"},
		{"registry store invalid input", fixedClients{err: fmt.Errorf("client: get c: %w", store.ErrInvalidInput)}, clientauth.Request{Form: url.Values{"client_id": {"c"}}, Endpoint: clientauth.EndpointToken}, 500, "server_error"},
		{"mtls middleware missing", fixedClients{c: tlsClient}, clientauth.Request{Form: url.Values{"client_id": {"tls-client"}}, IdentityErr: mtls.ErrNoExtractor, Endpoint: clientauth.EndpointToken}, 500, "server_error"},
		{"no endpoint", fixedClients{}, clientauth.Request{Form: url.Values{"client_id": {"c"}}}, 500, "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := clientauth.New(clientauth.Options{Clients: tt.registry, JTIs: noJTIs{}, Issuer: "https://as.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Authenticate(context.Background(), tt.req)
			if res != nil || err == nil {
				t.Fatalf("Authenticate = %v, %v; want a failure", res, err)
			}
			var ce *clientauth.Error
			if isClientErr := errors.As(err, &ce); isClientErr == errors.Is(err, clientauth.ErrInternal) {
				t.Fatalf("Authenticate error %v: *clientauth.Error %v, ErrInternal %v; want exactly one", err, isClientErr, !isClientErr)
			}
			e := oauth.FromError(err)
			if e.Status != tt.status || e.Code != tt.code {
				t.Fatalf("FromError = %d %s, want %d %s", e.Status, e.Code, tt.status, tt.code)
			}
			switch {
			case ce != nil && (e.Description == "" || e.Description != ce.Description):
				t.Errorf("description %q, want the client authentication's %q", e.Description, ce.Description)
			case ce == nil && e.Description != "internal error":
				t.Errorf("description %q, want %q", e.Description, "internal error")
			case oauth.SanitizeDescription(e.Description) != e.Description:
				t.Errorf("description %q leaves the RFC 6749 charset", e.Description)
			}
			if !errors.Is(e, err) {
				t.Errorf("the cause %v is not kept for the log", err)
			}
		})
	}
}

// fixedClients is a client registry that answers every lookup with c or err.
type fixedClients struct {
	c   *client.Client
	err error
}

func (f fixedClients) Get(context.Context, string) (*client.Client, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.c == nil {
		return nil, client.ErrNotFound
	}
	return f.c, nil
}

// clientAuthError returns a real *clientauth.Error: an authentication with no credentials.
func clientAuthError(t *testing.T) error {
	t.Helper()
	a, err := clientauth.New(clientauth.Options{Clients: noClients{}, JTIs: noJTIs{}, Issuer: "https://as.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Authenticate(context.Background(), clientauth.Request{Endpoint: clientauth.EndpointToken})
	var ce *clientauth.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Authenticate without credentials = %v, want a *clientauth.Error", err)
	}
	return err
}

type noClients struct{}

func (noClients) Get(context.Context, string) (*client.Client, error) { return nil, client.ErrNotFound }

type noJTIs struct{}

func (noJTIs) UseJTI(context.Context, string, string, time.Time) error { return store.ErrReplay }

// TestWriteErrorRetryAfter: a 503 tells the client when to try again; other errors do not.
func TestWriteErrorRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		e    *oauth.Error
		want string
	}{
		{oauth.TemporarilyUnavailable(nil), "1"},
		{oauth.InvalidClient("no"), ""},
	} {
		rec := httptest.NewRecorder()
		oauth.WriteError(rec, tt.e)
		if got := rec.Header().Get("Retry-After"); got != tt.want {
			t.Errorf("%s: Retry-After = %q, want %q", tt.e.Code, got, tt.want)
		}
	}
}

// TestWriteErrorFromDomain: what reaches the wire for a domain error is the code and a
// sanitised description, never the cause.
func TestWriteErrorFromDomain(t *testing.T) {
	rec := httptest.NewRecorder()
	oauth.WriteError(rec, oauth.FromError(fmt.Errorf("query failed: password=\"s3cret\": %w", errors.New("boom"))))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	if got, want := rec.Body.String(), `{"error":"server_error","error_description":"internal error"}`+"\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}
