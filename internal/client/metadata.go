package client

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/oauth/scope"
	"github.com/portcullis/portcullis/internal/pki/dn"
)

// Size limits on client metadata. A value beyond a limit is refused by [Client.Validate].
const (
	MaxIDLen         = 128      // client_id (bytes)
	MaxNameLen       = 256      // client_name (bytes)
	MaxURILen        = 2048     // every URI (bytes)
	MaxRedirectURIs  = 32       // redirect_uris entries
	MaxDNLen         = 1024     // tls_client_auth_subject_dn (bytes)
	MaxSANLen        = 512      // a tls_client_auth_san_* value other than a URI (bytes)
	MaxJWKSSize      = 32 << 10 // jwks by value (bytes)
	MaxSoftwareRoles = 16       // software_roles entries
	MaxIdentifierLen = 256      // software_id, org_id, one software role (bytes)
	MaxMetadataSize  = 64 << 10 // the whole JSON document accepted by the admin API (bytes)
)

// The RFC 7591 §3.2.2 error codes a [MetadataError] carries.
const (
	CodeInvalidClientMetadata = "invalid_client_metadata"
	CodeInvalidRedirectURI    = "invalid_redirect_uri"
)

// Sentinels matched by errors.Is against a [*MetadataError] of the same code.
var (
	ErrInvalidClientMetadata = errors.New("client: invalid client metadata")
	ErrInvalidRedirectURI    = errors.New("client: invalid redirect uri")
)

// MetadataError says which metadata field is wrong and why (RFC 7591 §3.2.2). Code is
// [CodeInvalidRedirectURI] for a bad redirect_uris entry and [CodeInvalidClientMetadata] for
// everything else. Description is short, client-facing and in the RFC 6749 error_description
// character set; Err, when set, is the internal cause (for logs).
type MetadataError struct {
	Code        string
	Field       string // the JSON member name, e.g. "tls_client_auth_subject_dn"
	Description string
	Err         error
}

func (e *MetadataError) Error() string {
	s := "client: " + e.Code + ": " + e.Field + ": " + e.Description
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *MetadataError) Unwrap() error { return e.Err }

// Is matches [ErrInvalidClientMetadata] or [ErrInvalidRedirectURI] by code.
func (e *MetadataError) Is(target error) bool {
	switch target {
	case ErrInvalidClientMetadata:
		return e.Code == CodeInvalidClientMetadata
	case ErrInvalidRedirectURI:
		return e.Code == CodeInvalidRedirectURI
	}
	return false
}

func metaErr(field, desc string) *MetadataError {
	return &MetadataError{Code: CodeInvalidClientMetadata, Field: field, Description: desc}
}

func redirectErr(desc string) *MetadataError {
	return &MetadataError{Code: CodeInvalidRedirectURI, Field: "redirect_uris", Description: desc}
}

// ValidateOptions relax nothing by default: the zero value is the production rule set.
type ValidateOptions struct {
	// AllowLoopbackHTTPRedirect admits http redirect URIs whose host is 127.0.0.1, [::1] or
	// localhost (RFC 8252 §7.3 style, for local development). False means https only.
	AllowLoopbackHTTPRedirect bool
}

// Validate is [Client.ValidateWith] with the zero [ValidateOptions].
func (c *Client) Validate() error { return c.ValidateWith(ValidateOptions{}) }

