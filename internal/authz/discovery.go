package authz

import (
	"net/http"
	"slices"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/jose"
)

// authMethods are the client authentication methods of every endpoint that authenticates
// clients (FAPI1-AS-02, FAPI2-AS-05): exactly what package clientauth implements.
var authMethods = []string{client.AuthPrivateKeyJWT, client.AuthTLSClientAuth, client.AuthSelfSignedTLSClientAuth}

// metadata is the authorization server metadata (RFC 8414 §2, OpenID Connect Discovery 1.0
// §3, RFC 8705 §3.3 and §5). It lists what is implemented today and nothing else; the
// members of features still to come (authorization_endpoint, PAR, userinfo, ID tokens,
// PKCE, request objects, registration) are added by the issues that implement them.
// response_types_supported is required by RFC 8414 and is empty until the authorization
// endpoint exists.
type metadata struct {
	Issuer                string   `json:"issuer"`
	JWKSURI               string   `json:"jwks_uri"`
	TokenEndpoint         string   `json:"token_endpoint"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	ScopesSupported       []string `json:"scopes_supported,omitempty"`
	ResponseTypes         []string `json:"response_types_supported"`
	GrantTypes            []string `json:"grant_types_supported"`

	TokenAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	TokenAuthSigningAlgs     []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectAuthMethods    []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectAuthSigningAlg []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	RevokeAuthMethods        []string `json:"revocation_endpoint_auth_methods_supported"`
	RevokeAuthSigningAlgs    []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`

	// TLSBoundTokens is always true: every access token is bound to the client's
	// certificate (RFC 8705 §3.3, FAPI1-AS-50).
	TLSBoundTokens bool          `json:"tls_client_certificate_bound_access_tokens"`
	MTLSAliases    mtlsEndpoints `json:"mtls_endpoint_aliases"`
}

// mtlsEndpoints are the RFC 8705 §5 aliases: the endpoints a client reaches with its
// certificate.
type mtlsEndpoints struct {
	TokenEndpoint         string `json:"token_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
}

// metadata builds the document from the server's configuration: grant types from the
// grant handlers that exist, signing algorithms from the profiles served (jose decides
// which algorithm belongs to which profile).
func (s *Server) metadata() *metadata {
	var algs []string
	for _, p := range s.profiles {
		prof := jose.FAPI1
		if p == client.ProfileFAPI2 {
			prof = jose.FAPI2
		}
		for _, a := range jose.AlgorithmsFor(prof) {
			if !slices.Contains(algs, string(a)) {
				algs = append(algs, string(a))
			}
		}
	}
	grants := make([]string, 0, len(s.grants))
	for g := range s.grants {
		grants = append(grants, g)
	}
	slices.Sort(grants)
	return &metadata{
		Issuer:                   s.issuer,
		JWKSURI:                  s.url(PathJWKS),
		TokenEndpoint:            s.url(PathToken),
		IntrospectionEndpoint:    s.url(PathIntrospect),
		RevocationEndpoint:       s.url(PathRevoke),
		ScopesSupported:          s.scopes,
		ResponseTypes:            []string{},
		GrantTypes:               grants,
		TokenAuthMethods:         authMethods,
		TokenAuthSigningAlgs:     algs,
		IntrospectAuthMethods:    authMethods,
		IntrospectAuthSigningAlg: algs,
		RevokeAuthMethods:        authMethods,
		RevokeAuthSigningAlgs:    algs,
		TLSBoundTokens:           true,
		MTLSAliases: mtlsEndpoints{
			TokenEndpoint:         s.mtlsBase + PathToken,
			IntrospectionEndpoint: s.mtlsBase + PathIntrospect,
			RevocationEndpoint:    s.mtlsBase + PathRevoke,
		},
	}
}

// handleDiscovery serves the metadata document at both well-known locations
// (FAPI1-AS-60, FAPI2-AS-01): the same JSON, whose issuer is exactly the issuer identifier.
// It needs no client certificate.
func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.discovery)
	return nil
}
