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
	RegistrationEndpoint  string   `json:"registration_endpoint,omitempty"`
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

	*journeyMetadata
}

// journeyMetadata is the metadata of the customer journey (FAPI1-AS-60, FAPI2-AS-21/24,
// RFC 9126 §5, RFC 9207 §3, JARM §4), present when the server serves it.
type journeyMetadata struct {
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	PAREndpoint           string   `json:"pushed_authorization_request_endpoint"`
	RequirePAR            bool     `json:"require_pushed_authorization_requests"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint,omitempty"`
	ResponseModes         []string `json:"response_modes_supported"`
	SubjectTypes          []string `json:"subject_types_supported"`
	IDTokenSigningAlgs    []string `json:"id_token_signing_alg_values_supported"`
	IDTokenEncAlgs        []string `json:"id_token_encryption_alg_values_supported"`
	IDTokenEncEncs        []string `json:"id_token_encryption_enc_values_supported"`
	RequestObjectAlgs     []string `json:"request_object_signing_alg_values_supported"`
	AuthorizationAlgs     []string `json:"authorization_signing_alg_values_supported"`
	RequestParameter      bool     `json:"request_parameter_supported"`
	RequestURIParameter   bool     `json:"request_uri_parameter_supported"`
	ClaimsParameter       bool     `json:"claims_parameter_supported"`
	ClaimsSupported       []string `json:"claims_supported"`
	ACRValues             []string `json:"acr_values_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	IssParameter          bool     `json:"authorization_response_iss_parameter_supported"`
}

// mtlsEndpoints are the RFC 8705 §5 aliases: the endpoints a client reaches with its
// certificate.
type mtlsEndpoints struct {
	TokenEndpoint         string `json:"token_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	PAREndpoint           string `json:"pushed_authorization_request_endpoint,omitempty"`
	UserinfoEndpoint      string `json:"userinfo_endpoint,omitempty"`
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
	m := &metadata{
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
	if s.reg != nil {
		m.RegistrationEndpoint = s.mtlsBase + PathRegister
	}
	if s.pushed == nil {
		return m
	}
	// The endpoints that need the client certificate are on the mTLS listener: the root
	// members name it too, so that a client using either set reaches it (RFC 8705 §5,
	// FAPI2-MS-05); the authorization endpoint is on the issuer's (browser) listener.
	m.TokenEndpoint = s.mtlsBase + PathToken
	m.IntrospectionEndpoint = s.mtlsBase + PathIntrospect
	m.RevocationEndpoint = s.mtlsBase + PathRevoke
	m.MTLSAliases.PAREndpoint = s.mtlsBase + PathPAR
	m.MTLSAliases.UserinfoEndpoint = s.mtlsBase + PathUserinfo
	responseTypes := []string{client.ResponseTypeCode}
	requirePAR := true
	for _, p := range s.profiles {
		if p == client.ProfileFAPI1 {
			responseTypes = append(responseTypes, client.ResponseTypeCodeIDToken)
			requirePAR = false // FAPI 1.0 clients may send request objects by value
		}
	}
	m.ResponseTypes = responseTypes
	var signAlgs []string
	for _, a := range s.keys.Algorithms() {
		signAlgs = append(signAlgs, string(a))
	}
	m.journeyMetadata = &journeyMetadata{
		AuthorizationEndpoint: s.browserBase + PathAuthorize,
		PAREndpoint:           s.mtlsBase + PathPAR,
		UserinfoEndpoint:      s.mtlsBase + PathUserinfo,
		RequirePAR:            requirePAR,
		ResponseModes:         []string{ResponseModeQuery, ResponseModeFragment, ResponseModeJWT, ResponseModeQueryJWT, ResponseModeFragmentJWT},
		SubjectTypes:          []string{"public", "pairwise"},
		IDTokenSigningAlgs:    signAlgs,
		IDTokenEncAlgs:        []string{jose.KeyAlgRSAOAEP256, jose.KeyAlgECDHES},
		IDTokenEncEncs:        []string{jose.EncA256GCM, jose.EncA128GCM},
		RequestObjectAlgs:     algs,
		AuthorizationAlgs:     signAlgs,
		RequestParameter:      true,
		RequestURIParameter:   false,
		ClaimsParameter:       true,
		ClaimsSupported: []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
			"c_hash", "s_hash", "at_hash", "openbanking_intent_id"},
		ACRValues:            []string{ACRSCA, ACRCA},
		CodeChallengeMethods: []string{"S256"},
		IssParameter:         true,
	}
	return m
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
