package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
)

// querier runs statements: one of the store's pools, or one transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// db is where the statements of one operation run: w for writes, r for reads. Outside a
// transaction they are the store's writer and reader pools; inside one, both are the
// transaction, so the operation reads its own writes and commits or rolls back with the rest.
type db struct {
	s    *Store
	w, r querier
	tx   bool
}

// pools is the store outside any transaction.
func (s *Store) pools() db { return db{s: s, w: s.w, r: s.r} }

// Tx is one database transaction, opened by [Store.InTx]. Its methods behave as the [Store]
// methods of the same name, with the same sentinel errors, except that nothing they write is
// visible to anyone else, or durable, until the transaction commits, and all of it is undone
// if it rolls back. A Tx must not be used after the function given to InTx has returned, nor
// from more than one goroutine.
//
// On SQLite a transaction holds the store's single writer connection (BEGIN IMMEDIATE) from
// its start: every other write of the Store waits for it, so keep the function short and
// never call the Store itself (rather than the Tx) from inside it. On PostgreSQL it is a
// READ COMMITTED transaction on one pooled connection; the single-use methods stay single-use
// across nodes because their conditional UPDATE waits for, and re-checks after, a concurrent
// transaction that changed the same row. Of the Tx methods, RotateRefreshToken,
// RevokeConsent and RevokeFamily first lock their grant (see below): call them before the
// transaction's other writes, so that it never waits for a grant lock while holding rows.
type Tx struct{ d db }

// InTx runs fn in one database transaction, committed if fn returns nil and rolled back if it
// returns an error or panics (the panic then continues). It returns fn's error as is (so
// errors.Is works on the store's sentinels), or the error of beginning or committing, in which
// case nothing was written. fn may run at most once; InTx never retries.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.dbErr("begin transaction", err)
	}
	done := false
	defer func() {
		if !done {
			_ = sqlTx.Rollback() // fn panicked; the panic carries on
		}
	}()
	err = fn(&Tx{d: db{s: s, w: sqlTx, r: sqlTx, tx: true}})
	done = true
	if err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			s.log.Warn("store: rollback failed", "err", rbErr)
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return s.dbErr("commit", err)
	}
	return nil
}

// Grant locks. A refresh token is minted into a family (and a consent) while, concurrently, the
// family or the consent may be revoked. The revoking UPDATE cannot see a row another
// transaction has inserted but not committed, so on PostgreSQL the atomic grant methods
// ([Store.RotateRefreshToken], [Store.RevokeConsent], [Store.RevokeFamily]) first take a
// transaction-scoped advisory lock on each family and consent they touch, in a fixed order,
// before any row lock: they run one after the other for the same grant, and never deadlock.
// SQLite needs none: its transactions already run one at a time.

// lockGrant takes the grant locks named by keys (e.g. "family:…", "consent:…"; empty ones are
// skipped) for the rest of the transaction.
func (d db) lockGrant(ctx context.Context, keys ...string) error {
	if !d.tx || d.s.dialect != DialectPostgres {
		return nil
	}
	ids := make([]int64, 0, len(keys))
	for _, k := range keys {
		if k == "" {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(k))
		ids = append(ids, int64(h.Sum64()))
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if _, err := d.w.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, id); err != nil {
			return d.s.dbErr("lock grant", err)
		}
	}
	return nil
}

func familyLock(id string) string {
	if id == "" {
		return ""
	}
	return "family:" + id
}

func consentLock(id string) string {
	if id == "" {
		return ""
	}
	return "consent:" + id
}

