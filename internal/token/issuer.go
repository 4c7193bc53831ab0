package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/oauth/scope"
)

// IssuerOptions configures an [Issuer].
type IssuerOptions struct {
	// Keys signs the tokens (with its active key of its signing algorithm). Required.
	Keys *jose.KeyStore
	// Issuer is the "iss" value: the authorization server's issuer identifier. Required.
	Issuer string
	// Audience is the default "aud". Empty means [Issuer].
	Audience []string
	// AccessTokenLifetime is exp − iat. Zero means 5 minutes; more than 1 hour is
	// refused (fapi.md FAPI1-AS-55: keep them short).
	AccessTokenLifetime time.Duration
	// Clock is read for iat/nbf/exp. Nil means clock.Real.
	Clock clock.Clock
	// Random supplies the jti randomness. Nil means crypto/rand.Reader.
	Random io.Reader
	// Subjects derives the sub of user tokens from Claims.UserID. Nil means a random secret
	// for this Issuer only (subjects then change with every restart): production passes the
	// persisted one, [LoadSubjects]. The customer id itself is never written into a token.
	Subjects *Subjects
	// OpenBankingIntentID also writes consent_id as openbanking_intent_id, the
	// claim UK OBIE bank integrations read (fapi.md OB-04).
	OpenBankingIntentID bool
}

// Claims is what the token endpoint knows about a grant; [Issuer.Issue] turns it
// into an access token.
type Claims struct {
	ClientID string // required
	Use      Use    // required: UseApplication or UseUser
	// UserID is the bank's internal customer id: required for UseUser, forbidden for
	// UseApplication. It never appears in the token: sub is Subjects.Public(UserID), or
	// Subjects.Pairwise(Sector, UserID) when Sector is set (OIDC Core §8). The gateway gets
	// the customer id back from the consent the token names.
	UserID string
	// Sector is the client's sector identifier when its subject type is pairwise (OIDC Core
	// §8.1); empty for the public type. User tokens only.
	Sector string
	// FamilyID names the grant (the authorization code's family, kept by every refresh
	// token descended from it): written as the grant_id claim, so that revoking the family
	// (store.Store.RevokeFamily, on the deny-list) revokes the token. Set by the
	// authorization_code and refresh_token grants; empty for client_credentials.
	FamilyID string
	Scopes   []string // granted scopes, each an RFC 6749 §3.3 scope-token
	// ConsentID is the consent (intent) the token is bound to.
	ConsentID string
	// CertThumbprint is base64url SHA-256 of the client certificate of the token
	// request (pki.Identity.Thumbprint). Required: see ErrUnbound.
	CertThumbprint string
	AuthTime       time.Time // user tokens only
	ACR            string    // user tokens only
	// Audience overrides IssuerOptions.Audience when not empty.
	Audience []string
	// Lifetime shortens the token (e.g. to a consent's remaining life); zero means
	// the issuer's lifetime. It cannot lengthen it.
	Lifetime time.Duration
}

// Issuer mints access tokens. Safe for concurrent use.
type Issuer struct {
	keys     *jose.KeyStore
	iss      string
	aud      []string
	lifetime time.Duration
	clock    clock.Clock
	random   io.Reader
	subjects *Subjects
	obIntent bool
}

