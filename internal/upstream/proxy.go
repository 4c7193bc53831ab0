package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors passed to [Options].ErrorHandler. Each error matches exactly one of them
// and wraps the transport's cause (for logs only).
var (
	// ErrUnavailable: the upstream could not be reached or did not answer properly
	// (connection refused or reset, TLS failure, malformed answer, an attempted
	// protocol switch). The gateway answers 502.
	ErrUnavailable = errors.New("upstream: unavailable")
	// ErrTimeout: the route's timeout or the transport's response-header timeout
	// passed. The gateway answers 504.
	ErrTimeout = errors.New("upstream: timeout")
	// ErrCanceled: the caller went away before the upstream answered.
	ErrCanceled = errors.New("upstream: request canceled by the caller")
)

// Transport defaults.
const (
	DefaultMaxIdleConnsPerHost   = 64
	DefaultDialTimeout           = 5 * time.Second
	DefaultTLSHandshakeTimeout   = 5 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
	DefaultIdleConnTimeout       = 90 * time.Second
)

// TransportOptions configures [NewTransport]. Zero fields take the defaults above.
type TransportOptions struct {
	MaxIdleConnsPerHost   int
	MaxConnsPerHost       int // zero: unlimited
	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	IdleConnTimeout       time.Duration
	// TLSClientConfig is used for https upstreams (e.g. the bank's CA in RootCAs,
	// a client certificate for mTLS to the bank). Nil means TLS 1.2+ with the
	// system roots. A MinVersion below TLS 1.2 is raised to it.
	TLSClientConfig *tls.Config
	// HTTP2 offers HTTP/2 (ALPN "h2") to https upstreams. Off: HTTP/1.1 only, over
	// the kept-alive pool, which serves many small concurrent API calls with less
	// CPU than Go's HTTP/2 client (about 20 % more gateway throughput to a TLS
	// upstream on loopback, measured on 2 cores). Plain http upstreams always get
	// HTTP/1.1.
	HTTP2 bool
}

