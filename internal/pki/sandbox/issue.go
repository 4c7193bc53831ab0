package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// Kind is the profile of a certificate to issue.
type Kind string

// The kinds [CA.Issue] mints (pki.md §1.5, §1.6).
const (
	// KindQWAC: eIDAS qualified website authentication certificate for PSD2 mTLS —
	// QcCompliance, QcType web, PSD2 statement; serverAuth + clientAuth; QNCP-w and
	// qcp-web-psd2 policies.
	KindQWAC Kind = "qwac"
	// KindQSealC: eIDAS qualified electronic seal certificate for PSD2 message signing —
	// QcCompliance, QcType eseal, PSD2 statement; digitalSignature + nonRepudiation, no
	// extended key usage; QCP-l policy.
	KindQSealC Kind = "qsealc"
	// KindOBWAC: UK Open Banking "ETSI-like" transport certificate — QcType web and a PSD2
	// statement from "Open Banking"/"GB-OB", no QcCompliance; CN is the OB org_id; RSA 2048.
	KindOBWAC Kind = "obwac"
	// KindOBSeal: UK Open Banking signing certificate — as KindOBWAC with QcType eseal and
	// the seal key usages.
	KindOBSeal Kind = "obseal"
	// KindServer: TLS server certificate (serverAuth) for the given DNS names / IPs.
	KindServer Kind = "server"
	// KindClient: plain TLS client certificate (clientAuth) without PSD2 data.
	KindClient Kind = "client"

	// kindOCSPResponder marks the delegated OCSP responder certificates in the database.
	kindOCSPResponder Kind = "ocsp-responder"
)

var kinds = []Kind{KindQWAC, KindQSealC, KindOBWAC, KindOBSeal, KindServer, KindClient}

func (k Kind) valid() bool {
	for _, x := range kinds {
		if k == x {
			return true
		}
	}
	return false
}

func (k Kind) psd2() bool {
	return k == KindQWAC || k == KindQSealC || k == KindOBWAC || k == KindOBSeal
}
func (k Kind) ob() bool  { return k == KindOBWAC || k == KindOBSeal }
func (k Kind) web() bool { return k == KindQWAC || k == KindOBWAC }

// KeyType selects the key algorithm of an issued certificate.
type KeyType string

// The key types. The zero value selects the kind's default: ECDSA P-256, except RSA 2048
// for the OB-style kinds (the OB Directory accepts only RSA 2048 CSRs, pki.md §1.6).
const (
	KeyECDSAP256 KeyType = "ec"
	KeyRSA2048   KeyType = "rsa"
)

func generateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, optionErr("KeyType", "unknown key type %q (want %q or %q)", kt, KeyECDSAP256, KeyRSA2048)
}

// ParseKind returns the Kind named s ("qwac", "qsealc", "obwac", "obseal", "server",
// "client"), or an *InvalidOptionError (Option "Kind").
func ParseKind(s string) (Kind, error) {
	if k := Kind(s); k.valid() {
		return k, nil
	}
	return "", optionErr("Kind", "unknown certificate kind %q (want qwac, qsealc, obwac, obseal, server or client)", truncate(s))
}

// Defaults applied by [CA.Issue].
const (
	DefaultDays       = 365
	MaxDays           = 3650
	DefaultNCAName    = "Financial Conduct Authority"
	DefaultOrgName    = "Sandbox TPP"
	OBNCAName         = "Open Banking"
	OBNCAID           = "GB-OB"
	maxAttributeChars = 64 // X.520 upper bound of commonName and organizationName
)

// Certificate policy OIDs (EN 319 411-2, TS 119 495; pki.md §1.5).
var (
	policyQNCPw      = mustOID(0, 4, 0, 194112, 1, 5)
	policyQCPl       = mustOID(0, 4, 0, 194112, 1, 1)
	policyQCPWebPSD2 = mustOID(0, 4, 0, 19495, 3, 1)
)

func mustOID(arcs ...uint64) x509.OID {
	oid, err := x509.OIDFromInts(arcs)
	if err != nil {
		panic(err) // constant input
	}
	return oid
}