// ValidateWith checks that c may be registered at this FAPI authorization server. It expects
// [Client.ApplyDefaults] to have run and returns the first violation as a [*MetadataError]
// (errors.Is [ErrInvalidClientMetadata] or [ErrInvalidRedirectURI]), or nil. The rules:
//
//   - client_id: 1..128 characters from the RFC 3986 unreserved set;
//   - token_endpoint_auth_method: private_key_jwt, tls_client_auth or
//     self_signed_tls_client_auth; none (public clients) and client_secret_* are refused
//     (FAPI1-AS-01/02, FAPI2-AS-03/05);
//   - private_key_jwt and self_signed_tls_client_auth need exactly one of jwks and jwks_uri;
//     tls_client_auth may have at most one (for request objects). jwks must parse as a public
//     JWK set of strong keys (FAPI1-AS-06) and jwks_uri must be an https URL;
//   - tls_client_auth needs exactly one of tls_client_auth_subject_dn (which must parse as an
//     RFC 4514 DN) and the tls_client_auth_san_* values; the other methods none (RFC 8705
//     §2.1.2);
//   - redirect_uris: absolute https URIs without fragment or user info, compared later as
//     exact strings; http only for loopback hosts when allowed by opts; required for a FAPI 1
//     client with the authorization_code grant (FAPI1-AS-18; under FAPI 2 they may come in
//     PAR, fapi.md §3.7);
//   - grant_types ⊆ {authorization_code, client_credentials, refresh_token}; refresh_token
//     only with authorization_code; response_types ⊆ {code, code id_token} under FAPI 1 and
//     {code} under FAPI 2, present iff authorization_code is;
//   - token_endpoint_auth_signing_alg (private_key_jwt only), id_token_signed_response_alg and
//     request_object_signing_alg: PS256 or ES256, and EdDSA under FAPI 2 (FAPI1-AS-07);
//   - scope tokens in the RFC 6749 §3.3 character set, no duplicates;
//   - tls_client_certificate_bound_access_tokens true; fapi_profile fapi1 or fapi2;
//     subject_type public or pairwise; sector_identifier_uri https;
//   - every value within the Max* size limits.
func (c *Client) ValidateWith(opts ValidateOptions) error {
	if err := validateID(c.ID); err != nil {
		return err
	}
	if !printableUTF8(c.Name, MaxNameLen) {
		return metaErr("client_name", "client_name must be at most 256 bytes of printable text")
	}
	profile := c.EffectiveProfile()
	if profile != ProfileFAPI1 && profile != ProfileFAPI2 {
		return metaErr("fapi_profile", "fapi_profile must be fapi1 or fapi2")
	}
	if err := c.validateAuthMethod(profile); err != nil {
		return err
	}
	if err := c.validateKeys(); err != nil {
		return err
	}
	if err := c.validateCertificateRule(); err != nil {
		return err
	}
	if err := c.validateGrants(profile); err != nil {
		return err
	}
	if err := c.validateRedirectURIs(profile, opts); err != nil {
		return err
	}
	if err := validateScope(c.Scope); err != nil {
		return err
	}
	if err := validateAlg("id_token_signed_response_alg", c.IDTokenSignedResponseAlg, profile); err != nil {
		return err
	}
	if err := validateAlg("authorization_signed_response_alg", c.AuthorizationSignedResponseAlg, profile); err != nil {
		return err
	}
	if err := validateAlg("request_object_signing_alg", c.RequestObjectSigningAlg, profile); err != nil {
		return err
	}
	if !c.TLSClientCertificateBoundAccessTokens {
		return metaErr("tls_client_certificate_bound_access_tokens", "access tokens are always certificate-bound")
	}
	if !visibleASCII(c.SoftwareID, MaxIdentifierLen) {
		return metaErr("software_id", "software_id must be at most 256 visible ASCII characters")
	}
	if !visibleASCII(c.OrgID, MaxIdentifierLen) {
		return metaErr("org_id", "org_id must be at most 256 visible ASCII characters")
	}
	if err := validateRoles(c.SoftwareRoles); err != nil {
		return err
	}
	for _, u := range []struct{ field, value string }{
		{"logo_uri", c.LogoURI}, {"client_uri", c.ClientURI}, {"policy_uri", c.PolicyURI}, {"tos_uri", c.TOSURI},
	} {
		if u.value != "" {
			if err := checkHTTPSURL(u.value); err != "" {
				return metaErr(u.field, u.field+" "+err)
			}
		}
	}
	if err := c.Registration.validate(); err != nil {
		return err
	}
	switch c.SubjectType {
	case "", SubjectTypePublic, SubjectTypePairwise:
	default:
		return metaErr("subject_type", "subject_type must be public or pairwise")
	}
	if c.SectorIdentifierURI != "" {
		if err := checkHTTPSURL(c.SectorIdentifierURI); err != "" {
			return metaErr("sector_identifier_uri", "sector_identifier_uri "+err)
		}
	}
	if c.SubjectType == SubjectTypePairwise && c.SectorIdentifierURI == "" && !oneHost(c.RedirectURIs) {
		// OIDC Core §8.1: the sector is the redirect URIs' host, which must then be one.
		return metaErr("sector_identifier_uri", "a pairwise client whose redirect_uris have several hosts needs a sector_identifier_uri")
	}
	switch {
	case c.IDTokenEncryptedResponseAlg == "" && c.IDTokenEncryptedResponseEnc != "":
		return metaErr("id_token_encrypted_response_enc", "id_token_encrypted_response_enc needs id_token_encrypted_response_alg")
	case c.IDTokenEncryptedResponseAlg != "":
		enc := c.IDTokenEncryptedResponseEnc
		if enc == "" {
			enc = jose.EncA256GCM
		}
		if err := jose.CheckEncryptionAlgs(c.IDTokenEncryptedResponseAlg, enc); err != nil {
			return metaErr("id_token_encrypted_response_alg", "ID token encryption must be RSA-OAEP-256 or ECDH-ES with A256GCM or A128GCM")
		}
		if len(c.JWKS) == 0 && c.JWKSURI == "" {
			return metaErr("id_token_encrypted_response_alg", "ID token encryption needs the client's jwks or jwks_uri")
		}
		if len(c.JWKS) > 0 {
			set, err := jose.ParseJWKS(c.JWKS)
			if err == nil {
				_, err = set.EncryptionKey(c.IDTokenEncryptedResponseAlg)
			}
			if err != nil {
				return metaErr("id_token_encrypted_response_alg", "the client's jwks holds no usable key for "+c.IDTokenEncryptedResponseAlg)
			}
		}
	}
	return nil
}

