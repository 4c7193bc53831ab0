package store

import "context"

// RevokeRefreshTokensByClient revokes every not yet revoked refresh token issued to the
// client and returns how many it revoked (dynamic client registration's DELETE, RFC 7592
// §2.3, OB-DCR-11). It returns [ErrInvalidInput] for an empty or oversize clientID.
func (s *Store) RevokeRefreshTokensByClient(ctx context.Context, clientID string) (int64, error) {
	return s.pools().revokeRefreshTokensByClient(ctx, clientID)
}

func (d db) revokeRefreshTokensByClient(ctx context.Context, clientID string) (int64, error) {
	if err := checkKey("refresh token client id", clientID); err != nil {
		return 0, err
	}
	return d.revokeRefresh(ctx, "revoke refresh tokens by client",
		`UPDATE refresh_tokens SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL`, clientID)
}
