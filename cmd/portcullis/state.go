package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

// openStore opens and migrates the configured database.
func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL().Reveal(), store.Options{
		SQLitePath:   filepath.Join(cfg.DataDir, "portcullis.db"),
		MaxOpenConns: cfg.Database.MaxOpenConns,
	})
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("database migrations: %w", err)
	}
	return st, nil
}

// stateFlagsOf returns the --config and --data-dir values of cmd (withStateFlags registers
// them on a command and its subcommands).
func stateFlagsOf(cmd *cobra.Command) *stateFlags {
	f := &stateFlags{}
	if fl := cmd.Flag("config"); fl != nil {
		f.config = fl.Value.String()
	}
	if fl := cmd.Flag("data-dir"); fl != nil {
		f.dataDir = fl.Value.String()
	}
	return f
}

// openRegistry opens the client registry of the database named by the command's
// --config and --data-dir flags, so `portcullis client …` works beside a running server.
// It says on stderr which database it opened (an absolute path for SQLite), and warns when
// nothing named the data directory and the default ./data does not exist yet: the command
// is then about to create a new, empty database that no running server reads.
func openRegistry(cmd *cobra.Command) (*client.Registry, func(), error) {
	f := stateFlagsOf(cmd)
	cfg, err := f.load()
	if err != nil {
		return nil, nil, err
	}
	where := databaseLocation(cfg)
	if f.config == "" && f.dataDir == "" && !envSet(config.EnvPrefix+"DATA_DIR") && cfg.Database.URL == "" {
		if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(cmd.ErrOrStderr(), "portcullis: warning: no --data-dir or --config given and %s does not exist here: "+
				"creating a new, empty database; a server started in another directory will not see it "+
				"(pass --data-dir DIR, the server's data directory)\n", cfg.DataDir)
		}
	}
	st, err := openStore(cmd.Context(), cfg)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "portcullis: client registry in %s\n", where)
	reg := client.NewRegistry(st, client.RegistryOptions{})
	return reg, func() { st.Close() }, nil
}

// databaseLocation names cfg's database for a human: "sqlite:" and the absolute path of
// the file, or the PostgreSQL URL with its credentials masked.
func databaseLocation(cfg *config.Config) string {
	u := cfg.DatabaseURL()
	path, ok := strings.CutPrefix(u.Reveal(), "sqlite:")
	if !ok {
		return u.String()
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return "sqlite:" + path
}

func envSet(name string) bool {
	v, ok := os.LookupEnv(name)
	return ok && v != ""
}
