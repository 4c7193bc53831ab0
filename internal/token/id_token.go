package token

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/jose"
)

// DefaultIDTokenLifetime is exp − iat of an ID token when IDTokenClaims.Lifetime is zero.
const DefaultIDTokenLifetime = 5 * time.Minute

// IDTokenClaims is what the authorization server knows when it issues an ID token (OIDC Core
// §2, §3.3.2.11; FAPI 1.0 Advanced §5.2.2.1; OB-04, OB-08).
type IDTokenClaims struct {
	// Subject is the customer's subject as this client sees it (public or pairwise, see
	// OIDC Core §8): never the bank's internal customer id. Required.
	Subject string
	// ClientID is the audience (and azp). Required.
	ClientID string
	Nonce    string
	AuthTime time.Time // required
	ACR      string
	AMR      []string
	// Code, State and AccessToken, when set, add c_hash, s_hash and at_hash: the left-half
	// hash of the value under the signing algorithm (jose.HalfHash). The values themselves
	// never appear in the token.
	Code, State, AccessToken string
	// IntentID is the OBIE openbanking_intent_id (the consent authorised).
	IntentID string
	// RefreshTokenExpiresAt adds http://openbanking.org.uk/refresh_token_expires_at when an
	// expiring refresh token is issued with the ID token (OB-08).
	RefreshTokenExpiresAt time.Time
	// Lifetime is exp − iat; zero means DefaultIDTokenLifetime.
	Lifetime time.Duration
}

// idTokenClaimsSet is the wire shape.
type idTokenClaimsSet struct {
	Iss        string   `json:"iss"`
	Sub        string   `json:"sub"`
	Aud        string   `json:"aud"`
	Azp        string   `json:"azp"`
	Exp        int64    `json:"exp"`
	Iat        int64    `json:"iat"`
	AuthTime   int64    `json:"auth_time"`
	Nonce      string   `json:"nonce,omitempty"`
	ACR        string   `json:"acr,omitempty"`
	AMR        []string `json:"amr,omitempty"`
	CHash      string   `json:"c_hash,omitempty"`
	SHash      string   `json:"s_hash,omitempty"`
	AtHash     string   `json:"at_hash,omitempty"`
	IntentID   string   `json:"openbanking_intent_id,omitempty"`
	RTExpireAt int64    `json:"http://openbanking.org.uk/refresh_token_expires_at,omitempty"`
}

// IssueIDToken signs an ID token for c with the server's active key of alg (the client's
// id_token_signed_response_alg, or the store's default when alg is empty). It returns
// ErrInvalidClaims for a missing subject, client or auth_time, and the jose error when no
// key of alg is active.
func (i *Issuer) IssueIDToken(c IDTokenClaims, alg jose.Alg) (string, error) {
	if c.Subject == "" || c.ClientID == "" || c.AuthTime.IsZero() {
		return "", fmt.Errorf("%w: ID token needs a subject, a client and auth_time", ErrInvalidClaims)
	}
	if alg == "" {
		alg = i.keys.Algorithms()[0]
	}
	now := i.clock.Now().Truncate(time.Second).UTC()
	life := c.Lifetime
	if life <= 0 {
		life = DefaultIDTokenLifetime
	}
	set := idTokenClaimsSet{
		Iss: i.iss, Sub: c.Subject, Aud: c.ClientID, Azp: c.ClientID,
		Iat: now.Unix(), Exp: now.Add(life).Unix(), AuthTime: c.AuthTime.Unix(),
		Nonce: c.Nonce, ACR: c.ACR, AMR: slices.Clone(c.AMR), IntentID: c.IntentID,
	}
	if !c.RefreshTokenExpiresAt.IsZero() {
		set.RTExpireAt = c.RefreshTokenExpiresAt.Unix()
	}
	for _, h := range []struct {
		value string
		dst   *string
	}{{c.Code, &set.CHash}, {c.State, &set.SHash}, {c.AccessToken, &set.AtHash}} {
		if h.value == "" {
			continue
		}
		v, err := jose.HalfHash(alg, h.value)
		if err != nil {
			return "", err
		}
		*h.dst = v
	}
	payload, err := json.Marshal(set)
	if err != nil {
		return "", fmt.Errorf("token: encoding ID token: %w", err)
	}
	raw, err := i.keys.SignWith(alg, payload, "JWT")
	if err != nil {
		return "", fmt.Errorf("token: signing ID token: %w", err)
	}
	return raw, nil
}

// Issuer returns the "iss" of the tokens this issuer signs.
func (i *Issuer) Issuer() string { return i.iss }

// SignJWT signs an arbitrary claims set (e.g. a JARM authorization response) with the
// server's active key of alg (the default algorithm when alg is empty).
func (i *Issuer) SignJWT(claims any, alg jose.Alg, typ string) (string, error) {
	if alg == "" {
		alg = i.keys.Algorithms()[0]
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("token: encoding claims: %w", err)
	}
	return i.keys.SignWith(alg, payload, typ)
}

// Now returns the issuer clock's current time.
func (i *Issuer) Now() time.Time { return i.clock.Now() }
