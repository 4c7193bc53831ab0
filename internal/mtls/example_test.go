package mtls_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/netip"
	"os"

	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/pki"
)

// acceptAll stands in for the pki Validator in this example.
type acceptAll struct{}

func (acceptAll) Validate(_ context.Context, chain []*x509.Certificate, _ pki.Purpose) (*pki.Identity, error) {
	return &pki.Identity{Leaf: chain[0], Chain: chain}, nil
}

// Wiring the https listener: TLS configuration, the Extractor as the outermost handler,
// and Require on the routes that need a client certificate.
func ExampleExtractor() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ex, err := mtls.NewExtractor(mtls.Options{
		Validator: acceptAll{}, // the pki Validator
		// Behind an Envoy that terminates mTLS; omit these three for direct mTLS only.
		Header:         "X-Forwarded-Client-Cert",
		Format:         mtls.FormatXFCC,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")},
		Logger:         logger,
	})
	if err != nil {
		logger.Error("mtls", "error", err)
		return
	}

	invalidClient := func(w http.ResponseWriter, r *http.Request, err error) {
		// The oauth package's renderer in Portcullis: 401 invalid_client.
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
	}
	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mtls.ClientIdentity(r) // valid: Require let the request through
		_ = id.Thumbprint               // cnf.x5t#S256 of the token
	})

	mux := http.NewServeMux()
	mux.Handle("POST /token", mtls.Require(invalidClient)(token))
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {}) // never asks

	srv := &http.Server{
		Addr:      ":8443",
		Handler:   ex.Middleware(mux),
		TLSConfig: mtls.ServerTLSConfig(mtls.TLSOptions{Certificates: []tls.Certificate{ /* server certificate */ }}),
	}
	_ = srv // srv.ListenAndServeTLS("", "")
}
