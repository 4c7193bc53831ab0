package authz_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/internal/authz"
)

// benchParallelism is how many concurrent clients per CPU the parallel benchmark runs (the
// load test's c=8 on two cores is 4 per CPU; 8 keeps both CPUs busy through I/O waits).
const benchParallelism = 4

// BenchmarkTokenClientCredentials measures the token endpoint's hot path end to end: TLS
// (kept alive, one connection) → obs and mtls middleware → certificate validation (OCSP
// answer cached) → client authentication → token issuance, against SQLite, wired as in
// production (client registry read cache, audit log line plus batched audit store). The
// private_key_jwt case includes verifying the assertion and consuming its jti; assertions
// are signed before the timer starts.
func BenchmarkTokenClientCredentials(b *testing.B) {
	as := newTestASWith(b, asOptions{production: true})
	for _, id := range []string{clientTLS, clientPKJ} {
		c := as.f.clients[id]
		b.Run(c.method, func(b *testing.B) {
			hc := as.httpClient(b, c.tlsCert())
			forms := make([]string, b.N)
			for i := range forms {
				forms[i] = as.clientCredentials(b, c, nil).Encode()
			}
			// Warm up: handshake, OCSP, client registry cache.
			if s := postToken(b, as, hc, as.clientCredentials(b, c, nil).Encode()); s != http.StatusOK {
				b.Fatalf("warm-up: %d", s)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if s := postToken(b, as, hc, forms[i]); s != http.StatusOK {
					b.Fatalf("status %d", s)
				}
			}
		})
	}
}

// BenchmarkTokenClientCredentialsParallel is BenchmarkTokenClientCredentials with
// concurrent clients, each on its own kept-alive connection: what contends (the SQLite
// writer, locks, the scheduler) shows here and not in the serial benchmark.
func BenchmarkTokenClientCredentialsParallel(b *testing.B) {
	as := newTestASWith(b, asOptions{production: true})
	for _, id := range []string{clientTLS, clientPKJ} {
		c := as.f.clients[id]
		b.Run(c.method, func(b *testing.B) {
			forms := make([]string, b.N+b.N/2+64) // RunParallel splits b.N unevenly across workers
			for i := range forms {
				forms[i] = as.clientCredentials(b, c, nil).Encode()
			}
			var next atomic.Int64
			b.SetParallelism(benchParallelism)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				hc := as.httpClient(b, c.tlsCert())
				for pb.Next() {
					i := next.Add(1) - 1
					if i >= int64(len(forms)) {
						b.Error("more iterations than prepared assertions")
						return
					}
					if s := postToken(b, as, hc, forms[i]); s != http.StatusOK {
						b.Errorf("status %d", s)
						return
					}
				}
			})
		})
	}
}

// postToken posts one token request and returns the status.
func postToken(b *testing.B, as *testAS, hc *http.Client, body string) int {
	req, err := http.NewRequest(http.MethodPost, as.base+authz.PathToken, strings.NewReader(body))
	if err != nil {
		b.Error(err) // not Fatal: RunParallel's goroutines call this too
		return 0
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		b.Error(err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
