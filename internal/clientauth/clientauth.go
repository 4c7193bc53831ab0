// Package clientauth is the only place Portcullis authenticates an OAuth client. Given the
// authentication parameters of a request to the token, PAR, introspection or revocation
// endpoint and the caller's TLS client certificate (as package mtls and package pki found
// it), [Authenticator.Authenticate] answers which registered [client.Client] is calling, or
// why nobody is.
//
// Three methods exist, one file each, and the client's registered
// token_endpoint_auth_method alone decides which one applies (FAPI1-AS-02, FAPI2-AS-05):
//
//   - private_key_jwt (OIDC Core §9, RFC 7523 §3): a JWT client assertion signed by one of the
//     client's keys (jwks by value, or jwks_uri fetched and cached by package jose), with
//     iss = sub = client_id, an audience rule per FAPI profile (FAPI1-AS-03, FAPI2-AS-07),
//     bounded exp, iat/nbf at most [DefaultMaxClockSkew] ahead (FAPI2-AS-11) and a jti that is
//     consumed in the shared store, so a replay fails on every node;
//   - tls_client_auth (RFC 8705 §2.1): a certificate that passed chain, profile and
//     revocation validation in package pki and matches the client's registered subject DN
//     (compared attribute by attribute, pki.md §1.7) or SAN (FAPI1-AS-05);
//   - self_signed_tls_client_auth (RFC 8705 §2.2): a certificate, not validated against a
//     trust anchor, whose public key is one of the keys registered in the client's JWK Set.
//
// A client's registered verification keys (jwks by value, or jwks_uri through package jose's
// cache) are resolved in one place, [KeyResolver]; private_key_jwt and
// self_signed_tls_client_auth use it, and so does any other verifier of what a client signs
// (request objects), given the same instance through [Options].Keys.
//
// It refuses client secrets in every form (client_secret_basic, client_secret_post,
// client_secret_jwt), public clients, and requests that name the client in several ways that
// disagree (FAPI1-AS-04). It does not decide whether a certificate is trustworthy (package pki
// did), nor bind tokens to certificates (package token uses [Result.Certificate]), nor render
// the wire error (the authorization server does, through oauth.FromError).
//
// Every authentication failure is an [*Error] with one of the sentinel reasons of this package
// and maps to 401 invalid_client with the one description [FailureDescription], so that the
// answer never tells whether a client exists or how it authenticates; [Error.Detail] and
// [Error.ClientID] are for the audit trail. An error that is not an *Error matches [ErrInternal]: it
// means "could not check" (the client or jti store did not answer, a wiring mistake) and maps
// to 500 server_error — except [ErrCertificateStatusUnavailable] (pki could not establish the
// certificate's revocation status), which maps to 503 temporarily_unavailable. The request is
// refused either way.
package clientauth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/pki"
)

// AssertionType is the only accepted client_assertion_type (RFC 7523 §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Defaults and bounds of [Options].
const (
	// DefaultMaxClockSkew is how far in the future an assertion's iat or nbf may lie, and how
	// long after its exp it is still accepted. FAPI2-AS-11 requires accepting 10 s and
	// rejecting more than 60 s; Portcullis accepts exactly 10 s by default and never more
	// than [MaxClockSkewLimit].
	DefaultMaxClockSkew = 10 * time.Second
	// MaxClockSkewLimit is the largest MaxClockSkew [New] accepts (FAPI2-AS-11).
	MaxClockSkewLimit = 60 * time.Second
	// DefaultMaxAssertionLifetime bounds exp − now of an assertion. Clients typically sign
	// assertions valid for 60 s.
	DefaultMaxAssertionLifetime = 5 * time.Minute
	// MaxAssertionLifetimeLimit is the largest MaxAssertionLifetime [New] accepts.
	MaxAssertionLifetimeLimit = time.Hour
	// MaxAssertionSize bounds the client_assertion parameter (bytes).
	MaxAssertionSize = 8 << 10
	// MaxJTILen bounds the assertion's jti (bytes).
	MaxJTILen = 256
)

