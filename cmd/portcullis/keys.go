package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/keys"
)

// newKeysCmd returns `portcullis keys list|rotate` (INTERFACE.md): the authorization server's
// signing keys. With keys.source database they are the keys every node shares; rotate writes a
// new key as next (published by every node within keys.poll_interval) that becomes active
// keys.publish_delay later. A key directory (keys.source dir) can be listed, not rotated: a
// running server reads it at start-up only.
//
// Errors: a bad configuration or rotate on a key directory is a usage error (exit 2); a
// rotation already pending, a wrong keys.kek and store failures are runtime errors (exit 1).
func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List and rotate the authorization server's signing keys",
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.AddCommand(newKeysListCmd(), newKeysRotateCmd())
	return cmd
}

func keyStoreOptions(cfg *config.Config) jose.KeyStoreOptions {
	return jose.KeyStoreOptions{RetireAfter: cfg.Keys.RetireAfter, SigningAlg: jose.Alg(cfg.Keys.Alg)}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func newKeysListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the signing keys: kid, algorithm, state and dates",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := stateFlagsOf(cmd).load()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			if cfg.Keys.Source != "database" {
				ks, err := jose.LoadKeyDir(cfg.KeysDir(), keyStoreOptions(cfg))
				if err != nil {
					return fmt.Errorf("keys.dir: %w", err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "portcullis: signing keys in %s\n", cfg.KeysDir())
				fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tRETIRE_AT")
				for _, k := range ks.Keys() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.KeyID, k.Alg, k.State, fmtTime(k.Created), fmtTime(k.RetireAt))
				}
				return tw.Flush()
			}
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.ListSigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "portcullis: signing keys in %s\n", databaseLocation(cfg))
			fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATE_AT\tACTIVATED\tRETIRED\tRETIRE_AT\tSEALED_BY")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.KeyID, r.Alg, r.State, fmtTime(r.CreatedAt),
					fmtTime(r.ActivateAt), fmtTime(r.ActivatedAt), fmtTime(r.RetiredAt), fmtTime(r.RetireAt), r.KEKID)
			}
			return tw.Flush()
		},
	}
}

func newKeysRotateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Publish a new signing key now; it signs after keys.publish_delay",
		Long: `Generate a new signing key (keys.alg), sealed with keys.kek (or in the PKCS#11 token), and
store it as "next": every node publishes it in /jwks within keys.poll_interval, and the first
node to poll after keys.publish_delay makes it active and retires the previous key, which keeps
verifying for keys.retire_after. Needs keys.source: database.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := stateFlagsOf(cmd).load()
			if err != nil {
				return err
			}
			if cfg.Keys.Source != "database" {
				return usageError{errors.New("keys rotate needs keys.source: database (a key directory is read by a server at start-up only)")}
			}
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			set, err := app.OpenKeySet(cmd.Context(), cfg, st, keyStoreOptions(cfg))
			if err != nil {
				return err
			}
			rot, err := set.Rotate(cmd.Context())
			if errors.Is(err, keys.ErrRotationPending) {
				return fmt.Errorf("%w; wait until then (portcullis keys list)", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published signing key %s (%s) as next in %s\n", rot.Key.KeyID(), rot.Key.Alg(), databaseLocation(cfg))
			fmt.Fprintf(cmd.OutOrStdout(), "  every node publishes it within %s; it becomes active at %s (on the first node polling after then)\n",
				cfg.Keys.PollInterval, fmtTime(rot.ActivateAt))
			return nil
		},
	}
}
