package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/internal/upstream"
)

// DefaultMaxBodyBytes bounds the request body a consent check reads.
const DefaultMaxBodyBytes = 1 << 20

// Options configures a [Gateway].
type Options struct {
	// Routes is the route table. Empty: every request is 404.
	Routes []Route
	// Verifier verifies access tokens (*token.Verifier). Required.
	Verifier TokenVerifier
	// ConsentValidator is used by routes whose ConsentCheck names no validator.
	// Required when such a route has a consent Kind.
	ConsentValidator consent.Validator
	// Identity says how the identity is handed to upstreams (and in ext-authz
	// allow answers). The zero value is header mode.
	Identity upstream.IdentityOptions
	// Transport carries upstream requests. Nil means
	// upstream.NewTransport(upstream.TransportOptions{}).
	Transport http.RoundTripper
	// PassAuthorization forwards the caller's Authorization header upstream (off by
	// default; see package upstream).
	PassAuthorization bool
	// StripHeaders are further inbound headers never forwarded (e.g. the
	// listener's custom forwarded-certificate header).
	StripHeaders []string
	// MaxBodyBytes bounds the request body of every gateway route (413 beyond):
	// the body is read whole, up to this limit, before the consent check and
	// before anything is sent upstream, so a body over the limit never produces
	// an upstream request. Zero means 1 MiB.
	MaxBodyBytes int64
	// PublicURL is how callers reach the gateway (scheme and host): upstreams get
	// it as X-Forwarded-Proto and X-Forwarded-Host. Nil: neither is sent. Never
	// taken from the request (package upstream).
	PublicURL *url.URL
	// ExtAuthzPeers are the addresses (of the proxies) allowed to call the
	// external-authorizer endpoint, matched against the TCP peer. Empty: the
	// endpoint answers 404 to everyone.
	ExtAuthzPeers []netip.Prefix
	// Logger receives one record per refusal (never a token). Nil discards.
	Logger *slog.Logger
	// Audit, when set, is called for every refusal. It must not block.
	Audit func(ctx context.Context, ev AuditEvent)
	// Customers finds the customer behind a customer token (*store.Store), for the
	// upstream's identity; answers are reused for at most 5 s. Nil: every customer
	// token bound to a consent is refused with 503 (see customer.go).
	Customers CustomerLookup
	// Registerer receives the validation chain's metrics
	// (portcullis_gateway_checks_total, portcullis_gateway_check_duration_seconds;
	// metrics.go). Nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Register, when set, is asked on every request whether the certificate's
	// organisation is still authorised by its NCA for the PSD2 roles the route uses
	// (authorisation.go). Nil: not asked (the certificate alone decides).
	Register TPPRegister
}

// Gateway is the resource-server side of Portcullis: the route table, the
// validation chain, the proxy and the external authorizer. Build it with [New];
// serve it (proxy mode) as the handler of the gateway's routes and
// [Gateway.ExtAuthz] at [ExtAuthzPath]. Both must sit behind obs.Middleware and
// mtls's Extractor.Middleware. Safe for concurrent use.
type Gateway struct {
	proxyMux, checkMux *http.ServeMux
	chain              []namedStage
	authStages         int // chain[:authStages] authenticate the client; Route.Around wraps the rest
	metrics            *metrics
	proxy              *upstream.Proxy
	identifier         *upstream.Identifier
	maxBody            int64
	peers              []netip.Prefix
	log                *slog.Logger
	audit              func(context.Context, AuditEvent)
}

// namedStage is a stage of the chain with its name in metrics.
type namedStage struct {
	name string
	stage
}

// compiledRoute is a validated Route with what the handlers need.
type compiledRoute struct {
	Route
	params    []string
	validator consent.Validator
}

// Modes of a refusal, in logs and audit events.
const (
	modeProxy     = "proxy"
	modeExtAuthz  = "ext-authz"
	auditUnrouted = ""
)

