// Package client owns the registered OAuth client: its metadata (RFC 7591 §2, RFC 8705 §2.1.2,
// OpenID Connect Dynamic Client Registration §2, the OBIE software fields), the rules a client
// must satisfy to be registered at a FAPI authorization server, and the [Registry] that keeps
// clients in the store and records an audit event for every change.
//
// Only confidential clients exist here (FAPI1-AS-01, FAPI2-AS-03): a [Client] authenticates with
// private_key_jwt, tls_client_auth or self_signed_tls_client_auth, never with a shared secret
// or not at all (FAPI1-AS-02, FAPI2-AS-05). [Client.Validate] refuses anything else, as it
// refuses weak keys (FAPI1-AS-06), algorithms other than PS256/ES256 (and EdDSA under FAPI 2;
// FAPI1-AS-07, fapi.md §3.7), non-https redirect URIs and ambiguous certificate matching rules.
//
// The package does not authenticate clients (package clientauth does, and is the only place
// that does) and does not parse software statements (package dcr). [RegisterAdmin] mounts
// the operator's HTTP API over the [Registry] on the admin API (package admin guards it);
// the `portcullis client` commands are its CLI.
package client

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// The token endpoint authentication methods a client may register (RFC 8705 §2, OIDC Core §9).
// Everything else — none, client_secret_basic, client_secret_post, client_secret_jwt — is
// refused (FAPI1-AS-01/02).
const (
	AuthPrivateKeyJWT           = "private_key_jwt"
	AuthTLSClientAuth           = "tls_client_auth"
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// The FAPI profiles a client is served under. Every profile-dependent rule (client assertion
// audience, allowed algorithms, response types) reads the client's profile (fapi.md §3.7).
const (
	ProfileFAPI1 = "fapi1" // FAPI 1.0 Advanced
	ProfileFAPI2 = "fapi2" // FAPI 2.0 Security Profile
)

// DefaultProfile is the profile of a client registered without fapi_profile. It is FAPI 1.0
// Advanced because that is what UK Open Banking clients speak today (OB-RW, OB-DCR); a FAPI 2.0
// client must say so.
const DefaultProfile = ProfileFAPI1

// The grant types a client may register (OB-DCR-09). The ROPC and implicit grants do not exist
// here (FAPI2-AS-02).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
)

// The response types a client may register: "code" (FAPI 2.0, FAPI 1.0 with JARM) and the OIDC
// hybrid "code id_token" (FAPI 1.0 only).
const (
	ResponseTypeCode        = "code"
	ResponseTypeCodeIDToken = "code id_token"
)

// The JWS algorithms of FAPI (FAPI1-AS-07, fapi.md §3.7).
const (
	AlgPS256 = "PS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA" // FAPI 2.0 only
)

// The subject types (OIDC Core §8).
const (
	SubjectTypePublic   = "public"
	SubjectTypePairwise = "pairwise"
)

