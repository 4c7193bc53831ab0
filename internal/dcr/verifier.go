package dcr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/nca"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/store"
)

// Defaults and bounds of [Options].
const (
	// DefaultMaxRequestLifetime bounds exp − now of a registration JWT (issue 12: some TPP
	// tooling signs for 30 minutes; a deployment may raise it per profile).
	DefaultMaxRequestLifetime = 5 * time.Minute
	// MaxRequestLifetimeLimit is the largest MaxRequestLifetime [New] accepts.
	MaxRequestLifetimeLimit = time.Hour
	// DefaultMaxClockSkew is the tolerance for iat in the future and exp in the past.
	DefaultMaxClockSkew = 10 * time.Second
	// MaxClockSkewLimit is the largest MaxClockSkew [New] accepts.
	MaxClockSkewLimit = time.Minute
	// maxRedirectURILen is the OBIE bound on one redirect URI (dcr-consent.md §1.2).
	maxRedirectURILen = 256
)

// jtiNamespace prefixes the issuer under which registration jtis are consumed, apart from
// client assertions and request objects.
const jtiNamespace = "registration:"

// RemoteKeySets fetches and caches JWK Sets by URL; *jose.RemoteJWKS implements it (https
// only, public addresses only, bounded size). Resolver's resolver refetches once
// (rate-limited) for a kid the cached set lacks, so that a TPP's key rotation is picked up;
// Get returns the cached set. Errors wrap jose.ErrJWKSFetch when a set could not be
// obtained.
type RemoteKeySets interface {
	Resolver(uri string) jose.KeyResolver
	Get(ctx context.Context, uri string) (*jose.JWKSet, error)
}

// JTIStore consumes single-use identifiers; *store.Store implements it. UseJTI records
// (issuer, jti) until expiresAt across every node and returns an error matching
// store.ErrReplay if the pair was recorded before; any other error means the store could
// not answer.
type JTIStore interface {
	UseJTI(ctx context.Context, issuer, jti string, expiresAt time.Time) error
}

// Options configure [New].
type Options struct {
	// Directories are the trusted software statement issuers. At least one is required;
	// issuers must be distinct.
	Directories []Directory
	// SoftwareKeys fetches the TPPs' software_jwks_endpoint and
	// software_jwks_revoked_endpoint. Required.
	SoftwareKeys RemoteKeySets
	// JTIs consumes registration request jtis. Required.
	JTIs JTIStore
	// Audiences are the aud values a registration JWT may name (one of them must be in
	// its aud): the issuer identifier, and the bank's OB organisation id if it has one.
	// At least one is required.
	Audiences []string
	// Clock is the source of now. Nil means clock.Real.
	Clock clock.Clock
	// MaxRequestLifetime bounds how far a registration JWT's exp may lie in the future:
	// the deployment sets it from the profile clients register under. Zero means
	// [DefaultMaxRequestLifetime]; at most [MaxRequestLifetimeLimit].
	MaxRequestLifetime time.Duration
	// MaxClockSkew: zero means [DefaultMaxClockSkew]; at most [MaxClockSkewLimit].
	MaxClockSkew time.Duration
	// MaxSSAAge, when positive, refuses a software statement issued (iat) longer ago.
	// Zero means no bound on its age (an expired exp is refused whatever this says).
	MaxSSAAge time.Duration
	// Profile is the FAPI profile registered clients are served under
	// (client.ProfileFAPI1 or client.ProfileFAPI2). Empty means client.DefaultProfile.
	Profile string
	// Register, when set, is asked whether the TPP is authorised by its NCA for the
	// software statement's roles ([Verifier.Verify] step 5b). Nil: not asked.
	Register TPPRegister
	// SigningAlgs, when set, returns the algorithms the server can sign with now (its
	// active keys): a client asking for ID tokens in another one is refused at
	// registration (invalid_client_metadata), not later at its first authorization
	// request. Nil: every FAPI algorithm is taken as signable.
	SigningAlgs func() []string
}

