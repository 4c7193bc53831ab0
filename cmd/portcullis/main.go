// Command portcullis is the Open Banking API security layer: a FAPI authorization server, an
// mTLS/eIDAS-validating gateway in front of a bank's APIs, and a consent service, in one binary.
//
// Subcommands follow the outside contract in INTERFACE.md: serve, migrate, config print, pki …,
// client …, user …, keys …, version. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid
// configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Set by the linker (-ldflags "-X main.version=…"); "dev" otherwise.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "portcullis:", err)
	// cobra reports an unknown subcommand as a plain error: that is bad usage too.
	if isUsageError(err) || strings.HasPrefix(err.Error(), "unknown command ") {
		return 2
	}
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "portcullis",
		Short:         "Open Banking API security layer: FAPI authorization server, mTLS/eIDAS gateway, consent service",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Flag parsing errors and unknown commands are usage errors (exit 2).
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newServeCmd(),
		newMigrateCmd(),
		newConfigCmd(),
		newPKICmd(),
		newDirectoryCmd(),
		withStateFlags(newClientCmd(openRegistry)),
		withStateFlags(newUserCmd(openCustomers)),
		newRevocationCmd(),
		withStateFlags(newKeysCmd()),
		withStateFlags(newConsentCmd(openConsents)),
		newVersionCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "portcullis %s\n", version)
			return nil
		},
	}
}

// usageArgs wraps a cobra positional-argument validator so its errors are usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// withStateFlags gives cmd and its subcommands the --config and --data-dir flags of serve.
func withStateFlags(cmd *cobra.Command) *cobra.Command {
	cmd.PersistentFlags().String("config", "", "YAML configuration file (default: dev mode on embedded defaults)")
	cmd.PersistentFlags().String("data-dir", "", "data directory (default ./data)")
	return cmd
}
