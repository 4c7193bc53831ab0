package main

import (
	"github.com/spf13/pflag"

	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// addOBIssueFlags declares the flags of `pki issue obwac|obseal` (INTERFACE.md): the OB
// Directory org_id, which becomes the subject CN (pki.md §1.6), the organisation name and
// the PSD2 roles. The competent authority is Open Banking (GB-OB) and the
// organizationIdentifier PSDGB-OB-Unknown<org_id>, as the OB Directory issues them.
func addOBIssueFlags(fl *pflag.FlagSet, f *issueFlags) {
	fl.StringVar(&f.orgID, "org-id", "", "OB Directory org_id, the subject CN, e.g. 0015800001HQQrZAAX (required)")
	fl.StringVar(&f.orgName, "org-name", "", "organisation name (subject O; default \""+sandbox.DefaultOrgName+"\")")
	fl.StringVar(&f.roles, "roles", "", "PSD2 roles, comma-separated: AISP,PISP,CBPII,ASPSP (required)")
	fl.StringVar(&f.softwareID, "software-id", "", "OB Directory software statement id the certificate is for (subject OU)")
}

// obIssueOptions fills opts for the OB kinds from the flags; other kinds are left alone.
func obIssueOptions(name string, kind sandbox.Kind, f *issueFlags, opts *sandbox.IssueOptions) error {
	if kind != sandbox.KindOBWAC && kind != sandbox.KindOBSeal {
		return nil
	}
	if f.orgID == "" {
		return usagef("%s: --org-id is required", name)
	}
	if f.roles == "" {
		return usagef("%s: --roles is required", name)
	}
	roles, err := sandbox.ParseRoles(f.roles)
	if err != nil {
		return pkiError(name, err)
	}
	opts.CommonName, opts.OrgID, opts.Roles, opts.SoftwareID = f.orgID, "", roles, f.softwareID
	return nil
}