// TPPRegister says whether a TPP is authorised by its NCA for PSD2 roles now;
// *nca.Register and *nca.Webhook implement it. Check returns nil, an error matching
// nca.ErrNotListed, nca.ErrWithdrawn or nca.ErrRoleNotAuthorised (refused), or one
// matching nca.ErrUnavailable (could not check).
type TPPRegister interface {
	Check(ctx context.Context, id nca.ID, roles []eidas.Role) error
}

// Verifier verifies registration requests. It is safe for concurrent use.
type Verifier struct {
	dirs      map[string]Directory
	keys      RemoteKeySets
	jtis      JTIStore
	audiences []string
	clk       clock.Clock
	lifetime  time.Duration
	skew      time.Duration
	maxAge    time.Duration
	profile   string
	register  TPPRegister
	signAlgs  func() []string
}

// New checks o and returns a Verifier. Errors name the offending field.
func New(o Options) (*Verifier, error) {
	v := &Verifier{
		dirs: map[string]Directory{}, keys: o.SoftwareKeys, jtis: o.JTIs,
		audiences: slices.Clone(o.Audiences), clk: o.Clock,
		lifetime: o.MaxRequestLifetime, skew: o.MaxClockSkew, maxAge: o.MaxSSAAge, profile: o.Profile,
		register: o.Register, signAlgs: o.SigningAlgs,
	}
	switch {
	case len(o.Directories) == 0:
		return nil, errors.New("dcr: Options.Directories: at least one trusted directory is required")
	case v.keys == nil:
		return nil, errors.New("dcr: Options.SoftwareKeys is required")
	case v.jtis == nil:
		return nil, errors.New("dcr: Options.JTIs is required")
	case len(v.audiences) == 0 || slices.Contains(v.audiences, ""):
		return nil, errors.New("dcr: Options.Audiences: at least one non-empty audience is required")
	case v.lifetime < 0 || v.lifetime > MaxRequestLifetimeLimit:
		return nil, fmt.Errorf("dcr: Options.MaxRequestLifetime must be between 0 and %v", MaxRequestLifetimeLimit)
	case v.skew < 0 || v.skew > MaxClockSkewLimit:
		return nil, fmt.Errorf("dcr: Options.MaxClockSkew must be between 0 and %v", MaxClockSkewLimit)
	case v.maxAge < 0:
		return nil, errors.New("dcr: Options.MaxSSAAge is negative")
	}
	for i, d := range o.Directories {
		if d.Issuer == "" || d.Keys == nil {
			return nil, fmt.Errorf("dcr: Options.Directories[%d]: Issuer and Keys are required", i)
		}
		if _, dup := v.dirs[d.Issuer]; dup {
			return nil, fmt.Errorf("dcr: Options.Directories[%d]: issuer %q listed twice", i, d.Issuer)
		}
		v.dirs[d.Issuer] = d
	}
	if v.profile == "" {
		v.profile = client.DefaultProfile
	}
	if v.profile != client.ProfileFAPI1 && v.profile != client.ProfileFAPI2 {
		return nil, fmt.Errorf("dcr: Options.Profile: unknown profile %q", v.profile)
	}
	if v.clk == nil {
		v.clk = clock.Real{}
	}
	if v.lifetime == 0 {
		v.lifetime = DefaultMaxRequestLifetime
	}
	if v.skew == 0 {
		v.skew = DefaultMaxClockSkew
	}
	return v, nil
}

