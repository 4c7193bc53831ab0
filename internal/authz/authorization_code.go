package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// DefaultCodeLifetime is how long an authorization code may be exchanged when
// Options.CodeLifetime is zero: 60 s, the FAPI 2.0 ceiling (FAPI2-AS-10), also used for
// FAPI 1.0 clients.
const DefaultCodeLifetime = 60 * time.Second

// codeEntropy is the number of random bytes of an authorization code (256 bits).
const codeEntropy = 32

// CodeStore keeps authorization codes; *store.Store implements it. Consume redeems a code
// once across every node: later callers get store.ErrConsumed with the record (its FamilyID
// names the tokens to revoke), store.ErrExpired or store.ErrNotFound.
type CodeStore interface {
	PutAuthorizationCode(ctx context.Context, c store.AuthorizationCode) error
	ConsumeAuthorizationCode(ctx context.Context, hash string) (store.AuthorizationCode, error)
}

// Subjects turns the bank's customer id into the subject a client sees (OIDC Core §8):
// public or pairwise per the client's subject_type, never the customer id itself.
type Subjects interface {
	Subject(ctx context.Context, c *client.Client, customerID string) (string, error)
}

// Approval is what the customer journey established: who the customer is, how they
// authenticated, and the grant (consent record) the tokens will be bound to.
type Approval struct {
	CustomerID string
	AuthTime   time.Time
	ACR        string
	AMR        []string
	// ConsentID is the consent (grant) record the customer approved; every token of the
	// authorization carries it.
	ConsentID string
	// Scope is what the customer granted: the request's scope, or a subset of it.
	Scope []string
	// Grant, when set, records the approval as a grant (a consent record) and returns its
	// id, which then replaces ConsentID. Complete calls it once the pending request is
	// consumed and the approval checked, so that a journey completed twice or refused
	// leaves no grant behind. An *oauth.Error from it refuses the authorization (the
	// client receives it, e.g. access_denied); any other error is a failure.
	Grant func(ctx context.Context) (consentID string, err error)
}

// codeGrant is the data an authorization code carries to the token endpoint.
type codeGrant struct {
	RedirectURI   string          `json:"redirect_uri"`
	CodeChallenge string          `json:"code_challenge,omitempty"`
	Scope         []string        `json:"scope,omitempty"`
	Nonce         string          `json:"nonce,omitempty"`
	CustomerID    string          `json:"customer_id"`
	AuthTime      int64           `json:"auth_time"`
	ACR           string          `json:"acr,omitempty"`
	AMR           []string        `json:"amr,omitempty"`
	ConsentID     string          `json:"consent_id,omitempty"`
	IntentID      string          `json:"openbanking_intent_id,omitempty"`
	Claims        json.RawMessage `json:"claims,omitempty"`
}

// Pending is an authorization request on its way through the customer journey: the
// validated request, and the key of its stored record (the hash of the request_uri it was
// pushed with, or of a secret for a request sent by value), which is consumed when the
// journey completes, once across every node (FAPI1-AS-32).
type Pending struct {
	Request        *AuthorizationRequest
	RequestURIHash string
	// ExpiresAt is when the request may no longer start or complete a journey.
	ExpiresAt time.Time
}