// Endpoint is the endpoint a client authenticates at. Under FAPI 1 it decides whether the PAR
// endpoint URL is an acceptable assertion audience (RFC 9126 §2).
type Endpoint string

// The endpoints that authenticate clients.
const (
	EndpointToken         Endpoint = "token"
	EndpointPAR           Endpoint = "par"
	EndpointIntrospection Endpoint = "introspection"
	EndpointRevocation    Endpoint = "revocation"
)

func (e Endpoint) valid() bool {
	switch e {
	case EndpointToken, EndpointPAR, EndpointIntrospection, EndpointRevocation:
		return true
	}
	return false
}

// ClientGetter finds registered clients; *client.Registry implements it. Contract: an
// unknown identifier is an error matching client.ErrNotFound; any other error means the
// registry could not answer.
type ClientGetter interface {
	Get(ctx context.Context, id string) (*client.Client, error)
}

// JTIStore consumes single-use identifiers; *store.Store implements it. UseJTI records
// (issuer, jti) until expiresAt, atomically across every node sharing the database, and
// returns an error matching store.ErrReplay if the pair was already recorded; any other
// error means the store could not answer.
type JTIStore interface {
	UseJTI(ctx context.Context, issuer, jti string, expiresAt time.Time) error
}

// RemoteKeySets fetches and caches the JWK Sets of clients registered with a jwks_uri;
// *jose.RemoteJWKS implements it. Resolver's resolver refetches the set once (rate-limited)
// for a kid the cached set lacks; Get returns the cached set, fetching it when absent or
// expired. Errors wrap jose.ErrJWKSFetch when the set could not be obtained.
type RemoteKeySets interface {
	Resolver(uri string) jose.KeyResolver
	Get(ctx context.Context, uri string) (*jose.JWKSet, error)
}

// Options configure [New].
type Options struct {
	// Clients finds the registered clients. Required.
	Clients ClientGetter
	// JTIs consumes client assertion jtis. Required.
	JTIs JTIStore
	// JWKS fetches and caches the key sets of clients registered with a jwks_uri. Nil means
	// such clients cannot authenticate by a key ([ErrKeysUnavailable]).
	JWKS RemoteKeySets
	// Keys resolves clients' registered keys. Nil means one built from JWKS; pass the
	// KeyResolver the request-object verifier uses, so that both share its caches.
	Keys *KeyResolver
	// Issuer is this authorization server's issuer identifier: under FAPI 2 the only
	// accepted assertion audience, under FAPI 1 one of them. Required.
	Issuer string
	// TokenEndpoint and PAREndpoint are the endpoint URLs a FAPI 1 client may also name as
	// the audience (FAPI1-AS-03; the PAR URL only at the PAR endpoint, RFC 9126 §2). Empty
	// means not accepted.
	TokenEndpoint, PAREndpoint string
	// Clock is the source of now. Nil means clock.Real.
	Clock clock.Clock
	// MaxAssertionLifetime bounds how far an assertion's exp may lie in the future. Zero
	// means [DefaultMaxAssertionLifetime]; at most [MaxAssertionLifetimeLimit].
	MaxAssertionLifetime time.Duration
	// MaxAssertionLifetimeByProfile overrides MaxAssertionLifetime for the clients of a
	// FAPI profile (client.ProfileFAPI1, client.ProfileFAPI2; a client without profile is
	// client.DefaultProfile's): some TPP tooling signs assertions valid for 30 minutes.
	// Each value at most [MaxAssertionLifetimeLimit]; zero or absent means
	// MaxAssertionLifetime.
	MaxAssertionLifetimeByProfile map[string]time.Duration
	// Register, when set, is asked after every successful authentication whether the
	// TPP is still authorised by its NCA ([Authenticator.Authenticate] step 5). Nil: not
	// asked.
	Register TPPRegister
	// MaxClockSkew is the tolerance for iat and nbf in the future and exp in the past. Zero
	// means [DefaultMaxClockSkew]; at most [MaxClockSkewLimit].
	MaxClockSkew time.Duration
}

