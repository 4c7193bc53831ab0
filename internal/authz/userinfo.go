package authz

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/token"
)

// PathUserinfo is the UserInfo endpoint (OIDC Core §5.3), on the mTLS listener.
const PathUserinfo = "/userinfo"

// maxBearerLen bounds the Authorization header's token.
const maxBearerLen = 8 << 10

// userinfo is the UserInfo response: the subject the client knows the customer by, and the
// consent (intent) the token is bound to. No other claim about the customer is released.
type userinfo struct {
	Sub      string `json:"sub"`
	IntentID string `json:"openbanking_intent_id,omitempty"`
	ACR      string `json:"acr,omitempty"`
}

// handleUserinfo is the UserInfo endpoint (OIDC Core §5.3, FAPI1-RS-01/02). In order:
//
//  1. the access token from the Authorization header only, Bearer scheme case-insensitive
//     (401 invalid_token with WWW-Authenticate, RFC 6750 §3.1); a query or form token is
//     refused;
//  2. the token verifies (signature, issuer, lifetime, deny-list; 503 when the deny-list is
//     stale) and is a customer token with scope openid (403 insufficient_scope);
//  3. the request presents the certificate the token is bound to (cnf.x5t#S256, RFC 8705
//     §3); a certificate that is now revoked, expired or unverifiable is refused.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Has("access_token") {
		return oauth.InvalidRequest("the access token must be sent in the Authorization header")
	}
	raw, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return oauth.InvalidToken("a Bearer access token is required")
	}
	at, err := s.verifier.Verify(r.Context(), raw)
	switch {
	case errors.Is(err, token.ErrRevocationStateUnavailable):
		return err
	case err != nil:
		return oauth.InvalidToken("the access token is not valid").WithCause(err)
	case at.Use != token.UseUser:
		return oauth.InsufficientScope("the access token does not act for a customer")
	case !slices.Contains(at.Scopes, "openid"):
		return oauth.InsufficientScope("the access token was not granted scope openid")
	}
	chain, err := mtls.PresentedChain(r)
	if err != nil || len(chain) == 0 {
		return oauth.InvalidToken("the access token is bound to a client certificate").WithCause(err)
	}
	if _, idErr := mtls.ClientIdentity(r); idErr != nil && !errors.Is(idErr, pki.ErrUnknownAuthority) {
		// A self-signed client certificate (RFC 8705 §2.2) is not issued by an anchor; any
		// other refusal (revoked, expired, status unavailable) ends the binding.
		if errors.Is(idErr, pki.ErrRevocationUnavailable) {
			return oauth.TemporarilyUnavailable(idErr)
		}
		return oauth.InvalidToken("the client certificate is not valid").WithCause(idErr)
	}
	if subtle.ConstantTimeCompare([]byte(pki.Thumbprint(chain[0])), []byte(at.CertThumbprint)) != 1 {
		return oauth.InvalidToken("the access token is bound to another certificate")
	}
	return writeJSON(w, userinfo{Sub: at.Subject, IntentID: at.ConsentID, ACR: at.ACR}, true)
}

// bearer extracts the token of an RFC 6750 §2.1 Authorization header, the scheme compared
// case-insensitively (FAPI1-RS-01).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || len(tok) > maxBearerLen || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}
