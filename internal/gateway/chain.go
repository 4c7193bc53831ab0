package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/token"
)

// TokenVerifier verifies access tokens; *token.Verifier implements it (signature
// by the authorization server's current or previous keys, typ at+jwt, iss, aud,
// exp/nbf with bounded skew, its verified-token cache, and the deny-list on every
// call). Errors are package token's.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*token.AccessToken, error)
}

// exchange is one request on its way through the chain: what each stage found.
type exchange struct {
	r      *http.Request
	route  *compiledRoute
	params map[string]string

	id *pki.Identity      // set by certificateStage
	at *token.AccessToken // set by tokenStage

	body     []byte // the request body, when consentStage read it
	bodyRead bool
	decision consent.Decision // consentStage's allow
	customer string           // customerStage: the bank's customer id, for the upstream only
}

// stage is one check of the chain. It returns nil to pass the request on, or a
// domain error of this package (errors.go) to stop it.
type stage interface {
	Check(ctx context.Context, x *exchange) error
}

// certificateStage: the caller presented a client certificate and it is valid
// (chain, validity, eIDAS/PSD2 profile, revocation: package pki via mtls).
type certificateStage struct{}

func (certificateStage) Check(_ context.Context, x *exchange) error {
	id, err := mtls.ClientIdentity(x.r)
	switch {
	case err == nil:
		x.id = id
		return nil
	case errors.Is(err, mtls.ErrNoExtractor), errors.Is(err, pki.ErrNoRevocationChecker), errors.Is(err, pki.ErrInvalidPurpose):
		return fmt.Errorf("%w: %w", ErrInternal, err)
	case errors.Is(err, mtls.ErrNoClientCertificate):
		return fmt.Errorf("%w: %w", ErrNoCertificate, err)
	case errors.Is(err, pki.ErrRevocationUnavailable):
		return fmt.Errorf("%w: %w", ErrCertificateUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrCertificateInvalid, err)
}

// tokenStage: an access token in the Authorization header (and not in the query),
// verified by the TokenVerifier: signature by the authorization server's current
// or previous keys, iss, aud, exp/nbf with bounded skew, typ at+jwt — and, in the
// same call, not revoked (the deny-list, refreshed from the store within 5 s on
// every node). A stale deny-list is ErrRevocationUnavailable.
type tokenStage struct{ verifier TokenVerifier }

func (s tokenStage) Check(ctx context.Context, x *exchange) error {
	raw, err := bearerToken(x.r)
	if err != nil {
		return err
	}
	at, err := s.verifier.Verify(ctx, raw)
	switch {
	case err == nil:
		x.at = at
		return nil
	case errors.Is(err, token.ErrRevocationStateUnavailable):
		return fmt.Errorf("%w: %w", ErrRevocationUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalidToken, err)
}

// tokenUseStage: the token is of the kind the route accepts (customer or
// application).
type tokenUseStage struct{}

func (tokenUseStage) Check(_ context.Context, x *exchange) error {
	use := x.route.TokenUse
	switch {
	case use == TokenUseAny && (x.at.Use == token.UseUser || x.at.Use == token.UseApplication),
		use == TokenUseUser && x.at.Use == token.UseUser,
		use == TokenUseApplication && x.at.Use == token.UseApplication:
		return nil
	}
	return fmt.Errorf("%w: route needs %s, token is %s", ErrTokenUse, use, x.at.Use)
}

// scopeStage: every scope the route needs was granted.
type scopeStage struct{}

func (scopeStage) Check(_ context.Context, x *exchange) error {
	for _, s := range x.route.Scopes {
		if !x.at.HasScope(s) {
			return &ScopeError{Required: slices.Clone(x.route.Scopes)}
		}
	}
	return nil
}

// bindingStage: the token's cnf.x5t#S256 is the thumbprint of the certificate
// presented with this request (RFC 8705 §3; package token compares in constant
// time).
type bindingStage struct{}

func (bindingStage) Check(_ context.Context, x *exchange) error {
	if err := token.CheckBinding(x.at, x.id.Thumbprint); err != nil {
		return fmt.Errorf("%w: %w", ErrBindingMismatch, err)
	}
	return nil
}

// roleStage: the certificate carries one of the route's PSD2 roles.
type roleStage struct{}

func (roleStage) Check(_ context.Context, x *exchange) error {
	if x.route.AnyRole {
		return nil
	}
	for _, r := range x.route.Roles {
		if x.id.HasRole(r) {
			return nil
		}
	}
	return fmt.Errorf("%w: needs one of %v, certificate has %v", ErrRoleNotAllowed, x.route.Roles, x.id.Roles)
}

// consentStage: the route's consent validator allows the request. A token without
// a consent id is refused unless ConsentCheck says otherwise (customer tokens:
// only Optional; application tokens: unless Required). It reads the request body
// (bounded) so the validator can see it. A validator error or an
// unusable decision is ErrConsentUnavailable, never an allow.
type consentStage struct{ maxBody int64 }

func (s consentStage) Check(ctx context.Context, x *exchange) error {
	cc := x.route.Consent
	if cc.Kind == "" {
		return nil
	}
	if x.at.ConsentID == "" {
		// Fail closed: only an explicit opt-out, or an application token on a
		// route that does not insist, passes without a consent.
		if cc.Optional || x.at.Use == token.UseApplication && !cc.Required {
			return nil
		}
		return &ConsentError{Decision: consent.Decision{
			ErrorCode: obDefaultConsentMismatch, ErrorMessage: "The access token is not bound to a consent",
		}}
	}
	if err := x.readBody(s.maxBody); err != nil {
		return err
	}
	req := consent.Request{
		Kind: cc.Kind, ConsentID: x.at.ConsentID, ClientID: x.at.ClientID, UserID: x.at.UserID,
		TokenClaims: tokenClaims(x.at), Method: x.r.Method, Path: x.r.URL.EscapedPath(), RawQuery: x.r.URL.RawQuery,
		ResourceTemplate: x.route.Pattern, PathParams: x.params,
		Headers: consent.RequestHeaders(x.r.Header), Body: x.body,
	}
	d, err := x.route.validator.Validate(ctx, req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConsentUnavailable, err)
	}
	if err := d.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrConsentUnavailable, err)
	}
	if !d.Valid {
		return &ConsentError{Decision: d}
	}
	x.decision = d
	return nil
}

