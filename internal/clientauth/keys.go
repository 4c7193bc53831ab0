package clientauth

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/jose"
)

// KeyResolver resolves the verification keys a client registered: its jwks by value, or the
// JWK Set at its jwks_uri through the remote cache. It is the one place that reads
// [client.Client.JWKS] and [client.Client.JWKSURI] for verification: private_key_jwt client
// assertions and self_signed_tls_client_auth certificates use it, and so will signed request
// objects (pass the same *KeyResolver to every user, so that they share its caches). It is
// safe for concurrent use.
type KeyResolver struct {
	remote RemoteKeySets
	inline inlineSets
}

// NewKeyResolver returns a KeyResolver that fetches jwks_uri key sets through remote. A nil
// remote means a client registered with a jwks_uri has no usable keys ([ErrKeysUnavailable]).
func NewKeyResolver(remote RemoteKeySets) *KeyResolver {
	return &KeyResolver{remote: remote}
}

// ClientKeys is one client's registered key set as [KeyResolver.Keys] resolved it.
type ClientKeys struct {
	set      *jose.JWKSet
	resolver jose.KeyResolver
	revoked  *jose.JWKSet // software_jwks_revoked_endpoint (revoked_keys.go); nil: none
}

// Keys returns the keys of the set (a copy of the slice), without those listed at the
// client's software_jwks_revoked_endpoint.
func (k *ClientKeys) Keys() []*jose.PublicKey { return withoutRevoked(k.set.Keys(), k.revoked) }

// EncryptionKey returns the client's key for encrypting to it with JWE key algorithm alg
// (e.g. its ID tokens): jose.ErrNoEncryptionKey when its set holds none.
func (k *ClientKeys) EncryptionKey(alg string) (*jose.EncryptionKey, error) {
	return k.set.EncryptionKey(alg)
}

// ResolveKey implements [jose.KeyResolver] for verifying a JWS the client signed: a key of
// the set selected by the header's kid and alg (jose.JWKSet.ResolveKey). For a jwks_uri
// client a kid the cached set lacks triggers one rate-limited refetch (RFC 7517 key
// rotation); errors are jose's (jose.ErrUnknownKey, jose.ErrJWKSFetch …). Header keys (jku,
// x5u, jwk, x5c) are never consulted. A key listed at the client's
// software_jwks_revoked_endpoint (a dynamically registered client, OB-DCR-12) is refused as
// jose.ErrUnknownKey.
func (k *ClientKeys) ResolveKey(ctx context.Context, hdr jose.Header) (*jose.PublicKey, error) {
	key, err := k.resolver.ResolveKey(ctx, hdr)
	return checkNotRevoked(key, err, k.revoked)
}

// Keys returns c's registered keys: the parsed jwks when c registered one (parsed once per
// distinct document), else the set at c's jwks_uri from the remote cache (fetched when
// absent or expired; no refetch here, so looking keys up cannot be used to make Portcullis
// hammer the client's server). Every error matches [ErrKeysUnavailable] and wraps the cause
// (a jose parse error, jose.ErrJWKSFetch): the registered jwks does not parse, the jwks_uri
// set could not be obtained, there is no remote cache, or c registered no keys at all; for
// a dynamically registered client also when its software_jwks_revoked_endpoint could not
// be read (its keys are then unusable: fail closed). The
// caller decides what that is on the wire (invalid_client for client authentication).
func (r *KeyResolver) Keys(ctx context.Context, c *client.Client) (*ClientKeys, error) {
	switch {
	case len(c.JWKS) > 0:
		set, err := r.inline.parse(c.JWKS)
		if err != nil {
			return nil, fmt.Errorf("%w: registered jwks invalid: %w", ErrKeysUnavailable, err)
		}
		return &ClientKeys{set: set, resolver: set}, nil
	case c.JWKSURI != "" && r.remote != nil:
		set, err := r.remote.Get(ctx, c.JWKSURI)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
		}
		revoked, err := r.revokedKeys(ctx, c)
		if err != nil {
			return nil, err
		}
		return &ClientKeys{set: set, resolver: r.remote.Resolver(c.JWKSURI), revoked: revoked}, nil
	case c.JWKSURI != "":
		return nil, fmt.Errorf("%w: no jwks_uri cache configured", ErrKeysUnavailable)
	}
	return nil, fmt.Errorf("%w: client has no registered keys", ErrKeysUnavailable)
}

// clientKeys is [KeyResolver.Keys] as a client authentication failure.
func (a *Authenticator) clientKeys(ctx context.Context, c *client.Client) (*ClientKeys, error) {
	keys, err := a.keys.Keys(ctx, c)
	if err != nil {
		if errors.Is(err, ErrKeysUnavailable) {
			return nil, failWith(ErrKeysUnavailable, "client keys unavailable", err)
		}
		return nil, err
	}
	return keys, nil
}

// maxInlineSets bounds the cache of parsed registered key sets; when full it is emptied.
const maxInlineSets = 4096

// inlineSets caches the parsed form of clients' registered jwks, keyed by the document
// itself: a changed registration is a different key, so nothing stale is ever served.
type inlineSets struct {
	mu   sync.Mutex
	sets map[string]*jose.JWKSet
}

// parse returns the parsed key set of raw, from the cache when it was parsed before.
func (s *inlineSets) parse(raw []byte) (*jose.JWKSet, error) {
	s.mu.Lock()
	set, ok := s.sets[string(raw)]
	s.mu.Unlock()
	if ok {
		return set, nil
	}
	set, err := jose.ParseJWKS(raw)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.sets == nil || len(s.sets) >= maxInlineSets {
		s.sets = map[string]*jose.JWKSet{}
	}
	s.sets[string(raw)] = set
	s.mu.Unlock()
	return set, nil
}
