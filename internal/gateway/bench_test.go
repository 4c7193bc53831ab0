package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/upstream"
)

// Benchmarks for acceptance criterion 4 (BENCHMARKS.md). Run in one go:
//
//	go test -run '^$' -bench 'Direct|Gateway|Validate' -benchtime 3s ./internal/gateway/
//
// BenchmarkDirect calls the sandbox bank directly (plain HTTP on loopback, as the
// gateway reaches it); BenchmarkGateway makes the same call through the gateway:
// mTLS from the client (per-request certificate validation with a cached OCSP
// answer), a cached access token, the in-memory consent validator, and the
// forward over a kept-alive upstream connection. Both use one kept-alive client
// connection and report latency percentiles; the *Parallel variants measure
// throughput with 16 × GOMAXPROCS concurrent clients. BenchmarkValidate* measure the
// validation chain alone (no network), with and without the verified-token cache.

// benchParallelism × GOMAXPROCS concurrent clients drive the *Parallel benchmarks,
// enough to keep the CPUs busy despite the round-trip latency.
const benchParallelism = 16

// allowAll is the consent validator of the benchmarks: it keeps no record.
var allowAll = consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) {
	return consent.Decision{Valid: true}, nil
})

// latencies records per-request durations and reports p50/p99 and requests/s.
type latencies struct {
	d     []time.Duration
	start time.Time
}

func newLatencies(b *testing.B) *latencies {
	return &latencies{d: make([]time.Duration, 0, b.N), start: time.Now()}
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

func BenchmarkDirect(b *testing.B) {
	f := newFixture(b, fixtureOpts{validator: allowAll})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	req := directRequest(b, f)
	resp, err := client.Do(req)
	drain(b, resp, err, 200) // warm the connection
	b.ResetTimer()
	l := newLatencies(b)
	for b.Loop() {
		t0 := time.Now()
		resp, err := client.Do(req)
		drain(b, resp, err, 200)
		l.d = append(l.d, time.Since(t0))
	}
	l.report(b)
}

// BenchmarkDirectTLS is BenchmarkDirect with the bank behind TLS (no client
// certificate), to tell the cost of TLS from the cost of the gateway.
func BenchmarkDirectTLS(b *testing.B) {
	f := newFixture(b, fixtureOpts{validator: allowAll})
	srv := httptest.NewUnstartedServer(f.bank.Config.Handler)
	srv.TLS = &tls.Config{Certificates: f.proxySrv.TLS.Certificates, NextProtos: []string{"http/1.1"}}
	srv.StartTLS()
	b.Cleanup(srv.Close)
	client := f.clients["none"]
	req := directRequest(b, f)
	req.URL.Scheme, req.URL.Host = "https", srv.Listener.Addr().String()
	resp, err := client.Do(req)
	drain(b, resp, err, 200)
	b.ResetTimer()
	l := newLatencies(b)
	for b.Loop() {
		t0 := time.Now()
		resp, err := client.Do(req)
		drain(b, resp, err, 200)
		l.d = append(l.d, time.Since(t0))
	}
	l.report(b)
}

func BenchmarkGateway(b *testing.B) {
	f := newFixture(b, fixtureOpts{validator: allowAll})
	client := f.clients["A"]
	req := gatewayRequest(b, f)
	resp, err := client.Do(req)
	drain(b, resp, err, 200) // warm: TLS session, token cache, OCSP cache, upstream connection
	b.ResetTimer()
	l := newLatencies(b)
	for b.Loop() {
		t0 := time.Now()
		resp, err := client.Do(req)
		drain(b, resp, err, 200)
		l.d = append(l.d, time.Since(t0))
	}
	l.report(b)
}

func BenchmarkDirectParallel(b *testing.B) {
	f := newFixture(b, fixtureOpts{validator: allowAll})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	req := directRequest(b, f)
	start := time.Now()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Do(req)
			drain(b, resp, err, 200)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func BenchmarkGatewayParallel(b *testing.B) {
	f := newFixture(b, fixtureOpts{validator: allowAll})
	client := f.clients["A"]
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	req := gatewayRequest(b, f)
	resp, err := client.Do(req)
	drain(b, resp, err, 200)
	start := time.Now()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Do(req)
			drain(b, resp, err, 200)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
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
