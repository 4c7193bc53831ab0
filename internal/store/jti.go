package store

import (
	"context"
	"time"
)

const useJTI = `INSERT INTO used_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (issuer, jti) DO NOTHING`

// UseJTI records that the JWT with this jti from this issuer has been used: client assertions
// (RFC 7523 §3, FAPI1-AS-03), registration JWTs, DPoP proofs. It returns nil the first time and
// [ErrReplay] for every later use of the same (issuer, jti), on every node sharing the
// database: the insert on the (issuer, jti) key is atomic, so of concurrent callers exactly one
// gets nil. The record is kept at least until expiresAt (the JWT's exp; required) and purged by
// the sweeper after it; until then a reuse is a replay even if the JWT has expired. It returns
// [ErrInvalidInput] for an empty or oversize issuer or jti.
func (s *Store) UseJTI(ctx context.Context, issuer, jti string, expiresAt time.Time) error {
	if err := checkKey("jti issuer", issuer); err != nil {
		return err
	}
	if err := checkKey("jti", jti); err != nil {
		return err
	}
	if err := checkTime("jti expires_at", expiresAt, true); err != nil {
		return err
	}
	res, err := s.execW(ctx, useJTI, issuer, jti, ms(expiresAt))
	if err != nil {
		return s.dbErr("use jti", err)
	}
	n, err := s.rowsAffected("use jti", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrReplay
	}
	return nil
}