// IssueOptions describes the subject of a certificate to issue. Which fields apply depends
// on the kind; setting one that does not apply is an error, so nothing is silently dropped.
// Every error is an *InvalidOptionError naming the field.
type IssueOptions struct {
	// OrgID is the organizationIdentifier in the PSD2 form PSD<CC>-<NCA>-<number>
	// (pki.md §1.4), e.g. "PSDGB-FCA-123456". Required for qwac and qsealc; for obwac and
	// obseal it defaults to "PSDGB-OB-Unknown" + CommonName. Not allowed for server, client.
	OrgID string
	// OrgName is the subject O. PSD2 kinds: defaults to DefaultOrgName. Optional otherwise.
	OrgName string
	// CommonName is the subject CN. qwac, qsealc: defaults to OrgID. obwac, obseal:
	// required, the OB Directory org_id. server: defaults to the first DNS name or IP.
	// client: required.
	CommonName string
	// Country is the subject C (two upper-case letters). PSD2 kinds: defaults to OrgID's
	// country. Optional otherwise.
	Country string
	// Roles are the PSD2 roles (see [ParseRoles]); PSD2 kinds only, at least one.
	Roles []eidas.Role
	// NCAName is the competent authority's name: default DefaultNCAName (OBNCAName for OB).
	NCAName string
	// NCAID is the competent authority's id, CC-NCA; it must agree with OrgID. Default
	// derived from OrgID ("PSDGB-FCA-…" → "GB-FCA").
	NCAID string
	// Days of validity: 0 means DefaultDays; at most MaxDays and never beyond the issuing
	// CA's own expiry.
	Days int
	// DNSNames and IPAddresses become subjectAltName entries: server (at least one
	// required), qwac and obwac (optional).
	DNSNames    []string
	IPAddresses []net.IP
	// KeyType of the new key pair: default ECDSA P-256, RSA 2048 for obwac and obseal.
	KeyType KeyType
	// SoftwareID is the OB Directory software statement the certificate is issued for:
	// obwac and obseal only, optional; it becomes the subject OU (the organisation stays
	// CN = org_id, pki.md §1.6).
	SoftwareID string
}

// ParseRoles parses a comma-separated list of PSD2 roles, each given by its UK Open
// Banking name (AISP, PISP, CBPII, ASPSP; case-insensitive) or its TS 119 495 name
// (PSP_AI, PSP_PI, PSP_IC, PSP_AS, Unspecified). Errors are *InvalidOptionError
// (Option "Roles").
func ParseRoles(s string) ([]eidas.Role, error) {
	var out []eidas.Role
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		var r eidas.Role
		switch strings.ToUpper(part) {
		case "AISP", "PSP_AI":
			r = eidas.RoleAISP
		case "PISP", "PSP_PI":
			r = eidas.RolePISP
		case "CBPII", "PSP_IC":
			r = eidas.RoleCBPII
		case "ASPSP", "PSP_AS":
			r = eidas.RoleASPSP
		case "UNSPECIFIED":
			r = eidas.RoleUnspecified
		default:
			return nil, optionErr("Roles", "unknown role %q (want AISP, PISP, CBPII, ASPSP)", truncate(part))
		}
		out = append(out, r)
	}
	return out, nil
}

// profile is a validated IssueOptions turned into certificate content.
type profile struct {
	kind         Kind
	subjectDER   []byte
	subjectDN    string // RFC 4514 rendering of subjectDER, for the issuance database
	days         int
	keyType      KeyType
	keyUsage     x509.KeyUsage
	extKeyUsage  []x509.ExtKeyUsage
	policies     []x509.OID
	qcStatements []byte // nil: no extension
	dnsNames     []string
	ips          []net.IP
}

