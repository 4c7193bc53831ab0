package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxIdempotentResponse bounds the body of a response kept for an idempotency key (bytes).
const MaxIdempotentResponse = 1 << 20

// IdempotencyRecord is the state of one x-idempotency-key of one client (dcr-consent.md
// §2.4): claimed by the request whose Owner token it holds while Status is 0, then the
// response every repeat receives until ExpiresAt.
type IdempotencyRecord struct {
	ClientID string
	Key      string
	// RequestHash identifies the request (e.g. SHA-256 of method, path and body); a repeat
	// with another hash is a different request under the same key.
	RequestHash string
	// Owner is the claim token of the request that runs the handler (random, per request).
	Owner string
	// Status is the response status; 0 while the first request is still running.
	Status int
	// Headers and Body are the response kept for repeats (empty while running).
	Headers map[string][]string
	Body    []byte
	// CreatedAt is set from the store clock when zero; ExpiresAt is required.
	CreatedAt, ExpiresAt time.Time
}

const idempotencyColumns = `client_id, idem_key, request_hash, owner, status, response_headers, response_body, created_at, expires_at`

func scanIdempotency(row rowScanner) (IdempotencyRecord, error) {
	var r IdempotencyRecord
	var headers, body string
	var created, expires int64
	if err := row.Scan(&r.ClientID, &r.Key, &r.RequestHash, &r.Owner, &r.Status, &headers, &body, &created, &expires); err != nil {
		return IdempotencyRecord{}, err
	}
	if headers != "" {
		if err := json.Unmarshal([]byte(headers), &r.Headers); err != nil {
			return IdempotencyRecord{}, fmt.Errorf("response headers: %w", err)
		}
	}
	if body != "" {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return IdempotencyRecord{}, fmt.Errorf("response body: %w", err)
		}
		r.Body = b
	}
	r.CreatedAt, r.ExpiresAt = fromMS(created), fromMS(expires)
	return r, nil
}

// ClaimIdempotencyKey claims (rec.ClientID, rec.Key) for the request identified by
// rec.RequestHash and rec.Owner, in one INSERT … ON CONFLICT: when no live record exists (none,
// or one whose ExpiresAt is not after the store clock's now, which is replaced), it stores
// rec as running (Status 0, no response) and returns (rec, true). Otherwise it returns the live
// record and false; the caller compares its RequestHash and waits for, or replays, its
// response. Among concurrent claims of one key on any number of nodes exactly one returns
// true. Errors: [ErrInvalidInput] for empty or oversize fields or a zero ExpiresAt.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, rec IdempotencyRecord) (IdempotencyRecord, bool, error) {
	for _, f := range []struct{ name, v string }{{"client_id", rec.ClientID}, {"idempotency key", rec.Key}, {"request hash", rec.RequestHash}, {"owner", rec.Owner}} {
		if err := checkKey(f.name, f.v); err != nil {
			return IdempotencyRecord{}, false, err
		}
	}
	if err := checkTime("expires_at", rec.ExpiresAt, true); err != nil {
		return IdempotencyRecord{}, false, err
	}
	if err := checkTime("created_at", rec.CreatedAt, false); err != nil {
		return IdempotencyRecord{}, false, err
	}
	// Two rounds: the live record may expire or be released between the INSERT and the read.
	for range 2 {
		now := s.now()
		rec.CreatedAt = orNow(rec.CreatedAt, now)
		res, err := s.w.ExecContext(ctx, `INSERT INTO idempotency_keys (`+idempotencyColumns+`)
			VALUES ($1, $2, $3, $4, 0, '', '', $5, $6)
			ON CONFLICT (client_id, idem_key) DO UPDATE SET
				request_hash = excluded.request_hash, owner = excluded.owner, status = 0,
				response_headers = '', response_body = '', created_at = excluded.created_at, expires_at = excluded.expires_at
			WHERE idempotency_keys.expires_at <= $7`,
			rec.ClientID, rec.Key, rec.RequestHash, rec.Owner, ms(rec.CreatedAt), ms(rec.ExpiresAt), ms(now))
		if err != nil {
			return IdempotencyRecord{}, false, s.dbErr("claim idempotency key", err)
		}
		n, err := s.rowsAffected("claim idempotency key", res)
		if err != nil {
			return IdempotencyRecord{}, false, err
		}
		if n == 1 {
			rec.Status, rec.Headers, rec.Body = 0, nil, nil
			rec.CreatedAt, rec.ExpiresAt = fromMS(ms(rec.CreatedAt)), fromMS(ms(rec.ExpiresAt))
			return rec, true, nil
		}
		live, err := s.GetIdempotencyKey(ctx, rec.ClientID, rec.Key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		return live, false, err
	}
	return IdempotencyRecord{}, false, fmt.Errorf("store: claim idempotency key: %w: the key changed state twice", ErrConflict)
}

