package store

import (
	"context"
	"time"
)

// Revocation is an entry of the access-token deny-list (RFC 7009): the jti of a revoked,
// self-contained access token, kept until the token would have expired anyway.
type Revocation struct {
	JTI      string
	ClientID string // the client the token was issued to; may be empty
	// RevokedAt is set from the store clock when zero. ExpiresAt (the token's exp) is required:
	// after it the entry is purged, the token being dead anyway.
	RevokedAt, ExpiresAt time.Time
}

// RevokeToken adds the token to the deny-list. It is idempotent: revoking a jti again succeeds
// and keeps the first entry (and its RevokedAt). It returns [ErrInvalidInput] for an empty or
// oversize JTI or a missing ExpiresAt.
func (s *Store) RevokeToken(ctx context.Context, r Revocation) error {
	if err := checkKey("revocation jti", r.JTI); err != nil {
		return err
	}
	if err := checkOptional("revocation client id", r.ClientID); err != nil {
		return err
	}
	if err := checkTime("revocation revoked_at", r.RevokedAt, false); err != nil {
		return err
	}
	if err := checkTime("revocation expires_at", r.ExpiresAt, true); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO token_revocations (jti, client_id, revoked_at, expires_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (jti) DO NOTHING`,
		r.JTI, r.ClientID, ms(orNow(r.RevokedAt, s.now())), ms(r.ExpiresAt))
	if err != nil {
		return s.dbErr("revoke token", err)
	}
	return nil
}

// IsTokenRevoked reports whether the jti is on the deny-list. Unlike lookups, an empty or
// oversize jti is an [ErrInvalidInput] (not "not revoked"): the caller must reject the token.
func (s *Store) IsTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if err := checkKey("revocation jti", jti); err != nil {
		return false, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT 1 FROM token_revocations WHERE jti = $1`, jti)
	if err != nil {
		return false, s.dbErr("is token revoked", err)
	}
	defer rows.Close()
	found := rows.Next()
	if err := rows.Err(); err != nil {
		return false, s.dbErr("is token revoked", err)
	}
	return found, nil
}

// RevocationsSince returns deny-list entries with RevokedAt at or after since, ordered by
// RevokedAt then JTI, at most limit of them (zero means 1000; at most 10000). The gateways'
// deny-list caches poll it through an index on (revoked_at, jti).
//
// RevokedAt comes from the revoking node's clock and entries commit in any order, so a poller
// must not ask only for what is newer than the newest entry it has seen: it should poll from
// that time minus a margin larger than clock skew plus commit latency, and treat entries it
// already holds as duplicates. When a page is full, poll again from its last RevokedAt.
func (s *Store) RevocationsSince(ctx context.Context, since time.Time, limitN int) ([]Revocation, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT jti, client_id, revoked_at, expires_at FROM token_revocations
		 WHERE revoked_at >= $1 ORDER BY revoked_at, jti LIMIT $2`,
		ms(since), limit(limitN, 1000, 10000))
	if err != nil {
		return nil, s.dbErr("revocations since", err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var r Revocation
		var revoked, expires int64
		if err := rows.Scan(&r.JTI, &r.ClientID, &revoked, &expires); err != nil {
			return nil, s.dbErr("revocations since", err)
		}
		r.RevokedAt, r.ExpiresAt = fromMS(revoked), fromMS(expires)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("revocations since", err)
	}
	return out, nil
}
