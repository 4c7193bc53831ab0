// Package app builds a running Portcullis from a validated configuration: it constructs
// every dependency with its typed constructor, in the order a request travels through them
// (transport → certificate validation → client identity → authorization server / gateway),
// and hands the two listeners to package httpserver. It is plain wiring: no protocol logic,
// no registries, no globals. cmd/portcullis calls it; tests call it to run a whole server
// on loopback.
package app

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/httpserver"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/nca"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/revocation"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// auditCloseTimeout bounds how long Close waits for the audit events still queued to be
// written to the database.
const auditCloseTimeout = 15 * time.Second

// App is a built Portcullis: its store, its listeners and everything between them.
type App struct {
	cfg    *config.Config
	logger *slog.Logger
	clock  clock.Clock

	Metrics    *obs.Metrics
	Store      *store.Store
	Sandbox    *sandbox.CA // dev mode only; nil otherwise
	Revocation *revocation.Checker
	Validator  *pki.Validator
	Extractor  *mtls.Extractor

	Audit      audit.Sink
	AuditStore *audit.BatchStoreSink // Audit's database half: batched, off the request path
	Keys       *jose.KeyStore
	KeySet     *keys.Set // keys.source database only; nil otherwise
	DenyList   *token.DenyList
	Tokens     *token.Issuer
	Verifier   *token.Verifier
	Clients    *client.Registry
	ClientAuth *clientauth.Authenticator
	AS         *authz.Server
	Gateway    *gateway.Gateway
	// NCARegister is the NCA register snapshot (tpp_register file or url, or the dev
	// sandbox register file); nil with a webhook or without a register. Tests refresh it.
	NCARegister *nca.Register
	tppRegister tppRegister             // what registration, client authentication and the gateway ask; nil: nothing
	clientKeys  *clientauth.KeyResolver // the clients' keys, shared by client authentication and x-jws-signature
	BankURL     *url.URL                // dev mode: the sandbox bank behind the gateway
	// AdminMux is where admin operations are mounted (patterns under /admin/; see
	// buildAdmin): served only on the admin listener, behind package admin's guard. Mount
	// before Run.
	AdminMux *http.ServeMux

	Consents *consent.Service // the consent resources and their lifecycle

	Customers    *identity.Customers       // embedded customers (administration)
	Identity     *identity.Embedded        // customer authentication for the pages
	DemoCustomer *identity.DemoCredentials // dev mode: the seeded demo customer; nil otherwise

	https, ops *httpserver.Server
	admin      *httpserver.Server // nil while admin.token is empty
	httpsMux   *http.ServeMux
	opsHandler http.Handler
	closers    []func() error
	runners    []func(ctx context.Context) // background loops started by Run
	servers    []*httpserver.Server        // further listeners (the sandbox bank, admin, public)
	// public is the browser-facing listener (nil without listen.public); publicHandler
	// serves it once buildJourney has run.
	public        *httpserver.Server
	publicHandler http.Handler
	publicURL     string
	// accounts lists a customer's accounts for the approval page (dev: the sandbox bank).
	accounts AccountsLookup
}

// Options are the process-level inputs that do not belong in the configuration file.
type Options struct {
	Logger *slog.Logger // nil: JSON to stderr at cfg.Log.Level
	Clock  clock.Clock  // nil: the real clock
}