// Complete ends a journey the customer approved. In order: the pending request is consumed
// (a second completion, on any node, fails with ErrJourneyGone); an essential acr the
// journey did not reach fails the request (access_denied, FAPI1-AS-22, OB-07); a fresh
// single-use code with 256 bits of entropy is stored, bound to the client, the
// redirect_uri, the PKCE challenge and the grant; hybrid requests get a front-channel ID
// token with c_hash, s_hash and nonce (FAPI1-AS-40). It returns the redirect URL for a 303.
// An error that can be told to the client is returned as a redirect URL with the error
// (and a nil error); a nil URL with an error means an error page.
func (s *Server) Complete(ctx context.Context, p *Pending, ap Approval) (string, error) {
	ar := p.Request
	c, err := s.journeyClient(ctx, ar.ClientID)
	if err != nil {
		return "", err
	}
	pr, err := s.pushed.ConsumePushedRequest(ctx, p.RequestURIHash)
	if err != nil || pr.ClientID != ar.ClientID {
		if err != nil && !journeyRecordGone(err) {
			return "", err
		}
		return "", fmt.Errorf("%w: %v", ErrJourneyGone, err)
	}
	if ar.EssentialACR && !slices.Contains(ar.ACRValues, ap.ACR) {
		return s.redirectURL(ar, errorParams(oauth.AccessDenied("the requested authentication level was not reached")), jose.Alg(c.AuthorizationSignedResponseAlg))
	}
	if ap.CustomerID == "" || ap.AuthTime.IsZero() {
		return "", errors.New("authz: approval without a customer or an authentication time")
	}
	if ap.Grant != nil {
		id, err := ap.Grant(ctx)
		var refused *oauth.Error
		switch {
		case errors.As(err, &refused):
			// The grant was refused (e.g. the consent was revoked meanwhile): the client
			// learns it in the response, the customer is sent back.
			return s.redirectURL(ar, errorParams(refused), jose.Alg(c.AuthorizationSignedResponseAlg))
		case err != nil:
			return "", fmt.Errorf("authz: recording the grant: %w", err)
		}
		ap.ConsentID = id
	}
	scope := ap.Scope
	if scope == nil {
		scope = ar.Scope
	}
	for _, sc := range scope {
		if !slices.Contains(ar.Scope, sc) {
			return "", fmt.Errorf("authz: approval grants scope %q the request did not ask for", sc)
		}
	}
	grant := codeGrant{
		RedirectURI: ar.RedirectURI, CodeChallenge: ar.CodeChallenge, Scope: scope, Nonce: ar.Nonce,
		CustomerID: ap.CustomerID, AuthTime: ap.AuthTime.Unix(), ACR: ap.ACR, AMR: ap.AMR,
		ConsentID: ap.ConsentID, IntentID: ar.IntentID, Claims: ar.Claims,
	}
	data, err := json.Marshal(grant)
	if err != nil {
		return "", fmt.Errorf("authz: encoding code: %w", err)
	}
	code, err := token.NewSecret(codeEntropy)
	if err != nil {
		return "", err
	}
	family, err := token.NewSecret(18)
	if err != nil {
		return "", err
	}
	now := s.now()
	if err := s.codes.PutAuthorizationCode(ctx, store.AuthorizationCode{
		Hash: store.HashSecret(code), ClientID: c.ID, FamilyID: family, Data: data,
		CreatedAt: now, ExpiresAt: now.Add(s.codeLifetime),
	}); err != nil {
		return "", fmt.Errorf("authz: storing code: %w", err)
	}
	params := url.Values{"code": {code}}
	if ar.ResponseType == client.ResponseTypeCodeIDToken {
		sub, err := s.subjects.Subject(ctx, c, ap.CustomerID)
		if err != nil {
			return "", err
		}
		idt, err := s.idToken(ctx, c, token.IDTokenClaims{
			Subject: sub, ClientID: c.ID, Nonce: ar.Nonce, AuthTime: ap.AuthTime, ACR: ap.ACR, AMR: ap.AMR,
			Code: code, State: ar.State, IntentID: ar.IntentID,
		})
		if err != nil {
			return "", err
		}
		params.Set("id_token", idt)
	}
	return s.redirectURL(ar, params, jose.Alg(c.AuthorizationSignedResponseAlg))
}

// Deny ends a journey the customer refused: access_denied to the client (FAPI1-AS-21). The
// request_uri is consumed so that it cannot start the journey again.
func (s *Server) Deny(ctx context.Context, p *Pending) (string, error) {
	ar := p.Request
	c, err := s.journeyClient(ctx, ar.ClientID)
	if err != nil {
		return "", err
	}
	if _, err := s.pushed.ConsumePushedRequest(ctx, p.RequestURIHash); err != nil {
		if journeyRecordGone(err) {
			return "", fmt.Errorf("%w: %v", ErrJourneyGone, err)
		}
		return "", err
	}
	return s.redirectURL(ar, errorParams(oauth.AccessDenied("the customer did not approve the request")), jose.Alg(c.AuthorizationSignedResponseAlg))
}

// verifyPKCE checks an RFC 7636 §4.1 code_verifier against an S256 challenge, in
// constant time.
func verifyPKCE(challenge, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		c := verifier[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// journeyClient returns the registered client of a journey; a client removed since the
// request was accepted ends the journey on an error page.
func (s *Server) journeyClient(ctx context.Context, id string) (*client.Client, error) {
	c, err := s.clients.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("authz: client of the journey: %w", err)
	}
	return c, nil
}

// idToken signs an ID token for c with its id_token_signed_response_alg and, when c
// registered id_token_encrypted_response_alg, encrypts it to c's key (a nested JWT, OIDC
// Core §10.2). A client whose keys hold no usable encryption key gets no token: the request
// fails rather than fall back to a clear one.
func (s *Server) idToken(ctx context.Context, c *client.Client, claims token.IDTokenClaims) (string, error) {
	signed, err := s.idTokens.IssueIDToken(claims, jose.Alg(c.IDTokenSignedResponseAlg))
	if err != nil || c.IDTokenEncryptedResponseAlg == "" {
		return signed, err
	}
	keys, err := s.clientKeys.Keys(ctx, c)
	if err != nil {
		return "", fmt.Errorf("authz: the client's encryption key: %w", err)
	}
	ek, err := keys.EncryptionKey(c.IDTokenEncryptedResponseAlg)
	if err != nil {
		return "", fmt.Errorf("authz: the client's encryption key: %w", err)
	}
	enc := c.IDTokenEncryptedResponseEnc
	if enc == "" {
		enc = jose.EncA256GCM
	}
	return jose.EncryptJWT(signed, ek, enc)
}