// Client is a registered client. Its JSON form is the RFC 7591 client metadata document, with
// the RFC 8705 and OBIE fields; the same document is what the store keeps and what the admin
// API and `portcullis client get` show.
//
// A Client read from a [Registry] has passed [Client.Validate]; code that authenticates or
// serves a client may rely on that (exactly one key source for key-based methods, exactly one
// certificate matching rule for tls_client_auth, a known profile).
type Client struct {
	ID   string `json:"client_id"`
	Name string `json:"client_name,omitempty"`

	RedirectURIs  []string  `json:"redirect_uris,omitempty"`
	GrantTypes    []string  `json:"grant_types,omitempty"`
	ResponseTypes []string  `json:"response_types,omitempty"`
	Scope         ScopeList `json:"scope,omitempty"`

	TokenEndpointAuthMethod     string `json:"token_endpoint_auth_method"`
	TokenEndpointAuthSigningAlg string `json:"token_endpoint_auth_signing_alg,omitempty"`

	// JWKS is the client's public key set by value (RFC 7591 §2), kept as the raw JSON the
	// client registered. At most one of JWKS and JWKSURI is set.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`

	// The tls_client_auth certificate matching rule (RFC 8705 §2.1.2): exactly one of these is
	// set for a tls_client_auth client and none for any other.
	TLSClientAuthSubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string `json:"tls_client_auth_san_email,omitempty"`

	// TLSClientCertificateBoundAccessTokens is always true: every access token is bound to the
	// client's certificate (RFC 8705 §3, FAPI2-AS-04). [Registry] forces it.
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens"`

	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
	RequestObjectSigningAlg  string `json:"request_object_signing_alg,omitempty"`
	// IDTokenEncryptedResponseAlg and IDTokenEncryptedResponseEnc, when set, encrypt the
	// client's ID tokens (OIDC Registration §2): RSA-OAEP-256 or ECDH-ES to a key of its
	// JWK Set, content A256GCM (the default enc) or A128GCM.
	IDTokenEncryptedResponseAlg string `json:"id_token_encrypted_response_alg,omitempty"`
	IDTokenEncryptedResponseEnc string `json:"id_token_encrypted_response_enc,omitempty"`
	// AuthorizationSignedResponseAlg signs the client's JARM responses (JARM §3); empty
	// means the server's default algorithm.
	AuthorizationSignedResponseAlg string `json:"authorization_signed_response_alg,omitempty"`

	SoftwareID    string   `json:"software_id,omitempty"`
	OrgID         string   `json:"org_id,omitempty"`
	SoftwareRoles []string `json:"software_roles,omitempty"`

	// The human-facing URIs of RFC 7591 §2 (the logo is shown on the customer's approval
	// page); dynamic registration copies them from the software statement. https only.
	LogoURI   string `json:"logo_uri,omitempty"`
	ClientURI string `json:"client_uri,omitempty"`
	PolicyURI string `json:"policy_uri,omitempty"`
	TOSURI    string `json:"tos_uri,omitempty"`

	// Registration says how the client was registered by dynamic client registration
	// (package dcr, OB-DCR); nil for a client the operator added.
	Registration *Registration `json:"registration,omitempty"`

	// Profile is [ProfileFAPI1] or [ProfileFAPI2]; empty means [DefaultProfile].
	Profile string `json:"fapi_profile,omitempty"`

	SubjectType         string `json:"subject_type,omitempty"`
	SectorIdentifierURI string `json:"sector_identifier_uri,omitempty"`

	// CreatedAt is when the client was registered. It is set by the store and ignored on input.
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Clone returns a deep copy of c.
func (c *Client) Clone() *Client {
	out := *c
	out.RedirectURIs = slices.Clone(c.RedirectURIs)
	out.GrantTypes = slices.Clone(c.GrantTypes)
	out.ResponseTypes = slices.Clone(c.ResponseTypes)
	out.Scope = slices.Clone(c.Scope)
	out.SoftwareRoles = slices.Clone(c.SoftwareRoles)
	out.JWKS = slices.Clone(c.JWKS)
	if c.Registration != nil {
		r := *c.Registration
		out.Registration = &r
	}
	return &out
}

// Registration is the provenance of a dynamically registered client (OB-DCR, RFC 7592): the
// directory that signed its software statement and what the statement said about the
// organisation, and the hash of its registration access token. It holds no secret: the
// token itself is never stored, only base64url(SHA-256(token)).
type Registration struct {
	// SSAIssuer is the iss of the software statement: the trusted directory's name.
	SSAIssuer string `json:"ssa_issuer"`
	// OrgName and SoftwareJWKSRevokedEndpoint are copied from the software statement.
	OrgName                     string `json:"org_name,omitempty"`
	SoftwareJWKSRevokedEndpoint string `json:"software_jwks_revoked_endpoint,omitempty"`
	// AccessTokenHash is base64url(SHA-256(registration_access_token)) (RFC 7592 §3).
	AccessTokenHash string `json:"registration_access_token_hash,omitempty"`
}

// EffectiveProfile returns the client's profile, [DefaultProfile] when none is set.
func (c *Client) EffectiveProfile() string {
	if c.Profile == "" {
		return DefaultProfile
	}
	return c.Profile
}

// HasGrantType reports whether the client registered grant type g.
func (c *Client) HasGrantType(g string) bool { return contains(c.GrantTypes, g) }

// HasRedirectURI reports whether uri is one of the client's registered redirect URIs, compared
// as exact strings (FAPI1-AS-18, RFC 9700 §4.1.3).
func (c *Client) HasRedirectURI(uri string) bool { return contains(c.RedirectURIs, uri) }

// LogValue implements slog.LogValuer: a client is logged by its identifier, profile and method
// only, never with its metadata.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", c.ID),
		slog.String("fapi_profile", c.EffectiveProfile()),
		slog.String("token_endpoint_auth_method", c.TokenEndpointAuthMethod),
	)
}

// ApplyDefaults fills in the fields RFC 7591 §2 and this package give a default, in place:
// fapi_profile [DefaultProfile]; grant_types ["authorization_code"]; response_types
// ["code id_token"] under FAPI 1 and ["code"] under FAPI 2 when the authorization_code grant is
// registered; subject_type "public"; and tls_client_certificate_bound_access_tokens true
// (always, whatever the input said). A JSON null jwks becomes absent. [Registry] applies them
// before [Client.Validate].
func (c *Client) ApplyDefaults() {
	if string(c.JWKS) == "null" {
		c.JWKS = nil
	}
	if c.Profile == "" {
		c.Profile = DefaultProfile
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{GrantAuthorizationCode}
	}
	if len(c.ResponseTypes) == 0 && c.HasGrantType(GrantAuthorizationCode) {
		if c.Profile == ProfileFAPI2 {
			c.ResponseTypes = []string{ResponseTypeCode}
		} else {
			c.ResponseTypes = []string{ResponseTypeCodeIDToken}
		}
	}
	if c.SubjectType == "" {
		c.SubjectType = SubjectTypePublic
	}
	c.TLSClientCertificateBoundAccessTokens = true
}

// ScopeList is the client's registered scopes. In JSON it is one space-separated string
// (RFC 7591 §2 "scope"); in Go a slice of scope tokens.
type ScopeList []string

// String returns the space-separated form.
func (s ScopeList) String() string { return strings.Join(s, " ") }

// Contains reports whether scope token tok is in the list.
func (s ScopeList) Contains(tok string) bool { return contains(s, tok) }

// MarshalJSON encodes the list as one space-separated JSON string.
func (s ScopeList) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON decodes a space-separated JSON string. Runs of spaces are not collapsed into
// one separator: an empty token is kept so that [Client.Validate] refuses it, since RFC 6749
// §3.3 separates scope tokens by exactly one space.
func (s *ScopeList) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return err
	}
	if str == "" {
		*s = nil
		return nil
	}
	*s = strings.Split(str, " ")
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