// Authenticator authenticates clients. It is safe for concurrent use.
type Authenticator struct {
	clients   ClientGetter
	jtis      JTIStore
	issuer    string
	tokenURL  string
	parURL    string
	clk       clock.Clock
	lifetime  time.Duration
	skew      time.Duration
	keys      *KeyResolver
	subjects  subjectMatches
	byProfile map[string]time.Duration
	register  TPPRegister
}

// New checks o and returns an Authenticator. Errors name the offending field.
func New(o Options) (*Authenticator, error) {
	a := &Authenticator{
		clients:   o.Clients,
		jtis:      o.JTIs,
		issuer:    o.Issuer,
		tokenURL:  o.TokenEndpoint,
		parURL:    o.PAREndpoint,
		clk:       o.Clock,
		lifetime:  o.MaxAssertionLifetime,
		skew:      o.MaxClockSkew,
		keys:      o.Keys,
		register:  o.Register,
		byProfile: map[string]time.Duration{},
	}
	for p, d := range o.MaxAssertionLifetimeByProfile {
		if p != client.ProfileFAPI1 && p != client.ProfileFAPI2 {
			return nil, fmt.Errorf("clientauth: Options.MaxAssertionLifetimeByProfile: unknown profile %q", p)
		}
		if d < 0 || d > MaxAssertionLifetimeLimit {
			return nil, fmt.Errorf("clientauth: Options.MaxAssertionLifetimeByProfile[%s] must be between 0 and %v", p, MaxAssertionLifetimeLimit)
		}
		if d > 0 {
			a.byProfile[p] = d
		}
	}
	switch {
	case a.clients == nil:
		return nil, errors.New("clientauth: Options.Clients is required")
	case a.jtis == nil:
		return nil, errors.New("clientauth: Options.JTIs is required")
	case a.issuer == "":
		return nil, errors.New("clientauth: Options.Issuer is required")
	case a.lifetime < 0 || a.lifetime > MaxAssertionLifetimeLimit:
		return nil, fmt.Errorf("clientauth: Options.MaxAssertionLifetime must be between 0 and %v", MaxAssertionLifetimeLimit)
	case a.skew < 0 || a.skew > MaxClockSkewLimit:
		return nil, fmt.Errorf("clientauth: Options.MaxClockSkew must be between 0 and %v", MaxClockSkewLimit)
	}
	if a.clk == nil {
		a.clk = clock.Real{}
	}
	if a.keys == nil {
		a.keys = NewKeyResolver(o.JWKS)
	}
	if a.lifetime == 0 {
		a.lifetime = DefaultMaxAssertionLifetime
	}
	if a.skew == 0 {
		a.skew = DefaultMaxClockSkew
	}
	return a, nil
}

// Request is what a client sent to authenticate.
type Request struct {
	// Form is the request's body parameters: client_id, client_assertion_type,
	// client_assertion (and, refused, client_secret).
	Form url.Values
	// AuthorizationHeader reports that the request carried an Authorization header. No
	// client authentication uses it here (client_secret_basic is refused), so its presence
	// fails the authentication; its value is never needed.
	AuthorizationHeader bool
	// Identity and IdentityErr are the result of mtls.ClientIdentity for the request: the
	// validated certificate identity, or mtls.ErrNoClientCertificate, or the validation
	// error (invalid, expired, revoked, status unknown, unknown authority ...).
	Identity    *pki.Identity
	IdentityErr error
	// PresentedChain is the chain the caller presented, leaf first, unvalidated
	// (mtls.PresentedChain). Only self_signed_tls_client_auth reads it: a self-signed
	// certificate fails pki validation (unknown authority) by design, and RFC 8705 §2.2
	// matches it against the client's registered keys instead. Nil when there is no
	// certificate.
	PresentedChain []*x509.Certificate
	// Endpoint is where the client authenticates. Required.
	Endpoint Endpoint
}

