package authz

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/token"
)

// tokenRequest is a token request that passed the checks common to every grant: a
// well-formed form, an authenticated client registered for the grant, and the certificate
// the access token will be bound to.
type tokenRequest struct {
	grantType string
	form      url.Values
	client    *client.Client
	auth      *clientauth.Result
	// thumbprint is cnf.x5t#S256 of the certificate the request came with (RFC 8705 §3.1).
	thumbprint string
}

// tokenResponse is the successful token response (RFC 6749 §5.1, FAPI1-AS-53, OB-08).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// grantHandler runs one grant type (RFC 6749 §4) for a request the token endpoint has
// already authenticated and bound. It returns the response, or an error the endpoint
// renders (an *oauth.Error, or a domain error oauth.FromError maps).
type grantHandler func(ctx context.Context, req *tokenRequest) (*tokenResponse, error)

// grantHandlers lists the implemented grants, one grant_*.go file each. A grant type not
// listed here is unsupported_grant_type, which is how the password grant is refused
// (FAPI2-AS-02). Discovery's grant_types_supported is derived from this map.
func (s *Server) grantHandlers() map[string]grantHandler {
	h := map[string]grantHandler{
		client.GrantClientCredentials: s.clientCredentials,
	}
	if s.codes != nil {
		h[client.GrantAuthorizationCode] = s.authorizationCode
		h[client.GrantRefreshToken] = s.refreshToken
	}
	return h
}

// handleToken is the token endpoint (RFC 6749 §3.2). In order:
//
//  1. the form (oauth.ParseForm: POST, form content type, body size, no query, no repeated
//     parameter);
//  2. grant_type present (invalid_request) and implemented (unsupported_grant_type);
//  3. a client certificate was presented (401 invalid_client, FAPI1-AS-50): checked before
//     client authentication, so that a request that can never get a token costs no
//     signature verification and consumes no client assertion;
//  4. client authentication (clientauth; 401 invalid_client), which leaves the certificate
//     the request was accepted with — a validated one, or for self_signed_tls_client_auth
//     the one matching the client's registered key; none is 401 invalid_client;
//  5. the client registered this grant type (unauthorized_client);
//  6. the grant.
//
// The response carries Cache-Control: no-store (RFC 6749 §5.1).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) (err error) {
	grantLabel := grantTypeUnsupported
	defer func() {
		outcome := outcomeIssued
		if err != nil {
			outcome = errorOutcome(err)
		}
		s.metrics.grants.WithLabelValues(grantLabel, outcome).Inc()
	}()
	form, err := oauth.ParseForm(r, s.maxBody)
	if err != nil {
		return err
	}
	gt := form.Get("grant_type")
	if gt == "" {
		return oauth.InvalidRequest("grant_type is missing")
	}
	grant, ok := s.grants[gt]
	if !ok {
		return oauth.UnsupportedGrantType("the grant type is not supported")
	}
	grantLabel = gt // one of the implemented grant types: a bounded label
	if _, err := mtls.PresentedChain(r); errors.Is(err, mtls.ErrNoClientCertificate) {
		return oauth.InvalidClient("a client certificate is required").WithCause(err)
	}
	res, err := s.authenticate(r, form, clientauth.EndpointToken)
	if err != nil {
		return err
	}
	if res.Certificate == nil {
		return oauth.InvalidClient("a client certificate is required")
	}
	if !res.Client.HasGrantType(gt) {
		return oauth.UnauthorizedClient("the client is not registered for this grant type")
	}
	resp, err := grant(r.Context(), &tokenRequest{
		grantType:  gt,
		form:       form,
		client:     res.Client,
		auth:       res,
		thumbprint: pki.Thumbprint(res.Certificate),
	})
	if err != nil {
		return err
	}
	return writeJSON(w, resp, true)
}

// tokenEvent is the audit event of an access token: identifiers only, never the token.
// Data: jti, aut, scope, consent_id (when bound to a consent), x5t#S256 (the certificate
// binding), exp (NumericDate), grant_type (on issuance).
func tokenEvent(typ string, at *token.AccessToken, grantType string) audit.Event {
	data := map[string]any{
		"jti":      at.JTI,
		"aut":      string(at.Use),
		"scope":    oauth.FormatScope(at.Scopes),
		"x5t#S256": at.CertThumbprint,
		"exp":      at.ExpiresAt.Unix(),
	}
	if at.ConsentID != "" {
		data["consent_id"] = at.ConsentID
	}
	if grantType != "" {
		data["grant_type"] = grantType
	}
	subject := ""
	if at.Use == token.UseUser {
		subject = at.UserID
	}
	return audit.Event{Type: typ, ClientID: at.ClientID, Subject: subject, Data: data}
}

// issue mints an access token for the grant and records the token.issued audit event.
func (s *Server) issue(ctx context.Context, req *tokenRequest, c token.Claims) (*tokenResponse, error) {
	raw, at, err := s.tokens.Issue(ctx, c)
	if err != nil {
		return nil, err
	}
	s.audit.Record(ctx, tokenEvent(audit.TypeTokenIssued, at, req.grantType))
	return &tokenResponse{
		AccessToken: raw,
		TokenType:   "Bearer",
		ExpiresIn:   int64(at.ExpiresAt.Sub(at.IssuedAt) / time.Second),
		Scope:       oauth.FormatScope(at.Scopes),
	}, nil
}