// NewIssuer checks opts and returns an Issuer. Errors match ErrInvalidClaims.
func NewIssuer(opts IssuerOptions) (*Issuer, error) {
	i := &Issuer{keys: opts.Keys, iss: opts.Issuer, aud: slices.Clone(opts.Audience), lifetime: opts.AccessTokenLifetime,
		clock: opts.Clock, random: opts.Random, subjects: opts.Subjects, obIntent: opts.OpenBankingIntentID}
	if i.keys == nil {
		return nil, fmt.Errorf("%w: no signing keys", ErrInvalidClaims)
	}
	if i.iss == "" {
		return nil, fmt.Errorf("%w: no issuer", ErrInvalidClaims)
	}
	if len(i.aud) == 0 {
		i.aud = []string{i.iss}
	}
	if slices.Contains(i.aud, "") {
		return nil, fmt.Errorf("%w: empty audience", ErrInvalidClaims)
	}
	if i.lifetime == 0 {
		i.lifetime = DefaultAccessTokenLifetime
	}
	if i.lifetime < time.Second || i.lifetime > MaxAccessTokenLifetime {
		return nil, fmt.Errorf("%w: access token lifetime %v outside (0, %v]", ErrInvalidClaims, i.lifetime, MaxAccessTokenLifetime)
	}
	if i.clock == nil {
		i.clock = clock.Real{}
	}
	if i.random == nil {
		i.random = rand.Reader
	}
	if i.subjects == nil {
		var err error
		if i.subjects, err = newRandomSubjects(i.random); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// Lifetime returns the configured access-token lifetime (for expires_in).
func (i *Issuer) Lifetime() time.Duration { return i.lifetime }

// Issue signs a new access token for c and returns it with its decoded content.
// The token has a fresh 192-bit jti, iat = nbf = now, exp = now + lifetime (or
// c.Lifetime if shorter), JOSE typ "at+jwt", and is bound to c.CertThumbprint.
//
// It returns ErrUnbound if c.CertThumbprint is empty (binding is mandatory:
// RFC 8705 §3, fapi.md FAPI1-AS-50, FAPI2-AS-04) and ErrInvalidClaims for any
// other claim it must not sign.
func (i *Issuer) Issue(ctx context.Context, c Claims) (string, *AccessToken, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	if err := c.check(); err != nil {
		return "", nil, err
	}
	jti, err := NewSecretFrom(i.random, jtiBytes)
	if err != nil {
		return "", nil, err
	}
	now := i.clock.Now().Truncate(time.Second).UTC()
	life := i.lifetime
	if c.Lifetime > 0 && c.Lifetime < life {
		life = c.Lifetime.Truncate(time.Second)
		if life <= 0 {
			life = time.Second
		}
	}
	aud := i.aud
	if len(c.Audience) > 0 {
		aud = c.Audience
	}
	at := &AccessToken{
		Issuer: i.iss, Subject: c.ClientID, Audience: slices.Clone(aud), ClientID: c.ClientID,
		Scopes: slices.Clone(c.Scopes), JTI: jti, IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(life),
		Use: c.Use, ConsentID: c.ConsentID, FamilyID: c.FamilyID, CertThumbprint: c.CertThumbprint,
	}
	if c.Use == UseUser {
		sub := i.subjects.Public(c.UserID)
		if c.Sector != "" {
			sub = i.subjects.Pairwise(c.Sector, c.UserID)
		}
		at.Subject, at.UserID, at.ACR = sub, sub, c.ACR
		if !c.AuthTime.IsZero() {
			at.AuthTime = c.AuthTime.Truncate(time.Second).UTC()
		}
	}
	claims := at.ClaimsSet()
	if i.obIntent {
		claims.OBIntentID = at.ConsentID
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", nil, fmt.Errorf("token: encoding claims: %w", err)
	}
	raw, err := i.keys.Sign(payload, AccessTokenType)
	if err != nil {
		return "", nil, fmt.Errorf("token: signing: %w", err)
	}
	return raw, at.clone(), nil
}

func (c *Claims) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidClaims}, a...)...)
	}
	if c.CertThumbprint == "" {
		return fmt.Errorf("%w: no client certificate thumbprint", ErrUnbound)
	}
	if tp, err := base64.RawURLEncoding.Strict().DecodeString(c.CertThumbprint); err != nil || len(tp) != 32 {
		return bad("certificate thumbprint is not base64url SHA-256")
	}
	if c.ClientID == "" {
		return bad("no client_id")
	}
	if slices.Contains(c.Audience, "") {
		return bad("empty audience")
	}
	for _, f := range []struct{ name, v string }{{"user id", c.UserID}, {"sector", c.Sector}, {"family id", c.FamilyID}, {"consent id", c.ConsentID}} {
		if len(f.v) > maxIDClaimLen {
			return bad("%s longer than %d bytes", f.name, maxIDClaimLen)
		}
	}
	for _, s := range c.Scopes {
		if !scope.IsToken(s) {
			return bad("scope %q", truncate(s))
		}
	}
	switch c.Use {
	case UseApplication:
		if c.UserID != "" || c.Sector != "" || c.ACR != "" || !c.AuthTime.IsZero() {
			return bad("user claims on an application token")
		}
	case UseUser:
		if c.UserID == "" {
			return bad("user token without user")
		}
	default:
		return bad("use %q", truncate(string(c.Use)))
	}
	if c.Lifetime < 0 {
		return bad("negative lifetime")
	}
	return nil
}
