package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is zero. A token
// request with a client assertion (at most 8 KiB, clientauth.MaxAssertionSize) fits many
// times over.
const DefaultMaxBodyBytes = 64 << 10

// The paths of the endpoints, relative to the issuer (INTERFACE.md "HTTP surface").
const (
	PathOpenIDConfiguration = "/.well-known/openid-configuration"
	PathOAuthMetadata       = "/.well-known/oauth-authorization-server"
	PathJWKS                = "/jwks"
	PathToken               = "/token"
	PathIntrospect          = "/introspect"
	PathRevoke              = "/revoke"
)

// ClientAuthenticator authenticates the client of a request; *clientauth.Authenticator
// implements it. The contract is clientauth's: a *clientauth.Error for a client that did
// not prove who it is, any other error when the decision could not be made.
type ClientAuthenticator interface {
	Authenticate(ctx context.Context, req clientauth.Request) (*clientauth.Result, error)
}

// TokenIssuer mints access tokens; *token.Issuer implements it (token.ErrUnbound without a
// certificate thumbprint, token.ErrInvalidClaims for claims it must not sign).
type TokenIssuer interface {
	Issue(ctx context.Context, c token.Claims) (string, *token.AccessToken, error)
}

// TokenVerifier checks access tokens; *token.Verifier implements it (signature, type,
// issuer, audience, lifetime, deny-list; token.ErrRevocationStateUnavailable when the
// deny-list is too old to rule a revocation out).
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*token.AccessToken, error)
}

// RevocationStore persists the access-token deny-list; *store.Store implements it.
// RevokeToken is idempotent; any error other than store.ErrInvalidInput means the store
// could not answer.
type RevocationStore interface {
	RevokeToken(ctx context.Context, r store.Revocation) error
}

// DenyList is this node's in-memory deny-list; *token.DenyList implements it. Add makes a
// revocation effective here at once; other nodes pick it up from the store.
type DenyList interface {
	Add(jti string, exp time.Time)
	AddFamily(familyID string, exp time.Time)
}

