package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// PushedRequest is a pushed authorization request (RFC 9126), keyed by the hash of its
// request_uri: the request_uri itself is never stored (see [HashSecret]).
type PushedRequest struct {
	Hash     string // HashSecret(request_uri)
	ClientID string
	Data     json.RawMessage // the validated authorization request parameters
	// CreatedAt is set from the store clock when zero. ExpiresAt is required.
	CreatedAt, ExpiresAt time.Time
	// ConsumedAt is set by ConsumePushedRequest; Put ignores it.
	ConsumedAt time.Time
}

const pushedColumns = `hash, client_id, data, created_at, expires_at, consumed_at`

func scanPushed(row rowScanner) (PushedRequest, error) {
	var p PushedRequest
	var data []byte
	var created, expires int64
	var consumed sql.NullInt64
	if err := row.Scan(&p.Hash, &p.ClientID, &data, &created, &expires, &consumed); err != nil {
		return PushedRequest{}, err
	}
	p.Data = rawJSON(data)
	p.CreatedAt, p.ExpiresAt, p.ConsumedAt = fromMS(created), fromMS(expires), fromNullMS(consumed)
	return p, nil
}

// PutPushedRequest stores a new, unconsumed pushed request. It returns [ErrDuplicate] if the
// hash is already stored and [ErrInvalidInput] for a missing Hash, ClientID or ExpiresAt or an
// oversize field.
func (s *Store) PutPushedRequest(ctx context.Context, p PushedRequest) error {
	if err := checkKey("request hash", p.Hash); err != nil {
		return err
	}
	if err := checkKey("request client id", p.ClientID); err != nil {
		return err
	}
	if err := checkData("request data", p.Data, false); err != nil {
		return err
	}
	if err := checkTime("request created_at", p.CreatedAt, false); err != nil {
		return err
	}
	if err := checkTime("request expires_at", p.ExpiresAt, true); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx,
		`INSERT INTO pushed_requests (hash, client_id, data, created_at, expires_at)
		 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING`,
		p.Hash, p.ClientID, nullData(p.Data), ms(orNow(p.CreatedAt, s.now())), ms(p.ExpiresAt))
	if err != nil {
		return s.dbErr("put pushed request", err)
	}
	n, err := s.rowsAffected("put pushed request", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrDuplicate
	}
	return nil
}

// GetPushedRequest returns the pushed request with that hash without consuming it. It returns
// [ErrConsumed] or [ErrExpired] together with the record when it may no longer be used, and
// [ErrNotFound] for an unknown hash.
func (s *Store) GetPushedRequest(ctx context.Context, hash string) (PushedRequest, error) {
	if !validKey(hash) {
		return PushedRequest{}, ErrNotFound
	}
	return s.getPushedRequest(ctx, hash, s.now())
}

// ConsumePushedRequest redeems the request_uri with that hash, atomically and once (RFC 9126
// §4: a request_uri is single use): of any number of concurrent callers exactly one gets the
// record and a nil error. Later callers get [ErrConsumed] together with the record; past its
// ExpiresAt [ErrExpired] with the record; an unknown hash gives [ErrNotFound].
func (s *Store) ConsumePushedRequest(ctx context.Context, hash string) (PushedRequest, error) {
	return consume(ctx, s.pools(), "consume pushed request",
		`UPDATE pushed_requests SET consumed_at = $2
		 WHERE hash = $1 AND consumed_at IS NULL AND expires_at > $2
		 RETURNING `+pushedColumns,
		hash, scanPushed, s.getPushedRequest)
}

func (s *Store) getPushedRequest(ctx context.Context, hash string, now time.Time) (PushedRequest, error) {
	p, err := scanPushed(s.r.QueryRowContext(ctx,
		`SELECT `+pushedColumns+` FROM pushed_requests WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return PushedRequest{}, ErrNotFound
	}
	if err != nil {
		return PushedRequest{}, s.dbErr("get pushed request", err)
	}
	return p, singleUseState{consumedAt: p.ConsumedAt, expiresAt: p.ExpiresAt}.check(now)
}