// RotateRefreshToken consumes the refresh token oldHash and stores next in its place, in one
// transaction (RFC 9700 §4.14.2 rotation): either both happen or neither. Of any number of
// concurrent rotations of one token, on any number of nodes, exactly one succeeds; it returns
// the consumed token.
//
// next inherits ClientID, FamilyID, ConsentID and UserID from the consumed token where it
// leaves them empty, and Scope and Data where it leaves them empty too; a non-empty ClientID,
// FamilyID, ConsentID or UserID that differs from the consumed token's is [ErrInvalidInput]
// (a rotation stays in its grant). next is checked as by [Store.PutRefreshToken].
//
// Errors: those of [Store.ConsumeRefreshToken] for oldHash ([ErrConsumed] with the record — a
// replay: revoke the family with [Store.RevokeFamily] —, [ErrRevoked], [ErrExpired],
// [ErrNotFound]), and those of PutRefreshToken for next ([ErrDuplicate], [ErrInvalidInput]),
// in which case the old token is left unconsumed. It serialises with [Store.RevokeConsent]
// and [Store.RevokeFamily] of the token's consent and family, so a token rotated while its
// grant is revoked is revoked too.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken) (RefreshToken, error) {
	var old RefreshToken
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		old, err = tx.d.rotateRefreshToken(ctx, oldHash, next)
		return err
	})
	return old, err
}

func (d db) rotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken) (RefreshToken, error) {
	if !validKey(oldHash) {
		return RefreshToken{}, ErrNotFound
	}
	// The family and consent of a token never change: read them, then lock before the
	// consuming UPDATE takes its row lock.
	cur, err := d.getRefreshToken(ctx, oldHash, d.s.now())
	if errors.Is(err, ErrNotFound) || (err != nil && cur.Hash == "") {
		return cur, err
	}
	if err := d.lockGrant(ctx, familyLock(cur.FamilyID), consentLock(cur.ConsentID)); err != nil {
		return RefreshToken{}, err
	}
	old, err := d.consumeRefreshToken(ctx, oldHash)
	if err != nil {
		return old, err
	}
	for _, f := range []struct {
		name      string
		next      *string
		inherited string
	}{
		{"client id", &next.ClientID, old.ClientID}, {"family id", &next.FamilyID, old.FamilyID},
		{"consent id", &next.ConsentID, old.ConsentID}, {"user id", &next.UserID, old.UserID},
	} {
		switch *f.next {
		case "":
			*f.next = f.inherited
		case f.inherited:
		default:
			return old, invalid("rotated refresh token "+f.name, "differs from the consumed token's")
		}
	}
	if next.Scope == "" {
		next.Scope = old.Scope
	}
	if len(next.Data) == 0 {
		next.Data = old.Data
	}
	if err := d.putRefreshToken(ctx, next); err != nil {
		return old, err
	}
	return old, nil
}

// RevokeConsent moves consent id to status to (from one of from) and revokes every refresh
// token granted under it, in one transaction: either the consent changes and all its refresh
// tokens are revoked, or nothing changes. It returns the updated consent and how many refresh
// tokens it revoked. Errors are those of [Store.TransitionConsent] ([ErrConflict] with the
// current consent, [ErrNotFound], [ErrInvalidInput]); on any of them nothing is revoked.
//
// No refresh token of the consent survives it: a concurrent [Store.RotateRefreshToken] either
// finishes first (and the token it stored is revoked here) or starts after (and finds the
// consumed token revoked).
func (s *Store) RevokeConsent(ctx context.Context, id string, from []string, to string) (Consent, int64, error) {
	var c Consent
	var n int64
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		c, n, err = tx.d.revokeConsent(ctx, id, from, to)
		return err
	})
	return c, n, err
}

func (d db) revokeConsent(ctx context.Context, id string, from []string, to string) (Consent, int64, error) {
	if !validKey(id) {
		return Consent{}, 0, ErrNotFound
	}
	if err := d.lockGrant(ctx, consentLock(id)); err != nil {
		return Consent{}, 0, err
	}
	c, err := d.transitionConsent(ctx, id, from, to, "", nil)
	if err != nil {
		return c, 0, err
	}
	n, err := d.revokeRefreshTokensByConsent(ctx, id)
	if err != nil {
		return Consent{}, 0, err
	}
	return c, n, nil
}

