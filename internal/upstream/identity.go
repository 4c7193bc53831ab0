package upstream

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// The headers Portcullis sets on every request it forwards (and on every allow
// answer of the external authorizer). Upstreams read the caller's identity from
// them and from nothing else: every inbound header whose name, with "_" read as
// "-" and case folded, has the X-Portcullis- prefix is deleted before they are
// set ([ReservedHeader]).
const (
	HeaderClientID       = "X-Portcullis-Client-Id"       // OAuth client (TPP) the token was issued to
	HeaderConsentID      = "X-Portcullis-Consent-Id"      // consent (intent) the token is bound to; absent for none
	HeaderPSUID          = "X-Portcullis-Psu-Id"          // the PSU (customer) the token acts for; absent for application tokens
	HeaderRoles          = "X-Portcullis-Roles"           // PSD2 roles of the client certificate, comma-separated (PSP_AI,PSP_PI)
	HeaderScope          = "X-Portcullis-Scope"           // granted scopes, space-separated
	HeaderTokenUse       = "X-Portcullis-Token-Use"       // APPLICATION or APPLICATION_USER
	HeaderOrgID          = "X-Portcullis-Org-Id"          // organisation identifier of the client certificate
	HeaderCertThumbprint = "X-Portcullis-Cert-Thumbprint" // base64url SHA-256 of the client certificate (RFC 8705 x5t#S256)
	HeaderInteractionID  = "X-Portcullis-Interaction-Id"  // the request's x-fapi-interaction-id
	HeaderRoute          = "X-Portcullis-Route"           // name of the gateway route that matched
	// HeaderIdentity carries, in IdentityJWT mode and instead of the headers above,
	// a JWT signed by Portcullis holding the same values.
	HeaderIdentity = "X-Portcullis-Identity"
	// HeaderFAPIInteractionID is the FAPI interaction id header (FAPI1-RS-04), set
	// to the checked or generated value of the request.
	HeaderFAPIInteractionID = "X-Fapi-Interaction-Id"
)

// Identity is what the gateway established about a request that passed every
// check: who called (client, certificate), for whom (PSU) and under which consent.
type Identity struct {
	Route          string
	ClientID       string
	ConsentID      string
	PSUID          string
	Roles          []string
	Scopes         []string
	TokenUse       string
	OrgID          string
	CertThumbprint string
	InteractionID  string
}

// IdentityMode says how an [Identity] is handed to upstreams.
type IdentityMode string

// The identity modes.
const (
	// IdentityHeaders sets the X-Portcullis-* headers, one per value. Suitable when
	// the network between Portcullis and the upstream is trusted (the upstream must
	// be reachable only through Portcullis).
	IdentityHeaders IdentityMode = "headers"
	// IdentityJWT sets one header, X-Portcullis-Identity, holding a short-lived JWT
	// signed by Portcullis; the upstream verifies it with Portcullis's JWKS, so a
	// request that did not come through Portcullis cannot carry a valid identity.
	IdentityJWT IdentityMode = "jwt"
)

// Identity JWT parameters.
const (
	// IdentityJWTType is the JOSE "typ" of identity JWTs.
	IdentityJWTType = "portcullis-identity+jwt"
	// DefaultIdentityJWTLifetime is exp − iat of an identity JWT.
	DefaultIdentityJWTLifetime = 60 * time.Second
	// MaxIdentityJWTLifetime bounds IdentityOptions.Lifetime.
	MaxIdentityJWTLifetime = 5 * time.Minute
)

// Signer signs a JWT claims set; *jose.KeyStore implements it.
type Signer interface {
	Sign(payload []byte, typ string) (string, error)
}

// IdentityOptions configures an [Identifier]. The zero value is headers mode.
type IdentityOptions struct {
	// Mode is IdentityHeaders (the zero value) or IdentityJWT.
	Mode IdentityMode
	// Signer signs identity JWTs (IdentityJWT only; required there).
	Signer Signer
	// Issuer is the JWT "iss" (IdentityJWT only; required there): the Portcullis
	// issuer identifier.
	Issuer string
	// Audience is the JWT "aud" (IdentityJWT only; required there): how the
	// upstream names itself.
	Audience string
	// Lifetime is exp − iat. Zero means 60 s; more than 5 min is refused.
	Lifetime time.Duration
	// Clock is read for iat and exp. Nil means clock.Real.
	Clock clock.Clock
}

// Identifier writes an [Identity] onto request headers, in the configured mode.
// Safe for concurrent use.
type Identifier struct {
	mode     IdentityMode
	signer   Signer
	iss, aud string
	lifetime time.Duration
	clock    clock.Clock
}

// ErrIdentity is returned by [Identifier.Set] when the identity JWT cannot be
// signed (the gateway answers 500; the request is not forwarded).
var ErrIdentity = errors.New("upstream: cannot build the identity for the upstream")