// newProfile validates opts for kind and fills in the defaults.
func newProfile(kind Kind, o IssueOptions) (*profile, error) {
	if !kind.valid() {
		return nil, optionErr("Kind", "unknown certificate kind %q", truncate(string(kind)))
	}
	p := &profile{kind: kind, days: o.Days, keyType: o.KeyType, dnsNames: o.DNSNames, ips: o.IPAddresses}

	notFor := func(field string, set bool) error {
		if set {
			return optionErr(field, "does not apply to %s certificates", kind)
		}
		return nil
	}
	if !kind.psd2() {
		for _, e := range []error{
			notFor("OrgID", o.OrgID != ""), notFor("Roles", len(o.Roles) > 0),
			notFor("NCAName", o.NCAName != ""), notFor("NCAID", o.NCAID != ""),
		} {
			if e != nil {
				return nil, e
			}
		}
	}
	if kind == KindQSealC || kind == KindOBSeal || kind == KindClient {
		if err := notFor("DNSNames", len(o.DNSNames) > 0); err != nil {
			return nil, err
		}
		if err := notFor("IPAddresses", len(o.IPAddresses) > 0); err != nil {
			return nil, err
		}
	}

	switch {
	case p.days == 0:
		p.days = DefaultDays
	case p.days < 0 || p.days > MaxDays:
		return nil, optionErr("Days", "%d is outside 1..%d", p.days, MaxDays)
	}
	if p.keyType == "" {
		p.keyType = KeyECDSAP256
		if kind.ob() {
			p.keyType = KeyRSA2048
		}
	}
	if p.keyType != KeyECDSAP256 && p.keyType != KeyRSA2048 {
		return nil, optionErr("KeyType", "unknown key type %q (want %q or %q)", truncate(string(p.keyType)), KeyECDSAP256, KeyRSA2048)
	}
	for _, d := range o.DNSNames {
		if err := checkDNSName(d); err != nil {
			return nil, err
		}
	}
	for _, ip := range o.IPAddresses {
		if ip.To4() == nil && ip.To16() == nil {
			return nil, optionErr("IPAddresses", "invalid IP address")
		}
	}

	var cn, org, country, orgID string = o.CommonName, o.OrgName, o.Country, o.OrgID
	switch kind {
	case KindQWAC, KindQSealC, KindOBWAC, KindOBSeal:
		if kind.ob() {
			if cn == "" {
				return nil, optionErr("CommonName", "%s certificates need the OB Directory org_id as common name", kind)
			}
			if orgID == "" {
				orgID = "PSDGB-OB-Unknown" + cn
			}
		}
		if orgID == "" {
			return nil, optionErr("OrgID", "%s certificates need an organizationIdentifier such as PSDGB-FCA-123456", kind)
		}
		oi, err := eidas.ParseOrganizationIdentifier(orgID)
		if err != nil || oi.Scheme != eidas.SchemePSD {
			return nil, optionErr("OrgID", "%q is not in the PSD2 form PSD<country>-<NCA>-<authorisation number>", truncate(orgID))
		}
		ncaName, ncaID := o.NCAName, o.NCAID
		if ncaName == "" {
			ncaName = DefaultNCAName
			if kind.ob() {
				ncaName = OBNCAName
			}
		}
		if ncaID == "" {
			ncaID = oi.NCAID()
		}
		if ncaID != oi.NCAID() {
			return nil, optionErr("NCAID", "%q does not agree with organizationIdentifier %s (want %s)", truncate(ncaID), orgID, oi.NCAID())
		}
		if len(o.Roles) == 0 {
			return nil, optionErr("Roles", "%s certificates need at least one PSD2 role", kind)
		}
		qc := &eidas.QCStatements{
			Compliance: !kind.ob(), // OB certificates are not EU-qualified (pki.md §1.6)
			Types:      []eidas.QcType{eidas.QcTypeESeal},
			PSD2:       &eidas.PSD2{Roles: o.Roles, NCAName: ncaName, NCAID: ncaID},
		}
		if kind.web() {
			qc.Types = []eidas.QcType{eidas.QcTypeWeb}
		}
		if p.qcStatements, err = qc.Marshal(); err != nil {
			return nil, qcOptionError(err)
		}
		if cn == "" {
			cn = orgID
		}
		if org == "" {
			org = DefaultOrgName
		}
		if country == "" {
			country = oi.Country
		}
		if kind.web() {
			p.keyUsage = x509.KeyUsageDigitalSignature
			p.extKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		} else {
			p.keyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		}
		switch kind {
		case KindQWAC:
			p.policies = []x509.OID{policyQNCPw, policyQCPWebPSD2}
		case KindQSealC:
			p.policies = []x509.OID{policyQCPl}
		}
	case KindServer:
		if len(o.DNSNames) == 0 && len(o.IPAddresses) == 0 {
			return nil, optionErr("DNSNames", "server certificates need at least one DNS name or IP address")
		}
		if cn == "" {
			if len(o.DNSNames) > 0 {
				cn = o.DNSNames[0]
			} else {
				cn = o.IPAddresses[0].String()
			}
		}
		p.keyUsage = x509.KeyUsageDigitalSignature
		p.extKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case KindClient:
		if cn == "" {
			return nil, optionErr("CommonName", "client certificates need a common name")
		}
		p.keyUsage = x509.KeyUsageDigitalSignature
		p.extKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if p.keyType == KeyRSA2048 && p.extKeyUsage != nil && kind != KindClient {
		p.keyUsage |= x509.KeyUsageKeyEncipherment // RSA key transport (pki.md §1.5)
	}

	// Subject in the order of the PSD2 examples: C, O, [OU,] organizationIdentifier, CN.
	if o.SoftwareID != "" && !kind.ob() {
		return nil, optionErr("SoftwareID", "a software id goes only into obwac and obseal certificates")
	}
	var subject pkix.RDNSequence
	for _, a := range []struct {
		field, value string
		oid          asn1.ObjectIdentifier
	}{
		{"Country", country, oidCountry},
		{"OrgName", org, oidOrganization},
		{"SoftwareID", o.SoftwareID, oidOrganizationalUnit},
		{"OrgID", orgID, eidas.OIDOrganizationID},
		{"CommonName", cn, oidCommonName},
	} {
		if a.value == "" {
			continue
		}
		if err := checkAttribute(a.field, a.value); err != nil {
			return nil, err
		}
		if a.field == "Country" && (len(a.value) != 2 || !isUpper(a.value)) {
			return nil, optionErr("Country", "%q is not a two-letter ISO 3166 code in upper case", truncate(a.value))
		}
		subject = append(subject, []pkix.AttributeTypeAndValue{{Type: a.oid, Value: a.value}})
	}
	var err error
	if p.subjectDER, err = asn1.Marshal(subject); err != nil {
		return nil, fmt.Errorf("sandbox: encode subject: %w", err)
	}
	if p.subjectDN, err = dn.Render(p.subjectDER); err != nil {
		return nil, fmt.Errorf("sandbox: render subject: %w", err)
	}
	return p, nil
}

// qcOptionError maps the eidas encoder's refusal to the option that caused it.
func qcOptionError(err error) error {
	switch {
	case errors.Is(err, eidas.ErrBadNCAName):
		return optionErr("NCAName", "%v", err)
	case errors.Is(err, eidas.ErrBadNCAID):
		return optionErr("NCAID", "%v", err)
	case errors.Is(err, eidas.ErrNoRoles), errors.Is(err, eidas.ErrUnknownRole), errors.Is(err, eidas.ErrDuplicateRole),
		errors.Is(err, eidas.ErrUnspecifiedRole), errors.Is(err, eidas.ErrBadRoleName):
		return optionErr("Roles", "%v", err)
	}
	return fmt.Errorf("sandbox: encode qcStatements: %w", err)
}

var (
	oidCountry            = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidOrganization       = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCommonName         = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// checkAttribute: 1..64 characters of valid UTF-8 without control characters.
func checkAttribute(field, v string) error {
	if !utf8.ValidString(v) {
		return optionErr(field, "not valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > maxAttributeChars {
		return optionErr(field, "%d characters, at most %d allowed", n, maxAttributeChars)
	}
	for _, r := range v {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return optionErr(field, "control character U+%04X", r)
		}
	}
	return nil
}

func isUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// checkDNSName accepts a host name of letter-digit-hyphen labels (RFC 1035 §2.3.1 as
// relaxed by RFC 1123), at most 253 characters, without a trailing dot or wildcard.
func checkDNSName(d string) error {
	if d == "" || len(d) > 253 {
		return optionErr("DNSNames", "%q is not a valid DNS name", truncate(d))
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return optionErr("DNSNames", "%q is not a valid DNS name", truncate(d))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return optionErr("DNSNames", "%q is not a valid DNS name", truncate(d))
			}
		}
	}
	return nil
}

