package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/clock"
	dirsandbox "github.com/portcullis/portcullis/internal/dcr/sandbox"
)

// newDirectoryCmd is `portcullis directory`: the sandbox software statement directory
// (INTERFACE.md "Commands").
//
//	directory init --dir DIR
//	directory ssa  --dir DIR --software-id ID --org-id ORG --org-name "…" --roles AISP,PISP
//	               --redirect-uri URI ... --jwks-uri URL [--status Active] --out FILE
func newDirectoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "directory",
		Short: "Sandbox SSA directory: a PS256 key that signs software statements for dynamic client registration",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("directory: missing subcommand (init, ssa, software-jwks or sign-request)")
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.AddCommand(newDirectoryInitCmd(), newDirectorySSACmd(), newDirectorySoftwareJWKSCmd(), newDirectorySignRequestCmd())
	return cmd
}

func newDirectoryInitCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Create a sandbox directory in DIR: a PS256 (RSA-2048) key and DIR/jwks.json (refuses to overwrite one)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usagef("directory init: --dir is required")
			}
			d, err := dirsandbox.Init(dir, clock.Real{})
			if errors.Is(err, dirsandbox.ErrExists) {
				return usagef("directory init: %v", err)
			}
			if err != nil {
				return fmt.Errorf("directory init: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "sandbox directory created in %s\n", dir)
			printField(out, "issuer", dirsandbox.Issuer)
			printField(out, "kid", d.KeyID())
			printField(out, "JWK Set", filepath.Join(dir, dirsandbox.FileJWKS))
			printField(out, "signing key", filepath.Join(dir, dirsandbox.FileKey))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the sandbox SSA directory (created if missing)")
	return cmd
}

func newDirectorySSACmd() *cobra.Command {
	var (
		dir, out, roles string
		o               dirsandbox.SSAOptions
	)
	cmd := &cobra.Command{
		Use:   "ssa --dir DIR --software-id ID --org-id ORG --org-name NAME --roles AISP,PISP --redirect-uri URI ... --jwks-uri URL [--status Active] --out FILE",
		Short: "Mint a software statement (SSA) signed by the sandbox directory",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for flag, v := range map[string]string{"--dir": dir, "--software-id": o.SoftwareID, "--org-id": o.OrgID,
				"--org-name": o.OrgName, "--roles": roles, "--jwks-uri": o.JWKSURI} {
				if v == "" {
					return usagef("directory ssa: %s is required", flag)
				}
			}
			if len(o.RedirectURIs) == 0 {
				return usagef("directory ssa: --redirect-uri is required")
			}
			for _, r := range strings.Split(roles, ",") {
				o.Roles = append(o.Roles, strings.TrimSpace(r))
			}
			d, err := dirsandbox.Open(dir, clock.Real{})
			if err != nil {
				return fmt.Errorf("directory ssa: %w (run `portcullis directory init --dir %s` first)", err, dir)
			}
			ssa, err := d.IssueSSA(o)
			if err != nil {
				return usagef("directory ssa: %v", err)
			}
			if out == "" {
				fmt.Fprintln(cmd.OutOrStdout(), ssa)
				return nil
			}
			if err := os.WriteFile(out, []byte(ssa+"\n"), 0o644); err != nil {
				return fmt.Errorf("directory ssa: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "software statement for %s written to %s\n", o.SoftwareID, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory of the sandbox SSA directory")
	f.StringVar(&o.SoftwareID, "software-id", "", "software_id (OB Base62, at most 22 characters)")
	f.StringVar(&o.OrgID, "org-id", "", "org_id of the TPP's organisation: it must match the certificate (an OBWAC's CN; a QWAC's organizationIdentifier, or use --registration-id)")
	f.StringVar(&o.OrgName, "org-name", "", "org_name")
	f.StringVar(&o.RegistrationID, "registration-id", "", "NCA registration_id of the organisation (e.g. the QWAC's organizationIdentifier PSDGB-FCA-123456)")
	f.StringVar(&roles, "roles", "", "software_roles, comma-separated: AISP, PISP, CBPII")
	f.StringArrayVar(&o.RedirectURIs, "redirect-uri", nil, "software_redirect_uris entry (https; repeatable)")
	f.StringVar(&o.JWKSURI, "jwks-uri", "", "software_jwks_endpoint: the TPP's https JWK Set")
	f.StringVar(&o.RevokedJWKSURI, "revoked-jwks-uri", "", "software_jwks_revoked_endpoint (optional)")
	f.StringVar(&o.Status, "status", "Active", "org_status (anything but Active is refused at registration)")
	f.StringVar(&o.ClientName, "client-name", "", "software_client_name (default: the software id)")
	f.StringVar(&out, "out", "", "file to write the SSA to (default: standard output)")
	return cmd
}
