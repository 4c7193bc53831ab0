package dcr

import (
	"errors"
	"time"
	"unicode/utf8"
)

// MaxRequestSize bounds the body of a registration request (bytes of the compact JWS,
// software statement included).
const MaxRequestSize = 64 << 10

// RegistrationRequest is the claims set of an OBIE registration request JWT
// (OBClientRegistrationRequest1, dcr-consent.md §1.2), decoded but not verified.
type RegistrationRequest struct {
	Issuer   string
	Audience []string
	IssuedAt time.Time
	Expiry   time.Time
	JTI      string
	// HasIssuedAt and HasExpiry report whether iat and exp were present.
	HasIssuedAt, HasExpiry bool

	SoftwareStatement string
	SoftwareID        string

	RedirectURIs []string
	// HasRedirectURIs reports that redirect_uris was present (an empty array included).
	HasRedirectURIs bool

	TokenEndpointAuthMethod     string
	TokenEndpointAuthSigningAlg string
	TLSClientAuthSubjectDN      string
	GrantTypes                  []string
	ResponseTypes               []string
	Scope                       string
	HasScope                    bool
	ApplicationType             string
	IDTokenSignedResponseAlg    string
	RequestObjectSigningAlg     string
	JWKSURI                     string
	HasJWKS                     bool

	// header values of the JWS, and the raw token for verification
	alg, kid string
	payload  []byte
	raw      string
}

// ParseRegistrationRequest decodes a registration request body without verifying any
// signature: a compact JWS of at most [MaxRequestSize] bytes (else invalid_request) whose
// claims have the types and bounds of dcr-consent.md §1.2 (else invalid_client_metadata
// naming the claim). Every error is an [*Error]. Spec: OB-DCR-01, OB-DCR-02.
func ParseRegistrationRequest(body []byte) (*RegistrationRequest, error) {
	if !utf8.Valid(body) {
		return nil, refuse(CodeInvalidRequest, "request", "the registration request is not a compact JWS")
	}
	token := string(body)
	c, err := splitCompact(token, MaxRequestSize)
	if err != nil {
		return nil, refuseWith(CodeInvalidRequest, "request", "the registration request is not a compact JWS", err)
	}
	cl, err := parseClaims(c.payload)
	if err != nil {
		return nil, refuseWith(CodeInvalidRequest, "request", "the registration request claims are not a JSON object", err)
	}
	r := &RegistrationRequest{alg: c.header.Alg, kid: c.header.Kid, payload: c.payload, raw: token}
	if err := r.read(cl); err != nil {
		var ce *claimError
		if errors.As(err, &ce) {
			return nil, metadata(ce.claim, "registration request claim "+ce.Error())
		}
		return nil, refuseWith(CodeInvalidClientMetadata, "request", "the registration request claims are malformed", err)
	}
	return r, nil
}

func (r *RegistrationRequest) read(cl claims) error {
	var err error
	str := func(name string, dst *string, max int) {
		if err == nil {
			*dst, err = cl.str(name, max)
		}
	}
	str("iss", &r.Issuer, maxClaimLen)
	str("jti", &r.JTI, maxClaimLen)
	str("software_statement", &r.SoftwareStatement, MaxSSASize)
	str("software_id", &r.SoftwareID, maxClaimLen)
	str("token_endpoint_auth_method", &r.TokenEndpointAuthMethod, maxClaimLen)
	str("token_endpoint_auth_signing_alg", &r.TokenEndpointAuthSigningAlg, maxClaimLen)
	str("tls_client_auth_subject_dn", &r.TLSClientAuthSubjectDN, 1024)
	str("application_type", &r.ApplicationType, maxClaimLen)
	str("id_token_signed_response_alg", &r.IDTokenSignedResponseAlg, maxClaimLen)
	str("request_object_signing_alg", &r.RequestObjectSigningAlg, maxClaimLen)
	str("jwks_uri", &r.JWKSURI, maxURILen)
	str("scope", &r.Scope, 1024)
	if err != nil {
		return err
	}
	_, r.HasScope = cl["scope"]
	_, r.HasJWKS = cl["jwks"]
	if r.Audience, err = cl.audience(); err != nil {
		return err
	}
	if r.IssuedAt, r.HasIssuedAt, err = cl.date("iat"); err != nil {
		return err
	}
	if r.Expiry, r.HasExpiry, err = cl.date("exp"); err != nil {
		return err
	}
	if r.RedirectURIs, r.HasRedirectURIs, err = cl.strs("redirect_uris", maxRedirectURIs, maxURILen); err != nil {
		return err
	}
	if r.GrantTypes, _, err = cl.strs("grant_types", 8, maxClaimLen); err != nil {
		return err
	}
	if r.ResponseTypes, _, err = cl.strs("response_types", 8, maxClaimLen); err != nil {
		return err
	}
	return nil
}
