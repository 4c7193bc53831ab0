package main

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// usageError marks an error as bad usage or invalid input: main exits with code 2 for it
// (INTERFACE.md), 1 for every other error.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// isUsageError reports whether err is, or wraps, a usageError.
func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// newPKICmd is `portcullis pki`: the sandbox CA (INTERFACE.md "Commands" and "Files").
//
//	pki init   --dir DIR [--base-url URL]
//	pki issue  qwac|qsealc|server|client --dir DIR --out PREFIX [flags]
//	pki revoke --dir DIR --serial HEX [--reason keyCompromise]
func newPKICmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "pki",
		Short:         "Sandbox PKI: a test CA that mints QWAC / QSealC / server / client certificates and revokes them",
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Flags are parsed by the subcommands; here an unknown subcommand is reported as
		// such even when flags follow it.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usagef("pki: missing subcommand (init, issue or revoke)")
			case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
				return cmd.Help()
			}
			return usagef("pki: unknown subcommand %q (want init, issue or revoke)", args[0])
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.AddCommand(newPKIInitCmd(), newPKIIssueCmd(), newPKIRevokeCmd())
	return cmd
}

func newPKIInitCmd() *cobra.Command {
	var dir, baseURL string
	cmd := &cobra.Command{
		Use:   "init --dir DIR [--base-url URL]",
		Short: "Create a sandbox root + issuing CA in DIR (refuses to overwrite one)",
		Long: "Create a sandbox root CA and issuing CA in DIR. DIR/ca.crt is the trust anchor; the keys and the\n" +
			"issuance database stay in DIR. --base-url is where the CA's OCSP responder and CRLs are served\n" +
			"(`portcullis serve --dev` serves them on the ops listener); it is written into every certificate.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usagef("pki init: --dir is required")
			}
			ca, err := sandbox.Init(dir, baseURL, clock.Real{})
			if err != nil {
				return pkiError("pki init", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "sandbox CA created in %s\n", dir)
			printField(out, "trust anchor", filepath.Join(dir, sandbox.FileRootCert))
			printField(out, "  subject", ca.RootCertificate().Subject.String())
			printField(out, "  sha256", fingerprint(ca.RootCertificate()))
			printField(out, "issuing CA", filepath.Join(dir, sandbox.FileIssuingCert))
			printField(out, "  subject", ca.IssuingCertificate().Subject.String())
			printField(out, "database", filepath.Join(dir, sandbox.FileDatabase))
			printField(out, "OCSP", ca.BaseURL()+"/ocsp")
			printField(out, "CRL", ca.BaseURL()+"/issuing.crl")
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the sandbox CA (created if missing)")
	cmd.Flags().StringVar(&baseURL, "base-url", sandbox.DefaultBaseURL, "URL under which the OCSP responder and CRLs are served")
	return cmd
}

func newPKIIssueCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issue qwac|qsealc|server|client --dir DIR --out PREFIX [flags]",
		Short: "Issue a certificate: writes PREFIX.crt (leaf, then issuing CA) and PREFIX.key (PKCS#8)",
		Args:  cobra.ArbitraryArgs,
		// As for pki: an unknown kind is reported as such even when flags follow it.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usagef("pki issue: missing certificate kind (qwac, qsealc, server or client)")
			case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
				return cmd.Help()
			}
			return usagef("pki issue: unknown certificate kind %q (want qwac, qsealc, server or client)", args[0])
		},
	}
	cmd.AddCommand(
		newPKIIssueKindCmd(sandbox.KindQWAC, "eIDAS QWAC for PSD2 mTLS (QcCompliance, QcType web, PSD2 roles)"),
		newPKIIssueKindCmd(sandbox.KindQSealC, "eIDAS QSealC for PSD2 message signing (QcCompliance, QcType eseal, PSD2 roles)"),
		newPKIIssueKindCmd(sandbox.KindServer, "TLS server certificate"),
		newPKIIssueKindCmd(sandbox.KindClient, "TLS client certificate without PSD2 data"),
		newPKIIssueKindCmd(sandbox.KindOBWAC, "UK Open Banking OBWAC transport certificate (RSA 2048 by default; CN = OB org_id)"),
		newPKIIssueKindCmd(sandbox.KindOBSeal, "UK Open Banking OBSeal signing certificate (RSA 2048 by default; CN = OB org_id)"),
	)
	return cmd
}