// New checks o and builds the gateway: it validates every route, refuses
// duplicate names and overlapping patterns, resolves consent validators, and
// compiles the table into two ServeMuxes (proxy and ext-authz) over the same
// routes. Errors name the offending route or field.
func New(o Options) (*Gateway, error) {
	if o.Verifier == nil {
		return nil, errors.New("gateway: Options.Verifier is required")
	}
	g := &Gateway{maxBody: o.MaxBodyBytes, log: o.Logger, audit: o.Audit, metrics: newMetrics(o.Registerer)}
	if g.maxBody == 0 {
		g.maxBody = DefaultMaxBodyBytes
	}
	if g.maxBody < 0 {
		return nil, errors.New("gateway: Options.MaxBodyBytes is negative")
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	for _, p := range o.ExtAuthzPeers {
		if !p.IsValid() || p.Bits() == 0 {
			return nil, fmt.Errorf("gateway: Options.ExtAuthzPeers: %v is not a usable prefix", p)
		}
		g.peers = append(g.peers, p.Masked())
	}
	idf, err := upstream.NewIdentifier(o.Identity)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.identifier = idf
	g.proxy, err = upstream.New(upstream.Options{
		Identity: idf, Transport: o.Transport, PassAuthorization: o.PassAuthorization,
		StripHeaders: o.StripHeaders, PublicURL: o.PublicURL, ErrorHandler: g.upstreamError, Logger: g.log,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.chain = []namedStage{
		{stageCertificate, certificateStage{}},
		{stageToken, tokenStage{verifier: o.Verifier}},
		{stageTokenUse, tokenUseStage{}},
		{stageScope, scopeStage{}},
		{stageBinding, bindingStage{}},
		{stageRole, roleStage{}},
		{stageAuthorisation, authorisationStage{register: o.Register}},
	}
	g.authStages = len(g.chain)
	g.chain = append(g.chain,
		namedStage{stageConsent, consentStage{maxBody: g.maxBody}},
		namedStage{stageCustomer, customerStage{cache: newCustomerCache(o.Customers, nil)}},
	)

	g.proxyMux, g.checkMux = http.NewServeMux(), http.NewServeMux()
	names := make(map[string]bool)
	for i := range o.Routes {
		r := o.Routes[i]
		if err := r.Validate(); err != nil {
			return nil, err
		}
		if names[r.Name] {
			return nil, fmt.Errorf("gateway: route name %q is used twice", r.Name)
		}
		names[r.Name] = true
		if r.TokenUse == "" {
			r.TokenUse = TokenUseUser
		}
		if r.Timeout == 0 {
			r.Timeout = DefaultRouteTimeout
		}
		params, _ := patternParams(r.Pattern) // checked by Validate
		cr := &compiledRoute{Route: r, params: params}
		if r.Consent.Kind != "" {
			cr.validator = r.Consent.Validator
			if cr.validator == nil {
				cr.validator = o.ConsentValidator
			}
			if cr.validator == nil {
				return nil, fmt.Errorf("gateway: route %q: consent %q needs a validator and Options.ConsentValidator is nil", r.Name, r.Consent.Kind)
			}
		}
		pattern := r.Method + " " + r.Pattern
		if err := register(g.proxyMux, pattern, g.routeHandler(cr, modeProxy)); err != nil {
			return nil, fmt.Errorf("gateway: route %q: %w", r.Name, err)
		}
		if r.Handler != nil || r.Around != nil && !r.AroundAnswerOnly {
			continue // served in process, or wrapped: nothing an external proxy could do alone
		}
		if err := register(g.checkMux, pattern, g.routeHandler(cr, modeExtAuthz)); err != nil {
			return nil, fmt.Errorf("gateway: route %q: %w", r.Name, err)
		}
	}
	notFound := func(mode string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.reject(w, r, mode, auditUnrouted, "", ErrRouteNotFound)
		})
	}
	g.proxyMux.Handle("/", notFound(modeProxy))
	g.checkMux.Handle("/", notFound(modeExtAuthz))
	return g, nil
}

// register adds a pattern, turning ServeMux's panic on a conflicting pattern into
// an error.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("pattern %q conflicts with another route: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// ServeHTTP serves the gateway's routes (proxy mode): a path that is not
// canonical ([checkCanonicalPath]) is 400, an unknown route is 404, and neither is
// proxied; a known one runs the validation chain and, if every stage passes, is
// forwarded to its upstream with the caller's identity and its body (read whole,
// up to Options.MaxBodyBytes, before the first byte leaves).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = withInteractionID(w, r)
	if err := checkCanonicalPath(r.URL); err != nil {
		g.reject(w, r, modeProxy, auditUnrouted, "", err)
		return
	}
	if !servable(r) {
		g.reject(w, r, modeProxy, auditUnrouted, "", ErrRouteNotFound)
		return
	}
	g.proxyMux.ServeHTTP(w, r)
}

// servable reports whether ServeMux may see r: a clean path (ServeMux would answer
// a redirect otherwise) and an ordinary method.
func servable(r *http.Request) bool {
	p := r.URL.Path
	if p == "" || p[0] != '/' || r.Method == http.MethodConnect {
		return false
	}
	return path.Clean(p) == p
}

// withInteractionID makes sure the request has an x-fapi-interaction-id
// (obs.Middleware normally assigned one already) and that the response carries it.
func withInteractionID(w http.ResponseWriter, r *http.Request) *http.Request {
	id := obs.InteractionID(r.Context())
	if id == "" {
		r = r.WithContext(obs.NewContext(r.Context(), "", ""))
		id = obs.InteractionID(r.Context())
		r.Header.Set(obs.HeaderInteractionID, id)
	}
	if v := w.Header()[obs.HeaderInteractionID]; len(v) != 1 || v[0] != id { // obs.Middleware set it already
		w.Header().Set(obs.HeaderInteractionID, id)
	}
	return r
}