// New builds the application from cfg: opens and migrates the database, prepares the
// sandbox PKI in dev mode, builds the certificate validation chain and the handlers, and
// binds both listeners (so their addresses are known before [App.Run]). On error,
// everything opened so far is closed again.
func New(ctx context.Context, cfg *config.Config, opts Options) (_ *App, err error) {
	a := &App{cfg: cfg, logger: opts.Logger, clock: opts.Clock}
	if a.logger == nil {
		a.logger = obs.NewLogger(os.Stderr, cfg.Log.Level)
	}
	if a.clock == nil {
		a.clock = clock.Real{}
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.Metrics = obs.NewMetrics()
	a.AdminMux = http.NewServeMux()

	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	// The store sink writes off the request path, in batches; Close (a closer, run before
	// the store's) writes what is still queued at shutdown.
	a.AuditStore, err = audit.NewBatchStoreSink(a.Store, a.clock, a.logger, audit.BatchOptions{})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	a.closers = append(a.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), auditCloseTimeout)
		defer cancel()
		if err := a.AuditStore.Close(ctx); err != nil {
			a.logger.Error("audit events not all written at shutdown", slog.String("error", err.Error()))
			return err
		}
		return nil
	})
	a.Audit = audit.Multi(audit.NewLogSink(a.logger), a.AuditStore)
	if err := a.buildIdentity(ctx); err != nil {
		return nil, err
	}

	// The ops listener is bound first: in dev mode the sandbox CA writes its address
	// into every certificate (OCSP and CRL URLs).
	// The ops handler is set by buildOps once the sandbox CA (if any) is known; nothing
	// is served before Run.
	opsOpts := a.listenerOptions("ops", cfg.Listen.Ops,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.opsHandler.ServeHTTP(w, r) }))
	opsOpts.MaxConnections, opsOpts.MaxConnectionsPerAddress = cfg.HTTP.MaxConnections, cfg.HTTP.MaxConnectionsPerAddress
	opsOpts.MaxConcurrentStreams = cfg.HTTP.MaxConcurrentStreams
	a.ops = httpserver.New(opsOpts)
	opsAddr, err := a.ops.Listen()
	if err != nil {
		return nil, fmt.Errorf("ops listener: %w", err)
	}

	serverCert, anchors, err := a.loadTrust(opsAddr)
	if err != nil {
		return nil, err
	}
	if err := a.buildTransport(anchors); err != nil {
		return nil, err
	}

	publicURL, err := a.bindPublic(serverCert)
	if err != nil {
		return nil, err
	}
	a.publicURL = publicURL
	if cfg.Dev {
		a.accounts = bank.Accounts{}
	}
	if err := a.buildConsentService(); err != nil {
		return nil, err
	}
	a.httpsMux = http.NewServeMux()
	if err := a.buildAS(a.httpsMux, publicURL); err != nil {
		return nil, err
	}
	if err := a.buildJourney(); err != nil {
		return nil, err
	}
	if err := a.buildGateway(a.httpsMux); err != nil {
		return nil, err
	}

	httpsOpts := a.listenerOptions("https", cfg.Listen.HTTPS, a.httpsMux)
	// The certificate extractor is outermost (nothing may rewrite RemoteAddr before it);
	// obs sits directly around the body limit and the mux, so that it sees the very
	// request the mux records its route pattern on (metrics and logs by route).
	httpsOpts.Middleware = func(h http.Handler) http.Handler {
		return a.Extractor.Middleware(obs.Middleware(a.logger, a.Metrics)(h))
	}
	httpsOpts.TLSConfig = serverTLSConfig(serverCert, a.cfg.TLS.ClientAuth.Type())
	httpsOpts.RefuseBody = refuseBody
	httpsOpts.MaxConnections, httpsOpts.MaxConnectionsPerAddress = cfg.HTTP.MaxConnections, cfg.HTTP.MaxConnectionsPerAddress
	// Every client behind a trusted proxy comes from the proxy's address.
	httpsOpts.PerAddressExempt = cfg.MTLS.Proxies()
	httpsOpts.MaxConcurrentStreams = cfg.HTTP.MaxConcurrentStreams
	a.https = httpserver.New(httpsOpts)
	if _, err := a.https.Listen(); err != nil {
		return nil, fmt.Errorf("https listener: %w", err)
	}
	if err := a.buildAdmin(serverCert); err != nil {
		return nil, err
	}
	a.buildOps()
	return a, nil
}

func (a *App) openStore(ctx context.Context) error {
	st, err := store.Open(ctx, a.cfg.DatabaseURL().Reveal(), store.Options{
		SQLitePath:   filepath.Join(a.cfg.DataDir, "portcullis.db"),
		MaxOpenConns: a.cfg.Database.MaxOpenConns,
		Clock:        a.clock,
		Logger:       a.logger,
	})
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	a.Store = st
	a.closers = append(a.closers, st.Close)
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("database migrations: %w", err)
	}
	return nil
}

