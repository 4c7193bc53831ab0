package pkitest

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// LeafOptions describes a certificate for [CA.Issue]. The zero value is an ECDSA
// end-entity certificate with an empty subject, no key usage, no extended key usage,
// valid from an hour before now for 90 days, carrying the CA's revocation URLs.
type LeafOptions struct {
	Subject pkix.Name
	// OrganizationIdentifier, when set, is added to the subject as attribute 2.5.4.97,
	// placed just before the CN as OpenSSL's `-subj "/C/O/organizationIdentifier/CN"`
	// does (pki.md §1.8).
	OrganizationIdentifier string
	// RawSubject, when set, is used verbatim as the DER subject (Subject and
	// OrganizationIdentifier are then ignored): for multi-valued RDNs and tricky
	// string types.
	RawSubject []byte

	// QC is encoded with eidas Marshal into a qcStatements extension.
	QC *eidas.QCStatements
	// QCStatementsDER, when set, is the qcStatements extension value verbatim (it
	// overrides QC): for certificates that break the rules.
	QCStatementsDER []byte

	EKU        []x509.ExtKeyUsage
	UnknownEKU []asn1.ObjectIdentifier
	KeyUsage   x509.KeyUsage

	// NotBefore / NotAfter; zero means now-1h / now+90 days.
	NotBefore, NotAfter time.Time

	DNSNames       []string
	EmailAddresses []string
	IPAddresses    []net.IP
	URIs           []*url.URL

	// OCSPServer and CRLDistributionPoints: nil means the URLs of the CA's issuer
	// responder / CRL server (if it has them); an empty non-nil slice means none.
	OCSPServer            []string
	CRLDistributionPoints []string

	// KeyType: "ec" (default, P-256) or "rsa" (2048).
	KeyType string
	// IsCA issues a CA certificate (basicConstraints CA:TRUE, keyCertSign and cRLSign
	// added to KeyUsage).
	IsCA bool
	// SerialNumber; nil means a random 127-bit serial.
	SerialNumber *big.Int
	// ExtraExtensions are added verbatim.
	ExtraExtensions []pkix.Extension
}

// Leaf is an issued certificate with everything a test needs to present it.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is the certificate followed by the intermediates (not the root): what a
	// TLS client presents, and what pki.Validator.Validate takes.
	Chain []*x509.Certificate
	// CertPEM is Chain as PEM; KeyPEM the private key as PKCS #8 PEM.
	CertPEM, KeyPEM []byte
	// TLS is the certificate for a tls.Config (client or server).
	TLS tls.Certificate
}

// Issue creates a certificate signed by [CA.Issuer]. When the CA runs an OCSP
// responder, the new serial is registered there as good.
func (ca *CA) Issue(t testing.TB, o LeafOptions) *Leaf {
	t.Helper()
	now := ca.clock.Now()
	key := newKey(t, o.KeyType)
	tmpl := &x509.Certificate{
		SerialNumber:          o.SerialNumber,
		Subject:               o.Subject,
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              o.KeyUsage,
		ExtKeyUsage:           o.EKU,
		UnknownExtKeyUsage:    o.UnknownEKU,
		BasicConstraintsValid: true,
		IsCA:                  o.IsCA,
		DNSNames:              o.DNSNames,
		EmailAddresses:        o.EmailAddresses,
		IPAddresses:           o.IPAddresses,
		URIs:                  o.URIs,
		OCSPServer:            o.OCSPServer,
		CRLDistributionPoints: o.CRLDistributionPoints,
		ExtraExtensions:       append([]pkix.Extension(nil), o.ExtraExtensions...),
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = newSerial(t)
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(90 * 24 * time.Hour)
	}
	if o.IsCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if tmpl.OCSPServer == nil && ca.OCSP != nil {
		tmpl.OCSPServer = []string{ca.OCSP.URL}
	}
	if tmpl.CRLDistributionPoints == nil && ca.CRL != nil {
		tmpl.CRLDistributionPoints = []string{ca.CRL.URL}
	}
	switch {
	case o.RawSubject != nil:
		tmpl.RawSubject = o.RawSubject
	case o.OrganizationIdentifier != "":
		tmpl.RawSubject = subjectWithOrgID(t, o.Subject, o.OrganizationIdentifier)
	}
	qc := o.QCStatementsDER
	if qc == nil && o.QC != nil {
		var err error
		if qc, err = o.QC.Marshal(); err != nil {
			t.Fatalf("pkitest: marshal qcStatements: %v", err)
		}
	}
	if qc != nil {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: eidas.OIDQCStatements, Value: qc})
	}

	cert := createCertificate(t, tmpl, ca.Issuer(), key.Public(), ca.IssuerKey())
	if ca.OCSP != nil {
		ca.OCSP.SetGood(cert.SerialNumber)
	}
	chain := append([]*x509.Certificate{cert}, ca.Intermediates()...)
	l := &Leaf{Cert: cert, Key: key, Chain: chain, CertPEM: CertificatesPEM(chain...)}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("pkitest: marshal key: %v", err)
	}
	l.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	l.TLS = tls.Certificate{PrivateKey: key, Leaf: cert}
	for _, c := range chain {
		l.TLS.Certificate = append(l.TLS.Certificate, c.Raw)
	}
	return l
}

// subjectWithOrgID encodes s with organizationIdentifier inserted before the CN.
func subjectWithOrgID(t testing.TB, s pkix.Name, orgID string) []byte {
	t.Helper()
	rdns := s.ToRDNSequence()
	orgRDN := pkix.RelativeDistinguishedNameSET{{Type: eidas.OIDOrganizationID, Value: orgID}}
	cn := asn1.ObjectIdentifier{2, 5, 4, 3}
	at := len(rdns)
	for i, rdn := range rdns {
		if len(rdn) == 1 && rdn[0].Type.Equal(cn) {
			at = i
			break
		}
	}
	rdns = append(rdns[:at], append(pkix.RDNSequence{orgRDN}, rdns[at:]...)...)
	der, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatalf("pkitest: marshal subject: %v", err)
	}
	return der
}

