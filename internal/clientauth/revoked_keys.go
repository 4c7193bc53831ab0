package clientauth

import (
	"context"
	"fmt"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/jose"
)

// revokedKeys returns the key set published at the software_jwks_revoked_endpoint of a
// dynamically registered client (OB-DCR-12), nil when the client registered none. The set
// comes from the same remote cache as the client's jwks_uri; an error wraps
// [ErrKeysUnavailable]: a client whose revocation list cannot be read has no usable keys
// (fail closed).
func (r *KeyResolver) revokedKeys(ctx context.Context, c *client.Client) (*jose.JWKSet, error) {
	if c.Registration == nil || c.Registration.SoftwareJWKSRevokedEndpoint == "" {
		return nil, nil
	}
	set, err := r.remote.Get(ctx, c.Registration.SoftwareJWKSRevokedEndpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: software_jwks_revoked_endpoint: %w", ErrKeysUnavailable, err)
	}
	return set, nil
}

// isRevoked reports whether k is listed in revoked, by kid or by key (RFC 7638 thumbprint).
func isRevoked(revoked *jose.JWKSet, k *jose.PublicKey) bool {
	if revoked == nil || k == nil {
		return false
	}
	for _, rk := range revoked.Keys() {
		if (k.KeyID() != "" && rk.KeyID() == k.KeyID()) || rk.Thumbprint() == k.Thumbprint() {
			return true
		}
	}
	return false
}

// withoutRevoked returns keys minus the revoked ones.
func withoutRevoked(keys []*jose.PublicKey, revoked *jose.JWKSet) []*jose.PublicKey {
	if revoked == nil {
		return keys
	}
	out := keys[:0:0]
	for _, k := range keys {
		if !isRevoked(revoked, k) {
			out = append(out, k)
		}
	}
	return out
}

// checkNotRevoked refuses a resolved key listed at the revoked endpoint as an unknown key.
func checkNotRevoked(k *jose.PublicKey, err error, revoked *jose.JWKSet) (*jose.PublicKey, error) {
	if err != nil || !isRevoked(revoked, k) {
		return k, err
	}
	return nil, fmt.Errorf("%w: key %q is listed at software_jwks_revoked_endpoint", jose.ErrUnknownKey, k.KeyID())
}
