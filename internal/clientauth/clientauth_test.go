package clientauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
	"github.com/portcullis/portcullis/internal/store"
)

const (
	issuer   = "https://as.example.com"
	tokenURL = issuer + "/token"
	parURL   = issuer + "/par"

	registeredDN = "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB"
)

var epoch = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// fixture is an Authenticator over fake stores with one client of every kind.
type fixture struct {
	clk     *clock.Fake
	clients *fakeClients
	jtis    *fakeJTIs
	auth    *Authenticator

	ec1   *ecdsa.PrivateKey  // fapi1-client, kid k1 (ES256)
	rsa1  *rsa.PrivateKey    // fapi1-client, kid r1 (PS256)
	ec2   *ecdsa.PrivateKey  // fapi2-client, kid k2
	ed2   ed25519.PrivateKey // fapi2-client, kid e2 (EdDSA)
	other *ecdsa.PrivateKey  // nobody's key

	selfKey  *ecdsa.PrivateKey
	selfCert *x509.Certificate

	tlsLeaf, otherLeaf *x509.Certificate
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{
		clk:   clock.NewFake(epoch),
		jtis:  &fakeJTIs{},
		ec1:   newEC(t),
		rsa1:  testRSA(t),
		ec2:   newEC(t),
		other: newEC(t),
	}
	var err error
	_, f.ed2, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.selfKey = newEC(t)
	f.selfCert = selfSignedCert(t, f.selfKey, epoch.Add(-time.Hour), epoch.Add(24*time.Hour))

	ca := pkitest.NewCA(t, pkitest.CAOptions{Clock: f.clk})
	f.tlsLeaf = ca.Issue(t, pkitest.LeafOptions{
		Subject:                pkix.Name{CommonName: "0015800001HQQrZAAX", Organization: []string{"Example TPP Ltd"}, Country: []string{"GB"}},
		OrganizationIdentifier: "PSDGB-FCA-123456",
		DNSNames:               []string{"tpp.example.com"},
		URIs:                   []*url.URL{{Scheme: "spiffe", Host: "tpp.example.com", Path: "/client"}},
		EKU:                    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}).Cert
	f.otherLeaf = ca.Issue(t, pkitest.LeafOptions{
		Subject:                pkix.Name{CommonName: "0015800001ZZZZZZZZ", Organization: []string{"Example TPP Ltd"}, Country: []string{"GB"}},
		OrganizationIdentifier: "PSDGB-FCA-123456",
		DNSNames:               []string{"other.example.com"},
		EKU:                    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}).Cert

	clients := []*client.Client{
		{ID: "fapi1-client", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, Profile: client.ProfileFAPI1,
			JWKS: jwksJSON(t, ecJWK(&f.ec1.PublicKey, "k1"), rsaJWK(&f.rsa1.PublicKey, "r1"))},
		{ID: "fapi2-client", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, Profile: client.ProfileFAPI2,
			JWKS: jwksJSON(t, ecJWK(&f.ec2.PublicKey, "k2"), edJWK(f.ed2.Public().(ed25519.PublicKey), "e2"))},
		{ID: "pinned-client", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, TokenEndpointAuthSigningAlg: client.AlgES256,
			JWKS: jwksJSON(t, ecJWK(&f.ec1.PublicKey, "k1"), rsaJWK(&f.rsa1.PublicKey, "r1"))},
		{ID: "tls-client", TokenEndpointAuthMethod: client.AuthTLSClientAuth, TLSClientAuthSubjectDN: registeredDN},
		{ID: "tls-san-client", TokenEndpointAuthMethod: client.AuthTLSClientAuth, TLSClientAuthSANDNS: "TPP.example.com"},
		{ID: "tls-uri-client", TokenEndpointAuthMethod: client.AuthTLSClientAuth, TLSClientAuthSANURI: "spiffe://tpp.example.com/client"},
		{ID: "self-client", TokenEndpointAuthMethod: client.AuthSelfSignedTLSClientAuth, Profile: client.ProfileFAPI2,
			JWKS: jwksJSON(t, ecJWK(&f.selfKey.PublicKey, "s1"))},
	}
	f.clients = &fakeClients{clients: map[string]*client.Client{}}
	for _, c := range clients {
		c.GrantTypes = []string{client.GrantClientCredentials}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			t.Fatalf("fixture client %s: %v", c.ID, err)
		}
		f.clients.clients[c.ID] = c
	}
	f.auth, err = New(Options{
		Clients: f.clients, JTIs: f.jtis, Clock: f.clk,
		Issuer: issuer, TokenEndpoint: tokenURL, PAREndpoint: parURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// claims returns a valid assertion claims set from clientID to aud.
func (f *fixture) claims(clientID string, aud any) map[string]any {
	now := f.clk.Now().Unix()
	return map[string]any{
		"iss": clientID, "sub": clientID, "aud": aud,
		"iat": now, "exp": now + 60, "jti": newJTI(),
	}
}

func (f *fixture) es256() testSigner { return testSigner{alg: "ES256", kid: "k1", key: f.ec1} }
func (f *fixture) fapi2() testSigner { return testSigner{alg: "ES256", kid: "k2", key: f.ec2} }

// assertionForm is the form of a private_key_jwt request; clientID "" omits client_id.
func assertionForm(token, clientID string) url.Values {
	v := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {AssertionType},
		"client_assertion":      {token},
	}
	if clientID != "" {
		v.Set("client_id", clientID)
	}
	return v
}

func idForm(clientID string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}}
}