// The defaults of the convenience certificates (pki.md §1.6–1.8).
const (
	DefaultOrgName  = "Example TPP Ltd"
	DefaultOBOrgID  = "0015800001HQQrZAAX" // OB Directory org_id, the CN of OB certificates
	DefaultEIDASOrg = "PSDGB-FCA-123456"
	DefaultOBOrgOI  = "PSDGB-OB-Unknown0015800001HQQrZAAX"
	DefaultDNSName  = "tpp.example.com"
	FCAName         = "Financial Conduct Authority"
	FCAID           = "GB-FCA"
	OBName          = "Open Banking"
	OBID            = "GB-OB"
)

// AllRoles are the four TS 119 495 roles, the default of the convenience builders.
var AllRoles = []eidas.Role{eidas.RoleASPSP, eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII}

func rolesOrAll(roles []eidas.Role) []eidas.Role {
	if len(roles) == 0 {
		return append([]eidas.Role(nil), AllRoles...)
	}
	return roles
}

// QWACOptions describes a QWAC (pki.md §1.5, §1.8): subject
// C=GB, O=Example TPP Ltd, organizationIdentifier=PSDGB-FCA-123456,
// CN=0015800001HQQrZAAX; SAN tpp.example.com; digitalSignature; serverAuth + clientAuth;
// QcCompliance, QcType web, PSD2 with roles (all four when none are given), the FCA.
func QWACOptions(roles ...eidas.Role) LeafOptions {
	return LeafOptions{
		Subject:                pkix.Name{Country: []string{"GB"}, Organization: []string{DefaultOrgName}, CommonName: DefaultOBOrgID},
		OrganizationIdentifier: DefaultEIDASOrg,
		QC: &eidas.QCStatements{
			Compliance: true,
			Types:      []eidas.QcType{eidas.QcTypeWeb},
			PSD2:       &eidas.PSD2{Roles: rolesOrAll(roles), NCAName: FCAName, NCAID: FCAID},
		},
		EKU:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
		DNSNames: []string{DefaultDNSName},
	}
}

// QSealCOptions describes a QSealC: the QWAC's subject, digitalSignature +
// nonRepudiation, no EKU, no SAN, QcCompliance, QcType eseal, PSD2 as for the QWAC.
func QSealCOptions(roles ...eidas.Role) LeafOptions {
	o := QWACOptions(roles...)
	o.QC.Types = []eidas.QcType{eidas.QcTypeESeal}
	o.EKU = nil
	o.DNSNames = nil
	o.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	return o
}

// OBWACOptions describes an OBWAC (pki.md §1.6): RSA 2048; CN = the OB org_id;
// organizationIdentifier PSDGB-OB-Unknown<org_id>; qcStatements without QcCompliance,
// QcType web, PSD2 "Open Banking" / GB-OB; serverAuth + clientAuth.
func OBWACOptions(roles ...eidas.Role) LeafOptions {
	return LeafOptions{
		Subject:                pkix.Name{Country: []string{"GB"}, Organization: []string{DefaultOrgName}, CommonName: DefaultOBOrgID},
		OrganizationIdentifier: DefaultOBOrgOI,
		QC: &eidas.QCStatements{
			Types: []eidas.QcType{eidas.QcTypeWeb},
			PSD2:  &eidas.PSD2{Roles: rolesOrAll(roles), NCAName: OBName, NCAID: OBID},
		},
		EKU:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames: []string{DefaultDNSName},
		KeyType:  "rsa",
	}
}

// OBSealOptions describes an OBSeal: as the OBWAC but QcType eseal,
// digitalSignature + nonRepudiation and no EKU or SAN.
func OBSealOptions(roles ...eidas.Role) LeafOptions {
	o := OBWACOptions(roles...)
	o.QC.Types = []eidas.QcType{eidas.QcTypeESeal}
	o.EKU = nil
	o.DNSNames = nil
	o.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	return o
}

// PlainOptions describes a certificate without PSD2 data: CN=client.example.com,
// O=Example Client Ltd, SAN client.example.com, digitalSignature, clientAuth.
func PlainOptions() LeafOptions {
	return LeafOptions{
		Subject:  pkix.Name{Organization: []string{"Example Client Ltd"}, CommonName: "client.example.com"},
		EKU:      []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
		DNSNames: []string{"client.example.com"},
	}
}

// QWAC issues [QWACOptions](roles...).
func (ca *CA) QWAC(t testing.TB, roles ...eidas.Role) *Leaf {
	t.Helper()
	return ca.Issue(t, QWACOptions(roles...))
}

// QSealC issues [QSealCOptions](roles...).
func (ca *CA) QSealC(t testing.TB, roles ...eidas.Role) *Leaf {
	t.Helper()
	return ca.Issue(t, QSealCOptions(roles...))
}

// OBWAC issues [OBWACOptions](roles...).
func (ca *CA) OBWAC(t testing.TB, roles ...eidas.Role) *Leaf {
	t.Helper()
	return ca.Issue(t, OBWACOptions(roles...))
}

// OBSeal issues [OBSealOptions](roles...).
func (ca *CA) OBSeal(t testing.TB, roles ...eidas.Role) *Leaf {
	t.Helper()
	return ca.Issue(t, OBSealOptions(roles...))
}

// Plain issues [PlainOptions]().
func (ca *CA) Plain(t testing.TB) *Leaf {
	t.Helper()
	return ca.Issue(t, PlainOptions())
}
