package sandbox_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// How dev mode wires the sandbox CA: create it on first start, serve its OCSP responder
// and CRLs on the ops listener ahead of the ServeMux (which would clean, and so corrupt,
// base64 GET requests), and mint the server's TLS certificate from it.
func ExampleCA_Handler() {
	dataDir := "data"
	ca, err := sandbox.OpenOrInit(filepath.Join(dataDir, "pki"), sandbox.DefaultBaseURL, clock.Real{})
	if err != nil {
		panic(err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	ops := http.NewServeMux()
	ops.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	pki := ca.Handler(log)
	prefix := ca.PathPrefix() + "/"
	opsHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.EscapedPath(), prefix) {
			pki.ServeHTTP(w, r)
			return
		}
		ops.ServeHTTP(w, r)
	})
	_ = &http.Server{Addr: "127.0.0.1:9090", Handler: opsHandler}

	srv, err := ca.Issue(sandbox.KindServer, sandbox.IssueOptions{
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
	if err != nil {
		panic(err)
	}
	_ = tls.Certificate{
		Certificate: [][]byte{srv.Chain[0].Raw, srv.Chain[1].Raw},
		PrivateKey:  srv.Key,
	}
}
