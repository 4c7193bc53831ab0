package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/consent"
)

// newConsentCmd returns `portcullis consent list|get|revoke` (INTERFACE.md): the bank's view
// of the Open Banking consents in the database named by --config / --data-dir, beside a
// running server. A revocation here is the admin API's: the consent's refresh tokens die at
// once, its access tokens at every gateway within the consent cache's bound (≤ 5 s); it is
// recorded in the consent's history and the audit trail with actor "cli".
//
// Errors: bad flags are usage errors (exit 2); an unknown consent, a status that does not allow
// revocation and store failures are runtime errors (exit 1).
func newConsentCmd(openConsents func(cmd *cobra.Command) (*consent.Service, func(), error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "consent",
		Short: "List, show and revoke Open Banking consents",
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	var f consent.Filter
	list := &cobra.Command{
		Use:   "list [--client ID] [--user ID] [--status S]",
		Short: "List consents, newest first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, closeStore, err := openConsents(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			cs, err := svc.List(cmd.Context(), f)
			if err != nil {
				return consentCmdError(err)
			}
			now := svc.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CONSENT_ID\tKIND\tCLIENT_ID\tCUSTOMER\tSTATUS\tCREATED\tEXPIRES")
			for _, c := range cs {
				cust := c.CustomerID
				if cust == "" {
					cust = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Kind, c.ClientID, cust, c.Status(now),
					c.CreatedAt.UTC().Format(time.RFC3339), fmtTime(c.ExpiresAt))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&f.ClientID, "client", "", "only consents of this client")
	list.Flags().StringVar(&f.CustomerID, "user", "", "only consents of this customer")
	list.Flags().StringVar(&f.Status, "status", "", "only consents in this status (AwaitingAuthorisation, Authorised, Rejected, Consumed, Revoked, Expired)")
	list.Flags().IntVar(&f.Limit, "limit", 100, "at most this many (1 to 1000)")

	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show a consent, with its history, as JSON",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, closeStore, err := openConsents(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			c, err := svc.Get(cmd.Context(), args[0])
			if err != nil {
				return consentCmdError(err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(consent.View(c, svc.Now()))
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a consent and every token issued under it",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, closeStore, err := openConsents(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			if _, err := svc.Revoke(cmd.Context(), args[0], actorCLI); err != nil {
				return consentCmdError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked consent %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, get, revoke)
	return cmd
}

// consentCmdError turns consent errors into command errors with a plain message.
func consentCmdError(err error) error {
	var se *consent.StatusError
	switch {
	case errors.Is(err, consent.ErrNotFound):
		return errors.New("no such consent")
	case errors.As(err, &se):
		return fmt.Errorf("the consent is %s: it cannot be revoked", se.Status)
	case err != nil && strings.Contains(err.Error(), "list limit"):
		return usageError{errors.New("--limit must be 1 to 1000")}
	}
	return err
}

// openConsents opens the consent service over the database named by the command's --config
// and --data-dir flags; its audit events go to that database's audit trail.
func openConsents(cmd *cobra.Command) (*consent.Service, func(), error) {
	cfg, err := stateFlagsOf(cmd).load()
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(cmd.Context(), cfg)
	if err != nil {
		return nil, nil, err
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, err := consent.NewService(consent.Options{Store: st, Audit: audit.NewStoreSink(st, clock.Real{}, logger), Logger: logger})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return svc, func() { st.Close() }, nil
}
