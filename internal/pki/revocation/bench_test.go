package revocation

import (
	"context"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// benchSetup returns a Checker and a certificate whose issuer's Go-native OCSP
// responder (on 127.0.0.1) serves one pre-signed "good" answer.
func benchSetup(b *testing.B) (*Checker, *x509.Certificate, *x509.Certificate) {
	b.Helper()
	ca := newCA(b, "Bench CA")
	var der []byte
	srv := newServer(b, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(der)
	})
	cert := ca.leaf(b, []string{srv.URL}, nil)
	der = ca.ocspResponse(b, goodTmpl(cert, testNow), nil, nil)
	c := New(Options{Clock: clock.NewFake(testNow.Add(time.Minute)), RefreshAhead: 1})
	b.Cleanup(c.Close)
	return c, cert, ca.cert
}

// BenchmarkCheckWarm: the answer is in the cache.
func BenchmarkCheckWarm(b *testing.B) {
	c, cert, issuer := benchSetup(b)
	ctx := context.Background()
	if err := c.Check(ctx, cert, issuer, false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check(ctx, cert, issuer, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckCold: every check asks the local responder (HTTP POST over a kept-
// alive loopback connection, parsing, signature and CertID checks).
func BenchmarkCheckCold(b *testing.B) {
	c, cert, issuer := benchSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.answers.purge()
		if err := c.Check(ctx, cert, issuer, false); err != nil {
			b.Fatal(err)
		}
	}
}
