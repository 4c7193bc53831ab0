package authz

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/token"
)

// introspection is the RFC 7662 §2.2 response: active, token_type and, for an active token,
// the token's own claims (token.ClaimsSet, including cnf.x5t#S256, RFC 8705 §3.2, and the
// Portcullis claims aut, consent_id, acr, auth_time). An inactive token is {"active":false}
// and nothing else: no member says why.
type introspection struct {
	Active    bool   `json:"active"`
	TokenType string `json:"token_type,omitempty"`
	*token.ClaimsSet
}

// handleIntrospect is the introspection endpoint (RFC 7662). The caller authenticates
// exactly as at the token endpoint (clientauth, endpoint introspection); token is required
// (invalid_request); token_type_hint is accepted and, since access tokens are the only
// tokens issued, not needed.
//
// A token that does not verify (malformed, foreign, wrong type, expired, revoked) or that
// was issued to another client is {"active":false} and only that (RFC 7662 §2.2: a client
// learns nothing about tokens that are not its own). An active token is described with
// its claims, including cnf.x5t#S256 (RFC 8705 §3.2). When the deny-list is too old to rule
// out a revocation the answer is 503, never "active".
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) error {
	form, err := oauth.ParseForm(r, s.maxBody)
	if err != nil {
		return err
	}
	res, err := s.authenticate(r, form, clientauth.EndpointIntrospection)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return oauth.InvalidRequest("token is missing")
	}
	at, err := s.verifier.Verify(r.Context(), raw)
	switch {
	case errors.Is(err, token.ErrRevocationStateUnavailable):
		return err
	case err != nil, at.ClientID != res.Client.ID:
		return writeJSON(w, introspection{Active: false}, true)
	}
	return writeJSON(w, introspection{Active: true, TokenType: "Bearer", ClaimsSet: at.ClaimsSet()}, true)
}
