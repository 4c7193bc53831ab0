package pki

import (
	"crypto/x509"
	"net"

	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// Profile selects the rules a trust anchor's certificates are validated under
// (pki.md §1.5, §1.6).
type Profile string

// The trust-anchor profiles.
const (
	ProfileEIDAS Profile = "eidas" // EU QTSP roots: QWAC / QSealC with QcCompliance
	ProfileOB    Profile = "ob"    // OB Directory (ETSI-like OBWAC / OBSeal, no QcCompliance)
	ProfilePlain Profile = "plain" // any certificate chaining to the anchor; no PSD2 data
)

// Purpose is what a presented certificate is used for.
type Purpose int

// The purposes a certificate can be validated for.
const (
	PurposeTransport Purpose = iota + 1 // mTLS client authentication: clientAuth EKU, QcType web
	PurposeSigning                      // message / JWS sealing: digitalSignature or nonRepudiation, QcType eseal
)

// Kind is the certificate type recognised from its QCStatements and the anchor profile.
type Kind string

// The certificate kinds.
const (
	KindQWAC   Kind = "QWAC"
	KindQSealC Kind = "QSealC"
	KindOBWAC  Kind = "OBWAC"
	KindOBSeal Kind = "OBSeal"
	KindPlain  Kind = "plain"
)

// Identity is the one typed result of certificate validation that every later stage
// (client authentication, token binding, the gateway's role check, client registration)
// consumes. It is only ever produced by a successful validation: holding one means the
// chain, validity period, key usage, PSD2 profile and revocation checks all passed.
//
// [Validator.Validate] returns a new Identity on every call, a copy when it comes from
// the validated-chain cache, so a caller may modify its own; the certificates it points
// to are shared and must not be modified.
type Identity struct {
	Leaf  *x509.Certificate
	Chain []*x509.Certificate // leaf first, ending with the trust anchor

	Subject        string // RFC 4514 rendering of the leaf's RawSubject (package dn)
	DNSNames       []string
	EmailAddresses []string
	IPAddresses    []net.IP
	URIs           []string

	// Thumbprint is base64url(SHA-256(leaf DER)) without padding: the RFC 8705
	// cnf.x5t#S256 value.
	Thumbprint string

	Kind    Kind
	Profile Profile // profile of the anchor the chain ended at
	Anchor  string  // configured name of that anchor

	Roles        []eidas.Role // PSD2 roles; empty for plain certificates
	NCAName      string
	NCAID        string
	Organization eidas.OrganizationIdentifier // zero when the subject has none
	// OrgID is the organisation's identity: organizationIdentifier for eIDAS
	// certificates, the subject CN (the OB Directory org_id) for OB certificates.
	OrgID string
}

// HasRole reports whether the certificate carries PSD2 role r.
func (id *Identity) HasRole(r eidas.Role) bool {
	for _, x := range id.Roles {
		if x == r {
			return true
		}
	}
	return false
}
