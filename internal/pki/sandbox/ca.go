package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// Lifetimes of the CA certificates, and how far every NotBefore is set back to tolerate
// clients whose clocks run a little behind.
const (
	rootYears    = 10
	issuingYears = 5
	backdate     = 5 * time.Minute
)

// initLocked creates the CA files in dir; the caller holds the directory lock.
func initLocked(dir, base string, clk clock.Clock) (ca *CA, err error) {
	owned := []string{FileRootCert, FileRootKey, FileIssuingCert, FileIssuingKey, FileOCSPCert, FileOCSPKey,
		FileDatabase, FileIssuingCRL, FileRootCRL}
	for _, name := range owned {
		_, err := os.Lstat(filepath.Join(dir, name))
		if err == nil {
			return nil, fmt.Errorf("%w: %s (refusing to overwrite a CA)", ErrExists, filepath.Join(dir, name))
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}

	now := clk.Now()
	var tag [3]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return nil, err
	}
	name := func(cn string) pkix.Name {
		// A random tag keeps two sandboxes on one machine from having the same CA names,
		// which would confuse chain building in trust stores holding both.
		return pkix.Name{Organization: []string{"Portcullis Sandbox"}, CommonName: cn + " " + hex.EncodeToString(tag[:])}
	}

	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		Subject:               name("Portcullis Sandbox Root CA"),
		NotBefore:             utc(now.Add(-backdate)),
		NotAfter:              utc(now.AddDate(rootYears, 0, 0)),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	root, err := signCertificate(rootTmpl, nil, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("sandbox: create root CA: %w", err)
	}

	ca = &CA{dir: dir, clk: clk, baseURL: base, root: root, rootKey: rootKey, crls: map[crlScope]*crlCache{}}

	issuingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	issuingTmpl := &x509.Certificate{
		Subject:               name("Portcullis Sandbox Issuing CA"),
		NotBefore:             utc(now.Add(-backdate)),
		NotAfter:              utc(now.AddDate(issuingYears, 0, 0)),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		IssuingCertificateURL: []string{ca.rootCertURL()},
		CRLDistributionPoints: []string{ca.rootCRLURL()},
	}
	if ca.issuing, err = signCertificate(issuingTmpl, root, issuingKey.Public(), rootKey); err != nil {
		return nil, fmt.Errorf("sandbox: create issuing CA: %w", err)
	}
	ca.issuingKey = issuingKey

	db := newDatabase(base)
	rootCRL, err := ca.buildCRL(scopeRoot, db, now)
	if err != nil {
		return nil, err
	}
	issuingCRL, err := ca.buildCRL(scopeIssuing, db, now)
	if err != nil {
		return nil, err
	}
	dbJSON, err := marshalDatabase(db)
	if err != nil {
		return nil, err
	}
	rootKeyPEM, err := encodeKeyPEM(rootKey)
	if err != nil {
		return nil, err
	}
	issuingKeyPEM, err := encodeKeyPEM(issuingKey)
	if err != nil {
		return nil, err
	}

	var created []string
	defer func() {
		if err != nil {
			for _, p := range created {
				os.Remove(p)
			}
		}
	}()
	// The database goes last: Open needs it, so a crash midway leaves no openable CA.
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{FileRootKey, rootKeyPEM, 0o600},
		{FileIssuingKey, issuingKeyPEM, 0o600},
		{FileRootCert, encodeCertPEM(root), 0o644},
		{FileIssuingCert, encodeCertPEM(ca.issuing), 0o644},
		{FileRootCRL, rootCRL.der, 0o644},
		{FileIssuingCRL, issuingCRL.der, 0o644},
		{FileDatabase, dbJSON, 0o600},
	} {
		path := filepath.Join(dir, f.name)
		if err = writeFileExclusive(path, f.data, f.perm); err != nil {
			return nil, fmt.Errorf("sandbox: write %s: %w", path, err)
		}
		created = append(created, path)
	}
	syncDir(dir)
	fi, statErr := os.Stat(filepath.Join(dir, FileDatabase))
	if statErr == nil {
		ca.dbStamp = fileStamp{info: fi}
	}
	ca.db = db
	ca.crls[scopeRoot] = rootCRL
	ca.crls[scopeIssuing] = issuingCRL
	return ca, nil
}

// signCertificate fills in a fresh random serial and the subject key identifier, signs
// tmpl with signer (self-signed when parent is nil) and parses the result back.
func signCertificate(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	if tmpl.SerialNumber == nil {
		serial, err := randomSerial()
		if err != nil {
			return nil, err
		}
		tmpl.SerialNumber = serial
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	tmpl.SubjectKeyId = ski
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// randomSerial returns a positive serial number with 128 random bits (RFC 5280 §4.1.2.2,
// CA/B Forum: at least 64 bits of CSPRNG output).
func randomSerial() (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		if n := new(big.Int).SetBytes(b[:]); n.Sign() > 0 {
			return n, nil
		}
	}
}