// NewIdentifier checks o and returns an Identifier. Errors name the offending
// field.
func NewIdentifier(o IdentityOptions) (*Identifier, error) {
	i := &Identifier{mode: o.Mode, signer: o.Signer, iss: o.Issuer, aud: o.Audience, lifetime: o.Lifetime, clock: o.Clock}
	if i.mode == "" {
		i.mode = IdentityHeaders
	}
	switch i.mode {
	case IdentityHeaders:
	case IdentityJWT:
		switch {
		case i.signer == nil:
			return nil, errors.New("upstream: IdentityOptions.Signer is required in jwt mode")
		case i.iss == "":
			return nil, errors.New("upstream: IdentityOptions.Issuer is required in jwt mode")
		case i.aud == "":
			return nil, errors.New("upstream: IdentityOptions.Audience is required in jwt mode")
		}
	default:
		return nil, fmt.Errorf("upstream: IdentityOptions.Mode %q: want %q or %q", string(o.Mode), IdentityHeaders, IdentityJWT)
	}
	if i.lifetime == 0 {
		i.lifetime = DefaultIdentityJWTLifetime
	}
	if i.lifetime < time.Second || i.lifetime > MaxIdentityJWTLifetime {
		return nil, fmt.Errorf("upstream: IdentityOptions.Lifetime %v outside [1s, %v]", i.lifetime, MaxIdentityJWTLifetime)
	}
	if i.clock == nil {
		i.clock = clock.Real{}
	}
	return i, nil
}

// Mode returns the identity mode.
func (i *Identifier) Mode() IdentityMode { return i.mode }

// identityClaims is the identity JWT claims set. htm and htu bind it to the one
// request it was made for (method and path, as in RFC 9449 §4.2), so an upstream
// that checks them cannot be fed a JWT captured from another request.
type identityClaims struct {
	Iss            string   `json:"iss"`
	Aud            string   `json:"aud"`
	Iat            int64    `json:"iat"`
	Exp            int64    `json:"exp"`
	JTI            string   `json:"jti"`
	Sub            string   `json:"sub,omitempty"` // the PSU
	ClientID       string   `json:"client_id"`
	ConsentID      string   `json:"consent_id,omitempty"`
	Roles          []string `json:"roles,omitempty"`
	Scope          string   `json:"scope,omitempty"`
	Aut            string   `json:"aut,omitempty"`
	OrgID          string   `json:"org_id,omitempty"`
	CertThumbprint string   `json:"x5t#S256,omitempty"`
	InteractionID  string   `json:"txn,omitempty"`
	Route          string   `json:"route,omitempty"`
	Method         string   `json:"htm"`
	Path           string   `json:"htu"`
}

// Set deletes every X-Portcullis-* header of h (in any spelling: [ReservedHeader]) and writes id onto it: the
// individual headers in headers mode, or X-Portcullis-Identity in jwt mode; in
// both modes x-fapi-interaction-id is set to id.InteractionID when that is not
// empty. method and path (escaped, no query) are the request's, bound into the
// JWT as htm/htu. It returns an error matching [ErrIdentity] only in jwt mode,
// when signing fails; h is then left without identity headers.
func (i *Identifier) Set(h http.Header, id *Identity, method, path string) error {
	for k := range h {
		if strings.HasPrefix(foldName(k), foldedIdentityPrefix) {
			delete(h, k)
		}
	}
	if i.mode == IdentityJWT {
		jwt, err := i.sign(id, method, path)
		if err != nil {
			return err
		}
		if id.InteractionID != "" {
			h.Set(HeaderFAPIInteractionID, id.InteractionID)
		}
		h.Set(HeaderIdentity, jwt)
		return nil
	}
	hw := headerWriter{h: h, vals: make([]string, 0, identityHeaders)}
	hw.set(HeaderFAPIInteractionID, id.InteractionID)
	hw.set(HeaderRoute, id.Route)
	hw.set(HeaderClientID, id.ClientID)
	hw.set(HeaderConsentID, id.ConsentID)
	hw.set(HeaderPSUID, id.PSUID)
	hw.set(HeaderRoles, strings.Join(id.Roles, ","))
	hw.set(HeaderScope, strings.Join(id.Scopes, " "))
	hw.set(HeaderTokenUse, id.TokenUse)
	hw.set(HeaderOrgID, id.OrgID)
	hw.set(HeaderCertThumbprint, id.CertThumbprint)
	hw.set(HeaderInteractionID, id.InteractionID)
	return nil
}

// identityHeaders is the most headers Set writes in headers mode.
const identityHeaders = 11

// headerWriter sets headers whose names are canonical constants, with their
// values in one backing array (one allocation instead of one per header); each
// value slice is capped so that appending to one cannot overwrite the next.
type headerWriter struct {
	h    http.Header
	vals []string
}

// set is h.Set(k, v) for a canonical k, skipping empty values.
func (w *headerWriter) set(k, v string) {
	if v == "" {
		return
	}
	w.vals = append(w.vals, v)
	n := len(w.vals)
	w.h[k] = w.vals[n-1 : n : n]
}

func (i *Identifier) sign(id *Identity, method, path string) (string, error) {
	var jti [18]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	now := i.clock.Now()
	c := identityClaims{
		Iss: i.iss, Aud: i.aud, Iat: now.Unix(), Exp: now.Add(i.lifetime).Unix(),
		JTI: base64.RawURLEncoding.EncodeToString(jti[:]),
		Sub: id.PSUID, ClientID: id.ClientID, ConsentID: id.ConsentID, Roles: id.Roles,
		Scope: strings.Join(id.Scopes, " "), Aut: id.TokenUse, OrgID: id.OrgID,
		CertThumbprint: id.CertThumbprint, InteractionID: id.InteractionID, Route: id.Route,
		Method: method, Path: path,
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	jwt, err := i.signer.Sign(payload, IdentityJWTType)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	return jwt, nil
}