// loadTrust returns the https listener's certificate and the trust anchors for client
// certificates: the configured ones, plus in dev mode the sandbox CA (created on first
// start under DATA_DIR/pki) and a server certificate it issues for localhost.
func (a *App) loadTrust(opsAddr net.Addr) (tls.Certificate, []pki.Anchor, error) {
	var anchors []pki.Anchor
	for _, an := range a.cfg.Trust.Anchors {
		data, err := os.ReadFile(an.File)
		if err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("trust.anchors %s: %w", an.Name, err)
		}
		loaded, err := pki.LoadAnchorsPEM(an.Name, data, an.Profile, an.Revocation.IsSoftFail())
		if err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("trust.anchors %s: %w", an.Name, err)
		}
		anchors = append(anchors, loaded...)
	}

	certFile, keyFile := a.cfg.TLS.CertFile, a.cfg.TLS.KeyFile
	if a.cfg.Dev {
		ca, err := sandbox.OpenOrInit(filepath.Join(a.cfg.DataDir, "pki"), "http://"+opsAddr.String()+"/pki", a.clock)
		if err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("sandbox PKI: %w", err)
		}
		a.Sandbox = ca
		anchors = append(anchors, pki.Anchor{Name: "sandbox", Cert: ca.RootCertificate(), Profile: pki.ProfileEIDAS})
		if certFile == "" {
			certFile, keyFile, err = a.devServerCertificate(ca)
			if err != nil {
				return tls.Certificate{}, nil, err
			}
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("tls.cert_file: %w", err)
	}
	return cert, anchors, nil
}

// devServerCertificate returns DATA_DIR/pki/server.{crt,key}, issuing them from the sandbox
// CA for localhost and 127.0.0.1 when they do not exist yet.
func (a *App) devServerCertificate(ca *sandbox.CA) (certFile, keyFile string, err error) {
	prefix := filepath.Join(ca.Dir(), "server")
	certFile, keyFile = prefix+".crt", prefix+".key"
	if _, err := os.Stat(certFile); err == nil {
		return certFile, keyFile, nil
	}
	issued, err := ca.Issue(sandbox.KindServer, sandbox.IssueOptions{
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
	if err != nil {
		return "", "", fmt.Errorf("sandbox server certificate: %w", err)
	}
	if err := issued.WriteFiles(prefix); err != nil {
		return "", "", fmt.Errorf("sandbox server certificate: %w", err)
	}
	return certFile, keyFile, nil
}

func (a *App) buildTransport(anchors []pki.Anchor) error {
	a.Revocation = revocation.New(revocation.Options{
		Clock:        a.clock,
		Logger:       a.logger,
		Registerer:   a.Metrics.Registry(),
		OCSPTimeout:  a.cfg.Revocation.OCSPTimeout,
		CRLTimeout:   a.cfg.Revocation.CRLTimeout,
		MaxCRLBytes:  a.cfg.Revocation.MaxCRLBytes,
		CacheSize:    a.cfg.Revocation.CacheSize,
		MaxClockSkew: a.cfg.Revocation.MaxClockSkew,
		MaxGoodAge:   maxGoodAge(a.cfg.Revocation.MaxGoodAge),
	})
	a.closers = append(a.closers, func() error { a.Revocation.Close(); return nil })

	var intermediates []*x509.Certificate
	if f := a.cfg.Trust.IntermediatesFile; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("trust.intermediates_file: %w", err)
		}
		if intermediates, err = pki.ParseCertificatesPEM(data); err != nil {
			return fmt.Errorf("trust.intermediates_file: %w", err)
		}
	}
	if a.Sandbox != nil {
		intermediates = append(intermediates, a.Sandbox.IssuingCertificate())
	}
	if len(anchors) == 0 {
		return errors.New("trust.anchors: no trust anchor configured: no client certificate could ever validate")
	}
	v, err := pki.NewValidator(pki.Options{
		Anchors:       anchors,
		Intermediates: intermediates,
		Revocation:    a.Revocation,
		Clock:         a.clock,
		Timeout:       certificateValidationBudget(a.cfg.HTTP.WriteTimeout),
	})
	if err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	a.Validator = v

	ext, err := mtls.NewExtractor(mtls.Options{
		Validator:      a.watchSandboxRevocations(v),
		Header:         a.cfg.MTLS.Header,
		Format:         mtls.HeaderFormat(a.cfg.MTLS.HeaderFormat),
		TrustedProxies: a.cfg.MTLS.Proxies(),
		Logger:         a.logger,
		Registerer:     a.Metrics.Registry(),
		Audit:          a.auditCertificate,
	})
	if err != nil {
		return fmt.Errorf("mtls: %w", err)
	}
	a.Extractor = ext
	return nil
}