// oneHost reports whether every URI names the same host (or there is at most one URI).
func oneHost(uris []string) bool {
	host := ""
	for _, u := range uris {
		p, err := url.Parse(u)
		if err != nil {
			return false
		}
		if host != "" && p.Hostname() != host {
			return false
		}
		host = p.Hostname()
	}
	return true
}

func validateID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return metaErr("client_id", "client_id must be 1 to 128 characters")
	}
	for i := 0; i < len(id); i++ {
		if !isUnreserved(id[i]) {
			return metaErr("client_id", "client_id may contain only letters, digits and -._~")
		}
	}
	return nil
}

// ValidID reports whether id is a well-formed client identifier (see [Client.ValidateWith]).
// Lookups of an identifier that could never have been registered can stop here.
func ValidID(id string) bool { return validateID(id) == nil }

func isUnreserved(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}

func (c *Client) validateAuthMethod(profile string) error {
	switch m := c.TokenEndpointAuthMethod; {
	case m == AuthPrivateKeyJWT, m == AuthTLSClientAuth, m == AuthSelfSignedTLSClientAuth:
	case m == "":
		return metaErr("token_endpoint_auth_method", "token_endpoint_auth_method is required")
	case m == "none":
		return metaErr("token_endpoint_auth_method", "public clients are not supported")
	case strings.HasPrefix(m, "client_secret"):
		return metaErr("token_endpoint_auth_method", "client secrets are not supported")
	default:
		return metaErr("token_endpoint_auth_method",
			"token_endpoint_auth_method must be private_key_jwt, tls_client_auth or self_signed_tls_client_auth")
	}
	if c.TokenEndpointAuthSigningAlg != "" && c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		return metaErr("token_endpoint_auth_signing_alg", "token_endpoint_auth_signing_alg applies to private_key_jwt only")
	}
	return validateAlg("token_endpoint_auth_signing_alg", c.TokenEndpointAuthSigningAlg, profile)
}

// validateAlg checks an optional JWS algorithm against the profile's allow-list.
func validateAlg(field, alg, profile string) error {
	switch {
	case alg == "", alg == AlgPS256, alg == AlgES256:
		return nil
	case alg == AlgEdDSA && profile == ProfileFAPI2:
		return nil
	case profile == ProfileFAPI2:
		return metaErr(field, field+" must be PS256, ES256 or EdDSA")
	default:
		return metaErr(field, field+" must be PS256 or ES256")
	}
}

func (c *Client) validateKeys() error {
	hasJWKS, hasURI := len(c.JWKS) > 0, c.JWKSURI != ""
	if hasJWKS && hasURI {
		return metaErr("jwks", "jwks and jwks_uri must not both be present")
	}
	if !hasJWKS && !hasURI && c.TokenEndpointAuthMethod != AuthTLSClientAuth {
		return metaErr("jwks", c.TokenEndpointAuthMethod+" requires jwks or jwks_uri")
	}
	if hasURI {
		if err := checkHTTPSURL(c.JWKSURI); err != "" {
			return metaErr("jwks_uri", "jwks_uri "+err)
		}
	}
	if hasJWKS {
		if len(c.JWKS) > MaxJWKSSize {
			return metaErr("jwks", "jwks is larger than 32 KiB")
		}
		if err := validateJWKS(c.JWKS); err != nil {
			return &MetadataError{Code: CodeInvalidClientMetadata, Field: "jwks",
				Description: "jwks is not a valid set of strong public keys", Err: err}
		}
	}
	return nil
}

// validateJWKS parses a registered key set through the JOSE package, which refuses private
// and symmetric keys, weak keys (RSA < 2048 bits, EC < P-256: stricter than both FAPI1-AS-06
// and FAPI 2's 224-bit minimum) and malformed sets, and requires one signature key at least.
func validateJWKS(raw []byte) error {
	set, err := jose.ParseJWKS(raw)
	if err != nil {
		return err
	}
	if set.Len() == 0 {
		return errors.New("no signature verification key in the set")
	}
	return nil
}