// readBody reads the whole request body, at most max bytes.
func (x *exchange) readBody(max int64) error {
	if x.bodyRead {
		return nil
	}
	x.bodyRead = true
	// A server request declaring Content-Length 0 has no body (one of unknown
	// length has -1); only http.MaxBytesReader's wrapper stands in for it.
	if x.r.Body == nil || x.r.Body == http.NoBody || x.r.ContentLength == 0 {
		return nil
	}
	if x.r.ContentLength > max {
		return fmt.Errorf("%w: Content-Length %d over %d", ErrBodyTooLarge, x.r.ContentLength, max)
	}
	b, err := io.ReadAll(io.LimitReader(x.r.Body, max+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: %w", ErrBodyTooLarge, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrBadBody, err)
	case int64(len(b)) > max:
		return fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, max)
	}
	x.body = b
	return nil
}

// tokenClaims renders the verified token as its JWT claims (for validators).
func tokenClaims(at *token.AccessToken) map[string]any {
	m := make(map[string]any, 14) // every claim below: no growth
	m["iss"], m["sub"], m["aud"], m["client_id"] = at.Issuer, at.Subject, at.Audience, at.ClientID
	m["scope"], m["jti"] = strings.Join(at.Scopes, " "), at.JTI
	m["iat"], m["nbf"], m["exp"] = at.IssuedAt.Unix(), at.NotBefore.Unix(), at.ExpiresAt.Unix()
	m["aut"], m["cnf"] = string(at.Use), map[string]any{"x5t#S256": at.CertThumbprint}
	if at.ConsentID != "" {
		m["consent_id"] = at.ConsentID
	}
	if at.ACR != "" {
		m["acr"] = at.ACR
	}
	if !at.AuthTime.IsZero() {
		m["auth_time"] = at.AuthTime.Unix()
	}
	return m
}

// checkParams validates the path parameters a route matched: ServeMux unescapes
// each segment, so "%2F" arrives as "/" and could point a lax upstream elsewhere.
func checkParams(params map[string]string) error {
	for name, v := range params {
		if v == "" || v == "." || v == ".." {
			return fmt.Errorf("%w: {%s}", ErrInvalidPath, name)
		}
		for _, c := range v {
			if c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
				return fmt.Errorf("%w: {%s}", ErrInvalidPath, name)
			}
		}
	}
	return nil
}
