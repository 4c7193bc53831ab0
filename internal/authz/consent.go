package authz

import (
	"context"

	"github.com/portcullis/portcullis/internal/oauth"
)

// ConsentStatuser says whether a consent is in force — authorised, not revoked,
// rejected, consumed or expired — at the moment of asking. It returns an error when it
// could not tell (the consent store unreachable); an unknown consent is not active.
type ConsentStatuser interface {
	ConsentStatus(ctx context.Context, consentID string) (active bool, err error)
}

// checkConsent refuses to issue tokens for a grant whose consent is no longer in force
// (invalid_grant), and answers temporarily_unavailable when that cannot be told: tokens
// are never issued for a consent that was not confirmed active. A grant without a
// consent, or a server without Options.Consents, is not checked.
func (s *Server) checkConsent(ctx context.Context, consentID string) error {
	if consentID == "" || s.consents == nil {
		return nil
	}
	active, err := s.consents.ConsentStatus(ctx, consentID)
	switch {
	case err != nil:
		return oauth.TemporarilyUnavailable(err)
	case !active:
		return oauth.InvalidGrant("the consent of this grant was revoked, rejected, consumed or has expired")
	}
	return nil
}
