package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/nca"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/internal/upstream"
)

// TestProblemFor: every domain error maps to its one wire answer; anything
// unknown is a bare 500.
func TestProblemFor(t *testing.T) {
	tests := []struct {
		err       error
		status    int
		code      string
		obCode    string
		challenge string
		noBody    bool
	}{
		{ErrRouteNotFound, 404, CodeRouteNotFound, "UK.OBIE.Resource.NotFound", "", false},
		{ErrInvalidPath, 400, CodeInvalidPath, "UK.OBIE.Field.Invalid", "", false},
		{ErrBadExtAuthzRequest, 400, CodeInvalidRequest, "UK.OBIE.Header.Invalid", "", false},
		{ErrNoCertificate, 401, CodeCertificateRequired, "UK.OBIE.Header.Missing", `Bearer error="invalid_token", error_description="A client certificate is required"`, false},
		{ErrCertificateInvalid, 401, CodeCertificateInvalid, "UK.OBIE.Header.Invalid", `Bearer error="invalid_token", error_description="The client certificate is not accepted"`, false},
		{ErrCertificateUnavailable, 503, CodeCertificateUnavailable, "UK.OBIE.UnexpectedError", "", false},
		{ErrNoToken, 401, CodeMissingToken, "", "Bearer", true},
		{ErrTokenInQuery, 400, CodeInvalidRequest, "UK.OBIE.Field.Unexpected", `Bearer error="invalid_request"`, false},
		{ErrInvalidRequest, 400, CodeInvalidRequest, "UK.OBIE.Header.Invalid", `Bearer error="invalid_request"`, false},
		{fmt.Errorf("%w: %w", ErrInvalidToken, token.ErrExpired), 401, CodeInvalidToken, "", `Bearer error="invalid_token", error_description="The access token expired"`, true},
		{fmt.Errorf("%w: %w", ErrInvalidToken, token.ErrBadSignature), 401, CodeInvalidToken, "", `Bearer error="invalid_token", error_description="The access token is not valid"`, true},
		{fmt.Errorf("%w: %w", ErrRevocationUnavailable, token.ErrRevocationStateUnavailable), 503, CodeRevocationUnavailable, "UK.OBIE.UnexpectedError", "", false},
		{ErrBindingMismatch, 401, CodeInvalidToken, "", `Bearer error="invalid_token", error_description="The access token is bound to another certificate"`, true},
		{ErrTokenUse, 403, CodeTokenUse, "UK.OBIE.Resource.ConsentMismatch", "", false},
		{&ScopeError{Required: []string{"accounts", "openid"}}, 403, CodeInsufficientScope, "UK.OBIE.Resource.ConsentMismatch", `Bearer error="insufficient_scope", scope="accounts openid"`, false},
		{ErrRoleNotAllowed, 403, CodeRoleNotAllowed, "UK.OBIE.Resource.ConsentMismatch", "", false},
		{fmt.Errorf("%w: %w", ErrTPPNotAuthorised, &nca.RefusedError{Reason: nca.ErrWithdrawn}), 403, CodeTPPNotAuthorised, "UK.OBIE.Resource.ConsentMismatch", "", false},
		{fmt.Errorf("%w: %w", ErrRegisterUnavailable, nca.ErrUnavailable), 503, CodeRegisterUnavailable, "UK.OBIE.UnexpectedError", "", false},
		{&ConsentError{}, 403, CodeConsentInvalid, "UK.OBIE.Resource.ConsentMismatch", "", false},
		{&ConsentError{Decision: consent.Decision{ErrorCode: "UK.OBIE.Resource.NotFound", HTTPStatus: 404}}, 404, CodeConsentInvalid, "UK.OBIE.Resource.NotFound", "", false},
		{fmt.Errorf("%w: %w", ErrConsentUnavailable, consent.ErrUnavailable), 503, CodeConsentUnavailable, "UK.OBIE.UnexpectedError", "", false},
		{ErrBodyTooLarge, 413, CodeBodyTooLarge, "UK.OBIE.Resource.InvalidFormat", "", false},
		{ErrBadBody, 400, CodeBadBody, "UK.OBIE.Resource.InvalidFormat", "", false},
		{fmt.Errorf("%w: x", upstream.ErrTimeout), 504, CodeUpstreamTimeout, "UK.OBIE.UnexpectedError", "", false},
		{fmt.Errorf("%w: x", upstream.ErrUnavailable), 502, CodeUpstreamUnavailable, "UK.OBIE.UnexpectedError", "", false},
		{upstream.ErrCanceled, 502, CodeUpstreamUnavailable, "UK.OBIE.UnexpectedError", "", false},
		{upstream.ErrIdentity, 500, CodeServerError, "UK.OBIE.UnexpectedError", "", false},
		{ErrInternal, 500, CodeServerError, "UK.OBIE.UnexpectedError", "", false},
		{errors.New("database exploded: password=hunter2"), 500, CodeServerError, "UK.OBIE.UnexpectedError", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			p := problemFor(tt.err)
			if p.status != tt.status || p.code != tt.code || p.obCode != tt.obCode || p.challenge != tt.challenge || p.noBody != tt.noBody {
				t.Errorf("problemFor = %+v, want %d %s %s %q noBody=%v", p, tt.status, tt.code, tt.obCode, tt.challenge, tt.noBody)
			}
		})
	}
}

