package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// dbVersion is the issuance database's format version.
const dbVersion = 1

// database is the issuance database, the JSON content of issued.json. It is only ever
// replaced as a whole (writeFileAtomic) while holding the directory lock.
type database struct {
	Version      int        `json:"version"`
	BaseURL      string     `json:"baseURL"`
	CRLNumbers   crlNumbers `json:"crlNumbers"`
	Certificates []Record   `json:"certificates"`

	index map[string]int // Serial → position in Certificates; built on load
}

// crlNumbers are the numbers of the last CRL issued for each scope; they only increase.
type crlNumbers struct {
	Issuing int64 `json:"issuing"`
	Root    int64 `json:"root"`
}

// Record is one certificate in the issuance database.
type Record struct {
	Serial     string     `json:"serial"`     // lower-case hex, no leading zeros
	Kind       Kind       `json:"kind"`       // what was issued
	Subject    string     `json:"subject"`    // RFC 4514 rendering of the subject
	NotBefore  time.Time  `json:"notBefore"`  //
	NotAfter   time.Time  `json:"notAfter"`   //
	Thumbprint string     `json:"thumbprint"` // base64url SHA-256 of the DER (RFC 8705 x5t#S256)
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	Reason     string     `json:"reason,omitempty"` // RFC 5280 CRLReason name; set iff RevokedAt is
}

// Revoked reports whether the certificate has been revoked.
func (r Record) Revoked() bool { return r.RevokedAt != nil }

// SerialNumber returns the serial as a number.
func (r Record) SerialNumber() *big.Int {
	n, _ := new(big.Int).SetString(r.Serial, 16) // validated on load and on insert
	return n
}

// serialKey is the database's spelling of a serial number.
func serialKey(n *big.Int) string { return n.Text(16) }

func newDatabase(baseURL string) *database {
	return &database{
		Version:      dbVersion,
		BaseURL:      baseURL,
		CRLNumbers:   crlNumbers{Issuing: 1, Root: 1},
		Certificates: []Record{},
		index:        map[string]int{},
	}
}

// lookup returns the record with the given serial.
func (db *database) lookup(serial *big.Int) (*Record, bool) {
	if serial == nil {
		return nil, false
	}
	i, ok := db.index[serialKey(serial)]
	if !ok {
		return nil, false
	}
	return &db.Certificates[i], true
}

func (db *database) add(r Record) {
	db.index[r.Serial] = len(db.Certificates)
	db.Certificates = append(db.Certificates, r)
}

func marshalDatabase(db *database) ([]byte, error) {
	b, err := json.MarshalIndent(db, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// readDatabase reads and validates dir/issued.json. The stamp is taken from the opened
// file, so it describes exactly the bytes read even if the file is replaced meanwhile.
func readDatabase(dir string) (*database, fileStamp, error) {
	path := filepath.Join(dir, FileDatabase)
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStamp{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, err
	}
	b, err := readAllLimited(f, path)
	if err != nil {
		return nil, fileStamp{}, err
	}
	db, err := parseDatabase(b)
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return db, fileStamp{info: fi}, nil
}

func parseDatabase(b []byte) (*database, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var db database
	if err := dec.Decode(&db); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	if db.Version != dbVersion {
		return nil, fmt.Errorf("unsupported version %d", db.Version)
	}
	if base, err := normalizeBaseURL(db.BaseURL); err != nil || base != db.BaseURL {
		return nil, fmt.Errorf("invalid baseURL %q", db.BaseURL)
	}
	if db.CRLNumbers.Issuing < 1 || db.CRLNumbers.Root < 1 {
		return nil, fmt.Errorf("invalid CRL numbers")
	}
	db.index = make(map[string]int, len(db.Certificates))
	for i, r := range db.Certificates {
		n, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok || n.Sign() <= 0 || serialKey(n) != r.Serial || n.BitLen() > 159 {
			return nil, fmt.Errorf("record %d: invalid serial %q", i, r.Serial)
		}
		if _, dup := db.index[r.Serial]; dup {
			return nil, fmt.Errorf("record %d: duplicate serial %s", i, r.Serial)
		}
		if !r.Kind.valid() && r.Kind != kindOCSPResponder {
			return nil, fmt.Errorf("record %d: unknown kind %q", i, r.Kind)
		}
		if r.Revoked() != (r.Reason != "") {
			return nil, fmt.Errorf("record %d: revokedAt and reason must be set together", i)
		}
		if r.Revoked() {
			if _, err := ParseReason(r.Reason); err != nil {
				return nil, fmt.Errorf("record %d: %v", i, err)
			}
		}
		db.index[r.Serial] = i
	}
	if db.Certificates == nil {
		db.Certificates = []Record{}
	}
	return &db, nil
}

// refreshLocked re-reads the database when the file on disk is no longer the one ca.db
// came from (another CA value or process wrote it). Cost when unchanged: one stat.
// The caller holds ca.mu.
func (ca *CA) refreshLocked() error {
	fi, err := os.Stat(filepath.Join(ca.dir, FileDatabase))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if ca.dbStamp.same(fi) {
		return nil
	}
	_, err = ca.reloadLocked()
	return err
}

// reloadLocked reads the database from disk unconditionally. Writers call it while holding
// the directory lock, so what they modify is the latest version. The caller holds ca.mu.
func (ca *CA) reloadLocked() (*database, error) {
	db, stamp, err := readDatabase(ca.dir)
	if err != nil {
		return nil, err
	}
	if db.BaseURL != ca.baseURL {
		return nil, fmt.Errorf("%w: base URL changed on disk from %s to %s", ErrCorrupt, ca.baseURL, db.BaseURL)
	}
	ca.db, ca.dbStamp = db, stamp
	return db, nil
}

// writeDBLocked replaces issued.json with db. The caller holds ca.mu and the directory
// lock. On failure the cached stamp is dropped, so the next request re-reads the disk
// instead of trusting the in-memory changes that did not make it there.
func (ca *CA) writeDBLocked(db *database) error {
	b, err := marshalDatabase(db)
	if err != nil {
		ca.dbStamp = fileStamp{}
		return err
	}
	if err := writeFileAtomic(ca.dir, FileDatabase, b, 0o600); err != nil {
		ca.dbStamp = fileStamp{}
		return fmt.Errorf("sandbox: write %s: %w", FileDatabase, err)
	}
	fi, err := os.Stat(filepath.Join(ca.dir, FileDatabase))
	if err != nil {
		ca.dbStamp = fileStamp{}
		return nil // written; the next refresh re-reads it
	}
	ca.db, ca.dbStamp = db, fileStamp{info: fi}
	return nil
}

// Records returns a copy of the issuance database's records, re-read from disk if it
// changed, in issuance order.
func (ca *CA) Records() ([]Record, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if err := ca.refreshLocked(); err != nil {
		return nil, err
	}
	out := make([]Record, len(ca.db.Certificates))
	for i, r := range ca.db.Certificates {
		if r.RevokedAt != nil {
			t := *r.RevokedAt
			r.RevokedAt = &t
		}
		out[i] = r
	}
	return out, nil
}