func (c *Client) validateCertificateRule() error {
	type rule struct{ field, value string }
	rules := []rule{
		{"tls_client_auth_subject_dn", c.TLSClientAuthSubjectDN},
		{"tls_client_auth_san_dns", c.TLSClientAuthSANDNS},
		{"tls_client_auth_san_uri", c.TLSClientAuthSANURI},
		{"tls_client_auth_san_ip", c.TLSClientAuthSANIP},
		{"tls_client_auth_san_email", c.TLSClientAuthSANEmail},
	}
	var set []rule
	for _, r := range rules {
		if r.value != "" {
			set = append(set, r)
		}
	}
	if c.TokenEndpointAuthMethod != AuthTLSClientAuth {
		if len(set) > 0 {
			return metaErr(set[0].field, set[0].field+" applies to tls_client_auth only")
		}
		return nil
	}
	switch len(set) {
	case 0:
		return metaErr("tls_client_auth_subject_dn",
			"tls_client_auth requires tls_client_auth_subject_dn or one tls_client_auth_san_* value")
	case 1:
	default:
		return metaErr(set[1].field, "exactly one of tls_client_auth_subject_dn and tls_client_auth_san_* may be set")
	}
	r := set[0]
	switch r.field {
	case "tls_client_auth_subject_dn":
		if len(r.value) > MaxDNLen {
			return metaErr(r.field, "tls_client_auth_subject_dn is longer than 1024 bytes")
		}
		if _, err := dn.Parse(r.value); err != nil {
			return &MetadataError{Code: CodeInvalidClientMetadata, Field: r.field,
				Description: "tls_client_auth_subject_dn is not an RFC 4514 distinguished name", Err: err}
		}
	case "tls_client_auth_san_dns":
		if !validDNSName(r.value) {
			return metaErr(r.field, "tls_client_auth_san_dns must be a DNS name without wildcards")
		}
	case "tls_client_auth_san_uri":
		u, err := url.Parse(r.value)
		if len(r.value) > MaxURILen || !visibleASCII(r.value, MaxURILen) || err != nil || !u.IsAbs() {
			return metaErr(r.field, "tls_client_auth_san_uri must be an absolute URI")
		}
	case "tls_client_auth_san_ip":
		if len(r.value) > MaxSANLen || net.ParseIP(r.value) == nil {
			return metaErr(r.field, "tls_client_auth_san_ip must be an IPv4 or IPv6 address")
		}
	case "tls_client_auth_san_email":
		local, domain, ok := strings.Cut(r.value, "@")
		if !ok || local == "" || domain == "" || strings.Contains(domain, "@") ||
			!visibleASCII(r.value, MaxSANLen) {
			return metaErr(r.field, "tls_client_auth_san_email must be an email address")
		}
	}
	return nil
}

// validDNSName accepts LDH labels separated by dots, at most 253 bytes, no wildcard: RFC 8705
// §2.1.2 matches the SAN value exactly.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
				return false
			}
		}
	}
	return true
}

func (c *Client) validateGrants(profile string) error {
	seen := map[string]bool{}
	for _, g := range c.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken:
		default:
			return metaErr("grant_types", "grant_types may contain only authorization_code, client_credentials and refresh_token")
		}
		if seen[g] {
			return metaErr("grant_types", "grant_types contains a duplicate")
		}
		seen[g] = true
	}
	if len(c.GrantTypes) == 0 {
		return metaErr("grant_types", "grant_types is required")
	}
	if seen[GrantRefreshToken] && !seen[GrantAuthorizationCode] {
		return metaErr("grant_types", "refresh_token requires authorization_code")
	}
	code := seen[GrantAuthorizationCode]
	if code && len(c.ResponseTypes) == 0 {
		return metaErr("response_types", "authorization_code requires response_types")
	}
	if !code && len(c.ResponseTypes) > 0 {
		return metaErr("response_types", "response_types requires the authorization_code grant")
	}
	seenRT := map[string]bool{}
	for _, rt := range c.ResponseTypes {
		switch {
		case rt == ResponseTypeCode:
		case rt == ResponseTypeCodeIDToken && profile == ProfileFAPI1:
		case profile == ProfileFAPI2:
			return metaErr("response_types", "response_types may contain only code under fapi2")
		default:
			return metaErr("response_types", "response_types may contain only code and code id_token")
		}
		if seenRT[rt] {
			return metaErr("response_types", "response_types contains a duplicate")
		}
		seenRT[rt] = true
	}
	return nil
}

