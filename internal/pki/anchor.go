package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Anchor is a configured trust anchor: a root certificate and the rules
// ([Profile]) certificates chaining to it are held to (pki.md §1.6 "Trust model").
type Anchor struct {
	// Name identifies the anchor in configuration, logs and [Identity].Anchor. Several
	// anchors may share a name (one bundle of roots).
	Name string
	// Cert is the root certificate. It must be a CA certificate.
	Cert *x509.Certificate
	// Profile selects the eIDAS, OB or plain rules.
	Profile Profile
	// SoftFail is the revocation policy for chains ending here: false (the zero
	// value) is hard-fail — no obtainable status means rejection; true lets the
	// revocation checker accept a certificate whose status cannot be established
	// (pki.md §2.4). A definite "revoked" is always rejected.
	SoftFail bool
}

// MaxPEMLen bounds the input of [ParseCertificatesPEM] and [LoadAnchorsPEM].
const MaxPEMLen = 4 << 20

// ParseCertificatesPEM decodes every CERTIFICATE block of data, in order. It fails on
// input larger than [MaxPEMLen], on a block of another type, on text that is not PEM
// (other than white space between blocks), on a certificate that does not parse, and
// when there is no certificate at all.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	if len(data) > MaxPEMLen {
		return nil, fmt.Errorf("pki: PEM input of %d bytes exceeds %d", len(data), MaxPEMLen)
	}
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("pki: PEM block %d is %q, want CERTIFICATE", len(certs)+1, block.Type)
		}
		if len(block.Headers) != 0 {
			return nil, fmt.Errorf("pki: PEM block %d has headers", len(certs)+1)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pki: PEM block %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("pki: trailing data that is not a PEM certificate")
	}
	if len(certs) == 0 {
		return nil, errors.New("pki: no certificate in PEM input")
	}
	return certs, nil
}

// LoadAnchorsPEM turns a PEM bundle of root certificates into anchors that all carry
// name, profile and softFail. It fails as [ParseCertificatesPEM] does, for an invalid
// profile, and for a certificate that is not a CA.
func LoadAnchorsPEM(name string, data []byte, profile Profile, softFail bool) ([]Anchor, error) {
	certs, err := ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("anchor %q: %w", name, err)
	}
	anchors := make([]Anchor, 0, len(certs))
	for _, c := range certs {
		a := Anchor{Name: name, Cert: c, Profile: profile, SoftFail: softFail}
		if err := a.validate(); err != nil {
			return nil, err
		}
		anchors = append(anchors, a)
	}
	return anchors, nil
}

// Valid reports whether p is one of the defined profiles.
func (p Profile) Valid() bool {
	switch p {
	case ProfileEIDAS, ProfileOB, ProfilePlain:
		return true
	}
	return false
}

func (a *Anchor) validate() error {
	if a.Name == "" {
		return errors.New("pki: anchor without a name")
	}
	if a.Cert == nil {
		return fmt.Errorf("pki: anchor %q has no certificate", a.Name)
	}
	if !a.Profile.Valid() {
		return fmt.Errorf("pki: anchor %q: unknown profile %q (want eidas, ob or plain)", a.Name, a.Profile)
	}
	if !a.Cert.BasicConstraintsValid || !a.Cert.IsCA {
		return fmt.Errorf("pki: anchor %q: certificate %q is not a CA certificate", a.Name, a.Cert.Subject.CommonName)
	}
	return nil
}
