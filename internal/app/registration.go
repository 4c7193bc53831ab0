package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/dcr"
	dirsandbox "github.com/portcullis/portcullis/internal/dcr/sandbox"
	"github.com/portcullis/portcullis/internal/jose"
)

// DirectoryDir is the sandbox SSA directory under the data directory in dev mode.
const DirectoryDir = "directory"

// buildRegistration returns the dynamic client registration options (authz.Options.
// Registration), or nil when no software statement directory is trusted. In dev mode the
// sandbox directory in DATA/directory is trusted, created on first start like the sandbox
// CA (`portcullis directory ssa --dir DATA/directory …` then mints SSAs the server accepts).
// Outside dev mode no directory is configured yet, so registration is not served.
func (a *App) buildRegistration(remote *jose.RemoteJWKS) (*authz.RegistrationOptions, error) {
	if !a.cfg.Dev {
		return nil, nil
	}
	dir := filepath.Join(a.cfg.DataDir, DirectoryDir)
	if _, err := os.Stat(filepath.Join(dir, dirsandbox.FileJWKS)); errors.Is(err, fs.ErrNotExist) {
		if _, err := dirsandbox.Init(dir, a.clock); err != nil {
			return nil, fmt.Errorf("sandbox directory: %w", err)
		}
	}
	trusted, err := dirsandbox.Trust(dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	v, err := dcr.New(dcr.Options{
		Directories:  []dcr.Directory{trusted},
		SoftwareKeys: remote,
		JTIs:         a.Store,
		Audiences:    []string{a.cfg.Issuer},
		Clock:        a.clock,
	})
	if err != nil {
		return nil, fmt.Errorf("dynamic client registration: %w", err)
	}
	return &authz.RegistrationOptions{Verifier: v, Clients: a.Clients, RefreshTokens: a.Store}, nil
}