// watchSandboxRevocations makes, in dev mode, a revocation at the sandbox CA — also one
// by `portcullis pki revoke` in another process — drop the certificate's cached status
// before the next certificate validation: the returned validator polls the CA's
// revocation feed (one stat of its issuance database when nothing changed) before each
// validation, and a background loop polls every second for idle servers. The sandbox OCSP
// responder already answers "revoked", so the next validation is refused. Outside dev
// mode it returns v itself.
func (a *App) watchSandboxRevocations(v mtls.Validator) mtls.Validator {
	if a.Sandbox == nil {
		return v
	}
	issuer := sha256.Sum256(a.Sandbox.IssuingCertificate().Raw)
	forget := chainForgetter{checker: a.Revocation, validator: a.Validator}
	feed := a.Sandbox.RevocationFeed(func(r sandbox.Record) {
		n := forget.Forget(r.SerialNumber(), issuer[:])
		a.logger.Info("sandbox CA revocation: cached revocation status dropped",
			slog.String("serial", r.Serial), slog.Int("answers_dropped", n))
	})
	a.runners = append(a.runners, func(ctx context.Context) { feed.Run(ctx, sandbox.DefaultWatchInterval) })
	return pollingValidator{next: v, poll: feed.Poll}
}

// pollingValidator calls poll before every validation.
type pollingValidator struct {
	next mtls.Validator
	poll func()
}

func (p pollingValidator) Validate(ctx context.Context, chain []*x509.Certificate, purpose pki.Purpose) (*pki.Identity, error) {
	p.poll()
	return p.next.Validate(ctx, chain, purpose)
}

// maxGoodAge turns revocation.max_good_age (zero: never reuse a "good" answer) into
// revocation.Options.MaxGoodAge (zero: the default; negative: never reuse).
func maxGoodAge(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// auditCertificate records the transport layer's security events: certificates refused by
// validation and forwarded-certificate headers from untrusted addresses.
func (a *App) auditCertificate(ctx context.Context, ev mtls.AuditEvent) {
	typ := audit.TypeCertificateRejected
	if ev.Kind == mtls.AuditUntrustedForwardedCert {
		typ = audit.TypeForwardedCertUntrustedSource
	}
	data := map[string]any{"remote_addr": ev.RemoteAddr, "source": ev.Source.String()}
	if ev.Header != "" {
		data["header"] = ev.Header
	}
	if ev.Thumbprint != "" {
		data["x5t#S256"] = ev.Thumbprint
	}
	if ev.Err != nil {
		data["reason"] = ev.Err.Error()
	}
	a.Audit.Record(ctx, audit.Event{Type: typ, Data: data})
}

// serverTLSConfig is the TLS configuration of a listener serving cert, asking for client
// certificates as clientAuth says (tls.NoClientCert on the browser-facing and admin
// listeners). No acceptable-CA hint list is sent in the CertificateRequest: Go and OpenSSL
// clients withhold a certificate that is not from a listed CA, which would make
// self_signed_tls_client_auth impossible. Trust is decided per request by pki anyway.
func serverTLSConfig(cert tls.Certificate, clientAuth tls.ClientAuthType) *tls.Config {
	c := mtls.ServerTLSConfig(mtls.TLSOptions{Certificates: []tls.Certificate{cert}})
	c.ClientAuth = clientAuth
	return c
}

// listenerOptions are the options every listener shares: its name, address and handler,
// the http section's timeouts and size limits, and the logger. The connection limits are
// the caller's to add.
func (a *App) listenerOptions(name, addr string, h http.Handler) httpserver.Options {
	c := a.cfg.HTTP
	return httpserver.Options{
		Name: name, Addr: addr, Handler: h, Logger: a.logger,
		ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
		WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout,
		ShutdownTimeout: c.ShutdownTimeout, MaxHeaderBytes: c.MaxHeaderBytes,
		MaxBodyBytes: c.MaxBodyBytes,
	}
}

func (a *App) buildOps() {
	ops := obs.OpsHandler(a.Metrics, obs.Check{Name: "database", Fn: a.Store.Ping})
	if a.Sandbox == nil {
		a.opsHandler = ops
		return
	}
	// The sandbox CA's OCSP responder and CRLs are dispatched ahead of any ServeMux: a
	// GET OCSP request carries base64 that may contain "//", which ServeMux would
	// "clean" with a redirect.
	prefix, pkiHandler := a.Sandbox.PathPrefix()+"/", a.Sandbox.Handler(a.logger)
	a.opsHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix) {
			pkiHandler.ServeHTTP(w, r)
			return
		}
		ops.ServeHTTP(w, r)
	})
}

