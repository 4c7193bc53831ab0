package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
// generated on first use. When the database holds no key yet, the keys of keys.dir (if it
// holds any) are imported with their states. Outside dev mode a missing KEK is a configuration error (config
// validation refuses it first). `portcullis serve` and `portcullis keys rotate` both use it.
func OpenKeySet(ctx context.Context, cfg *config.Config, st keys.Store, opts jose.KeyStoreOptions) (*keys.Set, error) {
	vault, err := openVault(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, keySetLoadTimeout)
	defer cancel()
	o := keys.Options{
		Store: st, Vault: vault, Alg: jose.Alg(cfg.Keys.Alg), KeyStore: opts,
		PollInterval: cfg.Keys.PollInterval, PublishDelay: cfg.Keys.PublishDelay,
	}
	if cfg.Keys.PKCS11.Module == "" {
		o.Import = func() ([]jose.KeyRecord, error) { return keyDirImport(cfg, opts) }
	}
	return keys.Load(ctx, o)
}

// keyDirImport returns the keys of keys.dir (default DATA_DIR/keys) when it holds a manifest
// or a key file, so a deployment that switches to keys.source database keeps signing (and
// verifying) with the keys it had; nil when the directory holds none.
func keyDirImport(cfg *config.Config, opts jose.KeyStoreOptions) ([]jose.KeyRecord, error) {
	dir := cfg.KeysDir()
	if _, err := os.Stat(filepath.Join(dir, jose.ManifestName)); errors.Is(err, fs.ErrNotExist) {
		des, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("keys.dir: %w", err)
		}
		n := 0
		for _, de := range des {
			switch strings.ToLower(filepath.Ext(de.Name())) {
			case ".pem", ".key", ".jwk":
				n++
			}
		}
		if n == 0 {
			return nil, nil
		}
	}
	recs, err := jose.KeyDirRecords(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("keys.dir: %w", err)
	}
	return recs, nil
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
