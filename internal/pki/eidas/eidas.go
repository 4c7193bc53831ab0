// Package eidas parses (and, for the sandbox CA and tests, encodes) the PSD2 parts of a
// certificate: the qcStatements extension (RFC 3739, ETSI EN 319 412-5) with the PSD2
// statement of ETSI TS 119 495, and the organizationIdentifier subject attribute
// (ETSI EN 319 412-1 §5.1.4).
//
// It is a pure parser of attacker-controlled bytes: it does no I/O, never logs, never
// panics on malformed input (fuzzed), and returns a distinct error for each rule it
// checks. It does not decide whether a certificate is acceptable for a purpose; package
// pki does that with what this package returns.
package eidas

import "encoding/asn1"

// OIDs of the qcStatements extension and the statements this package understands.
var (
	OIDQCStatements     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}
	OIDOrganizationID   = asn1.ObjectIdentifier{2, 5, 4, 97}
	OIDQcCompliance     = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 1}
	OIDQcLimitValue     = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 2}
	OIDQcRetention      = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 3}
	OIDQcSSCD           = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 4}
	OIDQcPDS            = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 5}
	OIDQcType           = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 6}
	OIDQcTypeESign      = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 6, 1}
	OIDQcTypeESeal      = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 6, 2}
	OIDQcTypeWeb        = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 6, 3}
	OIDQcCClegislation  = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 7}
	OIDPSD2Statement    = asn1.ObjectIdentifier{0, 4, 0, 19495, 2}
	OIDRoleASPSP        = asn1.ObjectIdentifier{0, 4, 0, 19495, 1, 1}
	OIDRolePISP         = asn1.ObjectIdentifier{0, 4, 0, 19495, 1, 2}
	OIDRoleAISP         = asn1.ObjectIdentifier{0, 4, 0, 19495, 1, 3}
	OIDRoleCBPII        = asn1.ObjectIdentifier{0, 4, 0, 19495, 1, 4}
	OIDRoleUnspecified  = asn1.ObjectIdentifier{0, 4, 0, 19495, 1, 0}
	OIDQCPWebPSD2Policy = asn1.ObjectIdentifier{0, 4, 0, 19495, 3, 1}
)

// Role is a PSD2 role of a payment service provider, named by its TS 119 495
// roleOfPspName.
type Role string

// The PSD2 roles (TS 119 495 §5.1).
const (
	RoleASPSP       Role = "PSP_AS" // account servicing
	RolePISP        Role = "PSP_PI" // payment initiation
	RoleAISP        Role = "PSP_AI" // account information
	RoleCBPII       Role = "PSP_IC" // card-based payment instrument issuing
	RoleUnspecified Role = "Unspecified"
)

// QcType is one entry of the QcType statement (EN 319 412-5 §4.2.3).
type QcType string

// The QcType values.
const (
	QcTypeESign QcType = "esign"
	QcTypeESeal QcType = "eseal"
	QcTypeWeb   QcType = "web"
)

// PSD2 is the PSD2 QCStatement (TS 119 495 §5.1): the roles granted and the competent
// authority that granted them.
type PSD2 struct {
	Roles   []Role
	NCAName string // e.g. "Financial Conduct Authority"
	NCAID   string // e.g. "GB-FCA"
}

// QCStatements is the decoded qcStatements extension. Statements this package does not
// know are kept by OID in Unknown and otherwise ignored.
type QCStatements struct {
	Compliance bool     // QcCompliance: an EU qualified certificate
	SSCD       bool     // QcSSCD: key held in a qualified signature creation device
	Types      []QcType // QcType
	PSD2       *PSD2    // nil when absent
	Unknown    []asn1.ObjectIdentifier
}

// HasType reports whether t is among q's QcTypes.
func (q *QCStatements) HasType(t QcType) bool {
	for _, x := range q.Types {
		if x == t {
			return true
		}
	}
	return false
}

// OrganizationIdentifier is the organizationIdentifier attribute split per EN 319 412-1
// §5.1.4: a 3-letter scheme ("PSD", "VAT", "NTR", "LEI"), a 2-letter country, and for the
// PSD scheme the NCA code and the authorisation number.
// "PSDGB-FCA-123456" → {Scheme: "PSD", Country: "GB", NCA: "FCA", Reference: "123456"}.
type OrganizationIdentifier struct {
	Raw       string
	Scheme    string
	Country   string
	NCA       string // PSD scheme only
	Reference string // the authorisation number (PSD) or registration number
}
