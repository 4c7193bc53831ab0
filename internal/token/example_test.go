package token_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

type noRevocations struct{}

func (noRevocations) RevocationsSince(context.Context, time.Time, int) ([]store.Revocation, error) {
	return nil, nil
}

// The token endpoint issues a certificate-bound token; the gateway verifies it
// and checks it against the request's client certificate.
func Example() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	k, _ := jose.GenerateSigningKey(jose.ES256)
	keys, _ := jose.NewKeyStore(jose.KeyStoreOptions{Clock: clk}, k)
	deny, _ := token.NewDenyList(token.DenyListOptions{Source: noRevocations{}, Clock: clk})
	_ = deny.Refresh(ctx) // in production: go deny.Run(ctx)

	iss, _ := token.NewIssuer(token.IssuerOptions{Keys: keys, Issuer: "https://as.bank.example", Clock: clk})
	ver, _ := token.NewVerifier(token.VerifierOptions{Keys: keys, Issuer: "https://as.bank.example", Clock: clk, DenyList: deny})

	// The x5t#S256 of the client certificate (pki.Identity.Thumbprint of the request's
	// validated identity).
	cert := pki.Thumbprint(&x509.Certificate{Raw: []byte("DER of the client certificate")})
	raw, _, err := iss.Issue(ctx, token.Claims{ClientID: "tpp-1", Use: token.UseApplication, Scopes: []string{"accounts"}, CertThumbprint: cert})
	if err != nil {
		panic(err)
	}

	at, err := ver.Verify(ctx, raw)
	if err != nil {
		panic(err)
	}
	fmt.Println(at.ClientID, at.Use, at.HasScope("accounts"))
	fmt.Println(token.CheckBinding(at, cert) == nil)
	fmt.Println(errors.Is(token.CheckBinding(at, pki.Thumbprint(&x509.Certificate{Raw: []byte("another certificate")})), token.ErrCertificateMismatch))
	// Output:
	// tpp-1 APPLICATION true
	// true
	// true
}