// routeHandler runs the chain for cr and then forwards (proxy mode) or answers
// 200 with the identity (ext-authz mode).
func (g *Gateway) routeHandler(cr *compiledRoute, mode string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != cr.Method { // ServeMux lets HEAD through GET patterns
			g.reject(w, r, mode, auditUnrouted, "", ErrRouteNotFound)
			return
		}
		x := &exchange{r: r, route: cr, params: make(map[string]string, len(cr.params))}
		for _, p := range cr.params {
			x.params[p] = r.PathValue(p)
		}
		if err := checkParams(x.params); err != nil {
			g.reject(w, r, mode, cr.Name, "", err)
			return
		}
		if !g.runStages(w, r, x, g.chain[:g.authStages], mode) {
			return
		}
		if cr.Around == nil || mode != modeProxy {
			g.serveAuthenticated(w, r, x, mode)
			return
		}
		r = r.WithContext(consent.WithCaller(r.Context(), x.caller()))
		cr.Around(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			x.r = r // the wrapper's request: its Body replays what it read
			g.serveAuthenticated(w, r, x, mode)
		})).ServeHTTP(w, r)
	})
}

// runStages runs stages on x; on a refusal it answers and reports false.
func (g *Gateway) runStages(w http.ResponseWriter, r *http.Request, x *exchange, stages []namedStage, mode string) bool {
	ctx := r.Context()
	for _, s := range stages {
		start := time.Now() // monotonic; for the metric only, never a decision
		err := s.Check(ctx, x)
		g.metrics.observe(mode, s.name, time.Since(start), err)
		if err != nil {
			clientID := ""
			if x.at != nil {
				clientID = x.at.ClientID
			}
			g.reject(w, r, mode, x.route.Name, clientID, err)
			return false
		}
	}
	return true
}

// caller is the authenticated client of x, as the consent API and Route.Around see it.
func (x *exchange) caller() consent.Caller {
	return consent.Caller{ClientID: x.at.ClientID, CustomerToken: x.at.Use == token.UseUser, ConsentID: x.at.ConsentID}
}

// serveAuthenticated runs the stages after client authentication on x and then
// forwards (proxy mode) or answers 200 with the identity (ext-authz mode).
func (g *Gateway) serveAuthenticated(w http.ResponseWriter, r *http.Request, x *exchange, mode string) {
	cr := x.route
	if !g.runStages(w, r, x, g.chain[g.authStages:], mode) {
		return
	}
	ctx := r.Context()
	id := x.identity(ctx)
	if mode == modeExtAuthz {
		g.allow(w, r, id)
		return
	}
	// The whole body, bounded, before anything is sent: a body over the limit
	// is 413 and no upstream request, never a truncated one.
	if err := x.readBody(g.maxBody); err != nil {
		g.reject(w, r, mode, cr.Name, x.at.ClientID, err)
		return
	}
	body := x.body
	if len(x.decision.ModifiedPayload) > 0 {
		body = x.decision.ModifiedPayload
	}
	r.Body = http.NoBody
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil // the transport writes Content-Length from ContentLength
	if cr.Handler != nil {
		cr.Handler.ServeHTTP(w, r.WithContext(consent.WithCaller(ctx, x.caller())))
		return
	}
	g.proxy.Forward(w, r, upstream.Target{URL: cr.Upstream, Timeout: cr.Timeout}, id)
}

// identity is what the upstream is told about a request that passed every stage.
func (x *exchange) identity(ctx context.Context) *upstream.Identity {
	roles := make([]string, len(x.id.Roles))
	for i, r := range x.id.Roles {
		roles[i] = string(r)
	}
	return &upstream.Identity{
		Route: x.route.Name, ClientID: x.at.ClientID, ConsentID: x.at.ConsentID, PSUID: x.customer,
		Roles: roles, Scopes: x.at.Scopes, TokenUse: string(x.at.Use), OrgID: x.id.OrgID,
		CertThumbprint: x.id.Thumbprint, InteractionID: obs.InteractionID(ctx),
	}
}

// upstreamError is the proxy's ErrorHandler: the same renderer as every refusal.
// (r may be the outbound request; its context derives from the inbound one.)
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	var route, clientID string
	if id := upstream.ForwardedIdentity(r.Context()); id != nil {
		route, clientID = id.Route, id.ClientID
	}
	g.reject(w, r, modeProxy, route, clientID, err)
}
