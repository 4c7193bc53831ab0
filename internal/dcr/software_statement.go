package dcr

import (
	"encoding/json"
	"errors"
	"time"
)

// MaxSSASize bounds a software statement (bytes of the compact JWS). OB Directory SSAs are a
// few KiB.
const MaxSSASize = 32 << 10

// Bounds on SSA claim values.
const (
	maxClaimLen     = 256  // identifiers, names, statuses
	maxURILen       = 2048 // every URI
	maxRedirectURIs = 32
	maxRoles        = 16
	maxDescLen      = 1024 // software_client_description
)

// The software roles of OB-DCR-04 (software_roles values).
const (
	RoleAISP  = "AISP"
	RolePISP  = "PISP"
	RoleCBPII = "CBPII"
	RoleASPSP = "ASPSP"
)

// OrgStatusActive is the only org_status that may register (OB-DCR-04).
const OrgStatusActive = "Active"

// SoftwareStatement is the claims set of an OB Directory software statement
// (dcr-consent.md §1.4), as far as registration uses it. Its signature has been verified
// only when [Verifier.Verify] returns it inside a registered client.
type SoftwareStatement struct {
	Issuer   string
	IssuedAt time.Time // zero when absent
	Expiry   time.Time // zero when absent
	JTI      string

	SoftwareEnvironment, SoftwareMode             string
	SoftwareID, SoftwareClientID                  string
	SoftwareClientName, SoftwareClientDescription string
	SoftwareVersion                               string
	SoftwareClientURI, SoftwareLogoURI            string
	SoftwarePolicyURI, SoftwareTOSURI             string
	SoftwareOnBehalfOfOrg                         string
	SoftwareRedirectURIs                          []string
	SoftwareRoles                                 []string
	SoftwareJWKSEndpoint                          string
	SoftwareJWKSRevokedEndpoint                   string

	OrgID, OrgName, OrgStatus string
	OrgJWKSEndpoint           string
	OrgJWKSRevokedEndpoint    string

	// CompetentAuthority is organisation_competent_authority_claims (an object, or an
	// array of them): the NCA registration of the organisation.
	CompetentAuthority []CompetentAuthorityClaims

	// header values and decoded claims of the JWS
	alg, kid string
	payload  []byte
}

// CompetentAuthorityClaims is one entry of organisation_competent_authority_claims.
type CompetentAuthorityClaims struct {
	AuthorityID    string `json:"authority_id"`
	RegistrationID string `json:"registration_id"`
	Status         string `json:"status"`
}

// ParseSSA decodes a software statement without verifying its signature: the compact JWS
// shape (at most [MaxSSASize] bytes), a header with alg and kid, and the claims of
// dcr-consent.md §1.4 with their types and size bounds. Every error is an [*Error] with
// code invalid_software_statement naming the claim. Spec: OB-DCR-03, OB-DCR-04.
func ParseSSA(token string) (*SoftwareStatement, error) {
	c, err := splitCompact(token, MaxSSASize)
	if err != nil {
		return nil, badSSA("software_statement", "the software statement is not a compact JWS", err)
	}
	cl, err := parseClaims(c.payload)
	if err != nil {
		return nil, badSSA("software_statement", "the software statement claims are not a JSON object", err)
	}
	ssa := &SoftwareStatement{alg: c.header.Alg, kid: c.header.Kid, payload: c.payload}
	if err := ssa.read(cl); err != nil {
		var ce *claimError
		if errors.As(err, &ce) {
			return nil, badSSA(ce.claim, "software statement claim "+ce.Error(), nil)
		}
		return nil, badSSA("software_statement", "the software statement claims are malformed", err)
	}
	return ssa, nil
}

func (s *SoftwareStatement) read(cl claims) error {
	var err error
	str := func(name string, dst *string, max int) {
		if err == nil {
			*dst, err = cl.str(name, max)
		}
	}
	str("iss", &s.Issuer, maxClaimLen)
	str("jti", &s.JTI, maxClaimLen)
	str("software_environment", &s.SoftwareEnvironment, maxClaimLen)
	str("software_mode", &s.SoftwareMode, maxClaimLen)
	str("software_id", &s.SoftwareID, maxClaimLen)
	str("software_client_id", &s.SoftwareClientID, maxClaimLen)
	str("software_client_name", &s.SoftwareClientName, maxClaimLen)
	str("software_client_description", &s.SoftwareClientDescription, maxDescLen)
	str("software_client_uri", &s.SoftwareClientURI, maxURILen)
	str("software_logo_uri", &s.SoftwareLogoURI, maxURILen)
	str("software_policy_uri", &s.SoftwarePolicyURI, maxURILen)
	str("software_tos_uri", &s.SoftwareTOSURI, maxURILen)
	str("software_on_behalf_of_org", &s.SoftwareOnBehalfOfOrg, maxClaimLen)
	str("software_jwks_endpoint", &s.SoftwareJWKSEndpoint, maxURILen)
	str("software_jwks_revoked_endpoint", &s.SoftwareJWKSRevokedEndpoint, maxURILen)
	str("org_id", &s.OrgID, maxClaimLen)
	str("org_name", &s.OrgName, maxClaimLen)
	str("org_status", &s.OrgStatus, maxClaimLen)
	str("org_jwks_endpoint", &s.OrgJWKSEndpoint, maxURILen)
	str("org_jwks_revoked_endpoint", &s.OrgJWKSRevokedEndpoint, maxURILen)
	if err != nil {
		return err
	}
	if s.SoftwareVersion, err = cl.text("software_version", maxClaimLen); err != nil {
		return err
	}
	if s.IssuedAt, _, err = cl.date("iat"); err != nil {
		return err
	}
	if s.Expiry, _, err = cl.date("exp"); err != nil {
		return err
	}
	if s.SoftwareRedirectURIs, _, err = cl.strs("software_redirect_uris", maxRedirectURIs, maxURILen); err != nil {
		return err
	}
	if s.SoftwareRoles, _, err = cl.strs("software_roles", maxRoles, maxClaimLen); err != nil {
		return err
	}
	return s.readAuthority(cl)
}

// readAuthority reads organisation_competent_authority_claims: an object or an array of at
// most 8 objects.
func (s *SoftwareStatement) readAuthority(cl claims) error {
	const name = "organisation_competent_authority_claims"
	v, ok := cl[name]
	if !ok || string(v) == "null" {
		return nil
	}
	var list []json.RawMessage
	switch {
	case len(v) > 0 && v[0] == '{':
		list = []json.RawMessage{v}
	case len(v) > 0 && v[0] == '[' && json.Unmarshal(v, &list) == nil && len(list) <= 8:
	default:
		return &claimError{name, "must be an object or an array of at most 8 objects"}
	}
	for _, raw := range list {
		o, err := claims{name: raw}.object(name)
		if err != nil || o == nil {
			return &claimError{name, "must be an object or an array of at most 8 objects"}
		}
		var a CompetentAuthorityClaims
		for _, f := range []struct {
			n   string
			dst *string
		}{{"authority_id", &a.AuthorityID}, {"registration_id", &a.RegistrationID}, {"status", &a.Status}} {
			if *f.dst, err = o.str(f.n, maxClaimLen); err != nil {
				return &claimError{name + "." + f.n, "must be a string of at most 256 bytes"}
			}
		}
		s.CompetentAuthority = append(s.CompetentAuthority, a)
	}
	return nil
}