func (c *Client) validateRedirectURIs(profile string, opts ValidateOptions) error {
	if len(c.RedirectURIs) == 0 {
		if profile == ProfileFAPI1 && c.HasGrantType(GrantAuthorizationCode) {
			return redirectErr("redirect_uris is required for the authorization_code grant")
		}
		return nil
	}
	if len(c.RedirectURIs) > MaxRedirectURIs {
		return redirectErr("at most 32 redirect_uris")
	}
	seen := map[string]bool{}
	for _, uri := range c.RedirectURIs {
		if desc := checkRedirectURI(uri, opts); desc != "" {
			return redirectErr(desc)
		}
		if seen[uri] {
			return redirectErr("redirect_uris contains a duplicate")
		}
		seen[uri] = true
	}
	return nil
}

// checkRedirectURI returns "" when uri is acceptable, else a short description.
func checkRedirectURI(uri string, opts ValidateOptions) string {
	if !visibleASCII(uri, MaxURILen) || uri == "" {
		return "a redirect URI must be at most 2048 visible ASCII characters"
	}
	u, err := url.Parse(uri)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		return "a redirect URI must be an absolute URI"
	case strings.Contains(uri, "#"):
		return "a redirect URI must not contain a fragment"
	case u.User != nil:
		return "a redirect URI must not contain user information"
	case u.Hostname() == "":
		return "a redirect URI must have a host"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && opts.AllowLoopbackHTTPRedirect && isLoopbackHost(u.Hostname()):
		return ""
	default:
		return "a redirect URI must use https"
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// checkHTTPSURL returns "" when s is an absolute https URL without fragment or user
// information, else the end of a description ("must ...").
func checkHTTPSURL(s string) string {
	if !visibleASCII(s, MaxURILen) {
		return "must be at most 2048 visible ASCII characters"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "" || u.Scheme != "https" || u.Hostname() == "":
		return "must be an absolute https URL"
	case strings.Contains(s, "#"):
		return "must not contain a fragment"
	case u.User != nil:
		return "must not contain user information"
	}
	return ""
}

// validateScope checks a registered scope: RFC 6749 §3.3 scope tokens (package scope's
// grammar and bounds), each once.
func validateScope(s ScopeList) error {
	if len(s) > scope.MaxTokens {
		return metaErr("scope", "at most 64 scopes")
	}
	seen := map[string]bool{}
	for _, tok := range s {
		if tok == "" || len(tok) > scope.MaxTokenLen {
			return metaErr("scope", "scope tokens must be 1 to 128 characters separated by single spaces")
		}
		if !scope.IsToken(tok) {
			return metaErr("scope", "scope contains a character outside RFC 6749 scope tokens")
		}
		if seen[tok] {
			return metaErr("scope", "scope contains a duplicate")
		}
		seen[tok] = true
	}
	return nil
}

func validateRoles(roles []string) error {
	if len(roles) > MaxSoftwareRoles {
		return metaErr("software_roles", "at most 16 software_roles")
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if r == "" || !visibleASCII(r, MaxIdentifierLen) {
			return metaErr("software_roles", "software_roles entries must be 1 to 256 visible ASCII characters")
		}
		if seen[r] {
			return metaErr("software_roles", "software_roles contains a duplicate")
		}
		seen[r] = true
	}
	return nil
}

// validate checks the bounds of a registration record; nil is valid.
func (r *Registration) validate() error {
	if r == nil {
		return nil
	}
	if r.SSAIssuer == "" || !printableUTF8(r.SSAIssuer, MaxIdentifierLen) {
		return metaErr("registration", "registration.ssa_issuer must be 1 to 256 bytes of printable text")
	}
	if !printableUTF8(r.OrgName, MaxNameLen) {
		return metaErr("registration", "registration.org_name must be at most 256 bytes of printable text")
	}
	if r.SoftwareJWKSRevokedEndpoint != "" {
		if err := checkHTTPSURL(r.SoftwareJWKSRevokedEndpoint); err != "" {
			return metaErr("registration", "registration.software_jwks_revoked_endpoint "+err)
		}
	}
	if !visibleASCII(r.AccessTokenHash, 64) {
		return metaErr("registration", "registration.registration_access_token_hash must be at most 64 visible ASCII characters")
	}
	return nil
}

// visibleASCII reports whether s is at most max bytes of %x21-7E.
func visibleASCII(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// printableUTF8 reports whether s is at most max bytes of valid UTF-8 without control
// characters.
func printableUTF8(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return false
		}
	}
	return true
}