// Verify checks the registration request body presented over mTLS by the holder of the
// validated certificate id, in the order of dcr-consent.md §1.5, and returns the client to
// register: without client_id (the caller assigns one), defaults applied, valid under
// client.Validate, with the SSA claims flattened in (software_id, org_id, software_roles,
// client_name, logo/client/policy/tos URIs) and jwks_uri = software_jwks_endpoint, and
// [client.Registration] saying which directory signed the SSA.
//
// Errors: an [*Error] with the RFC 7591 code of §1.6 and the claim at fault; an error
// matching [ErrUnavailable] when a key set or the jti store could not be read. The order:
//
//  1. body: a compact JWS of at most [MaxRequestSize] bytes (invalid_request); header alg
//     PS256 or ES256 and a kid (invalid_client_metadata);
//  2. claims iss, iat (not ahead by more than the skew), exp (not passed, at most
//     MaxRequestLifetime ahead), aud (one of Options.Audiences), jti (present); all
//     invalid_client_metadata;
//  3. software_statement: present, parses, its iss a trusted [Directory]
//     (unapproved_software_statement otherwise), its signature by a directory key selected
//     by kid, PS256/ES256 (invalid_software_statement), exp not passed, iat present, not
//     ahead and within MaxSSAAge (invalid_software_statement), org_status Active
//     (unapproved_software_statement), software_id, org_id, https software_jwks_endpoint
//     and known software_roles (invalid_software_statement); then the request's iss equals
//     the SSA's software_id (invalid_client_metadata);
//  4. the request's signature with the key of its kid in software_jwks_endpoint, which must
//     not be listed (by kid or key) at software_jwks_revoked_endpoint
//     (invalid_client_metadata);
//  5. the cross-checks of [Verifier.crossCheck]; then (5b), with a [TPPRegister], the
//     TPP's authorisation at its NCA for every SSA role — the NCA and authorisation
//     number of the certificate's PSD2 organizationIdentifier, else of the SSA's
//     organisation_competent_authority_claims (unapproved_software_statement when
//     withdrawn, not listed or a role is not covered; ErrUnavailable when the register
//     cannot be read);
//  6. the jti, consumed last under the software id until exp plus the skew
//     (invalid_client_metadata when replayed).
func (v *Verifier) Verify(ctx context.Context, body []byte, id *pki.Identity) (*client.Client, error) {
	if id == nil || id.Leaf == nil {
		return nil, errors.New("dcr: Verify needs the validated certificate identity")
	}
	r, err := ParseRegistrationRequest(body)
	if err != nil {
		return nil, err
	}
	if err := checkAlg(r.alg, r.kid, CodeInvalidClientMetadata, "the registration request"); err != nil {
		return nil, err
	}
	now := v.clk.Now()
	if err := v.checkRequestClaims(r, now); err != nil {
		return nil, err
	}
	ssa, err := v.verifySSA(ctx, r.SoftwareStatement, now)
	if err != nil {
		return nil, err
	}
	if r.Issuer != ssa.SoftwareID {
		return nil, metadata("iss", "iss must be the software_id of the software statement")
	}
	if err := v.verifyRequestSignature(ctx, r, ssa); err != nil {
		return nil, err
	}
	c, err := v.crossCheck(r, ssa, id)
	if err != nil {
		return nil, err
	}
	if err := v.checkRegister(ctx, ssa, id); err != nil {
		return nil, err
	}
	err = v.jtis.UseJTI(ctx, jtiNamespace+ssa.SoftwareID, r.JTI, r.Expiry.Add(v.skew))
	switch {
	case errors.Is(err, store.ErrReplay):
		return nil, refuseWith(CodeInvalidClientMetadata, "jti", "the registration request jti was already used", err)
	case err != nil:
		return nil, unavailable("consume registration jti", err)
	}
	return c, nil
}

// checkAlg refuses any algorithm but PS256 and ES256 and a JWS without kid.
func checkAlg(alg, kid, code, what string) error {
	if !fapiAlg(alg) {
		return refuse(code, "alg", what+" must be signed with PS256 or ES256")
	}
	if kid == "" {
		return refuse(code, "kid", what+" must name its signing key by kid")
	}
	return nil
}

