package config

import "crypto/tls"

// ClientAuth is how the https listener asks for a client certificate.
type ClientAuth string

// The client-certificate policies of the https listener.
const (
	// ClientAuthRequest asks every client for a certificate but completes the
	// handshake without one; each request is then checked for the certificate its
	// route needs (discovery and JWKS need none). The zero value means this.
	ClientAuthRequest ClientAuth = "request"
	// ClientAuthRequire fails the handshake when the client sends no certificate.
	ClientAuthRequire ClientAuth = "require"
)

// Type is the crypto/tls policy for c. Chain validation is never left to crypto/tls:
// it happens in package pki against the configured trust anchors, so both policies
// accept any certificate at the handshake and validate it afterwards.
func (c ClientAuth) Type() tls.ClientAuthType {
	if c == ClientAuthRequire {
		return tls.RequireAnyClientCert
	}
	return tls.RequestClientCert
}

// TLS configures the https listener's own certificate and its client-certificate policy.
type TLS struct {
	// CertFile is the PEM server certificate chain, leaf first. Required outside dev
	// mode; empty in dev mode means a certificate minted by the sandbox CA.
	CertFile string `koanf:"cert_file"`
	// KeyFile is the PEM private key of CertFile. Set exactly when CertFile is.
	KeyFile string `koanf:"key_file"`
	// ClientAuth is "request" (default) or "require"; see [ClientAuth].
	ClientAuth ClientAuth `koanf:"client_auth"`
}

func defaultTLS() TLS { return TLS{ClientAuth: ClientAuthRequest} }

func (t TLS) validate(dev bool) []error {
	var errs []error
	switch {
	case t.CertFile == "" && t.KeyFile != "":
		errs = append(errs, fieldErr("tls.cert_file", "is required when tls.key_file is set"))
	case t.CertFile != "" && t.KeyFile == "":
		errs = append(errs, fieldErr("tls.key_file", "is required when tls.cert_file is set"))
	case t.CertFile == "" && !dev:
		errs = append(errs, fieldErr("tls.cert_file", "is required outside dev mode (with tls.key_file)"))
	}
	switch t.ClientAuth {
	case "", ClientAuthRequest, ClientAuthRequire:
	default:
		errs = append(errs, fieldErr("tls.client_auth", "must be request or require, not %q", t.ClientAuth))
	}
	return errs
}
