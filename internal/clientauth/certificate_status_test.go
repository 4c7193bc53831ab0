package clientauth

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/internal/pki"
)

// TestCertificateStatusUnavailable: when pki could not establish the presented
// certificate's revocation status, the certificate methods and private_key_jwt refuse
// the request with ErrCertificateStatusUnavailable — not an *Error (the client is not at
// fault), not ErrInternal — which goes on the wire as 503 temporarily_unavailable.
func TestCertificateStatusUnavailable(t *testing.T) {
	f := newFixture(t)
	unavailable := &pki.ValidationError{Reason: pki.ErrRevocationUnavailable, Err: errors.New("OCSP and CRL down")}
	for _, tt := range []struct {
		name string
		req  Request
	}{
		{"tls_client_auth", Request{Form: idForm("tls-client"), IdentityErr: unavailable, Endpoint: EndpointToken}},
		{"private_key_jwt with a certificate", Request{Form: assertionForm(f.es256().sign(t, f.claims("fapi1-client", issuer)), ""),
			IdentityErr: unavailable, Endpoint: EndpointToken}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.auth.Authenticate(context.Background(), tt.req)
			if res != nil || !errors.Is(err, ErrCertificateStatusUnavailable) || !errors.Is(err, pki.ErrRevocationUnavailable) {
				t.Fatalf("Authenticate = %+v, %v; want ErrCertificateStatusUnavailable wrapping pki's verdict", res, err)
			}
			var e *Error
			if errors.As(err, &e) || errors.Is(err, ErrInternal) {
				t.Errorf("Authenticate error %v is an *Error or ErrInternal", err)
			}
			if status, code, _ := toWire(t, err); status != http.StatusServiceUnavailable || code != "temporarily_unavailable" {
				t.Errorf("on the wire: %d %s, want 503 temporarily_unavailable", status, code)
			}
		})
	}
}
