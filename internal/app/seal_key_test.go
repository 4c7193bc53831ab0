package app_test

import (
	"context"
	"testing"

	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// TestDevSealKeyPublished: in dev mode the bank's message-signing key is a sandbox QSealC,
// published in /jwks with its x5c chain, and signs x-jws-signature values that verify
// against that JWK Set.
func TestDevSealKeyPublished(t *testing.T) {
	a := startApp(t, nil)
	set, err := jose.ParseJWKS(a.Keys.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	var sealed *jose.PublicKey
	for _, k := range set.Keys() {
		if len(k.Certificates()) > 0 {
			if sealed != nil {
				t.Fatal("more than one key with x5c")
			}
			sealed = k
		}
	}
	if sealed == nil || sealed.KeyID() != a.Keys.SealKey().KeyID() || sealed.Alg() != jose.PS256 {
		t.Fatalf("no PS256 seal key with x5c in %s", a.Keys.JWKS())
	}
	chain := sealed.Certificates()
	qc, err := eidas.FromCertificate(chain[0])
	if err != nil || qc == nil || len(qc.Types) != 1 || qc.Types[0] != eidas.QcTypeESeal || len(chain) < 2 {
		t.Fatalf("seal certificate: %+v, %v, chain of %d", qc, err, len(chain))
	}
	body := []byte(`{"Data":{}}`)
	sig, err := a.Keys.SignDetached(body, jose.DetachedEncoded, jose.DetachedClaims{Issuer: "bank", TrustAnchor: "openbanking.org.uk", IssuedAt: chain[0].NotBefore})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jose.VerifyDetached(context.Background(), sig, body, set, jose.DetachedOptions{TrustAnchors: []string{"openbanking.org.uk"}}); err != nil {
		t.Fatalf("bank signature against /jwks: %v", err)
	}
}