func (v *Verifier) checkRequestClaims(r *RegistrationRequest, now time.Time) error {
	switch {
	case r.Issuer == "":
		return metadata("iss", "iss is required")
	case !r.HasIssuedAt:
		return metadata("iat", "iat is required")
	case r.IssuedAt.After(now.Add(v.skew)):
		return metadata("iat", "iat is in the future")
	case !r.HasExpiry:
		return metadata("exp", "exp is required")
	case !now.Before(r.Expiry.Add(v.skew)):
		return metadata("exp", "the registration request has expired")
	case r.Expiry.After(now.Add(v.lifetime + v.skew)):
		return metadata("exp", fmt.Sprintf("exp is more than %v ahead", v.lifetime))
	case r.JTI == "":
		return metadata("jti", "jti is required")
	case len(r.Audience) == 0:
		return metadata("aud", "aud is required")
	}
	for _, a := range r.Audience {
		if slices.Contains(v.audiences, a) {
			return nil
		}
	}
	return metadata("aud", "aud does not name this authorization server")
}

// verifySSA parses and verifies the software statement (§1.5 step 3).
func (v *Verifier) verifySSA(ctx context.Context, token string, now time.Time) (*SoftwareStatement, error) {
	if token == "" {
		return nil, badSSA("software_statement", "software_statement is required", nil)
	}
	ssa, err := ParseSSA(token)
	if err != nil {
		return nil, err
	}
	dir, ok := v.dirs[ssa.Issuer]
	if !ok {
		return nil, unapproved("iss", "the software statement was not issued by a trusted directory")
	}
	if err := checkAlg(ssa.alg, ssa.kid, CodeInvalidSoftwareStatement, "the software statement"); err != nil {
		return nil, err
	}
	verified, err := jose.VerifyJWT(ctx, token, dir.Keys, jose.VerifyOptions{MaxSize: MaxSSASize, Types: []string{"", "JWT"}})
	switch {
	case errors.Is(err, jose.ErrJWKSFetch):
		return nil, unavailable("directory JWK Set of "+dir.Issuer, err)
	case err != nil:
		return nil, badSSA("software_statement", "the software statement signature does not verify with the directory's keys", err)
	case !bytes.Equal(verified.Payload, ssa.payload):
		return nil, errors.New("dcr: verified software statement differs from the parsed one")
	}
	switch {
	case !ssa.Expiry.IsZero() && !now.Before(ssa.Expiry.Add(v.skew)):
		return nil, badSSA("exp", "the software statement has expired", nil)
	case ssa.IssuedAt.IsZero():
		return nil, badSSA("iat", "the software statement has no iat", nil)
	case ssa.IssuedAt.After(now.Add(v.skew)):
		return nil, badSSA("iat", "the software statement iat is in the future", nil)
	case v.maxAge > 0 && now.Sub(ssa.IssuedAt) > v.maxAge:
		return nil, badSSA("iat", "the software statement is too old", nil)
	case ssa.OrgStatus != OrgStatusActive:
		return nil, unapproved("org_status", "the organisation is not Active")
	case ssa.SoftwareID == "" || !visibleASCII(ssa.SoftwareID):
		return nil, badSSA("software_id", "the software statement has no valid software_id", nil)
	case ssa.OrgID == "" || !visibleASCII(ssa.OrgID):
		return nil, badSSA("org_id", "the software statement has no valid org_id", nil)
	case !httpsURL(ssa.SoftwareJWKSEndpoint):
		return nil, badSSA("software_jwks_endpoint", "software_jwks_endpoint must be an https URL", nil)
	case ssa.SoftwareJWKSRevokedEndpoint != "" && !httpsURL(ssa.SoftwareJWKSRevokedEndpoint):
		return nil, badSSA("software_jwks_revoked_endpoint", "software_jwks_revoked_endpoint must be an https URL", nil)
	case len(ssa.SoftwareRoles) == 0:
		return nil, badSSA("software_roles", "the software statement has no software_roles", nil)
	}
	for _, role := range ssa.SoftwareRoles {
		if _, ok := psd2Role[role]; !ok {
			return nil, badSSA("software_roles", "software_roles may contain only AISP, PISP, CBPII and ASPSP", nil)
		}
	}
	return ssa, nil
}

