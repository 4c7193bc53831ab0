package clientauth

import (
	"context"
	"testing"
)

// BenchmarkAuthenticatePrivateKeyJWT: one ES256 client assertion per operation, against
// fake stores (the database round trip of the jti is not included).
func BenchmarkAuthenticatePrivateKeyJWT(b *testing.B) {
	f := newFixture(b)
	reqs := make([]Request, b.N)
	for i := range reqs {
		reqs[i] = Request{Form: assertionForm(f.es256().sign(b, f.claims("fapi1-client", issuer)), ""), IdentityErr: noCert, Endpoint: EndpointToken}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.auth.Authenticate(context.Background(), reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateTLSClientAuth: subject DN matching of an already validated
// certificate.
func BenchmarkAuthenticateTLSClientAuth(b *testing.B) {
	f := newFixture(b)
	req := Request{Form: idForm("tls-client"), Identity: identityOf(b, f.tlsLeaf), Endpoint: EndpointToken}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := f.auth.Authenticate(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