// Options configures [New]. Fields marked required make New fail when missing; the others
// have safe zero values, stated per field.
type Options struct {
	// Issuer is the issuer identifier (RFC 8414 §2): an https URL without query or
	// fragment; a trailing slash is not allowed. Every endpoint URL is Issuer + its path,
	// and [Server.Register] registers the paths under the issuer's own path. Required.
	Issuer string
	// MTLSBaseURL is the base of the mtls_endpoint_aliases (RFC 8705 §5) published in
	// discovery: the mTLS host when TLS client authentication is served elsewhere than
	// the issuer. Empty means Issuer (Portcullis serves everything on its mTLS listener).
	MTLSBaseURL string

	// Keys are the server's signing keys, published at /jwks. Required.
	Keys *jose.KeyStore
	// Tokens mints access tokens; its lifetime is the expires_in of token responses.
	// Required.
	Tokens TokenIssuer
	// Verifier checks tokens presented to introspection and revocation. Required.
	Verifier TokenVerifier
	// ClientAuth authenticates clients at the token, introspection and revocation
	// endpoints. Required.
	ClientAuth ClientAuthenticator
	// Revocations is the store's deny-list table, written on revocation. Required.
	Revocations RevocationStore
	// DenyList is this node's deny-list, updated on revocation. Required.
	DenyList DenyList
	// Audit records token issuance and revocation (audit.TypeTokenIssued,
	// audit.TypeTokenRevoked). Required: use audit.Discard to record nothing.
	Audit audit.Sink

	// Logger receives one record per refused request, with the internal cause and the
	// request's context (obs.NewLogger adds the interaction id). Never secrets. Nil
	// discards.
	Logger *slog.Logger
	// MaxBodyBytes bounds every request body. Zero means [DefaultMaxBodyBytes]; negative
	// is an error.
	MaxBodyBytes int64

	// ScopesSupported is published as scopes_supported and bounds what the
	// client_credentials grant grants: a scope outside it is never issued, even when a
	// client registered it. Empty means no bound beyond each client's registered scopes,
	// and scopes_supported is omitted. "openid" is refused here: no ID tokens are
	// issued yet.
	ScopesSupported []string
	// Profiles are the FAPI profiles clients may be registered under (client.ProfileFAPI1,
	// client.ProfileFAPI2). They decide the JWS algorithms published for client
	// authentication (EdDSA only with FAPI 2). Nil means both.
	Profiles []string

	// Clock is the source of "now" for request object, request_uri and code lifetimes.
	// Nil means the real clock.
	Clock clock.Clock
	// Registerer receives the server's metrics (portcullis_client_authentications_total,
	// portcullis_token_requests_total; metrics.go). Nil leaves them unregistered.
	Registerer prometheus.Registerer
	// PushedRequests stores pushed authorization requests. Nil means the customer
	// journey endpoints (PAR, authorization) are not served.
	PushedRequests PushedRequestStore
	// ClientKeys resolves the keys that verify a client's request objects. Required when
	// PushedRequests is set.
	ClientKeys ClientKeys
	// PARLifetime is the expires_in of a request_uri. Zero means [DefaultPARLifetime];
	// it must be below 600 s (FAPI2-AS-28).
	PARLifetime time.Duration
	// BrowserBaseURL is where the browser-facing listener serves the authorization
	// endpoint (no client certificate requested there). Empty means Issuer.
	BrowserBaseURL string
	// Signer signs ID tokens and JARM responses. Required when PushedRequests is set.
	Signer JWTSigner
	// IDTokens mints ID tokens; Codes keeps authorization codes; Subjects maps customers to
	// the subjects clients see; Clients finds a client by id. Required when
	// PushedRequests is set.
	IDTokens IDTokenIssuer
	Codes    CodeStore
	Subjects Subjects
	Clients  ClientGetter
	// CodeLifetime is how long a code may be exchanged. Zero means
	// [DefaultCodeLifetime]; at most 60 s for FAPI 2.0 (FAPI2-AS-10).
	CodeLifetime time.Duration
	// RefreshTokens keeps refresh tokens and Families revokes a grant family (a replayed
	// code). Required when PushedRequests is set.
	RefreshTokens RefreshTokenStore
	Families      FamilyRevoker
	// RefreshTokenLifetime bounds a grant's refresh tokens. Zero means
	// [DefaultRefreshTokenLifetime].
	RefreshTokenLifetime time.Duration
	// Intents checks the Open Banking consent a request names (openbanking_intent_id,
	// OB-01…OB-03). Nil refuses every request that names one.
	Intents IntentChecker
	// Consents, when set, is asked at every authorization code exchange and refresh
	// whether the consent the grant is bound to is still in force: a consent revoked,
	// rejected, consumed or expired meanwhile is invalid_grant (consent.go). Nil: not
	// asked (deployments without consents).
	Consents ConsentStatuser

	// Registration enables dynamic client registration (POST /register and the RFC 7592
	// configuration endpoint, register.go) and its registration_endpoint in discovery.
	// Nil means not served.
	Registration *RegistrationOptions
}

// IntentChecker decides whether client may start a journey for consent intentID: it must
// exist, be the client's and await authorisation (fapi.md OB-03). It returns an
// *oauth.Error to refuse (invalid_request) or any other error when it could not decide.
type IntentChecker interface {
	CheckIntent(ctx context.Context, clientID, intentID string) error
}

// DefaultRefreshTokenLifetime is the lifetime of a grant's refresh tokens when
// Options.RefreshTokenLifetime is zero (the consent's own expiry may end them earlier).
const DefaultRefreshTokenLifetime = 90 * 24 * time.Hour

// RefreshTokenStore keeps refresh tokens; *store.Store implements it.
type RefreshTokenStore interface {
	PutRefreshToken(ctx context.Context, t store.RefreshToken) error
	RefreshRotator
}

