package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// AuthorizationCode is an issued OAuth authorization code (RFC 6749 §4.1.2), keyed by the hash of
// the code: the code itself is never stored (see [HashSecret]).
type AuthorizationCode struct {
	Hash     string // HashSecret(code)
	ClientID string
	// FamilyID names the grant: the tokens issued for this code carry it, so a replayed code
	// revokes them all (FAPI1-AS-51, RFC 6749 §4.1.2).
	FamilyID string
	Data     json.RawMessage // what the token endpoint needs: redirect_uri, PKCE challenge, scope, …
	// CreatedAt is set from the store clock when zero. ExpiresAt is required.
	CreatedAt, ExpiresAt time.Time
	// ConsumedAt is set by ConsumeAuthorizationCode; Put ignores it.
	ConsumedAt time.Time
}

const codeColumns = `hash, client_id, family_id, data, created_at, expires_at, consumed_at`

func scanCode(row rowScanner) (AuthorizationCode, error) {
	var c AuthorizationCode
	var data []byte
	var created, expires int64
	var consumed sql.NullInt64
	if err := row.Scan(&c.Hash, &c.ClientID, &c.FamilyID, &data, &created, &expires, &consumed); err != nil {
		return AuthorizationCode{}, err
	}
	c.Data = rawJSON(data)
	c.CreatedAt, c.ExpiresAt, c.ConsumedAt = fromMS(created), fromMS(expires), fromNullMS(consumed)
	return c, nil
}

// PutAuthorizationCode stores a new, unconsumed code. It returns [ErrDuplicate] if the hash is
// already stored and [ErrInvalidInput] for a missing Hash, ClientID, FamilyID or ExpiresAt or
// an oversize field.
func (s *Store) PutAuthorizationCode(ctx context.Context, c AuthorizationCode) error {
	for _, f := range []struct{ name, v string }{
		{"code hash", c.Hash}, {"code client id", c.ClientID}, {"code family id", c.FamilyID},
	} {
		if err := checkKey(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkData("code data", c.Data, false); err != nil {
		return err
	}
	if err := checkTime("code created_at", c.CreatedAt, false); err != nil {
		return err
	}
	if err := checkTime("code expires_at", c.ExpiresAt, true); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx,
		`INSERT INTO authorization_codes (hash, client_id, family_id, data, created_at, expires_at)
		 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING`,
		c.Hash, c.ClientID, c.FamilyID, nullData(c.Data), ms(orNow(c.CreatedAt, s.now())), ms(c.ExpiresAt))
	if err != nil {
		return s.dbErr("put authorization code", err)
	}
	n, err := s.rowsAffected("put authorization code", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrDuplicate
	}
	return nil
}

// ConsumeAuthorizationCode redeems the code with that hash, atomically and once: of any number
// of concurrent callers exactly one gets the record and a nil error. Later callers get
// [ErrConsumed] together with the record (its FamilyID names the tokens to revoke); a code
// past its ExpiresAt gives [ErrExpired] with the record; an unknown hash gives [ErrNotFound].
func (s *Store) ConsumeAuthorizationCode(ctx context.Context, hash string) (AuthorizationCode, error) {
	return s.pools().consumeAuthorizationCode(ctx, hash)
}

func (d db) consumeAuthorizationCode(ctx context.Context, hash string) (AuthorizationCode, error) {
	return consume(ctx, d, "consume authorization code",
		`UPDATE authorization_codes SET consumed_at = $2
		 WHERE hash = $1 AND consumed_at IS NULL AND expires_at > $2
		 RETURNING `+codeColumns,
		hash, scanCode, d.getAuthorizationCode)
}

// getAuthorizationCode reads a code without consuming it and reports whether it is usable at
// now: nil, or ErrConsumed / ErrExpired with the record, or ErrNotFound.
func (d db) getAuthorizationCode(ctx context.Context, hash string, now time.Time) (AuthorizationCode, error) {
	c, err := scanCode(d.r.QueryRowContext(ctx,
		`SELECT `+codeColumns+` FROM authorization_codes WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return AuthorizationCode{}, ErrNotFound
	}
	if err != nil {
		return AuthorizationCode{}, d.s.dbErr("get authorization code", err)
	}
	return c, singleUseState{consumedAt: c.ConsumedAt, expiresAt: c.ExpiresAt}.check(now)
}