// with sets claim k to v (nil deletes it) in a copy of c.
func with(c map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

var (
	noCert     = mtls.ErrNoClientCertificate
	revokedErr = &pki.ValidationError{Reason: pki.ErrRevoked, Err: &revocation.RevokedError{
		Reason: 1, Source: revocation.SourceOCSP}}
)

// ToWire is how the authorization server puts an error of Authenticate on the wire:
// oauth.FromError's status and code, and its description as oauth.WriteError sends it
// (oauth.SanitizeDescription). Package oauth imports this package, so this package's own
// tests cannot import it; TestMain in wire_test.go (package clientauth_test, in the same
// test binary) sets ToWire before any test runs.
var ToWire func(err error) (status int, code, description string)

// toWire calls ToWire, failing the test if TestMain did not set it.
func toWire(t *testing.T, err error) (status int, code, description string) {
	t.Helper()
	if ToWire == nil {
		t.Fatal("ToWire is not set (TestMain in wire_test.go)")
	}
	return ToWire(err)
}

// checkFailure asserts that err is an *Error with reason want and a detail for the audit
// trail that goes on the wire as 401 invalid_client with the one description
// FailureDescription, whatever the reason (no client-id oracle).
func checkFailure(t *testing.T, res *Result, err error, want error) {
	t.Helper()
	if res != nil {
		t.Fatalf("Authenticate = %+v, want failure %v", res, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Authenticate error = %v (%T), want *Error", err, err)
	}
	if !errors.Is(err, want) || e.Reason != want {
		t.Errorf("Authenticate error = %v, want reason %v", err, want)
	}
	status, code, desc := toWire(t, err)
	if status != http.StatusUnauthorized || code != "invalid_client" {
		t.Errorf("oauth.FromError = %d %s, want 401 invalid_client", status, code)
	}
	if desc != FailureDescription || e.Description != FailureDescription {
		t.Errorf("wire description %q (error's %q), want %q", desc, e.Description, FailureDescription)
	}
	if e.Detail == "" {
		t.Errorf("Authenticate error %v has no detail for the audit trail", err)
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	f := newFixture(t)
	c1 := func() map[string]any { return f.claims("fapi1-client", issuer) }
	c2 := func() map[string]any { return f.claims("fapi2-client", issuer) }
	now := epoch.Unix()
	pkjwt := func(token string) func() Request {
		return func() Request {
			return Request{Form: assertionForm(token, ""), IdentityErr: noCert, Endpoint: EndpointToken}
		}
	}
	hmacSecret := []byte(jwksJSON(t, ecJWK(&f.ec1.PublicKey, "k1"))) // the client's public JWK Set as HMAC key
	replayed := f.es256().sign(t, c1())
	tooLarge := f.es256().sign(t, with(c1(), "pad", strings.Repeat("x", MaxAssertionSize)))
	tampered := func() string {
		tok := f.es256().sign(t, c1())
		parts := strings.Split(tok, ".")
		parts[1] = b64.EncodeToString([]byte(fmt.Sprintf(`{"iss":"fapi1-client","sub":"fapi1-client","aud":%q,"exp":%d,"jti":"x"}`, issuer, now+60)))
		return strings.Join(parts, ".")
	}()
	tlsReq := func(form url.Values, id *pki.Identity, idErr error) func() Request {
		return func() Request { return Request{Form: form, Identity: id, IdentityErr: idErr, Endpoint: EndpointToken} }
	}
	selfReq := func(cert *x509.Certificate, idErr error) func() Request {
		return func() Request {
			r := Request{Form: idForm("self-client"), IdentityErr: idErr, Endpoint: EndpointToken}
			if cert != nil {
				r.PresentedChain = []*x509.Certificate{cert}
			}
			return r
		}
	}
	otherSelf := selfSignedCert(t, newEC(t), epoch.Add(-time.Hour), epoch.Add(time.Hour))
	expiredSelf := selfSignedCert(t, f.selfKey, epoch.Add(-48*time.Hour), epoch.Add(-time.Hour))
	unknownAuthority := &pki.ValidationError{Reason: pki.ErrUnknownAuthority}

	tests := []struct {
		name      string
		req       func() Request
		setup     func(t *testing.T, req Request)
		want      error
		wantCause error
	}{
		// aud, per profile (FAPI1-AS-03, FAPI2-AS-07)
		{name: "fapi1 wrong aud", req: pkjwt(f.es256().sign(t, with(c1(), "aud", "https://evil.example"))), want: ErrAudience},
		{name: "fapi1 array aud without us", req: pkjwt(f.es256().sign(t, with(c1(), "aud", []string{"https://evil.example", issuer + "/"}))), want: ErrAudience},
		{name: "fapi1 PAR URL at the token endpoint", req: pkjwt(f.es256().sign(t, with(c1(), "aud", parURL))), want: ErrAudience},
		{name: "fapi1 empty aud array", req: pkjwt(f.es256().sign(t, with(c1(), "aud", []string{}))), want: ErrAudience},
		{name: "aud missing", req: pkjwt(f.es256().sign(t, with(c1(), "aud", nil))), want: ErrAudience},
		{name: "fapi2 array aud holding the issuer", req: pkjwt(f.fapi2().sign(t, with(c2(), "aud", []string{issuer}))), want: ErrAudience},
		{name: "fapi2 token endpoint aud", req: pkjwt(f.fapi2().sign(t, with(c2(), "aud", tokenURL))), want: ErrAudience},
		{name: "fapi2 PAR endpoint aud at PAR", req: func() Request {
			return Request{Form: assertionForm(f.fapi2().sign(t, with(c2(), "aud", parURL)), ""), IdentityErr: noCert, Endpoint: EndpointPAR}
		}, want: ErrAudience},
		{name: "aud number", req: pkjwt(f.es256().sign(t, with(c1(), "aud", 42))), want: ErrAssertionInvalid},

		// iss / sub / client_id (FAPI1-AS-03/04)
		{name: "missing sub", req: pkjwt(f.es256().sign(t, with(c1(), "sub", nil))), want: ErrAssertionInvalid},
		{name: "missing iss", req: pkjwt(f.es256().sign(t, with(c1(), "iss", nil))), want: ErrAssertionInvalid},
		{name: "iss differs from sub", req: pkjwt(f.es256().sign(t, with(c1(), "sub", "fapi2-client"))), want: ErrClientIDMismatch},
		{name: "form client_id differs from assertion", req: func() Request {
			return Request{Form: assertionForm(f.es256().sign(t, c1()), "fapi2-client"), IdentityErr: noCert, Endpoint: EndpointToken}
		}, want: ErrClientIDMismatch},
		{name: "iss not a string", req: pkjwt(f.es256().sign(t, with(c1(), "iss", 7, "sub", 7))), want: ErrAssertionInvalid},
		{name: "unknown client", req: pkjwt(f.es256().sign(t, f.claims("ghost-client", issuer))), want: ErrUnknownClient},
		{name: "client id that cannot exist", req: func() Request {
			return Request{Form: idForm("../etc"), IdentityErr: noCert, Endpoint: EndpointToken}
		}, want: ErrUnknownClient},

		// exp / iat / nbf (RFC 7523 §3, FAPI2-AS-11)
		{name: "expired 5 minutes ago", req: pkjwt(f.es256().sign(t, with(c1(), "exp", now-300, "iat", now-360))), want: ErrExpired},
		{name: "expired beyond the skew", req: pkjwt(f.es256().sign(t, with(c1(), "exp", now-11))), want: ErrExpired},
		{name: "exp missing", req: pkjwt(f.es256().sign(t, with(c1(), "exp", nil))), want: ErrAssertionInvalid},
		{name: "exp a string", req: pkjwt(f.es256().sign(t, with(c1(), "exp", fmt.Sprint(now+60)))), want: ErrAssertionInvalid},
		{name: "exp too far ahead", req: pkjwt(f.es256().sign(t, with(c1(), "exp", now+3600))), want: ErrAssertionInvalid},
		{name: "iat 70 s in the future", req: pkjwt(f.es256().sign(t, with(c1(), "iat", now+70, "exp", now+130))), want: ErrIssuedInFuture},
		{name: "iat 11 s in the future", req: pkjwt(f.es256().sign(t, with(c1(), "iat", now+11))), want: ErrIssuedInFuture},
		{name: "nbf 70 s in the future", req: pkjwt(f.es256().sign(t, with(c1(), "nbf", now+70, "exp", now+130))), want: ErrIssuedInFuture},

		// jti (FAPI1-AS-03)
		{name: "jti missing", req: pkjwt(f.es256().sign(t, with(c1(), "jti", nil))), want: ErrAssertionInvalid},
		{name: "jti empty", req: pkjwt(f.es256().sign(t, with(c1(), "jti", ""))), want: ErrAssertionInvalid},
		{name: "jti too long", req: pkjwt(f.es256().sign(t, with(c1(), "jti", strings.Repeat("j", MaxJTILen+1)))), want: ErrAssertionInvalid},
		{name: "replayed jti", req: pkjwt(replayed), setup: func(t *testing.T, req Request) {
			if _, err := f.auth.Authenticate(context.Background(), req); err != nil {
				t.Fatalf("first use: %v", err)
			}
		}, want: ErrReplay},

		// algorithms and keys (FAPI1-AS-07)
		{name: "RS256", req: pkjwt(testSigner{alg: "RS256", kid: "r1", key: f.rsa1}.sign(t, c1())), want: ErrAlgNotAllowed, wantCause: jose.ErrAlgNotAllowed},
		{name: "HS256 keyed with the public key", req: pkjwt(testSigner{alg: "HS256", kid: "k1", key: hmacSecret}.sign(t, c1())), want: ErrAlgNotAllowed, wantCause: jose.ErrAlgNotAllowed},
		{name: "alg none", req: pkjwt(testSigner{alg: "none"}.sign(t, c1())), want: ErrAlgNotAllowed, wantCause: jose.ErrAlgNotAllowed},
		{name: "EdDSA under fapi1", req: pkjwt(testSigner{alg: "EdDSA", kid: "k1", key: f.ed2}.sign(t, c1())), want: ErrAlgNotAllowed},
		{name: "PS256 when ES256 is registered", req: pkjwt(testSigner{alg: "PS256", kid: "r1", key: f.rsa1}.sign(t, f.claims("pinned-client", issuer))), want: ErrAlgNotAllowed},
		{name: "signed by another key under the client's kid", req: pkjwt(testSigner{alg: "ES256", kid: "k1", key: f.other}.sign(t, c1())), want: ErrBadSignature, wantCause: jose.ErrBadSignature},
		{name: "signed by another client's key", req: pkjwt(f.fapi2().sign(t, c1())), want: ErrUnknownKey, wantCause: jose.ErrUnknownKey},
		{name: "tampered payload", req: pkjwt(tampered), want: ErrBadSignature},
		{name: "typ of an access token", req: pkjwt(testSigner{alg: "ES256", kid: "k1", key: f.ec1, extraHeader: map[string]any{"typ": "at+jwt"}}.sign(t, c1())), want: ErrAssertionInvalid},
		{name: "duplicate claim", req: pkjwt(f.es256().sign(t, []byte(fmt.Sprintf(
			`{"iss":"fapi1-client","sub":"fapi1-client","aud":%q,"exp":%d,"jti":"d1","jti":"d2"}`, issuer, now+60)))), want: ErrAssertionInvalid},
		{name: "not a JWT", req: pkjwt("not-a-jwt"), want: ErrAssertionInvalid},
		{name: "JWE", req: pkjwt("a.b.c.d.e"), want: ErrAssertionInvalid},
		{name: "assertion too large", req: pkjwt(tooLarge), want: ErrAssertionInvalid},

		// the request's shape (FAPI1-AS-02)
		{name: "wrong assertion type", req: func() Request {
			form := assertionForm(f.es256().sign(t, c1()), "")
			form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			return Request{Form: form, IdentityErr: noCert, Endpoint: EndpointToken}
		}, want: ErrInvalidRequest},
		{name: "assertion without type", req: func() Request {
			form := assertionForm(f.es256().sign(t, c1()), "")
			form.Del("client_assertion_type")
			return Request{Form: form, IdentityErr: noCert, Endpoint: EndpointToken}
		}, want: ErrInvalidRequest},
		{name: "type without assertion", req: func() Request {
			form := idForm("fapi1-client")
			form.Set("client_assertion_type", AssertionType)
			return Request{Form: form, IdentityErr: noCert, Endpoint: EndpointToken}
		}, want: ErrInvalidRequest},
		{name: "client_secret_post", req: func() Request {
			form := idForm("fapi1-client")
			form.Set("client_secret", "s3cret")
			return Request{Form: form, IdentityErr: noCert, Endpoint: EndpointToken}
		}, want: ErrInvalidRequest},
		{name: "client_secret_basic", req: func() Request {
			return Request{Form: idForm("fapi1-client"), AuthorizationHeader: true, IdentityErr: noCert, Endpoint: EndpointToken}
		}, want: ErrInvalidRequest},
		{name: "client_id twice", req: func() Request {
			form := idForm("tls-client")
			form.Add("client_id", "fapi1-client")
			return Request{Form: form, Identity: identityOf(t, f.tlsLeaf), Endpoint: EndpointToken}
		}, want: ErrInvalidRequest},
		{name: "no client authentication", req: func() Request {
			return Request{Form: url.Values{"grant_type": {"client_credentials"}}, IdentityErr: noCert, Endpoint: EndpointToken}
		}, want: ErrNoCredentials},
		{name: "private_key_jwt client without assertion", req: func() Request {
			return Request{Form: idForm("fapi1-client"), Identity: identityOf(t, f.tlsLeaf), Endpoint: EndpointToken}
		}, want: ErrMethodMismatch},
		{name: "assertion from a tls_client_auth client", req: func() Request {
			tok := f.es256().sign(t, f.claims("tls-client", issuer))
			return Request{Form: assertionForm(tok, ""), Identity: identityOf(t, f.tlsLeaf), Endpoint: EndpointToken}
		}, want: ErrMethodMismatch},
		{name: "private_key_jwt with a revoked certificate", req: func() Request {
			return Request{Form: assertionForm(f.es256().sign(t, c1()), ""), IdentityErr: revokedErr, Endpoint: EndpointToken}
		}, want: ErrCertificateInvalid, wantCause: revocation.ErrRevoked},

		// tls_client_auth (RFC 8705 §2.1, FAPI1-AS-05)
		{name: "tls_client_auth with another subject", req: tlsReq(idForm("tls-client"), identityOf(t, f.otherLeaf), nil), want: ErrSubjectMismatch},
		{name: "tls_client_auth with a revoked certificate", req: tlsReq(idForm("tls-client"), nil, revokedErr), want: ErrCertificateInvalid, wantCause: revocation.ErrRevoked},
		{name: "tls_client_auth with an untrusted certificate", req: tlsReq(idForm("tls-client"), nil, unknownAuthority), want: ErrCertificateInvalid, wantCause: pki.ErrUnknownAuthority},
		{name: "tls_client_auth without certificate", req: tlsReq(idForm("tls-client"), nil, noCert), want: ErrNoCertificate},
		{name: "tls_client_auth SAN DNS mismatch", req: tlsReq(idForm("tls-san-client"), identityOf(t, f.otherLeaf), nil), want: ErrSubjectMismatch},
		{name: "tls_client_auth SAN URI mismatch", req: tlsReq(idForm("tls-uri-client"), identityOf(t, f.otherLeaf), nil), want: ErrSubjectMismatch},

		// self_signed_tls_client_auth (RFC 8705 §2.2)
		{name: "self-signed certificate of another key", req: selfReq(otherSelf, unknownAuthority), want: ErrSubjectMismatch},
		{name: "expired self-signed certificate", req: selfReq(expiredSelf, unknownAuthority), want: ErrCertificateInvalid},
		{name: "self-signed without certificate", req: selfReq(nil, noCert), want: ErrNoCertificate},
		{name: "self-signed certificate found revoked", req: selfReq(f.selfCert, revokedErr), want: ErrCertificateInvalid, wantCause: revocation.ErrRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req()
			if tt.setup != nil {
				tt.setup(t, req)
			}
			res, err := f.auth.Authenticate(context.Background(), req)
			checkFailure(t, res, err, tt.want)
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("error %v does not wrap %v", err, tt.wantCause)
			}
		})
	}
}

func TestAuthenticateAccepts(t *testing.T) {
	f := newFixture(t)
	c1 := func() map[string]any { return f.claims("fapi1-client", issuer) }
	c2 := func() map[string]any { return f.claims("fapi2-client", issuer) }
	now := epoch.Unix()
	tlsID := identityOf(t, f.tlsLeaf)
	pkjwt := func(token, formID string, ep Endpoint) func() Request {
		return func() Request { return Request{Form: assertionForm(token, formID), IdentityErr: noCert, Endpoint: ep} }
	}
	tlsClient := func(dnVariant string) func() Request {
		return func() Request {
			f.clients.clients["tls-client"].TLSClientAuthSubjectDN = dnVariant
			return Request{Form: idForm("tls-client"), Identity: tlsID, Endpoint: EndpointToken}
		}
	}

	tests := []struct {
		name       string
		req        func() Request
		wantClient string
		wantMethod string
		wantCert   *x509.Certificate
	}{
		{"fapi1 aud issuer", pkjwt(f.es256().sign(t, c1()), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"fapi1 aud token endpoint", pkjwt(f.es256().sign(t, with(c1(), "aud", tokenURL)), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"fapi1 aud array with the issuer", pkjwt(f.es256().sign(t, with(c1(), "aud", []string{"https://other.example", issuer})), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"fapi1 aud PAR URL at PAR", pkjwt(f.es256().sign(t, with(c1(), "aud", parURL)), "", EndpointPAR), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"fapi1 PS256", pkjwt(testSigner{alg: "PS256", kid: "r1", key: f.rsa1}.sign(t, c1()), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"fapi1 without kid", pkjwt(testSigner{alg: "ES256", key: f.ec1}.sign(t, c1()), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"fapi1 with matching form client_id", pkjwt(f.es256().sign(t, c1()), "fapi1-client", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"fapi1 typ JWT", pkjwt(testSigner{alg: "ES256", kid: "k1", key: f.ec1, extraHeader: map[string]any{"typ": "JWT"}}.sign(t, c1()), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"fapi2 aud issuer", pkjwt(f.fapi2().sign(t, c2()), "", EndpointToken), "fapi2-client", client.AuthPrivateKeyJWT, nil},
		{"fapi2 at introspection", pkjwt(f.fapi2().sign(t, c2()), "", EndpointIntrospection), "fapi2-client", client.AuthPrivateKeyJWT, nil},
		{"fapi2 EdDSA", pkjwt(testSigner{alg: "EdDSA", kid: "e2", key: f.ed2}.sign(t, c2()), "", EndpointRevocation), "fapi2-client", client.AuthPrivateKeyJWT, nil},
		{"iat 5 s in the future", pkjwt(f.es256().sign(t, with(c1(), "iat", now+5)), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"nbf 10 s in the future", pkjwt(f.es256().sign(t, with(c1(), "nbf", now+10)), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"no iat", pkjwt(f.es256().sign(t, with(c1(), "iat", nil)), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"exp 5 s ago, within the skew", pkjwt(f.es256().sign(t, with(c1(), "exp", now-5)), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"fractional exp", pkjwt(f.es256().sign(t, with(c1(), "exp", float64(now)+59.5)), "", EndpointToken), "fapi1-client", client.AuthPrivateKeyJWT, nil},
		{"pinned alg", pkjwt(f.es256().sign(t, f.claims("pinned-client", issuer)), "", EndpointToken), "pinned-client", client.AuthPrivateKeyJWT, nil},
		{"private_key_jwt over mTLS", func() Request {
			return Request{Form: assertionForm(f.es256().sign(t, c1()), ""), Identity: identityOf(t, f.otherLeaf), Endpoint: EndpointToken}
		}, "fapi1-client", client.AuthPrivateKeyJWT, f.otherLeaf},

		{"tls_client_auth DN as registered", tlsClient(registeredDN), "tls-client", client.AuthTLSClientAuth, f.tlsLeaf},
		{"tls_client_auth DN in other case", tlsClient("cn=0015800001hqqrzaax,ORGANIZATIONIDENTIFIER=psdgb-fca-123456,o=EXAMPLE TPP LTD,c=gb"), "tls-client", client.AuthTLSClientAuth, f.tlsLeaf},
		{"tls_client_auth DN with spaces", tlsClient("CN=0015800001HQQrZAAX, organizationIdentifier = PSDGB-FCA-123456, O=Example   TPP Ltd, C=GB"), "tls-client", client.AuthTLSClientAuth, f.tlsLeaf},
		{"tls_client_auth DN with OIDs and long names", tlsClient("commonName=0015800001HQQrZAAX,2.5.4.97=PSDGB-FCA-123456,organizationName=Example TPP Ltd,countryName=GB"), "tls-client", client.AuthTLSClientAuth, f.tlsLeaf},
		{"tls_client_auth SAN DNS", func() Request {
			return Request{Form: idForm("tls-san-client"), Identity: tlsID, Endpoint: EndpointToken}
		}, "tls-san-client", client.AuthTLSClientAuth, f.tlsLeaf},
		{"tls_client_auth SAN URI", func() Request {
			return Request{Form: idForm("tls-uri-client"), Identity: tlsID, Endpoint: EndpointPAR}
		}, "tls-uri-client", client.AuthTLSClientAuth, f.tlsLeaf},

		{"self_signed", func() Request {
			return Request{Form: idForm("self-client"), IdentityErr: &pki.ValidationError{Reason: pki.ErrUnknownAuthority},
				PresentedChain: []*x509.Certificate{f.selfCert}, Endpoint: EndpointToken}
		}, "self-client", client.AuthSelfSignedTLSClientAuth, f.selfCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.auth.Authenticate(context.Background(), tt.req())
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if res.Client.ID != tt.wantClient || res.Method != tt.wantMethod || res.Certificate != tt.wantCert {
				t.Errorf("Authenticate = client %s method %s cert %v, want %s %s %v",
					res.Client.ID, res.Method, res.Certificate != nil, tt.wantClient, tt.wantMethod, tt.wantCert != nil)
			}
			if res.Method == client.AuthTLSClientAuth && res.Identity != tlsID {
				t.Errorf("Identity not passed through")
			}
		})
	}
	f.clients.clients["tls-client"].TLSClientAuthSubjectDN = registeredDN
}

// TestAuthenticateCouldNotCheck: failures of Portcullis's own dependencies are not
// invalid_client but server errors (the request is still refused).
func TestAuthenticateCouldNotCheck(t *testing.T) {
	down := errors.New("database unreachable")
	tests := []struct {
		name string
		mod  func(f *fixture)
		req  func(f *fixture) Request
	}{
		{"client registry down", func(f *fixture) { f.clients.fail = down }, func(f *fixture) Request {
			return Request{Form: assertionForm(f.es256().sign(t, f.claims("fapi1-client", issuer)), ""), IdentityErr: noCert, Endpoint: EndpointToken}
		}},
		{"jti store down", func(f *fixture) { f.jtis.fail = down }, func(f *fixture) Request {
			return Request{Form: assertionForm(f.es256().sign(t, f.claims("fapi1-client", issuer)), ""), IdentityErr: noCert, Endpoint: EndpointToken}
		}},
		// What the dependency's error wraps does not change the answer: not 503 for a
		// context error, not 400 for a store input error.
		{"client registry times out", func(f *fixture) { f.clients.fail = fmt.Errorf("client: get: %w", context.DeadlineExceeded) }, func(f *fixture) Request {
			return Request{Form: idForm("tls-client"), Identity: identityOf(t, f.tlsLeaf), Endpoint: EndpointToken}
		}},
		{"jti store refuses its input", func(f *fixture) { f.jtis.fail = fmt.Errorf("store: %w", store.ErrInvalidInput) }, func(f *fixture) Request {
			return Request{Form: assertionForm(f.es256().sign(t, f.claims("fapi1-client", issuer)), ""), IdentityErr: noCert, Endpoint: EndpointToken}
		}},
		{"jti store canceled", func(f *fixture) { f.jtis.fail = context.Canceled }, func(f *fixture) Request {
			return Request{Form: assertionForm(f.es256().sign(t, f.claims("fapi1-client", issuer)), ""), IdentityErr: noCert, Endpoint: EndpointToken}
		}},
		{"mtls middleware missing", nil, func(f *fixture) Request {
			return Request{Form: idForm("tls-client"), IdentityErr: mtls.ErrNoExtractor, Endpoint: EndpointToken}
		}},
		{"no endpoint", nil, func(f *fixture) Request {
			return Request{Form: idForm("tls-client"), Identity: identityOf(t, f.tlsLeaf)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.mod != nil {
				tt.mod(f)
			}
			res, err := f.auth.Authenticate(context.Background(), tt.req(f))
			var e *Error
			if res != nil || err == nil || errors.As(err, &e) || !errors.Is(err, ErrInternal) {
				t.Fatalf("Authenticate = %v, %v; want a non-*Error failure matching ErrInternal", res, err)
			}
			status, code, desc := toWire(t, err)
			if status != http.StatusInternalServerError || code != "server_error" || strings.Contains(desc, "database") {
				t.Errorf("oauth.FromError = %d %s %q", status, code, desc)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	ok := Options{Clients: &fakeClients{}, JTIs: &fakeJTIs{}, Issuer: issuer}
	tests := []struct {
		name string
		mod  func(o *Options)
		ok   bool
	}{
		{"minimal", func(*Options) {}, true},
		{"no clients", func(o *Options) { o.Clients = nil }, false},
		{"no jtis", func(o *Options) { o.JTIs = nil }, false},
		{"no issuer", func(o *Options) { o.Issuer = "" }, false},
		{"skew 60 s", func(o *Options) { o.MaxClockSkew = time.Minute }, true},
		{"skew over 60 s", func(o *Options) { o.MaxClockSkew = time.Minute + time.Second }, false},
		{"negative skew", func(o *Options) { o.MaxClockSkew = -time.Second }, false},
		{"lifetime over an hour", func(o *Options) { o.MaxAssertionLifetime = 2 * time.Hour }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.mod(&o)
			_, err := New(o)
			if (err == nil) != tt.ok {
				t.Errorf("New = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestJTIKeyedPerClient: the same jti from two clients is not a replay; the jti is
// consumed until exp plus the skew.
func TestJTIKeyedPerClient(t *testing.T) {
	f := newFixture(t)
	c1 := f.claims("fapi1-client", issuer)
	c1["jti"] = "shared"
	c2 := f.claims("fapi2-client", issuer)
	c2["jti"] = "shared"
	for _, req := range []Request{
		{Form: assertionForm(f.es256().sign(t, c1), ""), IdentityErr: noCert, Endpoint: EndpointToken},
		{Form: assertionForm(f.fapi2().sign(t, c2), ""), IdentityErr: noCert, Endpoint: EndpointToken},
	} {
		if _, err := f.auth.Authenticate(context.Background(), req); err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
	}
	exp := time.Unix(c1["exp"].(int64), 0).Add(DefaultMaxClockSkew)
	for k, v := range f.jtis.used {
		if !v.Equal(exp) {
			t.Errorf("jti %q kept until %v, want %v", k, v, exp)
		}
	}
	if len(f.jtis.used) != 2 {
		t.Errorf("%d jtis recorded, want 2", len(f.jtis.used))
	}
}

// TestFailedAssertionKeepsJTI: an assertion refused for any reason does not consume its jti.
func TestFailedAssertionKeepsJTI(t *testing.T) {
	f := newFixture(t)
	cl := f.claims("fapi1-client", issuer)
	bad := testSigner{alg: "ES256", kid: "k1", key: f.other}.sign(t, cl)
	if _, err := f.auth.Authenticate(context.Background(), Request{Form: assertionForm(bad, ""), IdentityErr: noCert, Endpoint: EndpointToken}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged = %v", err)
	}
	good := f.es256().sign(t, cl)
	if _, err := f.auth.Authenticate(context.Background(), Request{Form: assertionForm(good, ""), IdentityErr: noCert, Endpoint: EndpointToken}); err != nil {
		t.Fatalf("genuine assertion with the same jti: %v", err)
	}
}

// TestTLSClientAuthSubjectCache: the cached subject DN comparison gives, every time, the answer
// a fresh comparison gives — for the same certificate under a changed registration too.
func TestTLSClientAuthSubjectCache(t *testing.T) {
	f := newFixture(t)
	defer func() { f.clients.clients["tls-client"].TLSClientAuthSubjectDN = registeredDN }()
	auth := func(dnRule string, leaf *x509.Certificate) error {
		f.clients.clients["tls-client"].TLSClientAuthSubjectDN = dnRule
		_, err := f.auth.Authenticate(context.Background(), Request{Form: idForm("tls-client"), Identity: identityOf(t, leaf), Endpoint: EndpointToken})
		return err
	}
	otherDN := "CN=someone else,O=Example TPP Ltd,C=GB"
	steps := []struct {
		name string
		rule string
		leaf *x509.Certificate
		want error
	}{
		{"registered subject", registeredDN, f.tlsLeaf, nil},
		{"another certificate", registeredDN, f.otherLeaf, ErrSubjectMismatch},
		{"registered subject again", registeredDN, f.tlsLeaf, nil},
		{"registration changed", otherDN, f.tlsLeaf, ErrSubjectMismatch},
		{"another certificate again", registeredDN, f.otherLeaf, ErrSubjectMismatch},
		{"registration changed back", registeredDN, f.tlsLeaf, nil},
		{"registration changed again", otherDN, f.tlsLeaf, ErrSubjectMismatch},
	}
	for _, s := range steps {
		if err := auth(s.rule, s.leaf); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Errorf("%s: Authenticate = %v, want %v", s.name, err, s.want)
		}
	}
}