// IDTokenIssuer mints ID tokens; *token.Issuer implements it.
type IDTokenIssuer interface {
	IssueIDToken(c token.IDTokenClaims, alg jose.Alg) (string, error)
}

// ClientGetter finds a registered client; *client.Registry implements it (client.ErrNotFound
// for an unknown id).
type ClientGetter interface {
	Get(ctx context.Context, id string) (*client.Client, error)
}

// Server is the authorization server's endpoints. Build it with [New] and mount it with
// [Server.Register]. It is safe for concurrent use.
type Server struct {
	issuer    string
	basePath  string // the issuer's path, without trailing slash ("" for a host-only issuer)
	mtlsBase  string
	keys      *jose.KeyStore
	tokens    TokenIssuer
	verifier  TokenVerifier
	auth      ClientAuthenticator
	revs      RevocationStore
	deny      DenyList
	audit     audit.Sink
	log       *slog.Logger
	maxBody   int64
	scopes    []string
	profiles  []string
	grants    map[string]grantHandler
	discovery []byte // the metadata document, rendered once

	clock           clock.Clock
	browserBase     string
	pushed          PushedRequestStore
	clientKeys      ClientKeys
	parLifetime     time.Duration
	signer          JWTSigner
	idTokens        IDTokenIssuer
	codes           CodeStore
	subjects        Subjects
	clients         ClientGetter
	codeLifetime    time.Duration
	refresh         RefreshTokenStore
	families        FamilyRevoker
	refreshLifetime time.Duration
	intents         IntentChecker
	consents        ConsentStatuser
	reg             *RegistrationOptions
	metrics         *metrics
}

