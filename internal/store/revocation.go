package store

import (
	"context"
	"time"
)

// Revocation is an entry of the access-token deny-list (RFC 7009): either the jti of one
// revoked, self-contained access token ([Store.RevokeToken]) or a whole grant, every access
// token carrying the family id FamilyID ([Store.RevokeFamily]). Exactly one of JTI and
// FamilyID is set. It is kept until the tokens it denies would have expired anyway.
type Revocation struct {
	JTI      string
	FamilyID string
	ClientID string // the client the token(s) were issued to; may be empty
	// RevokedAt is set from the store clock when zero. ExpiresAt (the token's exp; for a
	// family, no earlier than its last token's exp) is required: after it the entry is purged,
	// the tokens being dead anyway.
	RevokedAt, ExpiresAt time.Time
}

// check validates the fields common to both kinds of entry.
func (r Revocation) check() error {
	if err := checkOptional("revocation client id", r.ClientID); err != nil {
		return err
	}
	if err := checkTime("revocation revoked_at", r.RevokedAt, false); err != nil {
		return err
	}
	return checkTime("revocation expires_at", r.ExpiresAt, true)
}

// checkFamily validates a family entry.
func (r Revocation) checkFamily() error {
	if err := checkKey("revocation family id", r.FamilyID); err != nil {
		return err
	}
	if r.JTI != "" {
		return invalid("revocation jti", "must be empty in a family revocation")
	}
	return r.check()
}

// RevokeToken adds the token to the deny-list. It is idempotent: revoking a jti again succeeds
// and keeps the first entry (and its RevokedAt). It returns [ErrInvalidInput] for an empty or
// oversize JTI, a FamilyID (see [Store.RevokeFamily]) or a missing ExpiresAt.
func (s *Store) RevokeToken(ctx context.Context, r Revocation) error {
	return s.pools().revokeToken(ctx, r)
}

func (d db) revokeToken(ctx context.Context, r Revocation) error {
	if err := checkKey("revocation jti", r.JTI); err != nil {
		return err
	}
	if r.FamilyID != "" {
		return invalid("revocation family id", "must be empty in a token revocation")
	}
	if err := r.check(); err != nil {
		return err
	}
	_, err := d.w.ExecContext(ctx,
		`INSERT INTO token_revocations (jti, client_id, revoked_at, expires_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (jti) DO NOTHING`,
		r.JTI, r.ClientID, ms(orNow(r.RevokedAt, d.s.now())), ms(r.ExpiresAt))
	if err != nil {
		return d.s.dbErr("revoke token", err)
	}
	return nil
}

// denyFamily puts the family on the deny-list (checked by the caller). A second entry for the
// family keeps the first one's RevokedAt unless it denies for longer: then it replaces it, with
// a new RevokedAt, so that pollers see the longer expiry.
func (d db) denyFamily(ctx context.Context, r Revocation) error {
	_, err := d.w.ExecContext(ctx,
		`INSERT INTO family_revocations (family_id, client_id, revoked_at, expires_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (family_id) DO UPDATE SET revoked_at = excluded.revoked_at, expires_at = excluded.expires_at
		 WHERE family_revocations.expires_at < excluded.expires_at`,
		r.FamilyID, r.ClientID, ms(orNow(r.RevokedAt, d.s.now())), ms(r.ExpiresAt))
	if err != nil {
		return d.s.dbErr("revoke family", err)
	}
	return nil
}

// IsTokenRevoked reports whether the jti is on the deny-list. Unlike lookups, an empty or
// oversize jti is an [ErrInvalidInput] (not "not revoked"): the caller must reject the token.
// It does not consult family entries (see [Store.RevocationsSince]).
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

// RevocationsSince returns deny-list entries, of tokens and of families alike, with RevokedAt
// at or after since, ordered by RevokedAt then JTI then FamilyID, at most limit of them (zero
// means 1000; at most 10000). The gateways' deny-list caches poll it through indexes on
// (revoked_at, jti) and (revoked_at, family_id).
//
// RevokedAt comes from the revoking node's clock and entries commit in any order, so a poller
// must not ask only for what is newer than the newest entry it has seen: it should poll from
// that time minus a margin larger than clock skew plus commit latency, and treat entries it
// already holds as duplicates. When a page is full, poll again from its last RevokedAt.
func (s *Store) RevocationsSince(ctx context.Context, since time.Time, limitN int) ([]Revocation, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT jti, '' AS family_id, client_id, revoked_at, expires_at FROM token_revocations WHERE revoked_at >= $1
		 UNION ALL
		 SELECT '' AS jti, family_id, client_id, revoked_at, expires_at FROM family_revocations WHERE revoked_at >= $1
		 ORDER BY revoked_at, jti, family_id LIMIT $2`,
		ms(since), limit(limitN, 1000, 10000))
	if err != nil {
		return nil, s.dbErr("revocations since", err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var r Revocation
		var revoked, expires int64
		if err := rows.Scan(&r.JTI, &r.FamilyID, &r.ClientID, &revoked, &expires); err != nil {
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