// issueFlags are the flags of `pki issue KIND`; which exist depends on the kind.
type issueFlags struct {
	dir, out, cn          string
	orgID, orgName, roles string
	ncaName, ncaID        string
	days                  int
	dnsNames, ips         []string
	keyType               string
	softwareID            string
}

func newPKIIssueKindCmd(kind sandbox.Kind, short string) *cobra.Command {
	var f issueFlags
	cmd := &cobra.Command{
		Use:   string(kind) + " --dir DIR --out PREFIX [flags]",
		Short: short,
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIssue(cmd.OutOrStdout(), kind, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "directory of the sandbox CA (see pki init)")
	fl.StringVar(&f.out, "out", "", "output prefix: writes PREFIX.crt and PREFIX.key")
	fl.IntVar(&f.days, "days", sandbox.DefaultDays, "validity in days")
	fl.StringVar(&f.keyType, "key-type", "", "key type: ec (P-256) or rsa (RSA-2048, for PS256 ecosystems); default ec, rsa for obwac/obseal")
	switch kind {
	case sandbox.KindOBWAC, sandbox.KindOBSeal:
		addOBIssueFlags(fl, &f)
	case sandbox.KindQWAC, sandbox.KindQSealC:
		fl.StringVar(&f.orgID, "org-id", "", "organizationIdentifier in PSD2 form, e.g. PSDGB-FCA-123456 (required)")
		fl.StringVar(&f.orgName, "org-name", "", "organisation name (subject O; default \""+sandbox.DefaultOrgName+"\")")
		fl.StringVar(&f.roles, "roles", "", "PSD2 roles, comma-separated: AISP,PISP,CBPII,ASPSP (required)")
		fl.StringVar(&f.ncaName, "nca-name", sandbox.DefaultNCAName, "name of the national competent authority")
		fl.StringVar(&f.ncaID, "nca-id", "", "id of the national competent authority, e.g. GB-FCA (default: from --org-id)")
		fl.StringVar(&f.cn, "cn", "", "subject common name (default: the --org-id)")
	case sandbox.KindServer:
		fl.StringSliceVar(&f.dnsNames, "dns", nil, "DNS names (comma-separated or repeated)")
		fl.StringSliceVar(&f.ips, "ip", nil, "IP addresses (comma-separated or repeated)")
		fl.StringVar(&f.cn, "cn", "", "subject common name (default: the first DNS name or IP)")
	case sandbox.KindClient:
		fl.StringVar(&f.cn, "cn", "", "subject common name (required)")
	}
	return cmd
}

func runIssue(out io.Writer, kind sandbox.Kind, f *issueFlags) error {
	name := "pki issue " + string(kind)
	if f.dir == "" {
		return usagef("%s: --dir is required", name)
	}
	if f.out == "" {
		return usagef("%s: --out is required", name)
	}
	opts := sandbox.IssueOptions{
		OrgID:      f.orgID,
		OrgName:    f.orgName,
		CommonName: f.cn,
		NCAName:    f.ncaName,
		NCAID:      f.ncaID,
		Days:       f.days,
		DNSNames:   f.dnsNames,
		KeyType:    sandbox.KeyType(f.keyType),
	}
	if f.days <= 0 {
		return usagef("%s: --days must be positive", name)
	}
	if err := obIssueOptions(name, kind, f, &opts); err != nil {
		return err
	}
	if kind == sandbox.KindQWAC || kind == sandbox.KindQSealC {
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
		opts.Roles = roles
	}
	for _, s := range f.ips {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil {
			return usagef("%s: --ip: %q is not an IP address", name, s)
		}
		opts.IPAddresses = append(opts.IPAddresses, ip)
	}

	ca, err := sandbox.Open(f.dir, clock.Real{})
	if err != nil {
		return pkiError(name, err)
	}
	is, err := ca.Issue(kind, opts)
	if err != nil {
		return pkiError(name, err)
	}
	if err := is.WriteFiles(f.out); err != nil {
		return fmt.Errorf("%s: certificate %s issued but not written: %w", name, is.Record.Serial, err)
	}
	fmt.Fprintf(out, "issued %s certificate\n", kind)
	printField(out, "certificate", f.out+".crt (leaf, then issuing CA)")
	printField(out, "key", f.out+".key")
	printField(out, "serial", is.Record.Serial)
	printField(out, "subject", is.Record.Subject)
	printField(out, "not after", is.Certificate.NotAfter.UTC().Format("2006-01-02 15:04:05Z"))
	printField(out, "thumbprint", is.Record.Thumbprint+" (x5t#S256)")
	printField(out, "sha256", fingerprint(is.Certificate))
	return nil
}

func newPKIRevokeCmd() *cobra.Command {
	var dir, serial, reason string
	cmd := &cobra.Command{
		Use:   "revoke --dir DIR --serial HEX [--reason keyCompromise]",
		Short: "Revoke a certificate by serial; the OCSP responder and CRL report it at once, a running dev server refuses it within about a second",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usagef("pki revoke: --dir is required")
			}
			if serial == "" {
				return usagef("pki revoke: --serial is required")
			}
			n, err := parseSerial(serial)
			if err != nil {
				return usagef("pki revoke: --serial: %v", err)
			}
			code, err := sandbox.ParseReason(reason)
			if err != nil {
				return usagef("pki revoke: --reason: %v", err)
			}
			ca, err := sandbox.Open(dir, clock.Real{})
			if err != nil {
				return pkiError("pki revoke", err)
			}
			if err := ca.Revoke(n, code); err != nil {
				return pkiError("pki revoke", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "revoked %s (reason %s)\n", n.Text(16), sandbox.ReasonName(code))
			printField(out, "CRL", filepath.Join(dir, sandbox.FileIssuingCRL)+", "+ca.BaseURL()+"/issuing.crl")
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the sandbox CA")
	cmd.Flags().StringVar(&serial, "serial", "", "serial number in hex, as printed by pki issue (colons and 0x allowed)")
	cmd.Flags().StringVar(&reason, "reason", "unspecified", "RFC 5280 reason: unspecified, keyCompromise, cACompromise, "+
		"affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, aACompromise")
	return cmd
}

// parseSerial reads a hex serial number as pki issue and `openssl x509 -serial` print it:
// optional 0x prefix, optional colons between bytes, either case.
func parseSerial(s string) (*big.Int, error) {
	h := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	h = strings.TrimPrefix(strings.TrimPrefix(h, "0x"), "0X")
	if h == "" || len(h) > 40 {
		return nil, fmt.Errorf("%q is not a serial number of 1 to 20 bytes in hex", s)
	}
	n, ok := new(big.Int).SetString(h, 16)
	if !ok || n.Sign() <= 0 || strings.ContainsAny(h, "+-") {
		return nil, fmt.Errorf("%q is not a positive hexadecimal serial number", s)
	}
	return n, nil
}

// optionFlags names the flag behind each sandbox.IssueOptions field, so a usage error
// names what the user typed.
var optionFlags = map[string]string{
	"OrgID": "--org-id", "OrgName": "--org-name", "CommonName": "--cn", "Roles": "--roles",
	"NCAName": "--nca-name", "NCAID": "--nca-id", "Days": "--days", "DNSNames": "--dns",
	"IPAddresses": "--ip", "BaseURL": "--base-url", "KeyType": "--key-type",
}

// pkiError turns a sandbox error into the command's error: invalid options and reasons are
// usage errors (exit 2) naming the flag; everything else is a runtime failure (exit 1).
func pkiError(cmd string, err error) error {
	var opt *sandbox.InvalidOptionError
	if errors.As(err, &opt) {
		if flag, ok := optionFlags[opt.Option]; ok {
			return usagef("%s: %s: %s", cmd, flag, opt.Reason)
		}
		return usagef("%s: %v", cmd, err)
	}
	if errors.Is(err, sandbox.ErrInvalidReason) {
		return usagef("%s: --reason: %v", cmd, err)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

func printField(w io.Writer, name, value string) {
	fmt.Fprintf(w, "  %-13s %s\n", name+":", value)
}

// fingerprint is the SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
