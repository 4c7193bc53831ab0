package obsig_test

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/idempotency"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/obsig"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/store"
)

// The wiring of a payment consent endpoint: x-jws-signature outermost (every answer signed,
// replays included), x-idempotency-key inside it, then the consent handler. clientOf is the
// hook that names the authenticated client (e.g. from the client_credentials token bound to
// the mTLS certificate).
func ExampleMiddleware_Require() {
	var (
		keys      *clientauth.KeyResolver // the one shared with client authentication
		validator *pki.Validator          // the transport validator; it validates QSealCs too
		bankKeys  *jose.KeyStore          // with SetSealKey done (app: keys.seal_*_file)
		st        *store.Store
		clientOf  func(r *http.Request) (*client.Client, error)
		create    http.Handler // POST /domestic-payment-consents
	)
	v, err := obsig.NewVerifier(obsig.VerifierOptions{
		Keys: keys, Certificates: validator, TrustAnchors: []string{"openbanking.org.uk"},
	})
	if err != nil {
		panic(err)
	}
	sig, err := obsig.New(obsig.Options{
		Verifier: v, Client: clientOf, Signer: bankKeys,
		Issuer: "0015800000jf7AeAAI", TrustAnchor: "openbanking.org.uk",
	})
	if err != nil {
		panic(err)
	}
	idem, err := idempotency.New(idempotency.Options{Store: st, ClientID: func(r *http.Request) (string, error) {
		c, err := clientOf(r)
		if err != nil || c == nil {
			return "", errors.Join(err, errors.New("no client"))
		}
		return c.ID, nil
	}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /open-banking/v3.1/pisp/domestic-payment-consents", sig.Require(idem.Wrap(create)))
	mux.Handle("GET /open-banking/v3.1/pisp/domestic-payment-consents/{ConsentId}", sig.Sign(create))
}
