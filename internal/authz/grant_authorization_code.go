package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// FamilyRevoker revokes every token issued from one authorization code: the refresh tokens
// of the family at once, and its access tokens through the deny-list until r.ExpiresAt
// (FAPI1-AS-51, FAPI2-AS-26). *store.Store implements it.
type FamilyRevoker interface {
	RevokeFamily(ctx context.Context, r store.Revocation) (int64, error)
}

// authorizationCode is the authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6). In
// order:
//
//  1. code present (invalid_request);
//  2. the code is consumed atomically, once across every node; a code already used is
//     invalid_grant and revokes every token issued from it (FAPI1-AS-51, FAPI2-AS-26);
//     unknown or expired is invalid_grant;
//  3. issued to this client, for this redirect_uri (invalid_grant);
//  4. PKCE: the verifier hashes to the challenge (invalid_grant, FAPI1-AS-52,
//     FAPI2-AS-22);
//  5. the grant's consent is still in force (Options.Consents: invalid_grant when
//     revoked, rejected, consumed or expired meanwhile; temporarily_unavailable when unknown);
//  6. an access token for the customer, bound to the certificate of this request and to
//     the grant (consent) and family; a refresh token bound to the client, its certificate
//     and the family when the client registered the refresh_token grant; an ID token when
//     openid was granted.
func (s *Server) authorizationCode(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	raw := req.form.Get("code")
	if raw == "" {
		return nil, oauth.InvalidRequest("code is missing")
	}
	rec, err := s.codes.ConsumeAuthorizationCode(ctx, store.HashSecret(raw))
	switch {
	case errors.Is(err, store.ErrConsumed):
		if rerr := s.revokeFamily(ctx, rec.FamilyID, rec.ClientID, "authorization code replayed"); rerr != nil {
			return nil, rerr
		}
		return nil, oauth.InvalidGrant("the authorization code was already used")
	case errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrNotFound):
		return nil, oauth.InvalidGrant("the authorization code is invalid or expired")
	case err != nil:
		return nil, err
	}
	if rec.ClientID != req.client.ID {
		return nil, oauth.InvalidGrant("the authorization code was issued to another client")
	}
	var g codeGrant
	if err := json.Unmarshal(rec.Data, &g); err != nil {
		return nil, fmt.Errorf("authz: stored code data: %w", err)
	}
	if req.form.Get("redirect_uri") != g.RedirectURI {
		return nil, oauth.InvalidGrant("redirect_uri does not match the authorization request")
	}
	if g.CodeChallenge != "" {
		v := req.form.Get("code_verifier")
		if v == "" {
			return nil, oauth.InvalidGrant("code_verifier is missing")
		}
		if !verifyPKCE(g.CodeChallenge, v) {
			return nil, oauth.InvalidGrant("code_verifier does not match the code_challenge")
		}
	} else if req.form.Has("code_verifier") {
		return nil, oauth.InvalidGrant("code_verifier sent for a request without code_challenge")
	}
	if err := s.checkConsent(ctx, g.ConsentID); err != nil {
		return nil, err
	}
	return s.issueUserTokens(ctx, req, userGrant{
		family: rec.FamilyID, customerID: g.CustomerID, consentID: g.ConsentID, scope: g.Scope,
		authTime: time.Unix(g.AuthTime, 0), acr: g.ACR, amr: g.AMR, nonce: g.Nonce, intentID: g.IntentID,
	})
}

// userGrant is a customer's grant as the token endpoint issues tokens for it: from an
// authorization code, or from a refresh token of it.
type userGrant struct {
	family, customerID, consentID string
	scope                         []string
	authTime                      time.Time
	acr                           string
	amr                           []string
	nonce, intentID               string
}

// refreshData is the data a refresh token carries beyond its columns.
type refreshData struct {
	Thumbprint string   `json:"x5t#S256"`
	AuthTime   int64    `json:"auth_time"`
	ACR        string   `json:"acr,omitempty"`
	AMR        []string `json:"amr,omitempty"`
	IntentID   string   `json:"openbanking_intent_id,omitempty"`
}

// issueUserTokens mints the access token, and the refresh and ID tokens the grant allows.
func (s *Server) issueUserTokens(ctx context.Context, req *tokenRequest, g userGrant) (*tokenResponse, error) {
	resp, err := s.issue(ctx, req, s.userClaims(req, g))
	if err != nil {
		return nil, err
	}
	var rtExpires time.Time
	if req.client.HasGrantType(client.GrantRefreshToken) {
		rt, err := token.NewSecret(codeEntropy)
		if err != nil {
			return nil, err
		}
		rtExpires = s.now().Add(s.refreshLifetime)
		data, err := json.Marshal(refreshData{Thumbprint: req.thumbprint, AuthTime: g.authTime.Unix(), ACR: g.acr, AMR: g.amr, IntentID: g.intentID})
		if err != nil {
			return nil, err
		}
		if err := s.refresh.PutRefreshToken(ctx, store.RefreshToken{
			Hash: store.HashSecret(rt), ClientID: req.client.ID, FamilyID: g.family, ConsentID: g.consentID,
			UserID: g.customerID, Scope: oauth.FormatScope(g.scope), Data: data, ExpiresAt: rtExpires,
		}); err != nil {
			return nil, fmt.Errorf("authz: storing refresh token: %w", err)
		}
		resp.RefreshToken = rt
	}
	if slices.Contains(g.scope, "openid") {
		sub, err := s.subjects.Subject(ctx, req.client, g.customerID)
		if err != nil {
			return nil, err
		}
		idt, err := s.idToken(ctx, req.client, token.IDTokenClaims{
			Subject: sub, ClientID: req.client.ID, Nonce: g.nonce, AuthTime: g.authTime, ACR: g.acr, AMR: g.amr,
			AccessToken: resp.AccessToken, IntentID: g.intentID, RefreshTokenExpiresAt: rtExpires,
		})
		if err != nil {
			return nil, err
		}
		resp.IDToken = idt
	}
	return resp, nil
}

// revokeFamily revokes every token of grant family (a replayed code, a reused refresh
// token): its refresh tokens and its access tokens in the store's deny-list, on this node's
// deny-list at once, and records why.
func (s *Server) revokeFamily(ctx context.Context, family, clientID, reason string) error {
	exp := s.now().Add(token.MaxAccessTokenLifetime)
	if _, err := s.families.RevokeFamily(ctx, store.Revocation{FamilyID: family, ClientID: clientID, ExpiresAt: exp}); err != nil {
		return fmt.Errorf("authz: revoking grant family (%s): %w", reason, err)
	}
	s.deny.AddFamily(family, exp)
	s.audit.Record(ctx, audit.Event{Type: audit.TypeTokenRevoked, ClientID: clientID,
		Data: map[string]any{"family": family, "reason": reason}})
	return nil
}
