package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"time"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/token"
)

// The external-authorizer contract, as nginx auth_request sees it: the proxy
// terminates mTLS, forwards the client certificate (here as $ssl_client_escaped_cert
// in X-SSL-Client-Cert) with the original method, URI and Authorization header to
// /ext-authz/check, and copies the X-Portcullis-* answer headers onto the upstream
// request when the answer is 200. (The certificate validator and token verifier
// are stand-ins; a real deployment uses package pki and token.Verifier.)
func ExampleGateway_ExtAuthz() {
	cert := selfSigned()
	certHeader := url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))

	g, err := gateway.New(gateway.Options{
		Routes: []gateway.Route{{
			Name: "accounts", Method: http.MethodGet, Pattern: "/open-banking/v3.1/aisp/accounts",
			Scopes: []string{"accounts"}, Roles: []eidas.Role{eidas.RoleAISP},
			Consent:  gateway.ConsentCheck{Kind: consent.KindAccountAccess},
			Upstream: &url.URL{Scheme: "http", Host: "bank.internal:8080"},
		}},
		Verifier: exampleVerifier{thumbprint: pki.Thumbprint(cert)},
		ConsentValidator: consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) {
			return consent.Decision{Valid: true}, nil
		}),
		ExtAuthzPeers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, // the proxies
		Customers:     exampleCustomers{"aac-1": "customer-1"},             // a *store.Store in production
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	extractor, err := mtls.NewExtractor(mtls.Options{
		Validator: exampleCertValidator{}, Header: "X-SSL-Client-Cert", Format: mtls.FormatPEMURLEncoded,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := extractor.Middleware(g.ExtAuthz())

	for _, tok := range []string{"good-token", "forged-token"} {
		r := httptest.NewRequest(http.MethodGet, gateway.ExtAuthzPath, nil)
		r.RemoteAddr = "10.0.0.7:41000" // nginx
		r.Header.Set("X-Original-Method", "GET")
		r.Header.Set("X-Original-Uri", "/open-banking/v3.1/aisp/accounts")
		r.Header.Set("X-SSL-Client-Cert", certHeader)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println(w.Code, "client", w.Header().Get("X-Portcullis-Client-Id"), "psu", w.Header().Get("X-Portcullis-Psu-Id"),
				"consent", w.Header().Get("X-Portcullis-Consent-Id"))
			continue
		}
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// 200 client tpp-1 psu customer-1 consent aac-1
	// 401 Bearer error="invalid_token", error_description="The access token is not valid"
}

// exampleVerifier accepts one token, bound to the example certificate.
type exampleVerifier struct{ thumbprint string }

func (v exampleVerifier) Verify(_ context.Context, raw string) (*token.AccessToken, error) {
	if raw != "good-token" {
		return nil, token.ErrBadSignature
	}
	return &token.AccessToken{ClientID: "tpp-1", Use: token.UseUser, UserID: "opaque-subject", Subject: "opaque-subject",
		Scopes: []string{"accounts"}, ConsentID: "aac-1", CertThumbprint: v.thumbprint}, nil
}

// exampleCustomers is the consents' customers: consent id → customer id.
type exampleCustomers map[string]string

func (c exampleCustomers) ConsentUserID(_ context.Context, consentID string) (string, error) {
	return c[consentID], nil
}

// exampleCertValidator accepts any certificate as an AISP's QWAC.
type exampleCertValidator struct{}

func (exampleCertValidator) Validate(_ context.Context, chain []*x509.Certificate, _ pki.Purpose) (*pki.Identity, error) {
	return &pki.Identity{Leaf: chain[0], Chain: chain, Thumbprint: pki.Thumbprint(chain[0]),
		Kind: pki.KindQWAC, Roles: []eidas.Role{eidas.RoleAISP}, OrgID: "PSDGB-FCA-123456"}, nil
}

func selfSigned() *x509.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tpp.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return cert
}
