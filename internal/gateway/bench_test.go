package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/httpserver"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/upstream"
)

// Benchmarks for acceptance criterion 4 (BENCHMARKS.md). Run in one go:
//
//	go test -run '^$' -bench 'Direct|Gateway|ProxyFloor|Validate' -benchtime 3s ./internal/gateway/
//
// Everything runs in one process on one machine: the benchmark's HTTP client, the
// gateway and the sandbox bank share its CPUs (on a 2-core box the client's own
// TLS and HTTP work takes a large share of them, for the direct calls and the
// gateway alike).
//
// The listeners are built as internal/app builds them (fixtureOpts.production):
// obs.Middleware with a JSON logger at info level (into io.Discard: the encoding
// is paid, the write is not) and Prometheus metrics, httpserver's body limit, the
// mtls extractor; the bank as app.startSandboxBank serves it.
//
//   - BenchmarkDirect calls the sandbox bank directly over plain HTTP on loopback,
//     as the gateway reaches it, with the identity headers the gateway would set.
//   - BenchmarkDirectTLS is the same call with the bank behind TLS (HTTP/1.1, no
//     client certificate), the fair baseline: a production bank API is TLS.
//   - BenchmarkGateway makes the same call through the gateway: TLS with a client
//     certificate, per-request certificate validation (validated-chain cache warm,
//     OCSP answer cached), a cached access token, the in-memory consent validator,
//     the request log line and metrics, and the forward over a kept-alive upstream
//     connection.
//   - BenchmarkProxyFloor makes the same call through a bare httputil.ReverseProxy
//     on the same TLS listener configuration, without any of the gateway's work:
//     the cost of one more HTTP hop on this machine, which bounds the gateway's
//     throughput from above.
//
// Each uses one kept-alive client connection and reports p50/p90/p99 latency and
// requests/s; the *Parallel variants measure throughput (and latency under load)
// with benchParallelism × GOMAXPROCS concurrent clients, each on its own kept-alive
// connection. BenchmarkValidate* measure the validation chain alone (no network),
// with and without the verified-token cache. BenchmarkUpstreamProtocol compares
// HTTP/1.1 and HTTP/2 from the gateway to a TLS upstream.

// benchParallelism × GOMAXPROCS concurrent clients drive the *Parallel benchmarks,
// enough to keep the CPUs busy despite the round-trip latency.
const benchParallelism = 16

// allowAll is the consent validator of the benchmarks: it keeps no record.
var allowAll = consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) {
	return consent.Decision{Valid: true}, nil
})

// latencies records per-request durations and reports p50/p90/p99 and requests/s.
// The *Parallel benchmarks give each goroutine its own and merge them (add).
type latencies struct {
	mu    sync.Mutex
	d     []time.Duration
	start time.Time
}

