package token

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Use tells application tokens from customer tokens: the "aut" claim.
//
// The claim name and its values follow WSO2 Open Banking, whose gateways and bank
// integrations already read them: "APPLICATION" for a token the client obtained
// for itself (client_credentials, e.g. to create a consent) and
// "APPLICATION_USER" for a token a customer (PSU) authorised (authorization
// code, refresh).
type Use string

// The token uses.
const (
	UseApplication Use = "APPLICATION"      // client_credentials: sub = client_id
	UseUser        Use = "APPLICATION_USER" // customer-authorised: sub = the PSU's subject
)

// Access-token limits.
const (
	DefaultAccessTokenLifetime = 5 * time.Minute
	MaxAccessTokenLifetime     = time.Hour
	// JOSE "typ" of access tokens (RFC 9068 §2.1).
	AccessTokenType = "at+jwt"
)

// AccessToken is the content of a Portcullis access token: a JWT in the RFC 9068
// shape, certificate-bound (RFC 8705 §3). Claims on the wire ([AccessToken.ClaimsSet]):
//
//	iss, sub, aud (string or array), client_id, scope (space-separated), jti,
//	iat, nbf, exp (NumericDate), aut ("APPLICATION" | "APPLICATION_USER"),
//	cnf {"x5t#S256": …}, consent_id, openbanking_intent_id (UK mirror of
//	consent_id, when configured), grant_id (the grant family), acr, auth_time
//
// and JOSE header typ "at+jwt". Values returned by [Verifier.Verify] and
// [Issuer.Issue] are the caller's own copy.
type AccessToken struct {
	Issuer    string
	Subject   string // client_id for application tokens, the PSU's (possibly pairwise) subject for user tokens
	Audience  []string
	ClientID  string
	Scopes    []string
	JTI       string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
	Use       Use
	ConsentID string // the Open Banking consent (intent) the token is bound to; may be empty for application tokens
	// UserID is the PSU the token acts for as the token names it: Subject for user
	// tokens, empty for application tokens. It is an opaque subject ([Subjects]: public,
	// or pairwise where the client's subject type is pairwise), never the bank's customer
	// id, which only the consent record holds.
	UserID string
	// FamilyID is the grant the token was issued in (the grant_id claim): revoking the
	// family revokes the token. Empty for application tokens.
	FamilyID string
	// CertThumbprint is cnf.x5t#S256: base64url SHA-256 of the client certificate
	// the token was issued to. Never empty in a verified token.
	CertThumbprint string
	AuthTime       time.Time // user tokens: when the PSU authenticated; zero if unknown
	ACR            string    // user tokens: the authentication context (e.g. urn:openbanking:psd2:sca)
}

// HasScope reports whether the token was granted scope s.
func (at *AccessToken) HasScope(s string) bool { return slices.Contains(at.Scopes, s) }

// LogValue implements slog.LogValuer. It leaves out the subject (a customer
// identifier); the token string itself is never part of an AccessToken.
func (at *AccessToken) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("jti", at.JTI),
		slog.String("client_id", at.ClientID),
		slog.String("aut", string(at.Use)),
		slog.String("consent_id", at.ConsentID),
		slog.String("grant_id", at.FamilyID),
		slog.String("scope", strings.Join(at.Scopes, " ")),
		slog.Time("exp", at.ExpiresAt),
	)
}

func (at *AccessToken) clone() *AccessToken {
	c := *at
	c.Audience = slices.Clone(at.Audience)
	c.Scopes = slices.Clone(at.Scopes)
	return &c
}

// ClaimsSet is an access token's JWT Claims Set as it goes on the wire (RFC 9068 §2.2,
// RFC 8705 §3.1, the claims listed on [AccessToken]). It is also the description of an
// active token in an RFC 7662 §2.2 introspection response, whose members are the token's
// claims: a verified token has every member that is not omitempty, so none is empty.
type ClaimsSet struct {
	Iss        string        `json:"iss"`
	Sub        string        `json:"sub"`
	Aud        Audience      `json:"aud"`
	ClientID   string        `json:"client_id"`
	Scope      string        `json:"scope,omitempty"`
	JTI        string        `json:"jti"`
	Iat        int64         `json:"iat"`
	Nbf        int64         `json:"nbf"`
	Exp        int64         `json:"exp"`
	Aut        Use           `json:"aut"`
	Cnf        *Confirmation `json:"cnf,omitempty"`
	ConsentID  string        `json:"consent_id,omitempty"`
	OBIntentID string        `json:"openbanking_intent_id,omitempty"`
	GrantID    string        `json:"grant_id,omitempty"`
	ACR        string        `json:"acr,omitempty"`
	AuthTime   int64         `json:"auth_time,omitempty"`
}

