package sandbox

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"path/filepath"
	"time"
)

// crlValidity is the distance from a CRL's thisUpdate to its nextUpdate. A CRL is
// re-issued when half of it has passed, or at once when a certificate is revoked.
const crlValidity = 24 * time.Hour

// crlScope names one of the two CRLs: the issuing CA's (leaves) and the root's (the
// issuing CA).
type crlScope int

const (
	scopeIssuing crlScope = iota + 1
	scopeRoot
)

func (s crlScope) file() string {
	if s == scopeRoot {
		return FileRootCRL
	}
	return FileIssuingCRL
}

func (n *crlNumbers) get(s crlScope) int64 {
	if s == scopeRoot {
		return n.Root
	}
	return n.Issuing
}

func (n *crlNumbers) set(s crlScope, v int64) {
	if s == scopeRoot {
		n.Root = v
	} else {
		n.Issuing = v
	}
}

// crlCache is one issued CRL.
type crlCache struct {
	der        []byte
	number     int64
	thisUpdate time.Time
	nextUpdate time.Time
}

// fresh reports whether c can still be served at now: it is the CRL numbered number
// (so it reflects the database's revocations) and less than half of its validity passed.
func (c *crlCache) fresh(number int64, now time.Time) bool {
	if c == nil || c.number != number || now.Before(c.thisUpdate) {
		return false
	}
	return now.Before(c.thisUpdate.Add(c.nextUpdate.Sub(c.thisUpdate) / 2))
}

func (ca *CA) crlSigner(s crlScope) (*x509.Certificate, crypto.Signer) {
	if s == scopeRoot {
		return ca.root, ca.rootKey
	}
	return ca.issuing, ca.issuingKey
}

// buildCRL signs the CRL of scope with the number db holds for it (RFC 5280 §5): the
// issuing CA's lists every revoked leaf with its revocation time and reason; the root's
// is empty (the issuing CA is never revoked).
func (ca *CA) buildCRL(s crlScope, db *database, now time.Time) (*crlCache, error) {
	issuer, key := ca.crlSigner(s)
	var entries []x509.RevocationListEntry
	if s == scopeIssuing {
		for _, r := range db.Certificates {
			if !r.Revoked() {
				continue
			}
			code, err := ParseReason(r.Reason)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			entries = append(entries, x509.RevocationListEntry{
				SerialNumber:   r.SerialNumber(),
				RevocationTime: r.RevokedAt.UTC(),
				ReasonCode:     code,
			})
		}
	}
	number := db.CRLNumbers.get(s)
	tmpl := &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                utc(now),
		NextUpdate:                utc(now.Add(crlValidity)),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("sandbox: sign CRL: %w", err)
	}
	return &crlCache{der: der, number: number, thisUpdate: tmpl.ThisUpdate, nextUpdate: tmpl.NextUpdate}, nil
}

// readCRL reads the CRL of scope from disk and checks its signature.
func (ca *CA) readCRL(s crlScope) (*crlCache, error) {
	der, err := readFileLimited(filepath.Join(ca.dir, s.file()))
	if err != nil {
		return nil, err
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, s.file(), err)
	}
	issuer, _ := ca.crlSigner(s)
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, s.file(), err)
	}
	if rl.Number == nil || !rl.Number.IsInt64() {
		return nil, fmt.Errorf("%w: %s: bad CRL number", ErrCorrupt, s.file())
	}
	return &crlCache{der: der, number: rl.Number.Int64(), thisUpdate: rl.ThisUpdate, nextUpdate: rl.NextUpdate}, nil
}

// writeCRLLocked issues the CRL of scope from db and replaces the file. The caller holds
// ca.mu and the directory lock, and has already written db (with the CRL number used
// here): a crash in between leaves a CRL file whose number is behind the database's,
// which crlLocked notices and repairs.
func (ca *CA) writeCRLLocked(s crlScope, db *database, now time.Time) (*crlCache, error) {
	c, err := ca.buildCRL(s, db, now)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(ca.dir, s.file(), c.der, 0o644); err != nil {
		return nil, fmt.Errorf("sandbox: write %s: %w", s.file(), err)
	}
	ca.crls[s] = c
	return c, nil
}

// crlLocked returns the CRL of scope to serve now: the cached one if it is fresh, else the
// file if that is fresh (another process re-issued it), else a newly issued CRL with the
// next number (persisted before the CRL is written, so numbers never repeat). The caller
// holds ca.mu and has refreshed ca.db.
func (ca *CA) crlLocked(s crlScope) (*crlCache, error) {
	now := ca.clk.Now()
	if c := ca.crls[s]; c.fresh(ca.db.CRLNumbers.get(s), now) {
		return c, nil
	}
	if c, err := ca.readCRL(s); err == nil && c.fresh(ca.db.CRLNumbers.get(s), now) {
		ca.crls[s] = c
		return c, nil
	}

	unlock, err := lockDir(ca.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	db, err := ca.reloadLocked()
	if err != nil {
		return nil, err
	}
	want := db.CRLNumbers.get(s)
	disk, diskErr := ca.readCRL(s)
	if diskErr == nil && disk.fresh(want, now) {
		ca.crls[s] = disk
		return disk, nil
	}
	next := want
	if diskErr == nil && disk.number > next {
		next = disk.number
	}
	db.CRLNumbers.set(s, next+1)
	if err := ca.writeDBLocked(db); err != nil {
		return nil, err
	}
	return ca.writeCRLLocked(s, db, now)
}