// TestRejectRendering: the exact OBIE body, headers, and that internal causes
// never reach the caller.
func TestRejectRendering(t *testing.T) {
	g := &Gateway{log: slog.New(slog.DiscardHandler)}
	ctx := obs.NewContext(context.Background(), "", testInteractionID)
	tests := []struct {
		name   string
		err    error
		status int
		body   string
		header map[string]string
	}{
		{name: "consent refusal", err: &ConsentError{Decision: consent.Decision{ErrorCode: "UK.OBIE.Resource.InvalidConsentStatus", ErrorMessage: "Consent revoked"}},
			status: 403,
			body: `{"Code":"consent_invalid","Id":"` + testInteractionID + `","Message":"Consent revoked",` +
				`"Errors":[{"ErrorCode":"UK.OBIE.Resource.InvalidConsentStatus","Message":"Consent revoked"}]}`},
		{name: "token in query", err: ErrTokenInQuery, status: 400,
			body: `{"Code":"invalid_request","Id":"` + testInteractionID + `","Message":"Access tokens are accepted in the Authorization header only",` +
				`"Errors":[{"ErrorCode":"UK.OBIE.Field.Unexpected","Message":"Access tokens are accepted in the Authorization header only","Path":"access_token"}]}`,
			header: map[string]string{"WWW-Authenticate": `Bearer error="invalid_request"`}},
		{name: "internal", err: fmt.Errorf("%w: secret detail", ErrInternal), status: 500,
			body: `{"Code":"server_error","Id":"` + testInteractionID + `","Message":"Internal error","Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"Internal error"}]}`},
		{name: "unavailable", err: ErrConsentUnavailable, status: 503,
			body: `{"Code":"consent_validator_unavailable","Id":"` + testInteractionID + `","Message":"Consent validation unavailable; retry later",` +
				`"Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"Consent validation unavailable; retry later"}]}`,
			header: map[string]string{"Retry-After": "1"}},
		{name: "expired token", err: fmt.Errorf("%w: %w", ErrInvalidToken, token.ErrExpired), status: 401, body: "",
			header: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token", error_description="The access token expired"`, "Content-Length": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/x", nil).WithContext(ctx)
			g.reject(rec, r, modeProxy, "r", "", tt.err)
			if rec.Code != tt.status {
				t.Fatalf("status = %d", rec.Code)
			}
			if tt.body == "" {
				if rec.Body.Len() != 0 {
					t.Errorf("body = %q, want none", rec.Body)
				}
			} else {
				if got := rec.Body.String(); got != tt.body {
					t.Errorf("body =\n%s\nwant\n%s", got, tt.body)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Error("internal cause leaked into the body")
			}
			if got := rec.Header().Get("X-Fapi-Interaction-Id"); got != testInteractionID {
				t.Errorf("x-fapi-interaction-id = %q", got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			for k, v := range tt.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestInteractionIDWithoutMiddleware: a gateway mounted without obs.Middleware
// still answers with an interaction id.
func TestInteractionIDWithoutMiddleware(t *testing.T) {
	g := &Gateway{log: slog.New(slog.DiscardHandler), proxyMux: http.NewServeMux()}
	g.proxyMux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.reject(w, r, modeProxy, "", "", ErrRouteNotFound)
	}))
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nowhere", nil))
	if id := rec.Header().Get("X-Fapi-Interaction-Id"); len(id) != 36 {
		t.Fatalf("x-fapi-interaction-id = %q", id)
	}
}
