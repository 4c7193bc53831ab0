// Package httpserver runs Portcullis's HTTP listeners: it binds them, applies the
// timeouts and size limits from configuration to every connection and request, and
// stops them gracefully, draining in-flight requests within a shutdown timeout.
//
// It also bounds what one client can make the server hold: connections open at once
// (in all and per client address, refused at accept), HTTP/2 streams and frame and
// window sizes per connection, and no application work for a request its client has
// already cancelled (the HTTP/2 "rapid reset" flood, CVE-2023-44487).
//
// It owns no routes and no protocol: handlers, TLS configuration (package mtls) and
// request observation (package obs) are handed in. It refuses to run with a timeout or
// size limit switched off: zero options mean the defaults below, never "unlimited",
// and a nil handler serves 404s rather than http.DefaultServeMux.
//
// Wiring in main, with the values from package config:
//
//	https := httpserver.New(httpserver.Options{
//		Name: "https", Addr: cfg.Listen.HTTPS, Handler: mux, TLSConfig: tlsConfig,
//		Middleware: obs.Middleware(logger, metrics),
//		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout, // … every cfg.HTTP field
//		Logger: logger,
//	})
//	ops := httpserver.New(httpserver.Options{Name: "ops", Addr: cfg.Listen.Ops,
//		Handler: obs.OpsHandler(metrics, obs.Check{Name: "database", Fn: st.Ping}), Logger: logger})
//	err := httpserver.Run(ctx, cfg.HTTP.ShutdownTimeout, https, ops)
package httpserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Defaults for zero or negative [Options] fields (the config defaults).
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 15 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 20 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxBodyBytes      = 1 << 20
	// DefaultMaxConnections and DefaultMaxConnectionsPerAddress cap the connections
	// open at once on one listener; see [Options].
	DefaultMaxConnections           = 1024
	DefaultMaxConnectionsPerAddress = 8
	// DefaultMaxConcurrentStreams is the HTTP/2 streams one connection may have open
	// (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113 §6.5.2; 100 is the RFC's recommended
	// minimum). It also bounds the handlers running for one connection.
	DefaultMaxConcurrentStreams = 100
)

// HTTP/2 bounds applied to every listener besides MaxConcurrentStreams (RFC 9113 §6.5.2,
// RFC 7541 §4.2): the smallest frame size the protocol allows, the default HPACK table
// size, and receive windows that bound the request body bytes buffered per stream and
// per connection.
const (
	h2MaxReadFrameSize          = 16 << 10
	h2HeaderTableSize           = 4 << 10
	h2MaxReceiveBufferPerConn   = 256 << 10
	h2MaxReceiveBufferPerStream = 64 << 10
)

// Options configure a [Server]. Zero or negative durations and sizes mean the Default
// constants.
type Options struct {
	// Name labels the server in logs and errors ("https", "ops").
	Name string
	// Addr is the host:port to bind; port 0 picks a free port (see [Server.Listen]).
	Addr string
	// Handler serves requests. Nil serves 404 to every request.
	Handler http.Handler
	// Middleware, if set, wraps the body limit and Handler, so it sees every request
	// and every response, the 413 of the body limit included. Pass
	// obs.Middleware(logger, metrics) here so those responses carry
	// x-fapi-interaction-id and are logged and counted too (the early 413 has no
	// route: it is refused before routing).
	Middleware func(http.Handler) http.Handler
	// TLSConfig, if set, serves HTTPS with it; it must provide a certificate
	// (Certificates, GetCertificate or GetConfigForClient). Nil serves plain HTTP.
	TLSConfig *tls.Config

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests in [Server.Serve].
	ShutdownTimeout time.Duration
	MaxHeaderBytes  int
	// MaxBodyBytes bounds every request body; see [LimitBody].
	MaxBodyBytes int64
	// RefuseBody, if set, writes the 413 answer of the body limit (see [LimitBody]);
	// nil answers in plain text. It lets the application answer in the protocol of
	// the path (OAuth or OBIE JSON) without this package knowing either.
	RefuseBody func(w http.ResponseWriter, r *http.Request)

	// MaxConnections caps the connections open at once on the listener, and
	// MaxConnectionsPerAddress those from one client IP address (behind a load
	// balancer, the balancer's). A connection over either cap is closed as soon as it
	// is accepted, before its TLS handshake.
	MaxConnections           int
	MaxConnectionsPerAddress int
	// PerAddressExempt are client addresses the per-address cap does not apply to: the
	// load balancers and proxies every client's connection comes through (mtls
	// trusted_proxies). Nil exempts none.
	PerAddressExempt []netip.Prefix
	// MaxConcurrentStreams bounds the HTTP/2 streams, and so the handlers running at
	// once, per connection.
	MaxConcurrentStreams int

	// Logger receives start, stop and net/http's own error messages. Nil discards.
	Logger *slog.Logger
}

