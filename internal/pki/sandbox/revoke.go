package sandbox

import (
	"fmt"
	"math/big"
	"strings"
)

// RFC 5280 §5.3.1 CRLReason codes. The same numbers are OCSP's revocationReason
// (RFC 6960 §4.2.1).
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	ReasonRemoveFromCRL        = 8
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

// reasonNames are the RFC 5280 names of the reasons Revoke accepts. certificateHold and
// removeFromCRL are left out: they imply that a revocation can be undone, which this CA
// does not do.
var reasonNames = map[int]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// ParseReason returns the RFC 5280 CRLReason code named s ("keyCompromise",
// "cessationOfOperation", "superseded", "affiliationChanged", "unspecified",
// "cACompromise", "privilegeWithdrawn", "aACompromise"; case-insensitive). Any other
// string, including "certificateHold" and "removeFromCRL", returns ErrInvalidReason.
func ParseReason(s string) (int, error) {
	for code, name := range reasonNames {
		if strings.EqualFold(s, name) {
			return code, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want one of unspecified, keyCompromise, cACompromise, affiliationChanged, "+
		"superseded, cessationOfOperation, privilegeWithdrawn, aACompromise)", ErrInvalidReason, truncate(s))
}

// ReasonName returns the RFC 5280 name of a reason code Revoke accepts, and "" otherwise.
func ReasonName(code int) string { return reasonNames[code] }

// Revoke marks the certificate with the given serial as revoked now for reason (an RFC
// 5280 CRLReason code, see [ParseReason]), persists it in the issuance database and
// re-issues the issuing CA's CRL with the next CRL number. The OCSP responder answers
// "revoked" from then on, in this process and, after its next database check, in any other.
//
// It returns ErrUnknownSerial for a serial this CA did not issue, ErrAlreadyRevoked for one
// already revoked (the first revocation stands), and ErrInvalidReason for a code ParseReason
// would not return. If the revocation was recorded but the CRL file could not be written,
// the error says so; the CRL is then re-issued on its next request.
func (ca *CA) Revoke(serial *big.Int, reason int) error {
	if _, ok := reasonNames[reason]; !ok {
		return fmt.Errorf("%w: code %d", ErrInvalidReason, reason)
	}
	if serial == nil || serial.Sign() <= 0 {
		return fmt.Errorf("%w: %v", ErrUnknownSerial, serial)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	unlock, err := lockDir(ca.dir)
	if err != nil {
		return err
	}
	defer unlock()
	db, err := ca.reloadLocked()
	if err != nil {
		return err
	}
	rec, ok := db.lookup(serial)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownSerial, serialKey(serial))
	}
	if rec.Revoked() {
		return fmt.Errorf("%w: %s on %s (%s)", ErrAlreadyRevoked, rec.Serial, rec.RevokedAt.Format("2006-01-02T15:04:05Z"), rec.Reason)
	}
	now := ca.clk.Now()
	at := utc(now)
	rec.RevokedAt = &at
	rec.Reason = reasonNames[reason]
	db.CRLNumbers.Issuing++
	if err := ca.writeDBLocked(db); err != nil {
		return err
	}
	if _, err := ca.writeCRLLocked(scopeIssuing, db, now); err != nil {
		return fmt.Errorf("sandbox: %s revoked, but the CRL could not be re-issued (it will be on its next request): %w",
			rec.Serial, err)
	}
	return nil
}

// truncate shortens caller-supplied text quoted in an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