// verifyRequestSignature verifies the registration JWT with the key of its kid at the
// software JWKS endpoint and refuses a key listed at the revoked endpoint (§1.5 step 4,
// OB-DCR-12).
func (v *Verifier) verifyRequestSignature(ctx context.Context, r *RegistrationRequest, ssa *SoftwareStatement) error {
	verified, err := jose.VerifyJWT(ctx, r.raw, v.keys.Resolver(ssa.SoftwareJWKSEndpoint),
		jose.VerifyOptions{MaxSize: MaxRequestSize, Types: []string{"", "JWT"}})
	switch {
	case errors.Is(err, jose.ErrJWKSFetch):
		return unavailable("software_jwks_endpoint", err)
	case errors.Is(err, jose.ErrUnknownKey):
		return refuseWith(CodeInvalidClientMetadata, "kid", "the registration request kid is not a key of the software statement's software_jwks_endpoint", err)
	case err != nil:
		return refuseWith(CodeInvalidClientMetadata, "request", "the registration request signature does not verify", err)
	case !bytes.Equal(verified.Payload, r.payload):
		return errors.New("dcr: verified registration request differs from the parsed one")
	}
	if ssa.SoftwareJWKSRevokedEndpoint == "" {
		return nil
	}
	revoked, err := v.keys.Get(ctx, ssa.SoftwareJWKSRevokedEndpoint)
	if err != nil {
		return unavailable("software_jwks_revoked_endpoint", err)
	}
	for _, k := range revoked.Keys() {
		if k.KeyID() == r.kid || k.Thumbprint() == verified.Key.Thumbprint() {
			return metadata("kid", "the registration request is signed with a revoked key")
		}
	}
	return nil
}

// psd2Role maps software_roles to the PSD2 roles a certificate must carry; the scope each
// role allows (OB-DCR-07). ASPSP allows no scope.
var psd2Role = map[string]eidas.Role{
	RoleAISP: eidas.RoleAISP, RolePISP: eidas.RolePISP, RoleCBPII: eidas.RoleCBPII, RoleASPSP: eidas.RoleASPSP,
}

var roleScope = map[string]string{RoleAISP: "accounts", RolePISP: "payments", RoleCBPII: "fundsconfirmations"}

// scopeOpenID is allowed to every role.
const scopeOpenID = "openid"

