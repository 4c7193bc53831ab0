package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"

	"github.com/portcullis/portcullis/internal/pki/eidas"
)

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// applyProfile applies the rules of the anchor's profile to the leaf and fills the
// PSD2 fields of id (pki.md §1.5, §1.6).
func applyProfile(id *Identity, leaf *x509.Certificate, profile Profile, purpose Purpose) *ValidationError {
	switch profile {
	case ProfileEIDAS:
		return applyEIDAS(id, leaf, purpose)
	case ProfileOB:
		return applyOB(id, leaf, purpose)
	case ProfilePlain:
		id.Kind = KindPlain
		return nil
	}
	// Anchors are validated in NewValidator; an unknown profile cannot get here.
	return fail(ErrInvalidChain, leaf, fmt.Errorf("unknown profile %q", profile))
}

// purposeType is the one QcType a certificate for purpose must carry.
func purposeType(purpose Purpose) eidas.QcType {
	if purpose == PurposeSigning {
		return eidas.QcTypeESeal
	}
	return eidas.QcTypeWeb
}

// checkQcType requires QcType to consist of the purpose's type only (a certificate
// that claims to be both a QWAC and a QSealC is refused for both).
func checkQcType(qc *eidas.QCStatements, leaf *x509.Certificate, purpose Purpose) *ValidationError {
	want := purposeType(purpose)
	if qc == nil || len(qc.Types) == 0 {
		return fail(ErrQcTypeMismatch, leaf, fmt.Errorf("no QcType, want %s", want))
	}
	for _, t := range qc.Types {
		if t != want {
			return fail(ErrQcTypeMismatch, leaf, fmt.Errorf("QcType %s, want %s", t, want))
		}
	}
	return nil
}

// applyEIDAS: QWAC / QSealC under an EU QTSP root (pki.md §1.3–1.5).
func applyEIDAS(id *Identity, leaf *x509.Certificate, purpose Purpose) *ValidationError {
	qc, err := eidas.FromCertificate(leaf)
	if err != nil {
		return fail(ErrQCStatements, leaf, err)
	}
	if qc == nil {
		return fail(ErrNotQualified, leaf, errors.New("no qcStatements extension"))
	}
	if !qc.Compliance {
		return fail(ErrNotQualified, leaf, errors.New("no QcCompliance statement"))
	}
	if err := checkQcType(qc, leaf, purpose); err != nil {
		return err
	}
	if qc.PSD2 == nil {
		return fail(ErrNoPSD2Statement, leaf, nil)
	}
	org, err := eidas.OrganizationIdentifierFromCertificate(leaf)
	if err != nil {
		return fail(ErrOrganizationIdentifier, leaf, err)
	}
	if org.Scheme != eidas.SchemePSD {
		return fail(ErrOrganizationIdentifier, leaf, fmt.Errorf("scheme %s, want PSD", org.Scheme))
	}
	if org.NCAID() != qc.PSD2.NCAID {
		return fail(ErrNCAMismatch, leaf, fmt.Errorf("organizationIdentifier names %s, PSD2 statement %s", org.NCAID(), qc.PSD2.NCAID))
	}
	id.Kind = KindQWAC
	if purpose == PurposeSigning {
		id.Kind = KindQSealC
	}
	setPSD2(id, qc.PSD2)
	id.Organization = org
	id.OrgID = org.Raw
	return nil
}

// applyOB: OBWAC / OBSeal under the OB Directory root (pki.md §1.6). QcCompliance is
// neither required nor refused; nCAId is typically GB-OB but not required to be.
func applyOB(id *Identity, leaf *x509.Certificate, purpose Purpose) *ValidationError {
	qc, err := eidas.FromCertificate(leaf)
	if err != nil {
		return fail(ErrQCStatements, leaf, err)
	}
	if err := checkQcType(qc, leaf, purpose); err != nil {
		return err
	}
	if qc.PSD2 == nil {
		return fail(ErrNoPSD2Statement, leaf, nil)
	}
	cn, err := singleCommonName(leaf)
	if err != nil {
		return fail(ErrOrganizationIdentifier, leaf, err)
	}
	org, err := eidas.OrganizationIdentifierFromCertificate(leaf)
	switch {
	case errors.Is(err, eidas.ErrNoOrganizationIdentifier):
		org = eidas.OrganizationIdentifier{}
	case err != nil:
		return fail(ErrOrganizationIdentifier, leaf, err)
	case org.Scheme == eidas.SchemePSD && org.NCAID() != qc.PSD2.NCAID:
		return fail(ErrNCAMismatch, leaf, fmt.Errorf("organizationIdentifier names %s, PSD2 statement %s", org.NCAID(), qc.PSD2.NCAID))
	}
	id.Kind = KindOBWAC
	if purpose == PurposeSigning {
		id.Kind = KindOBSeal
	}
	setPSD2(id, qc.PSD2)
	id.Organization = org
	id.OrgID = cn
	return nil
}

func setPSD2(id *Identity, p *eidas.PSD2) {
	id.Roles = slices.Clone(p.Roles)
	id.NCAName = p.NCAName
	id.NCAID = p.NCAID
}

// singleCommonName returns the subject's CN, which must occur exactly once (crypto/x509
// keeps only the last of several).
func singleCommonName(leaf *x509.Certificate) (string, error) {
	n := 0
	for _, atv := range leaf.Subject.Names {
		if atv.Type.Equal(oidCommonName) {
			n++
		}
	}
	switch {
	case n == 0 || leaf.Subject.CommonName == "":
		return "", errors.New("no subject CN (OB org_id)")
	case n > 1:
		return "", errors.New("more than one subject CN")
	}
	return leaf.Subject.CommonName, nil
}