// Result is an authenticated client.
type Result struct {
	Client *client.Client
	// Method is the token_endpoint_auth_method that authenticated the client.
	Method string
	// Identity is the validated identity of the client's certificate: set for
	// tls_client_auth, and for private_key_jwt when a certificate was presented (it need not
	// belong to the client; FAPI binds tokens to whatever valid certificate is used). For
	// self_signed_tls_client_auth it is nil unless the certificate also happened to pass pki
	// validation.
	Identity *pki.Identity
	// Certificate is the leaf certificate the request presented and this authentication
	// accepted: Identity.Leaf, or the self-signed certificate that matched a registered key.
	// Token binding (RFC 8705 §3, cnf.x5t#S256) uses it. Nil when no certificate was
	// presented (private_key_jwt only).
	Certificate *x509.Certificate
}

// Authenticate authenticates the client of req. It returns the client, or an [*Error] (401
// invalid_client) naming why the client is not authenticated, or an error matching
// [ErrInternal] when the decision could not be made (500), or one matching
// [ErrCertificateStatusUnavailable] when the certificate's revocation status could not be
// established (503). The checks, in order:
//
//  1. No Authorization header, no client_secret, no authentication parameter sent twice
//     ([ErrInvalidRequest]).
//  2. The client is named by the client assertion's iss and sub, which must both be present
//     and equal, and by the form client_id when present, which must equal them
//     ([ErrAssertionInvalid], [ErrClientIDMismatch]; FAPI1-AS-03/04); without an assertion,
//     by client_id alone ([ErrNoCredentials] without either).
//  3. The client is registered ([ErrUnknownClient]) and the request uses its registered
//     method: an assertion for private_key_jwt, none for the certificate methods
//     ([ErrMethodMismatch]).
//  4. The method's own checks, documented on privateKeyJWT (private_key_jwt.go),
//     tlsClientAuth (tls_client_auth.go) and selfSignedTLSClientAuth
//     (self_signed_tls_client_auth.go). In short: private_key_jwt refuses a presented
//     certificate that failed validation ([ErrCertificateInvalid]), then checks exp, iat,
//     nbf, jti and aud, then the signature with the client's own keys, and consumes the jti
//     last; the certificate methods need a certificate ([ErrNoCertificate]) that pki
//     validated ([ErrCertificateInvalid]) or, for self-signed, that is within its validity
//     period and not found revoked, and that matches the registration
//     ([ErrSubjectMismatch]).
//  5. With a [TPPRegister]: the TPP is still authorised by its NCA ([ErrNotAuthorised];
//     [ErrCertificateStatusUnavailable] when the register could not be consulted), see
//     checkRegister.
func (a *Authenticator) Authenticate(ctx context.Context, req Request) (*Result, error) {
	res, err := a.authenticate(ctx, req)
	if err == nil {
		if err = a.checkRegister(ctx, res); err != nil {
			res = nil
		}
	}
	var e *Error
	if err != nil && !errors.As(err, &e) && !errors.Is(err, ErrCertificateStatusUnavailable) {
		return nil, &internalError{err}
	}
	return res, err
}