// HTTPSAddr is the bound address of the mTLS listener.
func (a *App) HTTPSAddr() net.Addr { addr, _ := a.https.Listen(); return addr }

// OpsAddr is the bound address of the ops listener.
func (a *App) OpsAddr() net.Addr { addr, _ := a.ops.Listen(); return addr }

// Run serves both listeners and the database sweeper until ctx is cancelled (SIGTERM),
// then drains in-flight requests within http.shutdown_timeout.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.Store.RunSweeper(ctx, a.cfg.Database.SweepInterval)
	for _, run := range a.runners {
		go run(ctx)
	}
	return httpserver.Run(ctx, a.cfg.HTTP.ShutdownTimeout, append([]*httpserver.Server{a.https, a.ops}, a.servers...)...)
}

// Close releases everything New opened.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// Banner writes the start-up banner: every URL, file and credential a newcomer needs to
// make a first call with curl (cmd/portcullis prints the first call's commands after it).
func (a *App) Banner(w io.Writer) {
	https, ops := a.HTTPSAddr(), a.OpsAddr()
	fmt.Fprintf(w, "Portcullis is running (dev=%v)\n", a.cfg.Dev)
	fmt.Fprintf(w, "  issuer            %s\n", a.cfg.Issuer)
	fmt.Fprintf(w, "  https (mTLS)      https://%s\n", https)
	if a.publicURL != "" {
		fmt.Fprintf(w, "  public (browser)  %s/authorize  (customer pages, discovery, /jwks; no client certificate)\n", a.publicURL)
	}
	fmt.Fprintf(w, "  ops               http://%s/healthz  /readyz  /metrics\n", ops)
	if addr := a.AdminAddr(); addr != nil {
		fmt.Fprintf(w, "  admin             https://%s/admin/clients (admin API; Authorization: Bearer <admin.token>)\n", addr)
	} else {
		fmt.Fprintf(w, "  admin             disabled: admin.token is empty (would serve https://%s/admin/clients)\n", a.cfg.Listen.Admin)
	}
	fmt.Fprintf(w, "  database          %s\n", a.cfg.DatabaseURL())
	if a.Sandbox != nil {
		dir := a.Sandbox.Dir()
		fmt.Fprintf(w, "  sandbox CA        %s (trust anchor for clients and for curl --cacert)\n", filepath.Join(dir, sandbox.FileRootCert))
		fmt.Fprintf(w, "  OCSP / CRL        %s/ocsp  %s/issuing.crl\n", a.Sandbox.BaseURL(), a.Sandbox.BaseURL())
		if a.BankURL != nil {
			fmt.Fprintf(w, "  sandbox bank      %s (reachable only through the gateway)\n", a.BankURL)
		}
	}
	if d := a.DemoCustomer; d != nil {
		fmt.Fprintf(w, "\nDemo customer (login page):\n")
		fmt.Fprintf(w, "  username %s  password %s  TOTP secret %s\n", d.ID, d.Password, d.TOTPSecret)
		fmt.Fprintf(w, "  %s\n", d.TOTPURI)
	}
}

// certificateValidationBudget is how long one request may spend validating its client
// certificate, revocation lookups included (pki.Options.Timeout): the https
// listener's write timeout less 5 s to answer, or half of it when that is under 10 s. A
// chain's OCSP and CRL timeouts can add up past the write timeout (two certificates, each
// an OCSP attempt and up to three CRL downloads); past the budget the request gets 503
// temporarily_unavailable (or the gateway's OBIE 503) instead of a connection cut by the
// write deadline.
func certificateValidationBudget(writeTimeout time.Duration) time.Duration {
	if writeTimeout >= 10*time.Second {
		return writeTimeout - 5*time.Second
	}
	return writeTimeout / 2
}