// New checks o and returns a Server. Errors name the offending field.
func New(o Options) (*Server, error) {
	s := &Server{
		metrics:  newMetrics(o.Registerer),
		mtlsBase: o.MTLSBaseURL,
		keys:     o.Keys,
		tokens:   o.Tokens,
		verifier: o.Verifier,
		auth:     o.ClientAuth,
		revs:     o.Revocations,
		deny:     o.DenyList,
		audit:    o.Audit,
		log:      o.Logger,
		maxBody:  o.MaxBodyBytes,
		scopes:   slices.Clone(o.ScopesSupported),
		profiles: slices.Clone(o.Profiles),

		clock:           o.Clock,
		browserBase:     o.BrowserBaseURL,
		pushed:          o.PushedRequests,
		clientKeys:      o.ClientKeys,
		parLifetime:     o.PARLifetime,
		signer:          o.Signer,
		idTokens:        o.IDTokens,
		codes:           o.Codes,
		subjects:        o.Subjects,
		clients:         o.Clients,
		codeLifetime:    o.CodeLifetime,
		refresh:         o.RefreshTokens,
		families:        o.Families,
		refreshLifetime: o.RefreshTokenLifetime,
		intents:         o.Intents,
		consents:        o.Consents,
		reg:             o.Registration,
	}
	base, err := checkIssuer(o.Issuer)
	if err != nil {
		return nil, err
	}
	s.issuer, s.basePath = o.Issuer, base
	switch {
	case s.keys == nil:
		return nil, errors.New("authz: Options.Keys is required")
	case s.tokens == nil:
		return nil, errors.New("authz: Options.Tokens is required")
	case s.verifier == nil:
		return nil, errors.New("authz: Options.Verifier is required")
	case s.auth == nil:
		return nil, errors.New("authz: Options.ClientAuth is required")
	case s.revs == nil:
		return nil, errors.New("authz: Options.Revocations is required")
	case s.deny == nil:
		return nil, errors.New("authz: Options.DenyList is required")
	case s.audit == nil:
		return nil, errors.New("authz: Options.Audit is required")
	case s.maxBody < 0:
		return nil, errors.New("authz: Options.MaxBodyBytes is negative")
	}
	if s.mtlsBase == "" {
		s.mtlsBase = s.issuer
	} else if _, err := checkIssuer(s.mtlsBase); err != nil {
		return nil, fmt.Errorf("authz: Options.MTLSBaseURL: %w", err)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.browserBase == "" {
		s.browserBase = s.issuer
	} else if _, err := checkIssuer(s.browserBase); err != nil {
		return nil, fmt.Errorf("authz: Options.BrowserBaseURL: %w", err)
	}
	switch {
	case s.parLifetime == 0:
		s.parLifetime = DefaultPARLifetime
	case s.parLifetime < 10*time.Second || s.parLifetime >= 600*time.Second:
		return nil, errors.New("authz: Options.PARLifetime must be at least 10 s and below 600 s")
	}
	switch {
	case s.codeLifetime == 0:
		s.codeLifetime = DefaultCodeLifetime
	case s.codeLifetime < time.Second || s.codeLifetime > 10*time.Minute:
		return nil, errors.New("authz: Options.CodeLifetime must be between 1 s and 10 minutes")
	}
	if s.refreshLifetime == 0 {
		s.refreshLifetime = DefaultRefreshTokenLifetime
	}
	if s.pushed != nil {
		for name, missing := range map[string]bool{
			"ClientKeys": s.clientKeys == nil, "Signer": s.signer == nil, "IDTokens": s.idTokens == nil,
			"Codes": s.codes == nil, "Subjects": s.subjects == nil, "Clients": s.clients == nil,
			"RefreshTokens": s.refresh == nil, "Families": s.families == nil,
		} {
			if missing {
				return nil, fmt.Errorf("authz: Options.%s is required with PushedRequests", name)
			}
		}
	}
	scopes, err := oauth.ParseScope(strings.Join(s.scopes, " "))
	if err != nil || len(scopes) != len(s.scopes) {
		return nil, errors.New("authz: Options.ScopesSupported must be distinct RFC 6749 scope tokens")
	}
	if slices.Contains(s.scopes, "openid") && o.PushedRequests == nil {
		return nil, errors.New("authz: Options.ScopesSupported: openid needs the customer journey (Options.PushedRequests)")
	}
	if s.profiles == nil {
		s.profiles = []string{client.ProfileFAPI1, client.ProfileFAPI2}
	}
	for _, p := range s.profiles {
		if p != client.ProfileFAPI1 && p != client.ProfileFAPI2 {
			return nil, fmt.Errorf("authz: Options.Profiles: unknown profile %q", p)
		}
	}
	if s.reg != nil {
		if err := s.reg.check(); err != nil {
			return nil, err
		}
	}
	s.grants = s.grantHandlers()
	if s.discovery, err = json.Marshal(s.metadata()); err != nil {
		return nil, fmt.Errorf("authz: rendering discovery metadata: %w", err)
	}
	return s, nil
}

// checkIssuer enforces RFC 8414 §2 on an issuer identifier (https, a host, no query, no
// fragment, no user info, no trailing slash) and returns its path.
func checkIssuer(issuer string) (string, error) {
	if issuer == "" {
		return "", errors.New("authz: Options.Issuer is required")
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil:
		return "", fmt.Errorf("authz: issuer %q is not a URL", issuer)
	case u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("authz: issuer %q must be an absolute https URL", issuer)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#"):
		return "", fmt.Errorf("authz: issuer %q must have no query or fragment", issuer)
	case u.User != nil:
		return "", fmt.Errorf("authz: issuer %q must have no user information", issuer)
	case strings.HasSuffix(u.Path, "/"):
		return "", fmt.Errorf("authz: issuer %q must not end with a slash", issuer)
	case u.RawPath != "" || strings.ContainsAny(u.Path, "{}"):
		return "", fmt.Errorf("authz: issuer %q must have a plain path", issuer)
	}
	return u.Path, nil
}

// url returns the absolute URL of an endpoint path.
func (s *Server) url(path string) string { return s.issuer + path }

// Register mounts the endpoints on mux (the https listener's), under the issuer's path:
//
//	GET  /.well-known/openid-configuration      (OIDC Discovery §4: {issuer}/.well-known/…)
//	GET  /.well-known/oauth-authorization-server (RFC 8414 §3: /.well-known/…{issuer path})
//	GET  /jwks
//	POST /token, /introspect, /revoke
//	POST /register, GET/PUT/DELETE /register/{client_id} (with Options.Registration)
//
// Any other method on these paths gets 405 with an Allow header and an RFC 6749 error
// body (GET also answers HEAD). The routes that need a client certificate ask package mtls
// for it per request, so mux must be served behind mtls.Extractor.Middleware, and behind
// obs.Middleware for x-fapi-interaction-id.
func (s *Server) Register(mux *http.ServeMux) {
	b := s.basePath
	s.route(mux, http.MethodGet, b+PathOpenIDConfiguration, s.handleDiscovery)
	s.route(mux, http.MethodGet, PathOAuthMetadata+b, s.handleDiscovery)
	s.route(mux, http.MethodGet, b+PathJWKS, s.handleJWKS)
	s.route(mux, http.MethodPost, b+PathToken, s.handleToken)
	s.route(mux, http.MethodPost, b+PathIntrospect, s.handleIntrospect)
	s.route(mux, http.MethodPost, b+PathRevoke, s.handleRevoke)
	if s.pushed != nil {
		s.route(mux, http.MethodPost, b+PathPAR, s.handlePAR)
		// UserInfo answers GET and POST (OIDC Core §5.3.1).
		mux.Handle(http.MethodGet+" "+b+PathUserinfo, s.serve(s.handleUserinfo))
		mux.Handle(http.MethodPost+" "+b+PathUserinfo, s.serve(s.handleUserinfo))
		mux.Handle(b+PathUserinfo, s.serve(func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", "GET, HEAD, POST")
			return oauth.MethodNotAllowed()
		}))
	}
	if s.reg != nil {
		s.registerRoutes(mux)
	}
}