// crossCheck applies the §1.5 step 5 rules and builds the client:
//
//   - software_id, when present, equals the SSA's (invalid_client_metadata, OB-DCR-05);
//   - redirect_uris: omitted or empty means the SSA's; each https, host not localhost or a
//     loopback address, at most 256 bytes, and one of the SSA's software_redirect_uris
//     (invalid_redirect_uri, OB-DCR-06);
//   - token_endpoint_auth_method private_key_jwt or tls_client_auth; the signing alg
//     required for private_key_jwt, PS256 or ES256 (for tls_client_auth it may be sent,
//     must be PS256/ES256 and is not applied); tls_client_auth_subject_dn required iff
//     tls_client_auth and equal to the certificate's subject under the DN rules of pki.md
//     §1.7 (dn.Equal), so that the client can later authenticate with it (OB-DCR-08);
//   - id_token_signed_response_alg and request_object_signing_alg PS256/ES256,
//     application_type web or mobile, grant and response types of client.Validate
//     (OB-DCR-09); no jwks, and jwks_uri only when it is the SSA's software_jwks_endpoint;
//   - scope ⊆ openid plus the scopes of the SSA roles (AISP accounts, PISP payments, CBPII
//     fundsconfirmations); omitted means all of them (invalid_client_metadata, OB-DCR-07);
//   - every SSA role is among the certificate's PSD2 roles, and the certificate's
//     organisation (organizationIdentifier, or CN = org_id for OB certificates) is the
//     SSA's org_id or a registration_id of its organisation_competent_authority_claims
//     (for an eIDAS PSD identifier the authorisation number alone also matches);
//     unapproved_software_statement otherwise: the statement is genuine but not this
//     certificate holder's.
func (v *Verifier) crossCheck(r *RegistrationRequest, ssa *SoftwareStatement, id *pki.Identity) (*client.Client, error) {
	if r.SoftwareID != "" && r.SoftwareID != ssa.SoftwareID {
		return nil, metadata("software_id", "software_id differs from the software statement's")
	}
	redirects, err := redirectURIs(r, ssa)
	if err != nil {
		return nil, err
	}
	c := &client.Client{
		RedirectURIs:             redirects,
		GrantTypes:               slices.Clone(r.GrantTypes),
		ResponseTypes:            slices.Clone(r.ResponseTypes),
		TokenEndpointAuthMethod:  r.TokenEndpointAuthMethod,
		IDTokenSignedResponseAlg: r.IDTokenSignedResponseAlg,
		RequestObjectSigningAlg:  r.RequestObjectSigningAlg,
		JWKSURI:                  ssa.SoftwareJWKSEndpoint,
		Name:                     ssa.SoftwareClientName,
		SoftwareID:               ssa.SoftwareID,
		OrgID:                    ssa.OrgID,
		SoftwareRoles:            slices.Clone(ssa.SoftwareRoles),
		Profile:                  v.profile,
		Registration: &client.Registration{
			SSAIssuer:                   ssa.Issuer,
			OrgName:                     ssa.OrgName,
			SoftwareJWKSRevokedEndpoint: ssa.SoftwareJWKSRevokedEndpoint,
		},
	}
	for _, u := range []struct {
		dst *string
		v   string
	}{{&c.LogoURI, ssa.SoftwareLogoURI}, {&c.ClientURI, ssa.SoftwareClientURI}, {&c.PolicyURI, ssa.SoftwarePolicyURI}, {&c.TOSURI, ssa.SoftwareTOSURI}} {
		if httpsURL(u.v) { // a human-facing link that is not https is left out, not refused
			*u.dst = u.v
		}
	}
	if err := checkAuthMethod(r, c, id); err != nil {
		return nil, err
	}
	for _, a := range []struct{ claim, alg string }{
		{"id_token_signed_response_alg", r.IDTokenSignedResponseAlg},
		{"request_object_signing_alg", r.RequestObjectSigningAlg},
	} {
		if a.alg != "" && !fapiAlg(a.alg) {
			return nil, metadata(a.claim, a.claim+" must be PS256 or ES256")
		}
	}
	if alg := r.IDTokenSignedResponseAlg; alg != "" && v.signAlgs != nil {
		if have := v.signAlgs(); !slices.Contains(have, alg) {
			return nil, metadata("id_token_signed_response_alg", "this server signs ID tokens with "+strings.Join(have, " or ")+", not "+alg)
		}
	}
	switch r.ApplicationType {
	case "", "web", "mobile":
	default:
		return nil, metadata("application_type", "application_type must be web or mobile")
	}
	if r.HasJWKS {
		return nil, metadata("jwks", "keys are taken from the software statement's software_jwks_endpoint, not from jwks")
	}
	if r.JWKSURI != "" && r.JWKSURI != ssa.SoftwareJWKSEndpoint {
		return nil, metadata("jwks_uri", "jwks_uri must be the software statement's software_jwks_endpoint")
	}
	if c.Scope, err = scopes(r, ssa); err != nil {
		return nil, err
	}
	for _, role := range ssa.SoftwareRoles {
		if !id.HasRole(psd2Role[role]) {
			return nil, unapproved("software_roles", "the software statement role "+role+" is not among the certificate's PSD2 roles")
		}
	}
	if !organisationMatches(id, ssa) {
		return nil, unapproved("org_id", "the certificate's organisation is not the software statement's")
	}
	c.ApplyDefaults()
	probe := c.Clone()
	probe.ID = "registration-probe"
	if err := probe.Validate(); err != nil {
		var me *client.MetadataError
		if errors.As(err, &me) {
			return nil, refuseWith(me.Code, me.Field, me.Description, err)
		}
		return nil, err
	}
	return c, nil
}

