package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"slices"
)

// TLSOptions configures the server side of the mTLS listener. The zero value is usable
// only together with a server that supplies its own certificate (the handshake fails
// closed otherwise: crypto/tls refuses to serve without a certificate).
type TLSOptions struct {
	// Certificates are the listener's server certificates (chain plus key). Ignored when
	// GetCertificate is set.
	Certificates []tls.Certificate

	// GetCertificate, when set, picks the server certificate per handshake (SNI,
	// hot reload). It takes precedence over Certificates.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)

	// ClientCAs are the subjects sent in the CertificateRequest as the list of acceptable
	// certificate authorities, so that a client holding several certificates picks one
	// Portcullis trusts. It is a hint only: crypto/tls does NOT verify the client chain
	// against it (the listener uses [tls.RequestClientCert]); the trust decision is the
	// pki Validator's, per request. nil sends an empty list: the client may send any
	// certificate.
	ClientCAs *x509.CertPool
}

// fapiCipherSuites are the TLS 1.2 cipher suites the mTLS listener accepts: the ECDHE
// AES-GCM suites BCP 195 (RFC 9325 §4.2) recommends and FAPI 1.0 Advanced §8.5 permits
// (FAPI1-AS-70, FAPI2-AS-40). FAPI also lists TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 and
// TLS_DHE_RSA_WITH_AES_256_GCM_SHA384; crypto/tls does not implement finite-field DHE,
// so they cannot be offered. ChaCha20-Poly1305, CBC, RSA key transport and 3DES are
// refused in TLS 1.2. TLS 1.3 suites are not configurable in crypto/tls; all three
// (AES-GCM and ChaCha20-Poly1305 AEADs) are acceptable under BCP 195.
var fapiCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
}

// FAPICipherSuites returns the TLS 1.2 cipher suites [ServerTLSConfig] allows, in a
// fresh slice.
func FAPICipherSuites() []uint16 { return slices.Clone(fapiCipherSuites) }

// keyExchanges are the (EC)DHE groups of the listener: X25519, P-256 and P-384 (the
// BCP 195 groups; P-521 adds nothing), plus the hybrid post-quantum groups crypto/tls
// enables by default since Go 1.24/1.26, which are only ever negotiated in TLS 1.3 and
// are at least as strong as their classical half.
var keyExchanges = []tls.CurveID{
	tls.X25519MLKEM768,
	tls.SecP256r1MLKEM768,
	tls.SecP384r1MLKEM1024,
	tls.X25519,
	tls.CurveP256,
	tls.CurveP384,
}

// ServerTLSConfig returns the [tls.Config] of the mTLS listener (FAPI1-AS-70,
// FAPI2-AS-40; libraries.md "Algorithms and TLS"):
//
//   - TLS 1.2 and 1.3 only; TLS 1.0 and 1.1 clients get a protocol_version alert;
//   - in TLS 1.2 only [FAPICipherSuites] (ECDHE + AES-GCM); a client offering nothing
//     else gets a handshake_failure alert;
//   - key exchange groups X25519, P-256, P-384 (and the TLS 1.3 hybrid post-quantum
//     groups);
//   - ALPN h2, then http/1.1;
//   - ClientAuth [tls.RequestClientCert]: a client certificate is requested in every full
//     handshake, and the chain the client sends is kept as presented (crypto/tls checks
//     only that the client holds the leaf's private key). Nothing is verified in the
//     handshake; [Extractor] validates per request. This deviates on purpose from
//     "checks in VerifyConnection" (libraries.md): a failing certificate must produce
//     a protocol error body, and certificate-free endpoints must stay reachable.
//
// Session tickets (TLS 1.2 and 1.3 resumption) stay enabled. That is safe only because
// validation is per request: a resumed session carries the client certificate of the
// original handshake in the ticket, crypto/tls restores it into
// [tls.ConnectionState.PeerCertificates] without calling any verification hook, and
// [Extractor] validates it again like any other chain. Do not move certificate checks
// into VerifyPeerCertificate, which resumption skips.
//
// Renegotiation is never offered (crypto/tls servers do not renegotiate).
func ServerTLSConfig(o TLSOptions) *tls.Config {
	cfg := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     FAPICipherSuites(),
		CurvePreferences: slices.Clone(keyExchanges),
		NextProtos:       []string{"h2", "http/1.1"},
		ClientAuth:       tls.RequestClientCert,
		ClientCAs:        o.ClientCAs,
	}
	if o.GetCertificate != nil {
		cfg.GetCertificate = o.GetCertificate
	} else {
		cfg.Certificates = slices.Clone(o.Certificates)
	}
	return cfg
}
