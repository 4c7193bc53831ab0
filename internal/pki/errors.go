package pki

import (
	"context"
	"crypto/x509"
	"errors"
)

// The reasons a certificate chain is refused. [Validator.Validate] returns a
// *[ValidationError] whose Reason is exactly one of them, so callers test with
// errors.Is(err, pki.ErrExpired). All but [ErrRevocationUnavailable] and
// [ErrNoRevocationChecker] say "checked and bad". [ErrRevocation] is the parent of the two
// revocation verdicts: errors.Is(err, pki.ErrRevocation) holds for [ErrRevoked] and for
// [ErrRevocationUnavailable].
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
	// ErrNoRevocationChecker: the validator has no revocation checker, so no
	// certificate can be accepted (fail closed). A wiring error, not the client's.
	ErrNoRevocationChecker = errors.New("pki: no revocation checker configured")
	// ErrRevoked ("checked and bad"): the revocation checker established that a
	// certificate of the chain is revoked, or its issuer's OCSP responder said it does
	// not know it ("unknown", RFC 6960 §2.2), or the certificate names no OCSP responder
	// nor CRL at all under a hard-fail anchor (it can never be checked). Err is the checker's error, reachable with
	// errors.As. errors.Is(err, ErrRevocation) also holds.
	ErrRevoked = errors.New("pki: certificate revoked")
	// ErrRevocationUnavailable ("could not check"): the revocation status of a
	// certificate of the chain could not be established under a hard-fail anchor — no
	// responder gave a usable answer, or the context ended first. Not the client's fault: callers answer "try again
	// later". Err is the checker's error. errors.Is(err, ErrRevocation) also holds.
	ErrRevocationUnavailable = errors.New("pki: revocation status unavailable")
	// ErrRevocation is never a Reason itself: it is the parent matched by both
	// [ErrRevoked] and [ErrRevocationUnavailable] ("refused by the revocation check").
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

// Is reports whether target is the Reason, or [ErrRevocation] when the Reason is
// [ErrRevoked] or [ErrRevocationUnavailable].
func (e *ValidationError) Is(target error) bool {
	return target == e.Reason ||
		target == ErrRevocation && (e.Reason == ErrRevoked || e.Reason == ErrRevocationUnavailable)
}

// Unwrap returns the underlying cause.
func (e *ValidationError) Unwrap() error { return e.Err }

func fail(reason error, cert *x509.Certificate, err error) *ValidationError {
	return &ValidationError{Reason: reason, Cert: cert, Err: err}
}

// RevocationUnavailable is implemented by the errors of a [RevocationChecker] that mean
// "could not check" (package revocation's UnavailableError): no status could be obtained
// for now, as opposed to a status that was obtained and is bad.
type RevocationUnavailable interface {
	error
	RevocationUnavailable() bool
}

// revocationReason classifies an error of the revocation checker: [ErrRevocationUnavailable]
// when it (or something it wraps) reports RevocationUnavailable() true or is a context
// error, [ErrRevoked] for everything else ("checked and bad" is the default: an error the
// checker does not mark as "could not check" is a definite refusal).
func revocationReason(err error) error {
	var u RevocationUnavailable
	if errors.As(err, &u) && u.RevocationUnavailable() ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ErrRevocationUnavailable
	}
	return ErrRevoked
}