// Confirmation is the cnf claim of a certificate-bound token (RFC 8705 §3.1).
type Confirmation struct {
	X5tS256 string `json:"x5t#S256"`
}

// Audience is "aud": a string when there is one value, else an array of strings
// (RFC 7519 §4.1.3, RFC 7662 §2.2). Decoding accepts either.
type Audience []string

// MarshalJSON writes a single audience as a string, several as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// ClaimsSet returns the claims of at as they go on the wire, without
// openbanking_intent_id (the issuer adds it when configured to, fapi.md OB-04).
func (at *AccessToken) ClaimsSet() *ClaimsSet {
	w := &ClaimsSet{
		Iss: at.Issuer, Sub: at.Subject, Aud: Audience(slices.Clone(at.Audience)), ClientID: at.ClientID,
		Scope: strings.Join(at.Scopes, " "), JTI: at.JTI,
		Iat: at.IssuedAt.Unix(), Nbf: at.NotBefore.Unix(), Exp: at.ExpiresAt.Unix(),
		Aut: at.Use, Cnf: &Confirmation{X5tS256: at.CertThumbprint},
		ConsentID: at.ConsentID, GrantID: at.FamilyID, ACR: at.ACR,
	}
	if !at.AuthTime.IsZero() {
		w.AuthTime = at.AuthTime.Unix()
	}
	return w
}

// decodeClaims turns a verified claims set into an AccessToken, checking that
// every claim Portcullis always issues is present and consistent. Missing binding
// is ErrUnbound; anything else wrong is ErrMalformed.
func decodeClaims(payload []byte) (*AccessToken, error) {
	var w ClaimsSet
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	missing := func(name string) error { return fmt.Errorf("%w: claim %q missing", ErrMalformed, name) }
	switch {
	case w.Iss == "":
		return nil, missing("iss")
	case w.Sub == "":
		return nil, missing("sub")
	case len(w.Aud) == 0 || slices.Contains(w.Aud, ""):
		return nil, missing("aud")
	case w.ClientID == "":
		return nil, missing("client_id")
	case w.JTI == "":
		return nil, missing("jti")
	case w.Iat == 0:
		return nil, missing("iat")
	case w.Nbf == 0:
		return nil, missing("nbf")
	case w.Exp == 0:
		return nil, missing("exp")
	}
	if w.Cnf == nil || w.Cnf.X5tS256 == "" {
		return nil, fmt.Errorf("%w: no cnf.x5t#S256", ErrUnbound)
	}
	if w.Exp <= w.Iat || w.Exp-w.Iat > int64(MaxAccessTokenLifetime/time.Second) {
		return nil, fmt.Errorf("%w: lifetime exp-iat of %ds", ErrMalformed, w.Exp-w.Iat)
	}
	if w.OBIntentID != "" && w.OBIntentID != w.ConsentID {
		return nil, fmt.Errorf("%w: openbanking_intent_id differs from consent_id", ErrMalformed)
	}
	at := &AccessToken{
		Issuer: w.Iss, Subject: w.Sub, Audience: []string(w.Aud), ClientID: w.ClientID,
		JTI: w.JTI, IssuedAt: unix(w.Iat), NotBefore: unix(w.Nbf), ExpiresAt: unix(w.Exp),
		Use: w.Aut, ConsentID: w.ConsentID, FamilyID: w.GrantID, CertThumbprint: w.Cnf.X5tS256, ACR: w.ACR,
	}
	if w.Scope != "" {
		at.Scopes = strings.Split(w.Scope, " ")
	}
	if w.AuthTime != 0 {
		at.AuthTime = unix(w.AuthTime)
	}
	switch w.Aut {
	case UseApplication:
		if w.Sub != w.ClientID {
			return nil, fmt.Errorf("%w: application token with sub other than client_id", ErrMalformed)
		}
	case UseUser:
		at.UserID = w.Sub
	default:
		return nil, fmt.Errorf("%w: aut %q", ErrMalformed, truncate(string(w.Aut)))
	}
	return at, nil
}

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