// Server is one HTTP listener. Create it with [New], optionally [Server.Listen] to
// learn the bound address, then [Server.Serve] it (or [Run] several).
type Server struct {
	name            string
	srv             *http.Server
	tls             bool // serving HTTPS; srv.TLSConfig is not a witness once serving starts
	shutdownTimeout time.Duration
	maxConns        int
	maxConnsPerAddr int
	exempt          []netip.Prefix
	log             *slog.Logger

	mu     sync.Mutex
	ln     net.Listener
	served bool
}

// New returns a server for opts. It does not bind; see [Server.Listen].
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := opts.Name
	if name == "" {
		name = "http"
	}
	h := opts.Handler
	if h == nil {
		h = http.NotFoundHandler()
	}
	h = LimitBodyFunc(orDefault(opts.MaxBodyBytes, DefaultMaxBodyBytes), opts.RefuseBody, h)
	if opts.Middleware != nil {
		h = opts.Middleware(h)
	}
	h = skipCanceled(h)
	srv := &http.Server{
		Addr:              opts.Addr,
		Handler:           h,
		TLSConfig:         opts.TLSConfig,
		ReadHeaderTimeout: orDefault(opts.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDefault(opts.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      orDefault(opts.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       orDefault(opts.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    orDefault(opts.MaxHeaderBytes, DefaultMaxHeaderBytes),
		ErrorLog:          newErrorLog(log, name),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          orDefault(opts.MaxConcurrentStreams, DefaultMaxConcurrentStreams),
			MaxReadFrameSize:              h2MaxReadFrameSize,
			MaxDecoderHeaderTableSize:     h2HeaderTableSize,
			MaxEncoderHeaderTableSize:     h2HeaderTableSize,
			MaxReceiveBufferPerConnection: h2MaxReceiveBufferPerConn,
			MaxReceiveBufferPerStream:     h2MaxReceiveBufferPerStream,
			// A client that stops reading its responses loses the connection.
			WriteByteTimeout: orDefault(opts.WriteTimeout, DefaultWriteTimeout),
		},
	}
	return &Server{
		name:            name,
		srv:             srv,
		tls:             opts.TLSConfig != nil,
		shutdownTimeout: orDefault(opts.ShutdownTimeout, DefaultShutdownTimeout),
		maxConns:        orDefault(opts.MaxConnections, DefaultMaxConnections),
		maxConnsPerAddr: orDefault(opts.MaxConnectionsPerAddress, DefaultMaxConnectionsPerAddress),
		exempt:          opts.PerAddressExempt,
		log:             log,
	}
}

// skipCanceled drops a request whose client has already gone away (an HTTP/2 stream
// reset before its handler started, a closed HTTP/1 connection): nobody is left to
// read an answer, so nothing of the application runs for it. This is what keeps a
// "rapid reset" flood (CVE-2023-44487) from doing the application's work for every
// stream it opens and cancels.
func skipCanceled(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Err() != nil {
			return
		}
		next.ServeHTTP(w, r)
	})
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Listen binds the server's address and returns the address bound, so callers learn
// the port when Addr asked for port 0. It is idempotent: later calls return the same
// address. It fails if the address cannot be bound or a TLS configuration provides no
// certificate.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr(), nil
	}
	if s.served {
		return nil, fmt.Errorf("httpserver %s: already stopped", s.name)
	}
	if c := s.srv.TLSConfig; s.tls && len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil {
		return nil, fmt.Errorf("httpserver %s: TLS configuration has no certificate", s.name)
	}
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return nil, fmt.Errorf("httpserver %s: %w", s.name, err)
	}
	s.ln = newLimitListener(ln, s.maxConns, s.maxConnsPerAddr, s.exempt, s.refused)
	return ln.Addr(), nil
}

