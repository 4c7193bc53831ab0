// Package sandbox is Portcullis' own test certificate authority: a root and an issuing CA
// kept in one directory, which mint QWAC / QSealC (and OB-style OBWAC / OBSeal) certificates
// with real qcStatements and organizationIdentifier, plain TLS server and client
// certificates, revoke them by serial, and answer for them over HTTP as an OCSP responder
// and CRL distribution point (pki.md §1.5, §1.6, §2.1, §2.5; RFC 5280, RFC 6960, RFC 5019).
//
// It owns the directory given to [Init]:
//
//	ca.crt        the sandbox trust anchor (root CA, PEM)
//	ca.key        root key (PKCS#8 PEM, 0600)
//	issuing.crt   the issuing CA (PEM), signed by the root
//	issuing.key   issuing CA key (PKCS#8 PEM, 0600)
//	ocsp.crt/.key the delegated OCSP responder (short-lived, renewed automatically)
//	issued.json   the issuance database: every certificate issued, revoked-at, reason,
//	              CRL numbers and the base URL; replaced atomically (temp file + rename)
//	issuing.crl   DER CRL of the issuing CA (leaves); root.crl: DER CRL of the root
//	.lock         lock file serialising writers across processes
//
// Every certificate it issues names the base URL chosen at [Init] in its AIA (OCSP and
// caIssuers) and CRL distribution point, and [CA.Handler] serves exactly those URLs. The CLI
// (`portcullis pki revoke`) and a running server may use one directory at the same time:
// writers take the lock file, and readers notice a changed database by its file stamp.
//
// It refuses to overwrite an existing CA, to issue certificates whose fields violate the
// PSD2 profile (pki.md §1.3, §1.4), to outlive the issuing CA, and to revoke a certificate
// twice or with a reason that implies un-revocation (certificateHold, removeFromCRL). It is
// a sandbox: keys are software keys on disk, and there is no audit trail beyond issued.json.
// Never use it as a production CA.
package sandbox

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/clock"
)

// DefaultBaseURL is where dev mode serves the sandbox CA's OCSP responder and CRLs: the
// ops listener, over plain HTTP as OCSP and CRLs normally are.
const DefaultBaseURL = "http://127.0.0.1:9090/pki"

// File names inside the CA directory.
const (
	FileRootCert    = "ca.crt"
	FileRootKey     = "ca.key"
	FileIssuingCert = "issuing.crt"
	FileIssuingKey  = "issuing.key"
	FileOCSPCert    = "ocsp.crt"
	FileOCSPKey     = "ocsp.key"
	FileDatabase    = "issued.json"
	FileIssuingCRL  = "issuing.crl"
	FileRootCRL     = "root.crl"
	fileLock        = ".lock"
)

// Errors returned by this package. Each is returned wrapped with detail; test with errors.Is.
var (
	// ErrExists: Init found (part of) a CA in the directory and refused to overwrite it;
	// WriteFiles found an existing output file.
	ErrExists = errors.New("sandbox: already exists")
	// ErrNotInitialized: Open found no CA in the directory.
	ErrNotInitialized = errors.New("sandbox: no sandbox CA in directory")
	// ErrCorrupt: the CA directory is inconsistent (unparsable database, key not matching
	// its certificate, issuing CA not signed by the root, ...). Nothing is answered from it.
	ErrCorrupt = errors.New("sandbox: CA directory is corrupt")
	// ErrBaseURLMismatch: OpenOrInit was given a base URL other than the one the existing CA
	// writes into its certificates.
	ErrBaseURLMismatch = errors.New("sandbox: base URL differs from the existing CA's")
	// ErrLocked: another process held the directory's lock for longer than the bounded wait.
	ErrLocked = errors.New("sandbox: CA directory is locked by another process")
	// ErrUnknownSerial: Revoke was given a serial this CA never issued.
	ErrUnknownSerial = errors.New("sandbox: unknown serial number")
	// ErrAlreadyRevoked: Revoke was given a serial that is already revoked.
	ErrAlreadyRevoked = errors.New("sandbox: certificate already revoked")
	// ErrInvalidReason: a revocation reason that is not an RFC 5280 CRLReason this CA uses.
	ErrInvalidReason = errors.New("sandbox: invalid revocation reason")
)

// InvalidOptionError reports an option (of [IssueOptions], or the base URL) that is missing
// or violates the certificate profile. Option is the Go field name ("OrgID", "NCAID",
// "Roles", "Days", "BaseURL", ...).
type InvalidOptionError struct {
	Option string
	Reason string
}

func (e *InvalidOptionError) Error() string {
	return "sandbox: invalid " + e.Option + ": " + e.Reason
}

func optionErr(option, format string, args ...any) error {
	return &InvalidOptionError{Option: option, Reason: fmt.Sprintf(format, args...)}
}

// CA is a sandbox certificate authority opened from its directory. It is safe for
// concurrent use, and several CA values (in one or several processes) may share a
// directory.
type CA struct {
	dir     string
	clk     clock.Clock
	baseURL string // no trailing slash

	root       *x509.Certificate
	rootKey    crypto.Signer
	issuing    *x509.Certificate
	issuingKey crypto.Signer

	mu      sync.Mutex // guards the fields below, and orders in-process writers before the file lock
	db      *database  // last database read from disk
	dbStamp fileStamp  // stamp of the file db was read from
	signer  *ocspSigner
	crls    map[crlScope]*crlCache
}