// Issued is a freshly issued certificate with its private key. It holds a secret:
// LogValue reports only the serial, kind and subject.
type Issued struct {
	Certificate *x509.Certificate
	Chain       []*x509.Certificate // Certificate, then the issuing CA
	Key         crypto.Signer
	Record      Record // as stored in the issuance database
	CertPEM     []byte // Chain in PEM, leaf first
	KeyPEM      []byte // Key as a PKCS#8 "PRIVATE KEY" PEM block
}

// LogValue implements slog.LogValuer without the key.
func (is *Issued) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("serial", is.Record.Serial),
		slog.String("kind", string(is.Record.Kind)),
		slog.String("subject", is.Record.Subject),
	)
}

// WriteFiles writes PREFIX.crt (the leaf, then the issuing CA, PEM) and PREFIX.key (the
// PKCS#8 PEM key, mode 0600), as INTERFACE.md specifies for `pki issue --out PREFIX`. It
// never overwrites: if either file exists it returns an error matching ErrExists and
// fs.ErrExist and leaves both untouched.
func (is *Issued) WriteFiles(prefix string) error {
	certPath, keyPath := prefix+".crt", prefix+".key"
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%w: %s: %w", ErrExists, p, os.ErrExist)
		}
	}
	if err := writeFileExclusive(keyPath, is.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("sandbox: write %s: %w", keyPath, err)
	}
	if err := writeFileExclusive(certPath, is.CertPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return fmt.Errorf("sandbox: write %s: %w", certPath, err)
	}
	return nil
}

// maxSerialAttempts bounds the retries when a random serial collides with an issued one.
const maxSerialAttempts = 8