// authenticate is Authenticate without the marking of its "could not check" errors. A
// failure carries the client identifier the request claimed, when it has the syntax of one.
func (a *Authenticator) authenticate(ctx context.Context, req Request) (_ *Result, err error) {
	id := req.Form.Get("client_id") // the assertion's iss, once read, takes its place
	defer func() {
		var e *Error
		if errors.As(err, &e) && e.ClientID == "" && client.ValidID(id) {
			e.ClientID = id
		}
	}()
	if !req.Endpoint.valid() {
		return nil, fmt.Errorf("clientauth: invalid endpoint %q", req.Endpoint)
	}
	if req.AuthorizationHeader {
		return nil, fail(ErrInvalidRequest, "client authentication by Authorization header is not supported")
	}
	f := req.Form
	if _, ok := f["client_secret"]; ok {
		return nil, fail(ErrInvalidRequest, "client secrets are not supported")
	}
	for _, p := range []string{"client_id", "client_assertion", "client_assertion_type"} {
		if len(f[p]) > 1 {
			return nil, fail(ErrInvalidRequest, p+" sent more than once")
		}
	}
	formID := f.Get("client_id")
	assertion, assertionType := f.Get("client_assertion"), f.Get("client_assertion_type")
	_, hasAssertion := f["client_assertion"]
	_, hasType := f["client_assertion_type"]

	var peeked *assertionIDs
	switch {
	case hasAssertion || hasType:
		if assertionType != AssertionType {
			return nil, fail(ErrInvalidRequest, "client_assertion_type must be "+AssertionType)
		}
		if assertion == "" {
			return nil, fail(ErrInvalidRequest, "client_assertion is missing")
		}
		if len(assertion) > MaxAssertionSize {
			return nil, fail(ErrAssertionInvalid, "client assertion too large")
		}
		ids, err := peekIDs(assertion)
		if err != nil {
			return nil, err
		}
		if formID != "" && formID != ids.iss {
			return nil, fail(ErrClientIDMismatch, "client_id does not match the client assertion")
		}
		id, peeked = ids.iss, ids
	case formID != "":
		id = formID
	default:
		return nil, fail(ErrNoCredentials, "client authentication required")
	}

	c, err := a.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	switch c.TokenEndpointAuthMethod {
	case client.AuthPrivateKeyJWT:
		if peeked == nil {
			return nil, fail(ErrMethodMismatch, "client must authenticate with private_key_jwt")
		}
		return a.privateKeyJWT(ctx, c, assertion, peeked, req)
	case client.AuthTLSClientAuth:
		if peeked != nil {
			return nil, fail(ErrMethodMismatch, "client must authenticate with tls_client_auth")
		}
		return a.tlsClientAuth(c, req)
	case client.AuthSelfSignedTLSClientAuth:
		if peeked != nil {
			return nil, fail(ErrMethodMismatch, "client must authenticate with self_signed_tls_client_auth")
		}
		return a.selfSignedTLSClientAuth(ctx, c, req)
	}
	// A registry client always has one of the methods above; anything else is refused.
	return nil, fail(ErrMethodMismatch, "client authentication method not supported")
}

// lookup finds the registered client id.
func (a *Authenticator) lookup(ctx context.Context, id string) (*client.Client, error) {
	if !client.ValidID(id) {
		return nil, fail(ErrUnknownClient, "unknown client")
	}
	c, err := a.clients.Get(ctx, id)
	if errors.Is(err, client.ErrNotFound) {
		return nil, failWith(ErrUnknownClient, "unknown client", err)
	}
	if err != nil {
		return nil, fmt.Errorf("clientauth: look up client: %w", err)
	}
	if c.ID != id {
		return nil, fmt.Errorf("clientauth: registry returned client %q for %q", c.ID, id)
	}
	return c, nil
}

// certificateIdentity classifies the request's validated certificate for the methods that
// need one: the identity, or [ErrNoCertificate], or [ErrCertificateInvalid] (pki found it
// bad), or [ErrCertificateStatusUnavailable] (pki could not check its revocation status), or a
// wiring error.
func certificateIdentity(req Request) (*pki.Identity, error) {
	switch err := req.IdentityErr; {
	case err == nil && req.Identity != nil:
		return req.Identity, nil
	case err == nil, errors.Is(err, mtls.ErrNoClientCertificate):
		return nil, failWith(ErrNoCertificate, "client certificate required", err)
	case errors.Is(err, mtls.ErrNoExtractor):
		return nil, fmt.Errorf("clientauth: %w", err)
	case errors.Is(err, pki.ErrRevocationUnavailable):
		return nil, certificateStatusUnavailable(err)
	default:
		return nil, failWith(ErrCertificateInvalid, "client certificate invalid", err)
	}
}