func newLatencies(n int) *latencies {
	return &latencies{d: make([]time.Duration, 0, n), start: time.Now()}
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	elapsed := time.Since(l.start)
	slices.Sort(l.d)
	if len(l.d) == 0 {
		return
	}
	pct := func(p float64) float64 {
		i := int(float64(len(l.d)-1) * p)
		return float64(l.d[i].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.90), "p90-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(len(l.d))/elapsed.Seconds(), "req/s")
}

func drain(b *testing.B, resp *http.Response, err error, want int) {
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// directRequest is the request the gateway would forward for accounts of "demo".
func directRequest(b *testing.B, f *fixture) *http.Request {
	req, err := http.NewRequest(http.MethodGet, f.bank.URL+accountsPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set(upstream.HeaderClientID, "tpp-1")
	req.Header.Set(upstream.HeaderConsentID, "aac-ok")
	req.Header.Set(upstream.HeaderPSUID, "demo")
	req.Header.Set("X-Fapi-Interaction-Id", testInteractionID)
	return req
}

func gatewayRequest(b *testing.B, f *fixture) *http.Request {
	req, err := http.NewRequest(http.MethodGet, f.proxySrv.URL+accountsPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.userToken(b, "A", "aac-ok", "accounts"))
	req.Header.Set("X-Fapi-Interaction-Id", testInteractionID)
	return req
}

// benchTarget is what one benchmark calls: a client and its request.
type benchTarget struct {
	client *http.Client
	req    *http.Request
}

// directTarget calls the bank over plain HTTP.
func directTarget(b *testing.B, f *fixture) benchTarget {
	return benchTarget{client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, req: directRequest(b, f)}
}

// directTLSTarget calls the bank behind a TLS listener of its own (the gateway's
// server certificate, HTTP/1.1).
func directTLSTarget(b *testing.B, f *fixture) benchTarget {
	srv := httptest.NewUnstartedServer(f.bank.Config.Handler)
	srv.TLS = &tls.Config{Certificates: f.proxySrv.TLS.Certificates, NextProtos: []string{"http/1.1"}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short at Close
	srv.StartTLS()
	b.Cleanup(srv.Close)
	req := directRequest(b, f)
	req.URL.Scheme, req.URL.Host = "https", srv.Listener.Addr().String()
	client := f.clients["none"]
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	return benchTarget{client: client, req: req}
}

// gatewayTarget calls the bank through the gateway with client certificate A.
func gatewayTarget(b *testing.B, f *fixture) benchTarget {
	client := f.clients["A"]
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	return benchTarget{client: client, req: gatewayRequest(b, f)}
}

// floorTarget calls the bank through a bare httputil.ReverseProxy on a TLS
// listener configured as the gateway's (client certificate A): no obs, no mtls,
// no checks, no identity. It measures what one more HTTP hop costs on this
// machine, the floor under any gateway built on net/http.
func floorTarget(b *testing.B, f *fixture) benchTarget {
	up, err := url.Parse(f.bank.URL)
	if err != nil {
		b.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.SetXForwarded() },
		Transport:  upstream.NewTransport(upstream.TransportOptions{}),
		BufferPool: floorBuffers{},
	}
	srv := httptest.NewUnstartedServer(rp)
	srv.TLS = f.proxySrv.TLS.Clone()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	b.Cleanup(srv.Close)
	// The bank's identity headers come from the client: the bare proxy sets none.
	req := directRequest(b, f)
	req.URL.Scheme, req.URL.Host = "https", srv.Listener.Addr().String()
	t := gatewayTarget(b, f)
	t.req = req
	return t
}

// floorBuffers is the bare proxy's copy-buffer pool (the gateway's has one too).
type floorBuffers struct{}

var floorPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (floorBuffers) Get() []byte  { return *(floorPool.Get().(*[]byte)) }
func (floorBuffers) Put(b []byte) { floorPool.Put(&b) }

// runSerial makes the call b.N times on one kept-alive connection.
func runSerial(b *testing.B, t benchTarget) {
	resp, err := t.client.Do(t.req)
	drain(b, resp, err, 200) // warm: TLS session, caches, upstream connection
	b.ReportAllocs()
	b.ResetTimer()
	l := newLatencies(b.N)
	for b.Loop() {
		t0 := time.Now()
		resp, err := t.client.Do(t.req)
		drain(b, resp, err, 200)
		l.d = append(l.d, time.Since(t0))
	}
	l.report(b)
}

// runParallel makes the call b.N times from benchParallelism × GOMAXPROCS
// goroutines, each on its own kept-alive connection once warm.
func runParallel(b *testing.B, t benchTarget) {
	resp, err := t.client.Do(t.req)
	drain(b, resp, err, 200)
	b.SetParallelism(benchParallelism)
	b.ReportAllocs()
	b.ResetTimer()
	l := newLatencies(b.N)
	b.RunParallel(func(pb *testing.PB) {
		d := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			resp, err := t.client.Do(t.req)
			drain(b, resp, err, 200)
			d = append(d, time.Since(t0))
		}
		l.add(d)
	})
	l.report(b)
}

func benchFixture(b *testing.B) *fixture {
	return newFixture(b, fixtureOpts{validator: allowAll, production: true})
}

func BenchmarkDirect(b *testing.B) {
	f := benchFixture(b)
	runSerial(b, directTarget(b, f))
}

func BenchmarkDirectParallel(b *testing.B) {
	f := benchFixture(b)
	runParallel(b, directTarget(b, f))
}

func BenchmarkDirectTLS(b *testing.B) {
	f := benchFixture(b)
	runSerial(b, directTLSTarget(b, f))
}

func BenchmarkDirectTLSParallel(b *testing.B) {
	f := benchFixture(b)
	runParallel(b, directTLSTarget(b, f))
}

func BenchmarkGateway(b *testing.B) {
	f := benchFixture(b)
	runSerial(b, gatewayTarget(b, f))
}

func BenchmarkGatewayParallel(b *testing.B) {
	f := benchFixture(b)
	runParallel(b, gatewayTarget(b, f))
}

func BenchmarkProxyFloor(b *testing.B) {
	f := benchFixture(b)
	runSerial(b, floorTarget(b, f))
}

func BenchmarkProxyFloorParallel(b *testing.B) {
	f := benchFixture(b)
	runParallel(b, floorTarget(b, f))
}

// BenchmarkUpstreamProtocol compares HTTP/1.1 and HTTP/2 from the gateway to a
// TLS upstream that offers both (upstream.TransportOptions.HTTP2), with the
// parallel load of BenchmarkGatewayParallel.
func BenchmarkUpstreamProtocol(b *testing.B) {
	for _, h2 := range []bool{false, true} {
		name := "http1.1"
		if h2 {
			name = "h2"
		}
		b.Run(name, func(b *testing.B) {
			f := benchFixture(b)
			bankSrv := httptest.NewUnstartedServer(f.bank.Config.Handler)
			bankSrv.TLS = &tls.Config{Certificates: f.proxySrv.TLS.Certificates}
			bankSrv.EnableHTTP2 = true
			bankSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
			bankSrv.StartTLS()
			b.Cleanup(bankSrv.Close)
			up, err := url.Parse(bankSrv.URL)
			if err != nil {
				b.Fatal(err)
			}
			tr := upstream.NewTransport(upstream.TransportOptions{HTTP2: h2, TLSClientConfig: &tls.Config{RootCAs: f.ca.Pool()}})
			g, err := New(Options{Routes: sandboxRoutes(b, up), Verifier: f.verifier, ConsentValidator: allowAll, Transport: tr, Customers: f.store})
			if err != nil {
				b.Fatal(err)
			}
			e, err := mtls.NewExtractor(mtls.Options{Validator: f.certVal})
			if err != nil {
				b.Fatal(err)
			}
			logger := obs.NewLogger(io.Discard, "info")
			srv := httptest.NewUnstartedServer(obs.Middleware(logger, obs.NewMetrics())(
				httpserver.LimitBody(httpserver.DefaultMaxBodyBytes, e.Middleware(g))))
			srv.TLS = f.proxySrv.TLS.Clone()
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.StartTLS()
			b.Cleanup(srv.Close)
			t := gatewayTarget(b, f)
			t.req.URL.Host = srv.Listener.Addr().String()
			runParallel(b, t)
		})
	}
}

// benchmarkValidate runs the whole chain in ext-authz (check) mode in memory: the
// mtls extractor (per-request certificate validation, OCSP answer cached), the
// token, binding, role and consent stages; no network, no forwarding.
func benchmarkValidate(b *testing.B, cacheSize int) {
	f := newFixture(b, fixtureOpts{cacheSize: cacheSize, validator: allowAll})
	e, err := mtls.NewExtractor(mtls.Options{Validator: f.certVal})
	if err != nil {
		b.Fatal(err)
	}
	h := obs.Middleware(slog.New(slog.DiscardHandler), nil)(e.Middleware(f.gw.checkMux))
	tok := f.userToken(b, "A", "aac-ok", "accounts")
	state := &tls.ConnectionState{PeerCertificates: f.certs["A"].Chain, HandshakeComplete: true}
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, accountsPath, nil)
		r.TLS = state
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newReq())
	if rec.Code != 200 {
		b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newReq())
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkValidateCached(b *testing.B)   { benchmarkValidate(b, 0) }
func BenchmarkValidateUncached(b *testing.B) { benchmarkValidate(b, -1) }