// RevokeFamily revokes a whole grant, in one transaction: every not yet revoked refresh token
// of family r.FamilyID, and every access token issued in it, by putting the family on the
// access-token deny-list (see [Store.RevocationsSince]) until r.ExpiresAt, which must be no
// earlier than the expiry of the family's last access token (the token endpoint passes now
// plus the longest access-token lifetime). It returns how many refresh tokens it revoked.
// It is idempotent: revoking a family again keeps the first deny-list entry, unless the new
// ExpiresAt is later, which then replaces it.
//
// It is what the token endpoint calls when an authorization code is redeemed twice (the
// family is on the code: [Store.ConsumeAuthorizationCode] returns it with [ErrConsumed];
// FAPI1-AS-51, RFC 6749 §4.1.2) or a rotated refresh token is reused. It returns
// [ErrInvalidInput] for an empty or oversize FamilyID, a JTI (a family entry names no single
// token), or a missing ExpiresAt.
func (s *Store) RevokeFamily(ctx context.Context, r Revocation) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.RevokeFamily(ctx, r)
		return err
	})
	return n, err
}

// RevokeFamily is [Store.RevokeFamily] inside the transaction.
func (tx *Tx) RevokeFamily(ctx context.Context, r Revocation) (int64, error) {
	if err := r.checkFamily(); err != nil {
		return 0, err
	}
	if err := tx.d.lockGrant(ctx, familyLock(r.FamilyID)); err != nil {
		return 0, err
	}
	n, err := tx.d.revokeRefreshFamily(ctx, r.FamilyID)
	if err != nil {
		return 0, err
	}
	if err := tx.d.denyFamily(ctx, r); err != nil {
		return 0, err
	}
	return n, nil
}

// The Tx methods below are the Store methods of the same name, run inside the transaction.

// GetConsent is [Store.GetConsent] inside the transaction.
func (tx *Tx) GetConsent(ctx context.Context, id string) (Consent, error) {
	return tx.d.getConsent(ctx, id)
}

// TransitionConsent is [Store.TransitionConsent] inside the transaction.
func (tx *Tx) TransitionConsent(ctx context.Context, id string, from []string, to, userID string, data json.RawMessage) (Consent, error) {
	return tx.d.transitionConsent(ctx, id, from, to, userID, data)
}

// ConsumeAuthorizationCode is [Store.ConsumeAuthorizationCode] inside the transaction.
func (tx *Tx) ConsumeAuthorizationCode(ctx context.Context, hash string) (AuthorizationCode, error) {
	return tx.d.consumeAuthorizationCode(ctx, hash)
}

// PutRefreshToken is [Store.PutRefreshToken] inside the transaction.
func (tx *Tx) PutRefreshToken(ctx context.Context, t RefreshToken) error {
	return tx.d.putRefreshToken(ctx, t)
}

// ConsumeRefreshToken is [Store.ConsumeRefreshToken] inside the transaction.
func (tx *Tx) ConsumeRefreshToken(ctx context.Context, hash string) (RefreshToken, error) {
	return tx.d.consumeRefreshToken(ctx, hash)
}

// RotateRefreshToken is [Store.RotateRefreshToken] inside the transaction.
func (tx *Tx) RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken) (RefreshToken, error) {
	return tx.d.rotateRefreshToken(ctx, oldHash, next)
}

// RevokeConsent is [Store.RevokeConsent] inside the transaction.
func (tx *Tx) RevokeConsent(ctx context.Context, id string, from []string, to string) (Consent, int64, error) {
	return tx.d.revokeConsent(ctx, id, from, to)
}

// RevokeToken is [Store.RevokeToken] inside the transaction.
func (tx *Tx) RevokeToken(ctx context.Context, r Revocation) error {
	return tx.d.revokeToken(ctx, r)
}
