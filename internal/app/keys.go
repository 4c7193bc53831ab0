package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/keys"
)

// keySetLoadTimeout bounds loading the database key set at start-up.
const keySetLoadTimeout = 30 * time.Second

// OpenKeySet loads the signing keys shared through the database (keys.source: database) with
// the vault cfg names: the PKCS#11 token of keys.pkcs11, else keys.kek (and
// keys.previous_kek); in dev mode without keys.kek, the KEK in DATA_DIR/signing-keys.kek,
// generated on first use. Outside dev mode a missing KEK is a configuration error (config
// validation refuses it first). `portcullis serve` and `portcullis keys rotate` both use it.
func OpenKeySet(ctx context.Context, cfg *config.Config, st keys.Store, opts jose.KeyStoreOptions) (*keys.Set, error) {
	vault, err := openVault(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, keySetLoadTimeout)
	defer cancel()
	return keys.Load(ctx, keys.Options{
		Store: st, Vault: vault, Alg: jose.Alg(cfg.Keys.Alg), KeyStore: opts,
		PollInterval: cfg.Keys.PollInterval, PublishDelay: cfg.Keys.PublishDelay,
	})
}

func openVault(cfg *config.Config) (keys.Vault, error) {
	k := cfg.Keys
	if k.PKCS11.Module != "" {
		return keys.NewPKCS11Vault(keys.PKCS11Config{Module: k.PKCS11.Module, TokenLabel: k.PKCS11.TokenLabel, PIN: k.PKCS11.PIN.Reveal()})
	}
	var v keys.KEKVault
	var err error
	switch {
	case k.KEK != "":
		v.Current, err = keys.ParseKEK(k.KEK.Reveal())
	case cfg.Dev:
		v.Current, err = keys.LoadOrCreateDevKEK(filepath.Join(cfg.DataDir, keys.DevKEKFile))
	default:
		err = fmt.Errorf("%w: keys.kek is not set", keys.ErrKEK)
	}
	if err != nil {
		return nil, fmt.Errorf("keys.kek: %w", err)
	}
	if k.PreviousKEK != "" {
		prev, err := keys.ParseKEK(k.PreviousKEK.Reveal())
		if err != nil {
			return nil, fmt.Errorf("keys.previous_kek: %w", err)
		}
		v.Previous = append(v.Previous, prev)
	}
	return &v, nil
}
