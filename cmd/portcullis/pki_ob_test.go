package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/revocation"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// TestPKIIssueKeyTypeAndOB: --key-type rsa gives an RSA-2048 QWAC (ec stays the default);
// obwac and obseal are OB-style certificates (CN = org_id, RSA by default) that pki
// validates under the OB profile with the requested roles; bad values are usage errors.
func TestPKIIssueKeyTypeAndOB(t *testing.T) {
	dir, work := filepath.Join(t.TempDir(), "ca"), t.TempDir()
	mustRunPKI(t, "init", "--dir", dir, "--base-url", "http://127.0.0.1:9/pki")

	mustRunPKI(t, "issue", "qwac", "--dir", dir, "--out", filepath.Join(work, "rsa"), "--org-id", "PSDGB-FCA-123456", "--roles", "AISP", "--key-type", "rsa")
	if k, ok := readLeaf(t, filepath.Join(work, "rsa.crt")).PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
		t.Fatalf("--key-type rsa: key %T", readLeaf(t, filepath.Join(work, "rsa.crt")).PublicKey)
	}
	mustRunPKI(t, "issue", "qwac", "--dir", dir, "--out", filepath.Join(work, "ec"), "--org-id", "PSDGB-FCA-123456", "--roles", "AISP")
	if _, ok := readLeaf(t, filepath.Join(work, "ec.crt")).PublicKey.(*ecdsa.PublicKey); !ok {
		t.Fatal("default key type is not EC")
	}

	ca, err := sandbox.Open(dir, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	checker := revocation.New(revocation.Options{})
	t.Cleanup(checker.Close)
	// The CA's responder is not running (127.0.0.1:9): soft-fail lets the profile checks decide.
	v, err := pki.NewValidator(pki.Options{Revocation: checker, Anchors: []pki.Anchor{{Name: "ob", Cert: ca.RootCertificate(), Profile: pki.ProfileOB, SoftFail: true}},
		Intermediates: []*x509.Certificate{ca.IssuingCertificate()}})
	if err != nil {
		t.Fatal(err)
	}
	for kind, purpose := range map[string]pki.Purpose{"obwac": pki.PurposeTransport, "obseal": pki.PurposeSigning} {
		prefix := filepath.Join(work, kind)
		mustRunPKI(t, "issue", kind, "--dir", dir, "--out", prefix, "--org-id", "0015800001HQQrZAAX", "--roles", "AISP,PISP",
			"--software-id", "2kiRYHL2yLjvYEVr1ZxsyB")
		leaf := readLeaf(t, prefix+".crt")
		if _, ok := leaf.PublicKey.(*rsa.PublicKey); !ok || leaf.Subject.CommonName != "0015800001HQQrZAAX" {
			t.Fatalf("%s: key %T, CN %q", kind, leaf.PublicKey, leaf.Subject.CommonName)
		}
		if ou := leaf.Subject.OrganizationalUnit; len(ou) != 1 || ou[0] != "2kiRYHL2yLjvYEVr1ZxsyB" {
			t.Fatalf("%s: OU %q, want the software id", kind, ou)
		}
		id, err := v.Validate(context.Background(), []*x509.Certificate{leaf, ca.IssuingCertificate()}, purpose)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if id.OrgID != "0015800001HQQrZAAX" || !id.HasRole(eidas.RolePISP) || id.Kind != map[string]pki.Kind{"obwac": pki.KindOBWAC, "obseal": pki.KindOBSeal}[kind] {
			t.Fatalf("%s identity: %+v", kind, id)
		}
	}
	for name, args := range map[string][]string{
		"unknown key type":  {"issue", "qwac", "--dir", dir, "--out", filepath.Join(work, "x"), "--org-id", "PSDGB-FCA-1", "--roles", "AISP", "--key-type", "dsa"},
		"obwac without org": {"issue", "obwac", "--dir", dir, "--out", filepath.Join(work, "y"), "--roles", "AISP"},
		"obwac bad role":    {"issue", "obwac", "--dir", dir, "--out", filepath.Join(work, "z"), "--org-id", "0015800001HQQrZAAX", "--roles", "BANK"},
		"qwac software id":  {"issue", "qwac", "--dir", dir, "--out", filepath.Join(work, "w"), "--org-id", "PSDGB-FCA-1", "--roles", "AISP", "--software-id", "x"},
	} {
		if _, err := runPKI(t, args...); !isUsageError(err) {
			t.Errorf("%s: err = %v, want a usage error", name, err)
		}
	}
}
