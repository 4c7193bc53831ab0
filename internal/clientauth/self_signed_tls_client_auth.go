package clientauth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/pki"
)

// selfSignedTLSClientAuth is self-signed certificate mutual-TLS client authentication
// (RFC 8705 §2.2). The TLS handshake proved that the caller holds the private key of the
// presented leaf certificate; the client is authenticated when that certificate's public key
// equals one of the signature keys registered in the client's JWK Set (its jwks, or its
// jwks_uri through the cache). A registered key's x5c is not consulted: the proof is
// possession of the key, which the certificate only carries.
//
// The certificate is not validated against a trust anchor — that is the point of the method —
// so the leaf comes from [Request.PresentedChain] and pki's verdict (typically "unknown
// authority") is ignored, with two exceptions that fail closed: a certificate pki found
// revoked is refused, and so is one outside its own validity period (checked here with the
// clock). Revocation is otherwise not checked: a self-signed certificate has no issuer to
// revoke it; the client withdraws it by removing the key from its JWK Set.
//
// A client whose jwks_uri set does not (yet) hold the key is recognised once the cached set
// expires (package jose honours the server's Cache-Control within its bounds); there is no
// refetch per unknown certificate, so presenting random certificates cannot make Portcullis
// hammer the client's server.
//
// Errors: [ErrNoCertificate], [ErrCertificateInvalid], [ErrKeysUnavailable],
// [ErrSubjectMismatch].
func (a *Authenticator) selfSignedTLSClientAuth(ctx context.Context, c *client.Client, req Request) (*Result, error) {
	leaf, identity, err := presentedLeaf(req)
	if err != nil {
		return nil, err
	}
	now := a.clk.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fail(ErrCertificateInvalid, "client certificate expired or not yet valid")
	}
	keys, err := a.clientKeys(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, k := range keys.Keys() {
		if k.Equal(leaf.PublicKey) {
			return &Result{Client: c, Method: client.AuthSelfSignedTLSClientAuth, Identity: identity, Certificate: leaf}, nil
		}
	}
	return nil, fail(ErrSubjectMismatch, "client certificate does not match a registered key of the client")
}

// presentedLeaf returns the leaf certificate the request presented and, when pki validated
// it, its identity.
func presentedLeaf(req Request) (*x509.Certificate, *pki.Identity, error) {
	switch err := req.IdentityErr; {
	case err == nil && req.Identity != nil && req.Identity.Leaf != nil:
		return req.Identity.Leaf, req.Identity, nil
	case errors.Is(err, mtls.ErrNoClientCertificate):
		return nil, nil, failWith(ErrNoCertificate, "client certificate required", err)
	case errors.Is(err, mtls.ErrNoExtractor):
		return nil, nil, fmt.Errorf("clientauth: %w", err)
	case errors.Is(err, pki.ErrRevoked):
		return nil, nil, failWith(ErrCertificateInvalid, "client certificate revoked", err)
	}
	if len(req.PresentedChain) == 0 || req.PresentedChain[0] == nil {
		return nil, nil, failWith(ErrNoCertificate, "client certificate required", req.IdentityErr)
	}
	return req.PresentedChain[0], nil, nil
}
