package clientauth

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
)

// revokedSerials is a pki.RevocationChecker that knows a set of revoked serials and
// answers "good" for every other certificate.
type revokedSerials map[string]bool

func (r revokedSerials) Check(_ context.Context, cert, _ *x509.Certificate, _ bool) error {
	if r[cert.SerialNumber.String()] {
		return &revocation.RevokedError{Serial: cert.SerialNumber, Reason: 1, Source: revocation.SourceCRL}
	}
	return nil
}

// TestWithPKIValidator runs the certificate methods on the real outcome of pki
// validation (the contract between mtls/pki and clientauth): a good chain, a revoked one,
// and a self-signed certificate that pki refuses as of unknown authority.
func TestWithPKIValidator(t *testing.T) {
	f := newFixture(t)
	ca := pkitest.NewCA(t, pkitest.CAOptions{Clock: f.clk, Intermediate: true})
	issue := func() *pkitest.Leaf {
		return ca.Issue(t, pkitest.LeafOptions{
			Subject:                pkix.Name{CommonName: "0015800001HQQrZAAX", Organization: []string{"Example TPP Ltd"}, Country: []string{"GB"}},
			OrganizationIdentifier: "PSDGB-FCA-123456",
			EKU:                    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			KeyUsage:               x509.KeyUsageDigitalSignature,
		})
	}
	good, revoked := issue(), issue()
	v, err := pki.NewValidator(pki.Options{
		Anchors:    []pki.Anchor{{Name: "test", Cert: ca.Root, Profile: pki.ProfilePlain}},
		Revocation: revokedSerials{revoked.Cert.SerialNumber.String(): true},
		Clock:      f.clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	request := func(clientID string, chain []*x509.Certificate) Request {
		id, idErr := v.Validate(context.Background(), chain, pki.PurposeTransport)
		return Request{Form: idForm(clientID), Identity: id, IdentityErr: idErr, PresentedChain: chain, Endpoint: EndpointToken}
	}
	selfChain := []*x509.Certificate{f.selfCert}

	tests := []struct {
		name       string
		req        Request
		want       error // nil: success
		wantCause  error
		wantMethod string
	}{
		{"tls_client_auth, good chain", request("tls-client", good.Chain), nil, nil, client.AuthTLSClientAuth},
		{"tls_client_auth, revoked", request("tls-client", revoked.Chain), ErrCertificateInvalid, revocation.ErrRevoked, ""},
		{"tls_client_auth, self-signed", request("tls-client", selfChain), ErrCertificateInvalid, pki.ErrUnknownAuthority, ""},
		{"self_signed_tls_client_auth", request("self-client", selfChain), nil, nil, client.AuthSelfSignedTLSClientAuth},
		{"self_signed_tls_client_auth with a CA-issued certificate of another key", request("self-client", good.Chain), ErrSubjectMismatch, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.auth.Authenticate(context.Background(), tt.req)
			if tt.want != nil {
				checkFailure(t, res, err, tt.want)
				if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
					t.Errorf("error %v does not wrap %v", err, tt.wantCause)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if res.Method != tt.wantMethod || res.Certificate != tt.req.PresentedChain[0] {
				t.Errorf("Authenticate = %s, certificate %v", res.Method, res.Certificate.Subject)
			}
		})
	}
}
