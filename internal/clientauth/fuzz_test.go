package clientauth

import (
	"context"
	"errors"
	"net/url"
	"testing"
)

// FuzzParseClaims: the claims parser takes attacker bytes before any signature is checked.
// It must not panic, and what it accepts must be internally consistent.
func FuzzParseClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"a","sub":"a","aud":"https://as.example.com","exp":1799999999,"iat":1799999900,"jti":"j"}`,
		`{"iss":"a","sub":"a","aud":["x","y"],"exp":1.5e9,"nbf":0}`,
		`{"iss":"a","iss":"b"}`,
		`{"exp":-1}`, `{"exp":1e400}`, `{"aud":7}`, `[]`, `{}`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"exp":"1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cl, err := parseClaims(data)
		if err != nil {
			if !errors.Is(err, errClaims) {
				t.Fatalf("error %v does not wrap errClaims", err)
			}
			return
		}
		for _, tc := range []timeClaim{cl.exp, cl.iat, cl.nbf} {
			if tc.present && (tc.value.Unix() < 0 || tc.value.Unix() > maxNumericDate) {
				t.Fatalf("NumericDate %v out of range accepted", tc.value)
			}
		}
		if len(cl.aud) > 0 && cl.aud[0] != '"' && cl.aud[0] != '[' {
			t.Fatalf("aud %s accepted", cl.aud)
		}
	})
}

// FuzzAuthenticateAssertion: whatever arrives as client_assertion, Authenticate does not
// panic and refuses it as invalid_client (or, for a seed that is a genuine assertion,
// accepts it once).
func FuzzAuthenticateAssertion(f *testing.F) {
	fx := newFixture(f)
	c := fx.claims("fapi1-client", issuer)
	f.Add(fx.es256().sign(f, c), "")
	f.Add(testSigner{alg: "RS256", kid: "r1", key: fx.rsa1}.sign(f, c), "fapi1-client")
	f.Add(testSigner{alg: "none"}.sign(f, c), "")
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.", "x")
	f.Add("a.b.c", "")
	f.Add("", "fapi1-client")
	f.Fuzz(func(t *testing.T, assertion, clientID string) {
		form := url.Values{"client_assertion_type": {AssertionType}, "client_assertion": {assertion}}
		if clientID != "" {
			form.Set("client_id", clientID)
		}
		res, err := fx.auth.Authenticate(context.Background(), Request{Form: form, IdentityErr: noCert, Endpoint: EndpointToken})
		if err == nil {
			if res == nil || res.Client == nil {
				t.Fatalf("nil result without error")
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Authenticate = %v, want an *Error", err)
		}
	})
}
