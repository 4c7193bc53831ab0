package consent_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
)

// Benchmarks for BENCHMARKS.md ("Consents"). Run in one sitting:
//
//	go test -run '^$' -bench 'ConsentPOST|ConsentStage' -benchtime 2s ./internal/consent/
//
// BenchmarkConsentPOST* create account-access consents: through the whole mTLS stack
// (TLS with a client certificate, gateway chain, API, SQLite or PostgreSQL write),
// with parallel clients; BenchmarkConsentServiceCreate* the service alone (parse,
// validate, one INSERT). BenchmarkConsentStage compares the gateway's whole chain for
// GET /aisp/accounts/{AccountId} (ext-authz mode, in memory: certificate, cached
// token, binding, role, consent, identity) with and without the consent stage (the
// built-in validator over a warm state cache).

func benchConsentPOST(b *testing.B, postgres bool) {
	e := newEnv(b, envOpts{postgres: postgres})
	tok := e.appToken(b, "AIS", "tpp-1", "accounts")
	pool := e.ca.Pool()
	b.ReportAllocs()
	b.ResetTimer()
	var n atomic.Int64
	b.SetParallelism(4)
	b.RunParallel(func(p *testing.PB) {
		tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{e.certs["AIS"].TLS}}
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		defer cl.CloseIdleConnections()
		for p.Next() {
			req, _ := http.NewRequest(http.MethodPost, e.nodes[0].srv.URL+consent.PathAccountAccessConsents, strings.NewReader(accountAccessBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := cl.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 201 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			n.Add(1)
		}
	})
	b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "consents/s")
}

func BenchmarkConsentPOSTSQLite(b *testing.B)   { benchConsentPOST(b, false) }
func BenchmarkConsentPOSTPostgres(b *testing.B) { benchConsentPOST(b, true) }

func benchServiceCreate(b *testing.B, postgres bool) {
	e := newEnv(b, envOpts{postgres: postgres})
	svc := e.nodes[0].svc
	body := []byte(accountAccessBody)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := svc.CreateAccountAccess(ctx, "tpp-1", body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "consents/s")
}

func BenchmarkConsentServiceCreateSQLite(b *testing.B)   { benchServiceCreate(b, false) }
func BenchmarkConsentServiceCreatePostgres(b *testing.B) { benchServiceCreate(b, true) }

// BenchmarkConsentStage: the gateway chain for one account read, with the consent stage
// (built-in validator, warm state cache) and without it (the same route, no consent).
func BenchmarkConsentStage(b *testing.B) {
	e := newEnv(b, envOpts{})
	ctx := context.Background()
	ais := e.appToken(b, "AIS", "tpp-1", "accounts")
	id := e.createConsent(b, "AIS", ais, consent.PathAccountAccessConsents, accountAccessBody)
	if _, err := e.nodes[0].svc.Authorise(ctx, id, "demo", []string{"22289"}); err != nil {
		b.Fatal(err)
	}
	user := e.userToken(b, "AIS", "tpp-1", id, "accounts")
	upstream := httptest.NewServer(bank.New(e.clk))
	b.Cleanup(upstream.Close)
	for _, withConsent := range []bool{true, false} {
		name := "without-consent-stage"
		if withConsent {
			name = "with-consent-stage"
		}
		b.Run(name, func(b *testing.B) {
			var routes []gateway.Route
			for _, rc := range bank.Routes(upstream.URL) {
				if !withConsent {
					rc.Consent = ""
				}
				r, err := gateway.RouteFromConfig(rc, nil)
				if err != nil {
					b.Fatal(err)
				}
				routes = append(routes, r)
			}
			gw, err := gateway.New(gateway.Options{Routes: routes, Verifier: e.nodes[0].verifier, ConsentValidator: e.nodes[0].val,
				Customers: e.nodes[0].store, ExtAuthzPeers: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
			if err != nil {
				b.Fatal(err)
			}
			ex, err := mtls.NewExtractor(mtls.Options{Validator: e.certVal})
			if err != nil {
				b.Fatal(err)
			}
			h := obs.Middleware(slog.New(slog.DiscardHandler), nil)(ex.Middleware(gw.ExtAuthz()))
			state := &tls.ConnectionState{PeerCertificates: e.certs["AIS"].Chain, HandshakeComplete: true}
			newReq := func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, gateway.ExtAuthzPath, nil)
				r.TLS = state
				r.Header.Set("X-Original-Method", "GET")
				r.Header.Set("X-Original-Uri", bank.BasePath+"/aisp/accounts/22289")
				r.Header.Set("Authorization", "Bearer "+user)
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
		})
	}
}

// BenchmarkResourceValidatorCached: the built-in validator alone for one account read,
// state cache warm.
func BenchmarkResourceValidatorCached(b *testing.B) {
	e := newEnv(b, envOpts{})
	ctx := context.Background()
	ais := e.appToken(b, "AIS", "tpp-1", "accounts")
	id := e.createConsent(b, "AIS", ais, consent.PathAccountAccessConsents, accountAccessBody)
	if _, err := e.nodes[0].svc.Authorise(ctx, id, "demo", []string{"22289"}); err != nil {
		b.Fatal(err)
	}
	req := consent.Request{Kind: consent.KindAccountAccess, ConsentID: id, ClientID: "tpp-1", Method: "GET",
		ResourceTemplate: bank.PathAccount, PathParams: map[string]string{"AccountId": "22289"}}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := e.nodes[0].val.Validate(ctx, req); err != nil || !d.Valid {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkRevocationPropagation measures, on the wall clock, how long after a
// revocation committed through node A's store node B's validator (its own store
// handle and state cache, real clock, default TTL) refuses the consent's token: two
// Store instances on one PostgreSQL database. Node B is polled every 5 ms (bounded by
// 10 s). Reports the mean and the worst delay.
func BenchmarkRevocationPropagation(b *testing.B) {
	e := newEnv(b, envOpts{postgres: true, nodes: 2})
	ctx := context.Background()
	a, nodeB := e.nodes[0], e.nodes[1]
	svcB, err := consent.NewService(consent.Options{Store: nodeB.store}) // real clock
	if err != nil {
		b.Fatal(err)
	}
	cacheB, err := consent.NewStateCache(svcB, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	valB, err := consent.NewResourceValidator(svcB, cacheB, nodeB.store)
	if err != nil {
		b.Fatal(err)
	}
	var total, worst time.Duration
	for b.Loop() {
		b.StopTimer()
		c, _, err := a.svc.CreateAccountAccess(ctx, "tpp-1", []byte(accountAccessBody))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.svc.Authorise(ctx, c.ID, "demo", []string{"22289"}); err != nil {
			b.Fatal(err)
		}
		req := consent.Request{Kind: consent.KindAccountAccess, ConsentID: c.ID, ClientID: "tpp-1", Method: "GET",
			ResourceTemplate: bank.PathAccount, PathParams: map[string]string{"AccountId": "22289"}}
		if d, err := valB.Validate(ctx, req); err != nil || !d.Valid { // node B caches the authorised state
			b.Fatal(d, err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := a.svc.Revoke(ctx, c.ID, "admin"); err != nil {
			b.Fatal(err)
		}
		for {
			d, err := valB.Validate(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if !d.Valid {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatal("node B still allows the revoked consent after 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(start)
		total += el
		worst = max(worst, el)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-mean")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-max")
}
