package jose_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/jose"
)

// A client assertion (private_key_jwt) checked against the client's registered
// JWK Set. The caller decodes the claims and applies its own rules.
func ExampleVerifyJWT() {
	// The client's key pair; the authorization server only ever sees the public
	// JWK Set.
	clientKey, _ := jose.GenerateSigningKey(jose.ES256)
	client, _ := jose.NewKeyStore(jose.KeyStoreOptions{}, clientKey)
	keys, err := jose.ParseJWKS(client.JWKS())
	if err != nil {
		panic(err)
	}
	assertion, _ := client.Sign([]byte(`{"iss":"tpp-1","sub":"tpp-1","aud":"https://as.example","jti":"x1","exp":1900000000}`), "")

	v, err := jose.VerifyJWT(context.Background(), assertion, keys, jose.VerifyOptions{Profile: jose.FAPI1})
	if err != nil {
		panic(err)
	}
	var claims struct{ Iss, Sub string }
	_ = json.Unmarshal(v.Payload, &claims)
	fmt.Println(v.Header.Alg, claims.Iss, v.Key.KeyID() == clientKey.KeyID())

	// An unsigned token is refused before any key is looked at.
	_, err = jose.VerifyJWT(context.Background(), "eyJhbGciOiJub25lIn0.e30.", keys, jose.VerifyOptions{})
	fmt.Println(errors.Is(err, jose.ErrAlgNotAllowed))
	// Output:
	// ES256 tpp-1 true
	// true
}
