package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// RefreshToken is an issued refresh token (RFC 6749 §6), keyed by the hash of the token: the
// token itself is never stored (see [HashSecret]). Refresh tokens rotate: each use consumes the
// presented token and the caller issues a new one in the same family.
type RefreshToken struct {
	Hash      string // HashSecret(refresh token)
	ClientID  string
	FamilyID  string // shared by every token descended from one authorization code
	ConsentID string // empty when the grant has no consent
	UserID    string
	Scope     string // at most MaxScopeLen bytes
	Data      json.RawMessage
	// CreatedAt is set from the store clock when zero. ExpiresAt is required: a token that
	// never expired would never be purged (bound it by the consent's expiry or a maximum).
	CreatedAt, ExpiresAt time.Time
	// ConsumedAt and RevokedAt are set by the store; Put ignores them.
	ConsumedAt, RevokedAt time.Time
}

const refreshColumns = `hash, client_id, family_id, consent_id, user_id, scope, data, created_at, expires_at, consumed_at, revoked_at`

func scanRefresh(row rowScanner) (RefreshToken, error) {
	var t RefreshToken
	var data []byte
	var created, expires int64
	var consumed, revoked sql.NullInt64
	if err := row.Scan(&t.Hash, &t.ClientID, &t.FamilyID, &t.ConsentID, &t.UserID, &t.Scope, &data,
		&created, &expires, &consumed, &revoked); err != nil {
		return RefreshToken{}, err
	}
	t.Data = rawJSON(data)
	t.CreatedAt, t.ExpiresAt = fromMS(created), fromMS(expires)
	t.ConsumedAt, t.RevokedAt = fromNullMS(consumed), fromNullMS(revoked)
	return t, nil
}

// PutRefreshToken stores a new, unconsumed refresh token. It returns [ErrDuplicate] if the hash
// is already stored and [ErrInvalidInput] for a missing Hash, ClientID, FamilyID or ExpiresAt or
// an oversize field.
func (s *Store) PutRefreshToken(ctx context.Context, t RefreshToken) error {
	return s.pools().putRefreshToken(ctx, t)
}

func (d db) putRefreshToken(ctx context.Context, t RefreshToken) error {
	s := d.s
	for _, f := range []struct{ name, v string }{
		{"refresh token hash", t.Hash}, {"refresh token client id", t.ClientID}, {"refresh token family id", t.FamilyID},
	} {
		if err := checkKey(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkOptional("refresh token consent id", t.ConsentID); err != nil {
		return err
	}
	if err := checkOptional("refresh token user id", t.UserID); err != nil {
		return err
	}
	if err := checkText("refresh token scope", t.Scope, MaxScopeLen, false); err != nil {
		return err
	}
	if err := checkData("refresh token data", t.Data, false); err != nil {
		return err
	}
	if err := checkTime("refresh token created_at", t.CreatedAt, false); err != nil {
		return err
	}
	if err := checkTime("refresh token expires_at", t.ExpiresAt, true); err != nil {
		return err
	}
	res, err := d.w.ExecContext(ctx,
		`INSERT INTO refresh_tokens (hash, client_id, family_id, consent_id, user_id, scope, data, created_at, expires_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (hash) DO NOTHING`,
		t.Hash, t.ClientID, t.FamilyID, t.ConsentID, t.UserID, t.Scope, nullData(t.Data),
		ms(orNow(t.CreatedAt, s.now())), ms(t.ExpiresAt))
	if err != nil {
		return s.dbErr("put refresh token", err)
	}
	n, err := s.rowsAffected("put refresh token", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrDuplicate
	}
	return nil
}

// GetRefreshToken returns the refresh token with that hash without consuming it. When it may
// no longer be used it returns the record together with, by precedence, [ErrConsumed] (already
// rotated: a replay), [ErrRevoked] or [ErrExpired]; an unknown hash gives [ErrNotFound].
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error) {
	if !validKey(hash) {
		return RefreshToken{}, ErrNotFound
	}
	return s.pools().getRefreshToken(ctx, hash, s.now())
}

// ConsumeRefreshToken redeems the refresh token with that hash for rotation, atomically and
// once: of any number of concurrent callers exactly one gets the record and a nil error. Other
// outcomes are those of [Store.GetRefreshToken]: on [ErrConsumed] (reuse of a rotated token,
// RFC 9700 §4.14.2) the caller should revoke the family with [Store.RevokeRefreshFamily].
func (s *Store) ConsumeRefreshToken(ctx context.Context, hash string) (RefreshToken, error) {
	return s.pools().consumeRefreshToken(ctx, hash)
}

func (d db) consumeRefreshToken(ctx context.Context, hash string) (RefreshToken, error) {
	return consume(ctx, d, "consume refresh token",
		`UPDATE refresh_tokens SET consumed_at = $2
		 WHERE hash = $1 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $2
		 RETURNING `+refreshColumns,
		hash, scanRefresh, d.getRefreshToken)
}

func (d db) getRefreshToken(ctx context.Context, hash string, now time.Time) (RefreshToken, error) {
	t, err := scanRefresh(d.r.QueryRowContext(ctx,
		`SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return RefreshToken{}, ErrNotFound
	}
	if err != nil {
		return RefreshToken{}, d.s.dbErr("get refresh token", err)
	}
	return t, singleUseState{consumedAt: t.ConsumedAt, revokedAt: t.RevokedAt, expiresAt: t.ExpiresAt}.check(now)
}

// RevokeRefreshFamily revokes every not yet revoked refresh token of the family and returns how
// many it revoked (zero for an unknown family). It returns [ErrInvalidInput] for an empty or
// oversize familyID.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string) (int64, error) {
	return s.pools().revokeRefreshFamily(ctx, familyID)
}

func (d db) revokeRefreshFamily(ctx context.Context, familyID string) (int64, error) {
	if err := checkKey("refresh token family id", familyID); err != nil {
		return 0, err
	}
	return d.revokeRefresh(ctx, "revoke refresh family",
		`UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, familyID)
}

// RevokeRefreshTokensByConsent revokes every not yet revoked refresh token granted under the
// consent and returns how many it revoked. It returns [ErrInvalidInput] for an empty or
// oversize consentID (an empty one would match every token without a consent).
func (s *Store) RevokeRefreshTokensByConsent(ctx context.Context, consentID string) (int64, error) {
	return s.pools().revokeRefreshTokensByConsent(ctx, consentID)
}

func (d db) revokeRefreshTokensByConsent(ctx context.Context, consentID string) (int64, error) {
	if err := checkKey("refresh token consent id", consentID); err != nil {
		return 0, err
	}
	return d.revokeRefresh(ctx, "revoke refresh tokens by consent",
		`UPDATE refresh_tokens SET revoked_at = $2 WHERE consent_id = $1 AND revoked_at IS NULL`, consentID)
}

func (d db) revokeRefresh(ctx context.Context, op, q, key string) (int64, error) {
	res, err := d.w.ExecContext(ctx, q, key, ms(d.s.now()))
	if err != nil {
		return 0, d.s.dbErr(op, err)
	}
	return d.s.rowsAffected(op, res)
}