// GetIdempotencyKey returns the live record of (clientID, key), or [ErrNotFound] (also for
// an expired one).
func (s *Store) GetIdempotencyKey(ctx context.Context, clientID, key string) (IdempotencyRecord, error) {
	if !validKey(clientID) || !validKey(key) {
		return IdempotencyRecord{}, ErrNotFound
	}
	r, err := scanIdempotency(s.r.QueryRowContext(ctx,
		`SELECT `+idempotencyColumns+` FROM idempotency_keys WHERE client_id = $1 AND idem_key = $2 AND expires_at > $3`,
		clientID, key, ms(s.now())))
	if errors.Is(err, sql.ErrNoRows) {
		return IdempotencyRecord{}, ErrNotFound
	}
	if err != nil {
		return IdempotencyRecord{}, s.dbErr("get idempotency key", err)
	}
	return r, nil
}

// CompleteIdempotencyKey stores the response (status > 0, headers, body of at most
// [MaxIdempotentResponse] bytes) of the running claim of (clientID, key) held by owner. It
// returns [ErrNotFound] when there is no such running claim (never claimed, completed,
// released, expired, or claimed by another owner since) and [ErrInvalidInput] for a bad status
// or an oversize body.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, clientID, key, owner string, status int, headers map[string][]string, body []byte) error {
	if status <= 0 || status > 999 {
		return invalid("status", "is not an HTTP status")
	}
	if len(body) > MaxIdempotentResponse {
		return invalid("response body", "is larger than %d bytes", MaxIdempotentResponse)
	}
	if !validKey(clientID) || !validKey(key) || !validKey(owner) {
		return ErrNotFound
	}
	h, err := json.Marshal(headers)
	if err != nil {
		return invalid("response headers", "cannot be encoded")
	}
	if err := checkData("response headers", h, true); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx,
		`UPDATE idempotency_keys SET status = $1, response_headers = $2, response_body = $3
		 WHERE client_id = $4 AND idem_key = $5 AND owner = $6 AND status = 0 AND expires_at > $7`,
		status, string(h), base64.StdEncoding.EncodeToString(body), clientID, key, owner, ms(s.now()))
	if err != nil {
		return s.dbErr("complete idempotency key", err)
	}
	n, err := s.rowsAffected("complete idempotency key", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ReleaseIdempotencyKey deletes the running claim of (clientID, key) held by owner, so that a
// repeat runs the request afresh (the first attempt failed without an answer worth keeping).
// It returns [ErrNotFound] when there is no such running claim.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, clientID, key, owner string) error {
	if !validKey(clientID) || !validKey(key) || !validKey(owner) {
		return ErrNotFound
	}
	res, err := s.w.ExecContext(ctx,
		`DELETE FROM idempotency_keys WHERE client_id = $1 AND idem_key = $2 AND owner = $3 AND status = 0`,
		clientID, key, owner)
	if err != nil {
		return s.dbErr("release idempotency key", err)
	}
	n, err := s.rowsAffected("release idempotency key", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
