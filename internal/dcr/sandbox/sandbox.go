// Package sandbox is the sandbox software statement directory for development and tests: a
// stand-in for the OB Directory that signs software statements (SSAs) with its own PS256 key
// (dcr-consent.md §1.4, OB-DCR-03), so that a TPP developer can register a client with
// `portcullis directory ssa` and a signed registration JWT, against a dev server that trusts
// this directory ([dcr.Directory] from [Directory.Trust]).
//
// Files in the directory's folder: [FileKey], its RSA-2048 signing key as PKCS#8 PEM
// (mode 0600), and [FileJWKS], the public JWK Set a bank configures as the directory's
// keystore. It refuses to overwrite an existing directory, and it never signs for an org
// status, role or URI that package dcr would refuse: what it mints is what a bank accepts.
// It is not a production directory: it has no organisation registry, no revocation and no
// audit trail.
package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/dcr"
	"github.com/portcullis/portcullis/internal/jose"
)

// The files of a sandbox directory.
const (
	FileKey  = "directory.key"
	FileJWKS = "jwks.json"
)

// Issuer is the iss of every software statement the sandbox directory signs.
const Issuer = "Portcullis Sandbox Directory"

// ErrExists is returned by [Init] when the folder already holds a directory key.
var ErrExists = errors.New("sandbox directory: already initialised")

// Directory is an initialised sandbox directory.
type Directory struct {
	keys  *jose.KeyStore
	clock clock.Clock
}

// Init creates a sandbox directory in dir (created 0700 if missing): a new PS256 key
// (RSA-2048) in [FileKey] and its public JWK Set in [FileJWKS]. It returns [ErrExists] if
// dir already has a key.
func Init(dir string, clk clock.Clock) (*Directory, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	keyPath := filepath.Join(dir, FileKey)
	if _, err := os.Stat(keyPath); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, keyPath)
	}
	key, err := jose.GenerateSigningKey(jose.PS256)
	if err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	pemBytes, err := key.MarshalPKCS8PEM()
	if err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	if _, err := f.Write(pemBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	d, err := open(dir, key, clk)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, FileJWKS), d.keys.JWKS(), 0o644); err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	return d, nil
}

// Open loads the sandbox directory in dir.
func Open(dir string, clk clock.Clock) (*Directory, error) {
	data, err := os.ReadFile(filepath.Join(dir, FileKey))
	if err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	key, err := jose.ParseSigningKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("sandbox directory %s: %w", dir, err)
	}
	return open(dir, key, clk)
}

func open(dir string, key *jose.SigningKey, clk clock.Clock) (*Directory, error) {
	if key.Alg() != jose.PS256 {
		return nil, fmt.Errorf("sandbox directory %s: the key must be an RSA key for PS256", dir)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	ks, err := jose.NewKeyStore(jose.KeyStoreOptions{Clock: clk, SigningAlg: jose.PS256}, key)
	if err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	return &Directory{keys: ks, clock: clk}, nil
}

// Trust returns the [dcr.Directory] that verifies what this directory signs: [Issuer]
// with the public keys of [FileJWKS].
func Trust(dir string) (dcr.Directory, error) {
	set, err := dcr.ReadJWKSFile(filepath.Join(dir, FileJWKS))
	if err != nil {
		return dcr.Directory{}, err
	}
	return dcr.Directory{Issuer: Issuer, Keys: set}, nil
}

// SSAOptions describe a software statement. SoftwareID, OrgID, OrgName, Roles, RedirectURIs
// and JWKSURI are required.
type SSAOptions struct {
	SoftwareID string
	OrgID      string
	OrgName    string
	// RegistrationID is the organisation's NCA registration (for an eIDAS QWAC: its
	// organizationIdentifier, e.g. PSDGB-FCA-123456); it goes into
	// organisation_competent_authority_claims. Empty means none.
	RegistrationID string
	// Roles are software_roles: AISP, PISP, CBPII.
	Roles        []string
	RedirectURIs []string
	// JWKSURI is software_jwks_endpoint; RevokedJWKSURI software_jwks_revoked_endpoint
	// (optional). Both https.
	JWKSURI, RevokedJWKSURI string
	// Status is org_status; empty means Active.
	Status string
	// ClientName is software_client_name; empty means the software id.
	ClientName string
	// Lifetime, when positive, sets exp = iat + Lifetime. Zero means no exp (as OB SSAs).
	Lifetime time.Duration
}

func (o *SSAOptions) check() error {
	switch {
	case o.SoftwareID == "" || len(o.SoftwareID) > 22 || strings.Trim(o.SoftwareID, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
		return errors.New("software id must be 1 to 22 letters and digits (OB Base62)")
	case o.OrgID == "":
		return errors.New("org id is required")
	case o.OrgName == "":
		return errors.New("org name is required")
	case len(o.Roles) == 0:
		return errors.New("at least one role is required")
	case len(o.RedirectURIs) == 0:
		return errors.New("at least one redirect URI is required")
	case o.Lifetime < 0:
		return errors.New("lifetime is negative")
	}
	for _, r := range o.Roles {
		if !slices.Contains([]string{dcr.RoleAISP, dcr.RolePISP, dcr.RoleCBPII}, r) {
			return fmt.Errorf("role %q: want AISP, PISP or CBPII", r)
		}
	}
	urls := append(slices.Clone(o.RedirectURIs), o.JWKSURI)
	if o.RevokedJWKSURI != "" {
		urls = append(urls, o.RevokedJWKSURI)
	}
	for _, u := range urls {
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
			return fmt.Errorf("%q is not an https URL", u)
		}
	}
	return nil
}

// IssueSSA signs a software statement (dcr-consent.md §1.4) with the directory's key:
// header PS256, kid, typ JWT; iss [Issuer], iat now, a fresh jti.
func (d *Directory) IssueSSA(o SSAOptions) (string, error) {
	if err := o.check(); err != nil {
		return "", fmt.Errorf("sandbox directory: %w", err)
	}
	now := d.clock.Now()
	status := o.Status
	if status == "" {
		status = dcr.OrgStatusActive
	}
	name := o.ClientName
	if name == "" {
		name = o.SoftwareID
	}
	claims := map[string]any{
		"iss": Issuer, "iat": now.Unix(), "jti": newJTI(),
		"software_environment": "sandbox", "software_mode": "Test",
		"software_id": o.SoftwareID, "software_client_id": o.SoftwareID, "software_client_name": name,
		"software_version": "1.0", "software_roles": o.Roles, "software_redirect_uris": o.RedirectURIs,
		"software_jwks_endpoint": o.JWKSURI,
		"org_id":                 o.OrgID, "org_name": o.OrgName, "org_status": status,
	}
	if o.RevokedJWKSURI != "" {
		claims["software_jwks_revoked_endpoint"] = o.RevokedJWKSURI
	}
	if o.RegistrationID != "" {
		claims["organisation_competent_authority_claims"] = map[string]any{
			"authority_id": "SANDBOX", "registration_id": o.RegistrationID, "status": "Active",
		}
	}
	if o.Lifetime > 0 {
		claims["exp"] = now.Add(o.Lifetime).Unix()
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sandbox directory: %w", err)
	}
	return d.keys.SignWith(jose.PS256, payload, "JWT")
}

// KeyID returns the kid of the directory's signing key.
func (d *Directory) KeyID() string { return d.keys.Keys()[0].KeyID }

// newJTI returns 128 random bits in hex.
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
