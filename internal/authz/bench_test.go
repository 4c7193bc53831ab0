package authz_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/authz"
)

// BenchmarkTokenClientCredentials measures the token endpoint's hot path end to end: TLS
// (kept alive, one connection) → obs and mtls middleware → certificate validation (OCSP
// answer cached) → client authentication → token issuance, against SQLite. The
// private_key_jwt case includes verifying the assertion and consuming its jti; assertions
// are signed before the timer starts.
func BenchmarkTokenClientCredentials(b *testing.B) {
	as := newTestAS(b)
	for _, id := range []string{clientTLS, clientPKJ} {
		c := as.f.clients[id]
		b.Run(c.method, func(b *testing.B) {
			hc := as.httpClient(b, c.tlsCert())
			forms := make([]string, b.N)
			for i := range forms {
				forms[i] = as.clientCredentials(b, c, nil).Encode()
			}
			post := func(body string) int {
				req, err := http.NewRequest(http.MethodPost, as.base+authz.PathToken, strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			// Warm up: handshake, OCSP, client registry cache.
			if s := post(as.clientCredentials(b, c, nil).Encode()); s != http.StatusOK {
				b.Fatalf("warm-up: %d", s)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if s := post(forms[i]); s != http.StatusOK {
					b.Fatalf("status %d", s)
				}
			}
		})
	}
}
