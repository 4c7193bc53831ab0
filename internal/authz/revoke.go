package authz

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// handleRevoke is the revocation endpoint (RFC 7009). The caller authenticates exactly as
// at the token endpoint (clientauth, endpoint revocation); token is required
// (invalid_request); token_type_hint is accepted and any value, known or not, is ignored
// (access tokens are the only tokens issued; RFC 7009 §2.1 lets the server search on).
//
// An access token that verifies and was issued to the caller is revoked: first on this
// node's deny-list (effective at once here), then in the store's deny-list table, which
// every node's deny-list (and so the gateway) reads within its refresh interval; then the
// token.revoked audit event. The answer is 200 with an empty body (RFC 7009 §2.2).
//
// Everything else — a token that does not verify, is expired or already revoked, or
// belongs to another client — is also 200 and changes nothing (RFC 7009 §2.2: an invalid
// token is not an error; and a client must not learn whether another client's token
// exists). A store that cannot record the revocation is 503 temporarily_unavailable
// (RFC 7009 §2.2.1), so the client retries; so is a deny-list too old to tell whether the
// token is already revoked.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	form, err := oauth.ParseForm(r, s.maxBody)
	if err != nil {
		return err
	}
	res, err := s.authenticate(r, form, clientauth.EndpointRevocation)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return oauth.InvalidRequest("token is missing")
	}
	ctx := r.Context()
	at, err := s.verifier.Verify(ctx, raw)
	switch {
	case errors.Is(err, token.ErrRevocationStateUnavailable):
		return err
	case err != nil:
		obs.Annotate(ctx, slog.String("revocation", "no effect: token invalid"))
		return writeRevoked(w)
	case at.ClientID != res.Client.ID:
		obs.Annotate(ctx, slog.String("revocation", "no effect: token of another client"))
		return writeRevoked(w)
	}
	s.deny.Add(at.JTI, at.ExpiresAt)
	err = s.revs.RevokeToken(ctx, store.Revocation{JTI: at.JTI, ClientID: at.ClientID, ExpiresAt: at.ExpiresAt})
	if err != nil {
		return oauth.TemporarilyUnavailable(err)
	}
	s.audit.Record(ctx, tokenEvent(audit.TypeTokenRevoked, at, ""))
	obs.Annotate(ctx, slog.String("revocation", "revoked"), slog.String("jti", at.JTI))
	return writeRevoked(w)
}

// writeRevoked writes the RFC 7009 §2.2 success response: 200, empty body.
func writeRevoked(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	return nil
}
