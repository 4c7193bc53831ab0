package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// startApp builds and runs a dev-mode Portcullis on loopback ports chosen by the kernel,
// with its data under a temporary directory, and stops it when the test ends.
func startApp(t *testing.T, edit func(*config.Config)) *app.App {
	t.Helper()
	a, _ := runApp(t, testConfig(t, edit), app.Options{})
	return a
}

// testConfig is a test node's dev configuration: data under a temporary directory, the
// https, public and ops listeners on loopback ports the kernel chooses, then edit (nil: none),
// validated.
func testConfig(t *testing.T, edit func(*config.Config)) *config.Config {
	t.Helper()
	cfg := config.Default(true)
	cfg.DataDir = t.TempDir()
	cfg.Listen.HTTPS, cfg.Listen.Public, cfg.Listen.Ops = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// runApp builds a Portcullis from cfg and opts (a nil Logger discards), runs it, and returns
// it with stop: cancel Run, wait for it to return and close the node (idempotent; it also
// runs when the test ends).
func runApp(t *testing.T, cfg *config.Config, opts app.Options) (a *app.App, stop func()) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Run did not return after cancel")
			}
			a.Close()
		})
	}
	t.Cleanup(stop)
	return a, stop
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOpsEndpoints is acceptance #2.1: /healthz answers 200 and /metrics shows portcullis_
// metrics on a dev-mode server with its embedded defaults.
func TestOpsEndpoints(t *testing.T) {
	a := startApp(t, nil)
	ops := "http://" + a.OpsAddr().String()
	if code, body := get(t, ops+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d %q, want 200", code, body)
	}
	if code, body := get(t, ops+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d %q, want 200", code, body)
	}
	// One request through the https listener so the request metrics have a sample,
	// labelled with its route pattern (not "unmatched").
	hc := mtlsClient(t, a.Sandbox.RootCertificate(), nil)
	resp, err := hc.Get("https://" + a.HTTPSAddr().String() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, body := get(t, ops+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{"portcullis_http_requests_total{", `route="GET /.well-known/openid-configuration"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// tcpProxy forwards loopback connections to target until it is cut; it then refuses new
// connections and closes the open ones, as a database outage would look to Portcullis.
type tcpProxy struct {
	t      *testing.T
	target string
	mu     sync.Mutex
	ln     net.Listener
	addr   string
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	p.start("127.0.0.1:0")
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restore() { p.start(p.addr) }

// TestReadyzFollowsDatabase is acceptance #2.3: while PostgreSQL is unreachable /readyz
// answers 503 within 5 s, and once it is reachable again 200, without a restart. The outage
// is a loopback TCP proxy in front of the real server being cut, so the shared PostgreSQL
// other tests use keeps running.
func TestReadyzFollowsDatabase(t *testing.T) {
	pgURL := storetest.PostgresURL(t)
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	a := startApp(t, func(c *config.Config) { c.Database.URL = config.SecretURL(u.String()) })
	readyz := "http://" + a.OpsAddr().String() + "/readyz"

	waitFor := func(want int, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < within {
			if code, _ := get(t, readyz); code == want {
				return time.Since(start)
			}
			time.Sleep(100 * time.Millisecond)
		}
		code, body := get(t, readyz)
		t.Fatalf("/readyz still %d %q after %v, want %d", code, body, within, want)
		return 0
	}
	waitFor(http.StatusOK, 5*time.Second)
	proxy.cut()
	took := waitFor(http.StatusServiceUnavailable, 5*time.Second)
	t.Logf("503 after %v", took)
	proxy.restore()
	took = waitFor(http.StatusOK, 10*time.Second)
	t.Logf("200 again after %v", took)
}
