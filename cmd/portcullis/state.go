package main

import (
	"context"
	"fmt"
	"path/filepath"

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

// openRegistry opens the client registry of the database named by the command's
// --config and --data-dir flags, so `portcullis client …` works beside a running server.
func openRegistry(cmd *cobra.Command) (*client.Registry, func(), error) {
	f := stateFlags{}
	if fl := cmd.Flag("config"); fl != nil {
		f.config = fl.Value.String()
	}
	if fl := cmd.Flag("data-dir"); fl != nil {
		f.dataDir = fl.Value.String()
	}
	cfg, err := f.load()
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(cmd.Context(), cfg)
	if err != nil {
		return nil, nil, err
	}
	reg := client.NewRegistry(st, client.RegistryOptions{})
	return reg, func() { st.Close() }, nil
}
