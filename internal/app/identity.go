package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/identity"
)

// buildIdentity constructs customer authentication: the data directory's key for the sealed
// TOTP secrets (created on first start), the embedded authenticator over the store, and in dev
// mode the demo customer, seeded once and the same on every restart.
func (a *App) buildIdentity(ctx context.Context) error {
	key, err := identity.LoadOrCreateSecretKey(filepath.Join(a.cfg.DataDir, identity.SecretKeyFile))
	if err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	a.Customers = identity.NewCustomers(a.Store, key)
	a.Identity, err = identity.NewEmbedded(identity.EmbeddedOptions{
		Customers: a.Store, Failures: a.Store, SecretKey: key, Clock: a.clock,
	})
	if err != nil {
		return err
	}
	if !a.cfg.Dev {
		return nil
	}
	creds, err := identity.SeedDemo(ctx, a.Customers, filepath.Join(a.cfg.DataDir, identity.DemoCredentialsFile))
	switch {
	case errors.Is(err, identity.ErrDemoChanged):
		a.logger.Warn("dev mode: the demo customer was changed with `portcullis user`; its credentials are not printed",
			slog.String("customer", identity.DemoCustomerID))
	case err != nil:
		return fmt.Errorf("dev mode demo customer: %w", err)
	default:
		a.DemoCustomer = &creds
	}
	return nil
}
