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
// Registration), or nil when no software statement directory is trusted. The directories
// of registration.directories are trusted (a JWK Set file, read now, or an https URL
// fetched and cached by remote); in dev mode so is the sandbox directory in DATA/directory,
// created on first start like the sandbox CA (`portcullis directory ssa --dir
// DATA/directory …` then mints SSAs the server accepts). With a TPP register, registration
// also asks it (dcr.Options.Register).
func (a *App) buildRegistration(remote *jose.RemoteJWKS) (*authz.RegistrationOptions, error) {
	var dirs []dcr.Directory
	for i, d := range a.cfg.Registration.Directories {
		switch {
		case d.JWKSFile != "":
			set, err := dcr.ReadJWKSFile(d.JWKSFile)
			if err != nil {
				return nil, fmt.Errorf("registration.directories[%d]: %w", i, err)
			}
			dirs = append(dirs, dcr.Directory{Issuer: d.Issuer, Keys: set})
		default:
			dirs = append(dirs, dcr.Directory{Issuer: d.Issuer, Keys: remote.Resolver(d.JWKSURI)})
		}
	}
	if a.cfg.Dev {
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
		dirs = append(dirs, trusted)
	}
	if len(dirs) == 0 {
		return nil, nil
	}
	opts := dcr.Options{
		Directories:        dirs,
		SoftwareKeys:       remote,
		JTIs:               a.Store,
		Audiences:          []string{a.cfg.Issuer},
		Clock:              a.clock,
		MaxSSAAge:          a.cfg.Registration.SSAMaxAge,
		MaxRequestLifetime: a.cfg.Registration.RequestMaxLifetime,
		SigningAlgs: func() []string {
			var out []string
			for _, alg := range a.Keys.Algorithms() {
				out = append(out, string(alg))
			}
			return out
		},
	}
	if a.tppRegister != nil {
		opts.Register = a.tppRegister
	}
	v, err := dcr.New(opts)
	if err != nil {
		return nil, fmt.Errorf("dynamic client registration: %w", err)
	}
	return &authz.RegistrationOptions{Verifier: v, Clients: a.Clients, RefreshTokens: a.Store}, nil
}
