package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/identity"
)

// newUserCmd returns `portcullis user add|list|remove` (INTERFACE.md): the embedded customers
// who log in on the customer pages. openCustomers opens the customer store named by --config
// / --data-dir and returns a function that closes it.
//
// Errors: bad flags and refused fields (the message names the field) are usage errors
// (exit 2); an unknown or already registered customer and store failures are runtime errors
// (exit 1).
func newUserCmd(openCustomers func(cmd *cobra.Command) (*identity.Customers, func(), error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Register, list and remove embedded customers (password + TOTP)",
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.AddCommand(
		newUserAddCmd(openCustomers),
		newUserListCmd(openCustomers),
		newUserRemoveCmd(openCustomers),
	)
	return cmd
}

func newUserAddCmd(openCustomers func(*cobra.Command) (*identity.Customers, func(), error)) *cobra.Command {
	var id, name, passwordFile, totpSecret string
	cmd := &cobra.Command{
		Use:   "add --id ID [--name NAME] [--password-file FILE] [--totp-secret BASE32]",
		Short: "Register a customer",
		Long: `Register an embedded customer: the id is the username typed at login.

The password is the first line of --password-file (- reads standard input); without it a random
password is generated and printed once. The TOTP key (RFC 6238: SHA-1, 6 digits, 30 s) is
--totp-secret in base32, or a random one; either way its otpauth:// URI is printed, for an
authenticator app.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc := identity.NewCustomer{ID: id, DisplayName: name}
			if id == "" {
				return usageError{errors.New("--id is required")}
			}
			generated := passwordFile == ""
			var err error
			if generated {
				nc.Password, err = identity.GeneratePassword(rand.Reader)
			} else {
				nc.Password, err = readPasswordFile(cmd.InOrStdin(), passwordFile)
			}
			if err != nil {
				return usageError{err}
			}
			if totpSecret != "" {
				if nc.TOTPSecret, err = identity.ParseTOTPSecret(totpSecret); err != nil {
					return userCmdError(err)
				}
			}
			cs, closeStore, err := openCustomers(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			enr, err := cs.Add(cmd.Context(), nc)
			if err != nil {
				return userCmdError(err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "customer %s added\n", enr.ID)
			if generated {
				fmt.Fprintf(w, "  password     %s  (generated; shown only this once)\n", nc.Password)
			}
			fmt.Fprintf(w, "  TOTP secret  %s\n", enr.TOTPSecret)
			fmt.Fprintf(w, "  TOTP URI     %s\n", enr.TOTPURI)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&id, "id", "", "customer id, the login username (letters, digits and . _ ~ @ + -; at most 128)")
	fl.StringVar(&name, "name", "", "display name")
	fl.StringVar(&passwordFile, "password-file", "", "file whose first line is the password (- for standard input; default: generate one)")
	fl.StringVar(&totpSecret, "totp-secret", "", "TOTP key in base32 (default: generate one)")
	return cmd
}

// readPasswordFile returns the first line of path ("-": in) without its line ending. It
// reads at most MaxPasswordLen+2 bytes.
func readPasswordFile(in io.Reader, path string) (string, error) {
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		in = f
	}
	line, err := bufio.NewReaderSize(io.LimitReader(in, identity.MaxPasswordLen+2), identity.MaxPasswordLen+2).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

func newUserListCmd(openCustomers func(*cobra.Command) (*identity.Customers, func(), error)) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List customers",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, closeStore, err := openCustomers(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			all, err := cs.List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTOTP\tCREATED")
			for _, c := range all {
				totp := "no"
				if c.HasTOTP {
					totp = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.DisplayName, totp, c.CreatedAt.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

func newUserRemoveCmd(openCustomers func(*cobra.Command) (*identity.Customers, func(), error)) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a customer",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, closeStore, err := openCustomers(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			if err := cs.Remove(cmd.Context(), args[0]); err != nil {
				return userCmdError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed customer %s\n", args[0])
			return nil
		},
	}
}

// userCmdError turns identity errors into command errors: a refused field is a usage error
// naming the flag; the rest are runtime errors with a plain message.
func userCmdError(err error) error {
	var ie *identity.InvalidCustomerError
	switch {
	case errors.As(err, &ie):
		return usageError{fmt.Errorf("invalid --%s: %s", ie.Field, ie.Reason)}
	case errors.Is(err, identity.ErrCustomerNotFound):
		return errors.New("no such customer")
	case errors.Is(err, identity.ErrCustomerExists):
		return errors.New("a customer with this id is already registered")
	}
	return err
}

// openCustomers opens the customer store of the database named by the command's --config and
// --data-dir flags, with the data directory's key for TOTP secrets (created when missing), so
// `portcullis user …` works beside a running server.
func openCustomers(cmd *cobra.Command) (*identity.Customers, func(), error) {
	cfg, err := stateFlagsOf(cmd).load()
	if err != nil {
		return nil, nil, err
	}
	key, err := identity.LoadOrCreateSecretKey(filepath.Join(cfg.DataDir, identity.SecretKeyFile))
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(cmd.Context(), cfg)
	if err != nil {
		return nil, nil, err
	}
	return identity.NewCustomers(st, key), func() { st.Close() }, nil
}
