package pki

import (
	"crypto/x509"
	"errors"
)

// The reasons a certificate chain is refused. [Validator.Validate] returns a
// *[ValidationError] whose Reason is exactly one of them, so callers test with
// errors.Is(err, pki.ErrExpired). All but [ErrRevocationUnavailable] and
// [ErrRevocation] (which may also mean "could not check") say "checked and bad".
var (
	// ErrNoCertificate: the chain is empty or holds a nil certificate.
	ErrNoCertificate = errors.New("pki: no client certificate")
	// ErrChainTooLong: more certificates than Options.MaxChainLen were presented.
	ErrChainTooLong = errors.New("pki: certificate chain too long")
	// ErrExpired: a certificate's notAfter is before now.
	ErrExpired = errors.New("pki: certificate expired")
	// ErrNotYetValid: a certificate's notBefore is after now.
	ErrNotYetValid = errors.New("pki: certificate not yet valid")
	// ErrUnknownAuthority: the chain does not lead to any configured trust anchor.
	ErrUnknownAuthority = errors.New("pki: certificate not issued by a trusted authority")
	// ErrInvalidChain: a chain to an anchor exists but x509 path validation refuses it
	// (an intermediate that is not a CA, path length or name constraints, an unhandled
	// critical extension, ...). Err holds the x509 error.
	ErrInvalidChain = errors.New("pki: invalid certificate chain")
	// ErrKeyUsage: the key usage or extended key usage does not allow the purpose
	// (transport: clientAuth EKU, and digitalSignature if keyUsage is present;
	// signing: digitalSignature or nonRepudiation), or the leaf is a CA certificate.
	ErrKeyUsage = errors.New("pki: key usage does not allow this purpose")
	// ErrQCStatements: the qcStatements extension is malformed or breaks a TS 119 495
	// rule. Err wraps the eidas sentinel (eidas.ErrRoleNameMismatch, eidas.ErrBadNCAID,
	// ...).
	ErrQCStatements = errors.New("pki: invalid qcStatements")
	// ErrNotQualified: under an eidas anchor, the certificate has no qcStatements or no
	// QcCompliance statement (it is not an EU qualified certificate).
	ErrNotQualified = errors.New("pki: certificate is not qualified (no QcCompliance)")
	// ErrQcTypeMismatch: QcType is not exactly the purpose's type (web for transport,
	// eseal for signing), e.g. a QSealC presented for mTLS.
	ErrQcTypeMismatch = errors.New("pki: QcType does not match the purpose")
	// ErrNoPSD2Statement: the certificate has no PSD2 QCStatement.
	ErrNoPSD2Statement = errors.New("pki: no PSD2 statement")
	// ErrOrganizationIdentifier: the organisation identity is missing or malformed
	// (eidas: organizationIdentifier absent, ambiguous, or not in PSD form; ob: no CN,
	// or a malformed organizationIdentifier). Err wraps the eidas sentinel.
	ErrOrganizationIdentifier = errors.New("pki: missing or invalid organisation identifier")
	// ErrNCAMismatch: the NCA in organizationIdentifier (PSDGB-FCA-…) differs from the
	// PSD2 statement's nCAId (GB-FCA).
	ErrNCAMismatch = errors.New("pki: organizationIdentifier NCA does not match the PSD2 nCAId")
	// ErrSubject: the subject cannot be rendered as an RFC 4514 string (too large).
	ErrSubject = errors.New("pki: subject cannot be rendered")
	// ErrRevocationUnavailable: the validator has no revocation checker, so no
	// certificate can be accepted (fail closed).
	ErrRevocationUnavailable = errors.New("pki: no revocation checker configured")
	// ErrRevocation: the revocation checker refused a certificate of the chain:
	// revoked, status unknown, or (under hard-fail) no status obtainable. Err is the
	// checker's error, reachable with errors.As.
	ErrRevocation = errors.New("pki: revocation check failed")
)

// ErrInvalidPurpose is returned (not wrapped in a ValidationError) when Validate is
// called with a Purpose that is not one of the defined ones: a programming error.
var ErrInvalidPurpose = errors.New("pki: invalid purpose")

// ValidationError is the error of [Validator.Validate]: why the chain was refused,
// which certificate caused it, and the underlying cause.
//
// errors.Is(err, pki.ErrX) matches Reason; errors.Is / errors.As also see through
// to Err (for instance the revocation package's typed error, or an eidas sentinel).
type ValidationError struct {
	// Reason is one of the sentinel errors of this package.
	Reason error
	// Cert is the certificate the reason is about; nil when it concerns the chain as
	// a whole.
	Cert *x509.Certificate
	// Err is the underlying cause, or nil.
	Err error
}

// Error returns "reason: cause". It names neither keys nor secrets; the subject of a
// certificate is not part of it (log it separately if wanted).
func (e *ValidationError) Error() string {
	if e.Err == nil {
		return e.Reason.Error()
	}
	return e.Reason.Error() + ": " + e.Err.Error()
}

// Is reports whether target is the Reason.
func (e *ValidationError) Is(target error) bool { return target == e.Reason }

// Unwrap returns the underlying cause.
func (e *ValidationError) Unwrap() error { return e.Err }

func fail(reason error, cert *x509.Certificate, err error) *ValidationError {
	return &ValidationError{Reason: reason, Cert: cert, Err: err}
}