func redirectURIs(r *RegistrationRequest, ssa *SoftwareStatement) ([]string, error) {
	list := r.RedirectURIs
	if len(list) == 0 {
		list = ssa.SoftwareRedirectURIs
	}
	for _, u := range list {
		if desc := checkRedirect(u); desc != "" {
			return nil, refuse(CodeInvalidRedirectURI, "redirect_uris", desc)
		}
		if !slices.Contains(ssa.SoftwareRedirectURIs, u) {
			return nil, refuse(CodeInvalidRedirectURI, "redirect_uris", "a redirect URI is not among the software statement's software_redirect_uris")
		}
	}
	return slices.Clone(list), nil
}

// checkRedirect returns "" for an acceptable redirect URI (OB-DCR-06), else why not.
func checkRedirect(uri string) string {
	if len(uri) > maxRedirectURILen || !visibleASCII(uri) {
		return "a redirect URI must be at most 256 visible ASCII characters"
	}
	u, err := url.Parse(uri)
	switch {
	case err != nil || !u.IsAbs() || u.Scheme != "https" || u.Opaque != "":
		return "a redirect URI must be an absolute https URI"
	case u.Hostname() == "":
		return "a redirect URI must have a host"
	case strings.EqualFold(u.Hostname(), "localhost") || strings.HasSuffix(strings.ToLower(u.Hostname()), ".localhost"):
		return "a redirect URI must not point to localhost"
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		return "a redirect URI must not point to a loopback address"
	}
	return ""
}

func checkAuthMethod(r *RegistrationRequest, c *client.Client, id *pki.Identity) error {
	switch r.TokenEndpointAuthMethod {
	case client.AuthPrivateKeyJWT:
		if r.TokenEndpointAuthSigningAlg == "" {
			return metadata("token_endpoint_auth_signing_alg", "token_endpoint_auth_signing_alg is required for private_key_jwt")
		}
		if !fapiAlg(r.TokenEndpointAuthSigningAlg) {
			return metadata("token_endpoint_auth_signing_alg", "token_endpoint_auth_signing_alg must be PS256 or ES256")
		}
		if r.TLSClientAuthSubjectDN != "" {
			return metadata("tls_client_auth_subject_dn", "tls_client_auth_subject_dn applies to tls_client_auth only")
		}
		c.TokenEndpointAuthSigningAlg = r.TokenEndpointAuthSigningAlg
		return nil
	case client.AuthTLSClientAuth:
		if r.TokenEndpointAuthSigningAlg != "" && !fapiAlg(r.TokenEndpointAuthSigningAlg) {
			return metadata("token_endpoint_auth_signing_alg", "token_endpoint_auth_signing_alg must be PS256 or ES256")
		}
		if r.TLSClientAuthSubjectDN == "" {
			return metadata("tls_client_auth_subject_dn", "tls_client_auth_subject_dn is required for tls_client_auth")
		}
		want, err := dn.Parse(r.TLSClientAuthSubjectDN)
		if err != nil {
			return refuseWith(CodeInvalidClientMetadata, "tls_client_auth_subject_dn", "tls_client_auth_subject_dn is not an RFC 4514 distinguished name", err)
		}
		got, err := dn.FromDER(id.Leaf.RawSubject)
		if err != nil || !dn.Equal(want, got) {
			return metadata("tls_client_auth_subject_dn", "tls_client_auth_subject_dn is not the subject of the presented certificate")
		}
		c.TLSClientAuthSubjectDN = r.TLSClientAuthSubjectDN
		return nil
	case "":
		return metadata("token_endpoint_auth_method", "token_endpoint_auth_method is required")
	}
	return metadata("token_endpoint_auth_method", "token_endpoint_auth_method must be private_key_jwt or tls_client_auth")
}