// now returns the server clock's current time.
func (s *Server) now() time.Time { return s.clock.Now() }

// handlerFunc is an endpoint: it writes a response and returns nil, or writes nothing and
// returns the error to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) route(mux *http.ServeMux, method, path string, h handlerFunc) {
	mux.Handle(method+" "+path, s.serve(h))
	allow := method
	if method == http.MethodGet {
		allow = "GET, HEAD"
	}
	mux.Handle(path, s.serve(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return oauth.MethodNotAllowed()
	}))
}

// serve adapts an endpoint to http.Handler: the one place errors are rendered.
func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError maps err through oauth.FromError, logs the cause with the request's context
// (which carries the interaction id) and writes the RFC 6749 §5.2 body. A 401 for a request
// that tried the Authorization header names that scheme in WWW-Authenticate (RFC 6749 §5.2).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := oauth.FromError(err)
	ctx := r.Context()
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	obs.Annotate(ctx, slog.String("oauth_error", e.Code))
	s.log.LogAttrs(ctx, level, "oauth request refused",
		slog.String("route", r.Pattern),
		slog.String("error", e.Code),
		slog.Int("status", e.Status),
		slog.String("cause", err.Error()))
	if e.Status == http.StatusUnauthorized && e.Code == oauth.CodeInvalidClient {
		if scheme := authScheme(r.Header.Get("Authorization")); scheme != "" {
			w.Header().Set("WWW-Authenticate", scheme+` realm="`+sanitizeRealm(s.issuer)+`"`)
		}
	}
	oauth.WriteError(w, e)
}

// authScheme returns the auth-scheme of an Authorization header value if it is an RFC 9110
// token of at most 32 characters, else "".
func authScheme(v string) string {
	scheme, _, _ := strings.Cut(v, " ")
	if scheme == "" || len(scheme) > 32 {
		return ""
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return ""
		}
	}
	return scheme
}

func sanitizeRealm(s string) string { return strings.NewReplacer(`"`, "", `\`, "").Replace(s) }

// writeJSON writes a 200 JSON response. Cache-Control: no-store and Pragma: no-cache go on
// every response that carries a token or a statement about one (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, v any, noStore bool) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("authz: encoding response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if noStore {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
	return nil
}
