package dcr

import (
	"fmt"
	"io"
	"os"

	"github.com/portcullis/portcullis/internal/jose"
)

// Directory is a software statement issuer this bank trusts (OB-DCR-03): the OB Directory,
// a sandbox directory, a national scheme's register. A software statement whose iss equals
// Issuer is verified with a key of Keys selected by the statement's kid.
type Directory struct {
	// Issuer is the directory's iss value, e.g. "OpenBanking Ltd". Required, unique.
	Issuer string
	// Keys resolves the directory's signing keys: a *jose.JWKSet read from a file
	// ([ReadJWKSFile]) or the resolver of a *jose.RemoteJWKS for an https URL (fetched with
	// its SSRF rules and cached). Required.
	Keys jose.KeyResolver
}

// ReadJWKSFile reads a directory's public JWK Set from a file of at most jose.MaxJWKSSize
// bytes and parses it with jose.ParseJWKS (public signature keys only, strong keys only).
func ReadJWKSFile(path string) (*jose.JWKSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dcr: directory JWK Set: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, jose.MaxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("dcr: directory JWK Set %s: %w", path, err)
	}
	set, err := jose.ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("dcr: directory JWK Set %s: %w", path, err)
	}
	if set.Len() == 0 {
		return nil, fmt.Errorf("dcr: directory JWK Set %s has no signature key", path)
	}
	return set, nil
}
