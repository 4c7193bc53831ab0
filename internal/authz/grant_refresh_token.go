package authz

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// RefreshRotator consumes a refresh token and stores its successor atomically, once across
// every node (store.ErrConsumed with the record for a replay); *store.Store implements it.
type RefreshRotator interface {
	GetRefreshToken(ctx context.Context, hash string) (store.RefreshToken, error)
	RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken) (store.RefreshToken, error)
}

// refreshToken is the refresh_token grant (RFC 6749 §6). In order:
//
//  1. refresh_token present (invalid_request);
//  2. the token exists, is not revoked (its consent or family was revoked), not expired and,
//     for a rotating client, not used before (invalid_grant); a rotated token used again
//     revokes its whole family (RFC 9700 §4.14.2);
//  3. it was issued to this client (invalid_grant, FAPI1-AS-56) and the request presents
//     the certificate it is bound to (invalid_grant);
//  4. scope, when sent, is within the grant (invalid_scope);
//  5. the grant's consent is still in force (Options.Consents: invalid_grant when
//     revoked, rejected, consumed or expired meanwhile; temporarily_unavailable when unknown);
//  6. a new access token in the same grant (consent, family, customer). FAPI 1.0 clients get
//     a new refresh token that replaces the old one (rotation, same expiry); FAPI 2.0
//     clients keep theirs (no rotation, FAPI2 §5.3.2.1).
func (s *Server) refreshToken(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	raw := req.form.Get("refresh_token")
	if raw == "" {
		return nil, oauth.InvalidRequest("refresh_token is missing")
	}
	hash := store.HashSecret(raw)
	rotate := req.client.EffectiveProfile() == client.ProfileFAPI1
	rec, err := s.refresh.GetRefreshToken(ctx, hash)
	if err = s.refreshUsable(ctx, rec, err); err != nil {
		return nil, err
	}
	if rec.ClientID != req.client.ID {
		return nil, oauth.InvalidGrant("the refresh token was issued to another client")
	}
	var d refreshData
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, fmt.Errorf("authz: stored refresh token data: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(d.Thumbprint), []byte(req.thumbprint)) != 1 {
		return nil, oauth.InvalidGrant("the refresh token is bound to another certificate")
	}
	granted, err := oauth.ParseScope(rec.Scope)
	if err != nil {
		return nil, fmt.Errorf("authz: stored refresh token scope: %w", err)
	}
	scope := granted
	if req.form.Has("scope") {
		if scope, err = oauth.ParseScope(req.form.Get("scope")); err != nil {
			return nil, err
		}
		for _, sc := range scope {
			if !slices.Contains(granted, sc) {
				return nil, oauth.InvalidScope("scope " + sc + " was not granted")
			}
		}
	}
	if err := s.checkConsent(ctx, rec.ConsentID); err != nil {
		return nil, err
	}
	g := userGrant{
		family: rec.FamilyID, customerID: rec.UserID, consentID: rec.ConsentID, scope: scope,
		authTime: time.Unix(d.AuthTime, 0), acr: d.ACR, amr: d.AMR, intentID: d.IntentID,
	}
	if !rotate {
		return s.issue(ctx, req, s.userClaims(req, g))
	}
	next, err := token.NewSecret(codeEntropy)
	if err != nil {
		return nil, err
	}
	old, err := s.refresh.RotateRefreshToken(ctx, hash, store.RefreshToken{
		Hash: store.HashSecret(next), ExpiresAt: rec.ExpiresAt,
	})
	if err = s.refreshUsable(ctx, old, err); err != nil {
		return nil, err
	}
	resp, err := s.issue(ctx, req, s.userClaims(req, g))
	if err != nil {
		return nil, err
	}
	resp.RefreshToken = next
	return resp, nil
}

// refreshUsable maps the store's verdict on a refresh token to the wire, revoking the
// family of a rotated token presented again.
func (s *Server) refreshUsable(ctx context.Context, rec store.RefreshToken, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrConsumed):
		if rerr := s.revokeFamily(ctx, rec.FamilyID, rec.ClientID, "refresh token reused"); rerr != nil {
			return rerr
		}
		return oauth.InvalidGrant("the refresh token was already used")
	case errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrNotFound):
		return oauth.InvalidGrant("the refresh token is invalid, expired or revoked")
	}
	return err
}

// userClaims are the access token claims of a customer grant.
func (s *Server) userClaims(req *tokenRequest, g userGrant) token.Claims {
	return token.Claims{
		ClientID: req.client.ID, Use: token.UseUser, UserID: g.customerID, Sector: Sector(req.client),
		FamilyID: g.family, Scopes: g.scope, ConsentID: g.consentID, CertThumbprint: req.thumbprint,
		AuthTime: g.authTime, ACR: g.acr,
	}
}
