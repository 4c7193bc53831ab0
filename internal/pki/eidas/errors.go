package eidas

import "errors"

// Errors returned by [ParseQCStatements], [FromCertificate] and [QCStatements.Marshal].
// Each names one rule; the returned error wraps exactly one of them (test with
// errors.Is) and adds the offending position or value.
var (
	// ErrTooLarge: the qcStatements value is longer than [MaxQCStatementsLen].
	ErrTooLarge = errors.New("eidas: qcStatements larger than the size limit")
	// ErrMalformed: the bytes are not DER of the RFC 3739 / EN 319 412-5 /
	// TS 119 495 structures (wrong tag, bad length, truncated, statementInfo where none
	// is defined, ...).
	ErrMalformed = errors.New("eidas: malformed qcStatements")
	// ErrTrailingData: bytes follow a complete structure.
	ErrTrailingData = errors.New("eidas: trailing data after qcStatements")
	// ErrDuplicateStatement: QcCompliance, QcSSCD, QcType or the PSD2 statement occurs
	// more than once (or the extension itself occurs twice in a certificate).
	ErrDuplicateStatement = errors.New("eidas: duplicate QC statement")
	// ErrEmptyQcType: a QcType statement lists no type.
	ErrEmptyQcType = errors.New("eidas: empty QcType statement")
	// ErrBadQcType: Marshal was given a QcType that is neither a known name nor a
	// dotted OID.
	ErrBadQcType = errors.New("eidas: invalid QcType")
	// ErrNoRoles: the PSD2 statement's RolesOfPSP is empty (TS 119 495 §5.1).
	ErrNoRoles = errors.New("eidas: PSD2 statement has no roles")
	// ErrUnknownRole: a roleOfPspOid outside the roles TS 119 495 defines.
	ErrUnknownRole = errors.New("eidas: unknown PSD2 role OID")
	// ErrRoleNameMismatch: a roleOfPspName does not match its roleOfPspOid exactly
	// (TS 119 495 GEN-5.2.2-5).
	ErrRoleNameMismatch = errors.New("eidas: PSD2 role name does not match its OID")
	// ErrUnspecifiedRole: the "Unspecified" role appears together with other roles; it
	// is only allowed as the single entry.
	ErrUnspecifiedRole = errors.New("eidas: Unspecified PSD2 role combined with other roles")
	// ErrDuplicateRole: the same role is listed twice.
	ErrDuplicateRole = errors.New("eidas: duplicate PSD2 role")
	// ErrNotUTF8String: roleOfPspName, nCAName or nCAId is not a valid UTF8String.
	ErrNotUTF8String = errors.New("eidas: PSD2 statement string is not a valid UTF8String")
	// ErrBadRoleName: a roleOfPspName outside 1..256 characters.
	ErrBadRoleName = errors.New("eidas: invalid PSD2 role name")
	// ErrBadNCAName: nCAName empty, longer than 256 characters or holding control
	// characters.
	ErrBadNCAName = errors.New("eidas: invalid PSD2 nCAName")
	// ErrBadNCAID: nCAId is not a 2-letter country code, '-', and a 2–8 letter A–Z
	// authority code (TS 119 495 GEN-5.2.3-2).
	ErrBadNCAID = errors.New("eidas: invalid PSD2 nCAId")
)

// Errors returned by [ParseOrganizationIdentifier] and
// [OrganizationIdentifierFromCertificate].
var (
	// ErrBadOrganizationIdentifier: the value is not in one of the EN 319 412-1 §5.1.4
	// forms this package accepts (PSD, VAT, NTR, LEI), is too long, holds control
	// characters, or is not a PrintableString / UTF8String.
	ErrBadOrganizationIdentifier = errors.New("eidas: invalid organizationIdentifier")
	// ErrNoOrganizationIdentifier: the subject has no organizationIdentifier attribute.
	ErrNoOrganizationIdentifier = errors.New("eidas: subject has no organizationIdentifier")
	// ErrMultipleOrganizationIdentifiers: the subject has more than one
	// organizationIdentifier attribute, so which one names the organisation is ambiguous.
	ErrMultipleOrganizationIdentifiers = errors.New("eidas: subject has more than one organizationIdentifier")
)