// NewTransport returns the connection pool for upstream calls: HTTP/1.1 keep-alive
// (HTTP/2 to https upstreams only with [TransportOptions].HTTP2), bounded dial,
// handshake and response-header waits, no proxy from the environment, and no
// transparent compression (bodies pass through byte for byte).
func NewTransport(o TransportOptions) *http.Transport {
	tc := o.TLSClientConfig
	if tc == nil {
		tc = &tls.Config{}
	} else {
		tc = tc.Clone()
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	if o.HTTP2 {
		protocols.SetHTTP2(true)
	} else {
		// An "h2" the caller's config offers would be accepted by the server and
		// then spoken to in HTTP/1.1.
		tc.NextProtos = slices.DeleteFunc(tc.NextProtos, func(p string) bool { return p == "h2" })
	}
	return &http.Transport{
		Protocols:             protocols,
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: orDefault(o.DialTimeout, DefaultDialTimeout), KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   orDefault(o.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout),
		ResponseHeaderTimeout: orDefault(o.ResponseHeaderTimeout, DefaultResponseHeaderTimeout),
		IdleConnTimeout:       orDefault(o.IdleConnTimeout, DefaultIdleConnTimeout),
		MaxIdleConns:          0, // bounded per host below
		MaxIdleConnsPerHost:   orDefault(o.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost),
		MaxConnsPerHost:       o.MaxConnsPerHost,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// copyBuffers recycles the 32 KiB buffers ReverseProxy copies bodies through
// (otherwise one allocation per request, the largest by far).
var copyBuffers = &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte  { return *(p.pool.Get().(*[]byte)) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

// Options configures a [Proxy].
type Options struct {
	// Identity writes the caller's identity onto every forwarded request. Required.
	Identity *Identifier
	// Transport carries the requests. Nil means NewTransport(TransportOptions{}).
	// Share one between proxies to share connections.
	Transport http.RoundTripper
	// PassAuthorization forwards the caller's Authorization header. Off by default:
	// the upstream receives the verified identity, not the TPP's bearer token, so
	// the token is not exposed to (or replayable by) anything behind Portcullis.
	PassAuthorization bool
	// StripHeaders are further inbound headers to remove (e.g. a custom
	// forwarded-certificate header configured on the listener), compared like
	// [ReservedHeader] ("_" read as "-", case folded).
	StripHeaders []string
	// PublicURL is how callers reach Portcullis (scheme and host, from
	// configuration): the upstream's X-Forwarded-Proto and X-Forwarded-Host. Nil:
	// neither is sent. They never come from the request (its Host, absolute-form
	// target or HTTP/2 :authority are the caller's to choose).
	PublicURL *url.URL
	// ErrorHandler renders a failed forward; err matches ErrUnavailable,
	// ErrTimeout, ErrCanceled or ErrIdentity. Required (the gateway's renderer).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives ReverseProxy's own messages (aborted copies). Nil discards.
	Logger *slog.Logger
}

// Target is where one request goes.
type Target struct {
	// URL is the upstream base: scheme, host and optional path prefix, to which the
	// request's path and query are appended.
	URL *url.URL
	// Timeout bounds the whole exchange, from dialling to the end of the response
	// body. Zero means no bound beyond the transport's own timeouts; the gateway
	// always sets one.
	Timeout time.Duration
}

// Proxy forwards requests to upstreams. Safe for concurrent use.
type Proxy struct {
	rp       *httputil.ReverseProxy
	identity *Identifier
	passAuth bool
	strip    map[string]bool // folded names (foldName)
	fwdProto string          // X-Forwarded-Proto; empty: not sent
	fwdHost  string          // X-Forwarded-Host; empty: not sent
	onError  func(http.ResponseWriter, *http.Request, error)
}

// forward is the per-request state the Rewrite hook and the ErrorHandler read.
type forward struct {
	target  *url.URL
	id      *Identity
	headers http.Header // identity headers to set
}

type forwardKey struct{}

// ForwardedIdentity returns the identity [Proxy.Forward] was given for the request
// that ctx belongs to: the request handed to the ErrorHandler (the outbound one,
// or the inbound one when Forward fails before sending), whose context derives
// from Forward's. It returns nil for any other context.
func ForwardedIdentity(ctx context.Context) *Identity {
	if fw, ok := ctx.Value(forwardKey{}).(*forward); ok {
		return fw.id
	}
	return nil
}

// New checks o and returns a Proxy.
func New(o Options) (*Proxy, error) {
	if o.Identity == nil {
		return nil, errors.New("upstream: Options.Identity is required")
	}
	if o.ErrorHandler == nil {
		return nil, errors.New("upstream: Options.ErrorHandler is required")
	}
	p := &Proxy{identity: o.Identity, passAuth: o.PassAuthorization, onError: o.ErrorHandler, strip: make(map[string]bool)}
	for _, h := range o.StripHeaders {
		if h == "" || strings.ContainsAny(h, " :\r\n") {
			return nil, fmt.Errorf("upstream: Options.StripHeaders: invalid header name %q", h)
		}
		p.strip[foldName(h)] = true
	}
	if u := o.PublicURL; u != nil {
		if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || strings.ContainsAny(u.Host, "/\\@ \t\r\n\"") {
			return nil, fmt.Errorf("upstream: Options.PublicURL %q: want http(s)://host[:port]", u.Redacted())
		}
		p.fwdProto, p.fwdHost = u.Scheme, u.Host
	}
	tr := o.Transport
	if tr == nil {
		tr = NewTransport(TransportOptions{})
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		BufferPool:     copyBuffers,
		Transport:      tr,
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// Forward sends r to t with id's identity and copies the answer to w. Failures go
// to the ErrorHandler, whose request carries id ([ForwardedIdentity]). r's body is
// streamed; r must have passed every check of the gateway (Forward does not check
// anything). Nothing is sent upstream for a request whose context is already done
// when Forward is ready to send (the client reset its HTTP/2 stream or closed the
// connection during the gateway's checks): the ErrorHandler gets ErrCanceled, or
// ErrTimeout if the route's timeout passed.
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, t Target, id *Identity) {
	fw := &forward{target: t.URL, id: id}
	ctx := r.Context()
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	r = r.WithContext(context.WithValue(ctx, forwardKey{}, fw))
	if t.URL == nil {
		p.onError(w, r, fmt.Errorf("%w: no upstream URL", ErrUnavailable))
		return
	}
	fw.headers = make(http.Header, identityHeaders)
	if err := p.identity.Set(fw.headers, id, r.Method, r.URL.EscapedPath()); err != nil {
		p.onError(w, r, err)
		return
	}
	// The last moment to notice a reset before a connection to the upstream is taken.
	if err := r.Context().Err(); err != nil {
		p.onError(w, r, classify(r.Context(), err))
		return
	}
	p.rp.ServeHTTP(w, r)
}

// rewrite builds the outbound request: target URL, the inbound headers without
// the reserved ones (any spelling), this hop's X-Forwarded-For, the configured
// X-Forwarded-Proto and -Host, then the identity.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	fw := pr.In.Context().Value(forwardKey{}).(*forward)
	pr.SetURL(fw.target)
	// The kept headers go into a new map sized for everything the outbound request
	// will carry (the three X-Forwarded-* and a possible empty User-Agent
	// included): growing ReverseProxy's clone instead costs a rehash per request.
	// The value slices are the clone's own copies.
	in := pr.Out.Header
	out := make(http.Header, len(in)+len(fw.headers)+4)
	for k, v := range in {
		f := foldName(k)
		if reserved(k, f) || p.strip[f] || !p.passAuth && f == "authorization" {
			continue
		}
		out[k] = v
	}
	pr.Out.Header = out
	pr.SetXForwarded() // X-Forwarded-For from the TCP peer; Host and Proto replaced below
	delete(out, "X-Forwarded-Host")
	delete(out, "X-Forwarded-Proto")
	if p.fwdHost != "" {
		out["X-Forwarded-Host"] = []string{p.fwdHost}
		out["X-Forwarded-Proto"] = []string{p.fwdProto}
	}
	for k, v := range fw.headers {
		out[k] = v
	}
}

// modifyResponse refuses protocol switches and drops the upstream's
// x-fapi-interaction-id: the response carries the gateway's (already set).
func modifyResponse(res *http.Response) error {
	if res.StatusCode == http.StatusSwitchingProtocols {
		return fmt.Errorf("%w: upstream tried to switch protocols", ErrUnavailable)
	}
	res.Header.Del(HeaderFAPIInteractionID)
	return nil
}

// errorHandler classifies a transport failure and hands it to the gateway.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	p.onError(w, r, classify(r.Context(), err))
}

func classify(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrTimeout), errors.Is(err, ErrCanceled):
		return err
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%w: %w", ErrCanceled, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