// Serve binds (if [Server.Listen] has not) and serves until ctx is cancelled or
// serving fails. On cancellation it stops accepting connections at once, lets
// in-flight requests finish within Options.ShutdownTimeout, then closes whatever is
// still open. It returns nil after a clean drain, an error wrapping
// context.DeadlineExceeded if requests had to be cut off, and otherwise the error that
// stopped serving. A server serves once.
func (s *Server) Serve(ctx context.Context) error {
	return s.serve(ctx, s.shutdownTimeout)
}

func (s *Server) serve(ctx context.Context, shutdownTimeout time.Duration) error {
	if _, err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.served {
		s.mu.Unlock()
		return fmt.Errorf("httpserver %s: already served", s.name)
	}
	s.served = true
	ln := s.ln
	s.mu.Unlock()

	errc := make(chan error, 1)
	go func() {
		if s.tls {
			errc <- s.srv.ServeTLS(ln, "", "")
		} else {
			errc <- s.srv.Serve(ln)
		}
	}()
	s.log.Info("listening", "server", s.name, "addr", ln.Addr().String(), "tls", s.tls)

	select {
	case err := <-errc:
		_ = ln.Close() // ServeTLS returns some errors without closing it
		return fmt.Errorf("httpserver %s: %w", s.name, err)
	case <-ctx.Done():
	}

	s.log.Info("shutting down", "server", s.name, "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if err != nil {
		_ = s.srv.Close()
		err = fmt.Errorf("httpserver %s: requests still running after the %s shutdown timeout were cut off: %w",
			s.name, shutdownTimeout, err)
	}
	<-errc // http.ErrServerClosed
	s.log.Info("stopped", "server", s.name)
	return err
}

// refused records a connection closed at accept by the connection caps. It logs at
// debug level only: under a flood, one line per refused connection would be the flood.
func (s *Server) refused(addr netip.Addr, total bool) {
	limit := "per_address"
	if total {
		limit = "total"
	}
	s.log.Debug("connection refused: too many open", "server", s.name, "remote_ip", addr.String(), "limit", limit)
}

// Close stops the server at once: it closes the listener and every connection without
// draining. Use it for a server that was bound but will not be served.
func (s *Server) Close() error {
	s.mu.Lock()
	ln, served := s.ln, s.served
	s.served = true
	s.mu.Unlock()
	if !served && ln != nil {
		return ln.Close()
	}
	return s.srv.Close()
}

// Run serves every server until ctx is cancelled or one of them fails, then shuts all
// of them down gracefully, each draining within shutdownTimeout (zero or negative:
// each server's own Options.ShutdownTimeout). It binds every server first and, if one
// cannot bind, closes the others and returns that error without serving. It returns
// the first error any server returned, or nil after a clean stop.
func Run(ctx context.Context, shutdownTimeout time.Duration, servers ...*Server) error {
	for _, s := range servers {
		if _, err := s.Listen(); err != nil {
			for _, o := range servers {
				_ = o.Close()
			}
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range servers {
		timeout := shutdownTimeout
		if timeout <= 0 {
			timeout = s.shutdownTimeout
		}
		g.Go(func() error { return s.serve(gctx, timeout) })
	}
	return g.Wait()
}
