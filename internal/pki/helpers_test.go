package pki_test

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

// DER helpers for qcStatements that break the rules.

// The shared DER building blocks (pkitest), under the short names these tables use.
var (
	tlv  = pkitest.TLV
	seq  = pkitest.Seq
	oid  = pkitest.OID
	stmt = pkitest.QCStatement
)

func qcTypeStmt(t asn1.ObjectIdentifier) []byte { return stmt(eidas.OIDQcType, seq(oid(t))) }

func role(o asn1.ObjectIdentifier, name string) []byte {
	return seq(oid(o), tlv(0x0c, []byte(name)))
}

func psd2Stmt(roles [][]byte, ncaName, ncaID string) []byte {
	return stmt(eidas.OIDPSD2Statement, seq(seq(roles...), tlv(0x0c, []byte(ncaName)), tlv(0x0c, []byte(ncaID))))
}

// crossSign issues a CA certificate for subject's root (same name and key) signed by
// issuer's root.
func crossSign(t *testing.T, subject, issuer *pkitest.CA) *x509.Certificate {
	t.Helper()
	root := subject.Root
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7777),
		RawSubject:            root.RawSubject,
		SubjectKeyId:          root.SubjectKeyId,
		NotBefore:             root.NotBefore,
		NotAfter:              root.NotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer.Root, root.PublicKey, issuer.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