// Issue mints a certificate of the given kind (pki.md §1.5, §1.6) from the issuing CA and
// records it in the issuance database before returning it. Every certificate carries a
// random 128-bit serial, subject and authority key identifiers, AIA (OCSP and caIssuers)
// and a CRL distribution point under the CA's base URL, and a fresh key of opts.KeyType.
//
// Invalid or inapplicable options return an *InvalidOptionError naming the field (e.g.
// OrgID not in the PSD2 form, NCAID disagreeing with OrgID, no roles, Days beyond the
// issuing CA's lifetime). ErrLocked and I/O errors mean nothing was issued.
func (ca *CA) Issue(kind Kind, opts IssueOptions) (*Issued, error) {
	p, err := newProfile(kind, opts)
	if err != nil {
		return nil, err
	}
	key, err := generateKey(p.keyType)
	if err != nil {
		return nil, err
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.issueLocked(p, key)
}

// issueLocked signs p's certificate for key and records it. The caller holds ca.mu.
func (ca *CA) issueLocked(p *profile, key crypto.Signer) (*Issued, error) {
	now := ca.clk.Now()
	notAfter := utc(now.Add(time.Duration(p.days) * 24 * time.Hour))
	if notAfter.After(ca.issuing.NotAfter) {
		return nil, optionErr("Days", "%d days would outlive the issuing CA (expires %s)", p.days, ca.issuing.NotAfter.Format(time.DateOnly))
	}
	tmpl := &x509.Certificate{
		RawSubject:            p.subjectDER,
		NotBefore:             utc(now.Add(-backdate)),
		NotAfter:              notAfter,
		KeyUsage:              p.keyUsage,
		ExtKeyUsage:           p.extKeyUsage,
		BasicConstraintsValid: true,
		DNSNames:              p.dnsNames,
		IPAddresses:           p.ips,
		Policies:              p.policies,
		OCSPServer:            []string{ca.ocspURL()},
		IssuingCertificateURL: []string{ca.issuingCertURL()},
		CRLDistributionPoints: []string{ca.issuingCRLURL()},
	}
	if p.qcStatements != nil {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: eidas.OIDQCStatements, Value: p.qcStatements}}
	}
	cert, rec, err := ca.signAndRecordLocked(tmpl, p.kind, p.subjectDN, key)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return nil, err
	}
	return &Issued{
		Certificate: cert,
		Chain:       []*x509.Certificate{cert, ca.issuing},
		Key:         key,
		Record:      rec,
		CertPEM:     encodeCertPEM(cert, ca.issuing),
		KeyPEM:      keyPEM,
	}, nil
}

// signAndRecordLocked picks a serial not yet in the database, signs tmpl with the issuing
// CA and appends the record, all under the directory lock. The caller holds ca.mu.
func (ca *CA) signAndRecordLocked(tmpl *x509.Certificate, kind Kind, subject string, key crypto.Signer) (*x509.Certificate, Record, error) {
	unlock, err := lockDir(ca.dir)
	if err != nil {
		return nil, Record{}, err
	}
	defer unlock()
	if _, err := ca.reloadLocked(); err != nil {
		return nil, Record{}, err
	}
	return ca.recordLocked(tmpl, kind, subject, key)
}

// recordLocked does the work of signAndRecordLocked; the caller holds ca.mu and the
// directory lock and has just reloaded ca.db.
func (ca *CA) recordLocked(tmpl *x509.Certificate, kind Kind, subject string, key crypto.Signer) (*x509.Certificate, Record, error) {
	db := ca.db
	for i := 0; ; i++ {
		serial, err := randomSerial()
		if err != nil {
			return nil, Record{}, err
		}
		if _, taken := db.lookup(serial); !taken {
			tmpl.SerialNumber = serial
			break
		}
		if i >= maxSerialAttempts {
			return nil, Record{}, errors.New("sandbox: could not find a free serial number")
		}
	}
	cert, err := signCertificate(tmpl, ca.issuing, key.Public(), ca.issuingKey)
	if err != nil {
		return nil, Record{}, fmt.Errorf("sandbox: sign certificate: %w", err)
	}
	rec := Record{
		Serial:     serialKey(cert.SerialNumber),
		Kind:       kind,
		Subject:    subject,
		NotBefore:  cert.NotBefore.UTC(),
		NotAfter:   cert.NotAfter.UTC(),
		Thumbprint: pki.Thumbprint(cert),
	}
	db.add(rec)
	if err := ca.writeDBLocked(db); err != nil {
		return nil, Record{}, err
	}
	return cert, rec, nil
}
