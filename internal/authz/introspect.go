package authz

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/token"
)

// introspection is the RFC 7662 §2.2 response. An inactive token is {"active":false} and
// nothing else: no member says why.
type introspection struct {
	Active    bool          `json:"active"`
	Scope     string        `json:"scope,omitempty"`
	ClientID  string        `json:"client_id,omitempty"`
	TokenType string        `json:"token_type,omitempty"`
	Exp       int64         `json:"exp,omitempty"`
	Iat       int64         `json:"iat,omitempty"`
	Nbf       int64         `json:"nbf,omitempty"`
	Sub       string        `json:"sub,omitempty"`
	Aud       audience      `json:"aud,omitempty"`
	Iss       string        `json:"iss,omitempty"`
	JTI       string        `json:"jti,omitempty"`
	Cnf       *confirmation `json:"cnf,omitempty"`
	// The Portcullis claims of the token (package token): application or customer token,
	// the consent it is bound to, and for customer tokens how the customer authenticated.
	Aut       token.Use `json:"aut,omitempty"`
	ConsentID string    `json:"consent_id,omitempty"`
	ACR       string    `json:"acr,omitempty"`
	AuthTime  int64     `json:"auth_time,omitempty"`
}

// confirmation is the RFC 8705 §3.2 cnf member.
type confirmation struct {
	X5tS256 string `json:"x5t#S256"`
}

// audience is aud: a string when there is one value, else an array (RFC 7662 §2.2,
// RFC 7519 §4.1.3).
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
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
	out := introspection{
		Active:    true,
		Scope:     oauth.FormatScope(at.Scopes),
		ClientID:  at.ClientID,
		TokenType: "Bearer",
		Exp:       at.ExpiresAt.Unix(),
		Iat:       at.IssuedAt.Unix(),
		Nbf:       at.NotBefore.Unix(),
		Sub:       at.Subject,
		Aud:       audience(at.Audience),
		Iss:       at.Issuer,
		JTI:       at.JTI,
		Cnf:       &confirmation{X5tS256: at.CertThumbprint},
		Aut:       at.Use,
		ConsentID: at.ConsentID,
		ACR:       at.ACR,
	}
	if !at.AuthTime.IsZero() {
		out.AuthTime = at.AuthTime.Unix()
	}
	return writeJSON(w, out, true)
}
