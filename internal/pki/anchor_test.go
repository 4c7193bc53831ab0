package pki_test

import (
	"bytes"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

func TestParseCertificatesPEM(t *testing.T) {
	ca := pkitest.NewCA(t, pkitest.CAOptions{Intermediate: true})
	leaf := ca.QWAC(t)
	got, err := pki.ParseCertificatesPEM(append(leaf.CertPEM, "\n\n"...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(leaf.Chain, got, certComparer); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	keyBlock := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
	withHeader := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: leaf.Cert.Raw})
	bad := map[string][]byte{
		"empty":             nil,
		"only white space":  []byte("\n \n"),
		"not PEM":           []byte("hello"),
		"private key":       keyBlock,
		"certificate + key": append(append([]byte(nil), leaf.CertPEM...), keyBlock...),
		"trailing garbage":  append(append([]byte(nil), leaf.CertPEM...), "garbage"...),
		"bad DER":           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x00}}),
		"headers":           withHeader,
		"too large":         bytes.Repeat([]byte(" "), pki.MaxPEMLen+1),
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if certs, err := pki.ParseCertificatesPEM(in); err == nil {
				t.Fatalf("ParseCertificatesPEM = %d certificates, want an error", len(certs))
			}
		})
	}
}

func TestLoadAnchorsPEM(t *testing.T) {
	a := pkitest.NewCA(t, pkitest.CAOptions{Name: "A"})
	b := pkitest.NewCA(t, pkitest.CAOptions{Name: "B"})
	bundle := append(a.RootPEM(), b.RootPEM()...)
	got, err := pki.LoadAnchorsPEM("eu-qtsps", bundle, pki.ProfileEIDAS, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []pki.Anchor{
		{Name: "eu-qtsps", Cert: a.Root, Profile: pki.ProfileEIDAS, SoftFail: true},
		{Name: "eu-qtsps", Cert: b.Root, Profile: pki.ProfileEIDAS, SoftFail: true},
	}
	if diff := cmp.Diff(want, got, certComparer); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	if _, err := pki.LoadAnchorsPEM("x", bundle, "ob-legacy", false); err == nil || !strings.Contains(err.Error(), "profile") {
		t.Errorf("unknown profile: %v", err)
	}
	if _, err := pki.LoadAnchorsPEM("x", a.Plain(t).CertPEM, pki.ProfilePlain, false); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("leaf as anchor: %v", err)
	}
	if _, err := pki.LoadAnchorsPEM("", bundle, pki.ProfilePlain, false); err == nil {
		t.Error("anchor without a name accepted")
	}
	if _, err := pki.LoadAnchorsPEM("x", []byte("nope"), pki.ProfilePlain, false); err == nil {
		t.Error("non-PEM accepted")
	}
}
