package authz

import (
	"context"
	"slices"

	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/token"
)

// scopeOpenID is the OpenID Connect scope: it asks for an ID token, which only a grant
// with an end user can carry.
const scopeOpenID = "openid"

// clientCredentials is the client credentials grant (RFC 6749 §4.4; FAPI1-AS-57; OB-01: how
// a UK Open Banking client gets the token that creates a consent). The token endpoint has
// authenticated the client, checked it registered client_credentials and found the
// certificate to bind to. Here:
//
//   - scope: the requested scope tokens (oauth.ParseScope; malformed is invalid_scope) must
//     each be registered by the client and, when Options.ScopesSupported is set, be among
//     them; openid is refused (no ID token without an end user). Without a scope parameter
//     the client gets its registered scopes minus openid (and minus any outside
//     ScopesSupported) — if that leaves nothing, invalid_scope (RFC 6749 §3.3);
//   - the token is an application token (aut APPLICATION, sub = client_id) bound to the
//     certificate (cnf.x5t#S256), with the issuer's lifetime; no refresh token
//     (RFC 6749 §4.4.3).
func (s *Server) clientCredentials(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	c := req.client
	requested, err := oauth.ParseScope(req.form.Get("scope"))
	if err != nil {
		return nil, err
	}
	var granted []string
	if len(requested) == 0 {
		for _, sc := range c.Scope {
			if sc != scopeOpenID && s.scopeSupported(sc) {
				granted = append(granted, sc)
			}
		}
		if len(granted) == 0 {
			return nil, oauth.InvalidScope("no scope requested and the client has no default scope")
		}
	} else {
		for _, sc := range requested {
			if sc == scopeOpenID {
				return nil, oauth.InvalidScope("openid is not available with the client_credentials grant")
			}
			if !c.Scope.Contains(sc) || !s.scopeSupported(sc) {
				return nil, oauth.InvalidScope("a requested scope is not registered for the client")
			}
		}
		granted = requested
	}
	return s.issue(ctx, req, token.Claims{
		ClientID:       c.ID,
		Use:            token.UseApplication,
		Scopes:         granted,
		CertThumbprint: req.thumbprint,
	})
}

// scopeSupported reports whether the server may grant sc: always when
// Options.ScopesSupported is empty, else when sc is listed.
func (s *Server) scopeSupported(sc string) bool {
	return len(s.scopes) == 0 || slices.Contains(s.scopes, sc)
}