// scopes returns the scopes to register: the request's, each allowed by the SSA roles, or
// all the roles allow when the request names none.
func scopes(r *RegistrationRequest, ssa *SoftwareStatement) (client.ScopeList, error) {
	allowed := client.ScopeList{scopeOpenID}
	for _, role := range ssa.SoftwareRoles {
		if sc, ok := roleScope[role]; ok && !allowed.Contains(sc) {
			allowed = append(allowed, sc)
		}
	}
	if strings.TrimSpace(r.Scope) == "" {
		return allowed, nil
	}
	requested := client.ScopeList(strings.Split(r.Scope, " "))
	for _, sc := range requested {
		if !allowed.Contains(sc) {
			return nil, metadata("scope", "scope may contain only openid and the scopes of the software statement's roles")
		}
	}
	return requested, nil
}

// organisationMatches reports whether the certificate belongs to the SSA's organisation.
func organisationMatches(id *pki.Identity, ssa *SoftwareStatement) bool {
	want := []string{ssa.OrgID}
	for _, a := range ssa.CompetentAuthority {
		if a.RegistrationID != "" {
			want = append(want, a.RegistrationID)
		}
	}
	if id.OrgID != "" && slices.Contains(want, id.OrgID) {
		return true
	}
	// An eIDAS PSD identifier's authorisation number alone matches a registration_id.
	if o := id.Organization; o.Scheme == "PSD" && o.Reference != "" {
		for _, a := range ssa.CompetentAuthority {
			if a.RegistrationID == o.Reference {
				return true
			}
		}
	}
	return false
}

func fapiAlg(alg string) bool { return alg == string(jose.PS256) || alg == string(jose.ES256) }

func httpsURL(s string) bool {
	if s == "" || len(s) > maxURILen || !visibleASCII(s) || strings.Contains(s, "#") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.Hostname() != "" && u.User == nil && u.Opaque == ""
}

func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// checkRegister is step 5b of [Verifier.Verify].
func (v *Verifier) checkRegister(ctx context.Context, ssa *SoftwareStatement, id *pki.Identity) error {
	if v.register == nil {
		return nil
	}
	tpp, ok := nca.FromOrganizationIdentifier(id.Organization)
	for _, a := range ssa.CompetentAuthority {
		if ok {
			break
		}
		tpp, ok = nca.FromAuthorityClaim(a.AuthorityID, a.RegistrationID)
	}
	roles := make([]eidas.Role, 0, len(ssa.SoftwareRoles))
	for _, r := range ssa.SoftwareRoles {
		roles = append(roles, psd2Role[r])
	}
	err := v.register.Check(ctx, tpp, roles)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nca.ErrUnavailable):
		return unavailable("NCA register", err)
	case errors.Is(err, nca.ErrWithdrawn):
		return refuseWith(CodeUnapprovedSoftwareStatement, "organisation_competent_authority_claims", "the organisation's authorisation was withdrawn by its national competent authority", err)
	case errors.Is(err, nca.ErrRoleNotAuthorised):
		return refuseWith(CodeUnapprovedSoftwareStatement, "software_roles", "a software statement role is not authorised by the organisation's national competent authority", err)
	case errors.Is(err, nca.ErrNotListed):
		return refuseWith(CodeUnapprovedSoftwareStatement, "organisation_competent_authority_claims", "the organisation is not listed as authorised by a national competent authority", err)
	}
	return fmt.Errorf("dcr: NCA register: %w", err)
}