// Init creates a sandbox CA in dir (created 0700 if missing): a root CA (ECDSA P-256,
// 10 years) and an issuing CA (ECDSA P-256, 5 years) signed by it, their keys, initial
// CRLs and an empty issuance database. baseURL is where [CA.Handler] will be reachable
// (empty: [DefaultBaseURL]); it is written into the issuing CA and every certificate issued.
//
// Init returns ErrExists if any CA file is already present (it never overwrites), an
// *InvalidOptionError (Option "BaseURL") for a base URL that is not an absolute http(s) URL
// without query or fragment, and ErrLocked if another process holds the directory.
// On failure it removes the files it created.
func Init(dir, baseURL string, clk clock.Clock) (*CA, error) {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	base, err := normalizeBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: create %s: %w", dir, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return initLocked(dir, base, clk)
}

// Open opens the sandbox CA in dir. It returns ErrNotInitialized (which also matches
// fs.ErrNotExist) when dir holds no CA, and ErrCorrupt when its files do not fit together.
func Open(dir string, clk clock.Clock) (*CA, error) {
	db, stamp, err := readDatabase(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w %s: %w", ErrNotInitialized, dir, err)
		}
		return nil, err
	}
	ca := &CA{dir: dir, clk: clk, baseURL: db.BaseURL, db: db, dbStamp: stamp, crls: map[crlScope]*crlCache{}}
	if ca.root, ca.rootKey, err = loadPair(dir, FileRootCert, FileRootKey); err != nil {
		return nil, err
	}
	if ca.issuing, ca.issuingKey, err = loadPair(dir, FileIssuingCert, FileIssuingKey); err != nil {
		return nil, err
	}
	if !ca.root.IsCA || !ca.issuing.IsCA {
		return nil, fmt.Errorf("%w: %s or %s is not a CA certificate", ErrCorrupt, FileRootCert, FileIssuingCert)
	}
	if err := ca.issuing.CheckSignatureFrom(ca.root); err != nil {
		return nil, fmt.Errorf("%w: %s is not signed by %s: %v", ErrCorrupt, FileIssuingCert, FileRootCert, err)
	}
	if ca.issuing.KeyUsage&x509.KeyUsageCRLSign == 0 || ca.root.KeyUsage&x509.KeyUsageCRLSign == 0 ||
		len(ca.issuing.SubjectKeyId) == 0 || len(ca.root.SubjectKeyId) == 0 {
		return nil, fmt.Errorf("%w: CA certificates lack cRLSign or a subject key identifier", ErrCorrupt)
	}
	return ca, nil
}

// OpenOrInit opens the CA in dir, or creates it there with [Init] when dir holds no CA
// (dev mode's first start). For an existing CA, a non-empty baseURL must equal the one the
// CA was created with (after normalisation), otherwise it returns ErrBaseURLMismatch: the
// URLs in already-issued certificates would point nowhere.
func OpenOrInit(dir, baseURL string, clk clock.Clock) (*CA, error) {
	_, statErr := os.Stat(filepath.Join(dir, FileDatabase))
	if errors.Is(statErr, os.ErrNotExist) {
		ca, err := Init(dir, baseURL, clk)
		if !errors.Is(err, ErrExists) {
			return ca, err
		}
		// Another process initialised it first, or a half-written CA is there; Open tells.
	}
	ca, err := Open(dir, clk)
	if err != nil {
		return nil, err
	}
	if baseURL != "" {
		want, err := normalizeBaseURL(baseURL)
		if err != nil {
			return nil, err
		}
		if want != ca.baseURL {
			return nil, fmt.Errorf("%w: %s was created for %s, asked for %s (remove the directory to start over)",
				ErrBaseURLMismatch, dir, ca.baseURL, want)
		}
	}
	return ca, nil
}

// Dir returns the CA's directory.
func (ca *CA) Dir() string { return ca.dir }

// BaseURL returns the base URL written into the CA's certificates, without a trailing slash.
func (ca *CA) BaseURL() string { return ca.baseURL }

// RootCertificate returns the sandbox trust anchor (the content of ca.crt).
func (ca *CA) RootCertificate() *x509.Certificate { return ca.root }

// IssuingCertificate returns the issuing CA certificate, the issuer of every leaf.
func (ca *CA) IssuingCertificate() *x509.Certificate { return ca.issuing }

// The URLs of the CA's services, all under the base URL.
func (ca *CA) ocspURL() string        { return ca.baseURL + "/ocsp" }
func (ca *CA) rootCertURL() string    { return ca.baseURL + "/ca.crt" }
func (ca *CA) issuingCertURL() string { return ca.baseURL + "/issuing.crt" }
func (ca *CA) issuingCRLURL() string  { return ca.baseURL + "/issuing.crl" }
func (ca *CA) rootCRLURL() string     { return ca.baseURL + "/root.crl" }

// normalizeBaseURL checks that s is an absolute http(s) URL with a host and no query,
// fragment or user info, and returns it without a trailing slash.
func normalizeBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", optionErr("BaseURL", "%v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", optionErr("BaseURL", "%q is not an http or https URL", s)
	case u.Host == "" || u.Opaque != "":
		return "", optionErr("BaseURL", "%q has no host", s)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", optionErr("BaseURL", "%q must not carry user info, query or fragment", s)
	case len(s) > 1024:
		return "", optionErr("BaseURL", "longer than 1024 characters")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// discard is the logger used when a caller passes nil.
var discard = slog.New(slog.DiscardHandler)
