package store

import "errors"

// Sentinel errors returned by every [Store] method, on both backends. Callers test them with
// errors.Is; no driver error is ever returned for these cases. Any other error means the store
// could not answer (database unreachable, context done, …): the caller must fail closed; of
// those, the ones that come from the database being unreachable also match [ErrUnavailable].
var (
	// ErrNotFound: no record has that key (or the key could never have been stored: empty,
	// too long, not UTF-8).
	ErrNotFound = errors.New("store: not found")
	// ErrDuplicate: a record with that key already exists.
	ErrDuplicate = errors.New("store: duplicate key")
	// ErrConsumed: a single-use item (authorization code, request_uri, refresh token) was already
	// consumed. It comes back together with the record, so the caller can revoke the token family.
	ErrConsumed = errors.New("store: already consumed")
	// ErrExpired: the item exists but its ExpiresAt is not after the store clock's now.
	ErrExpired = errors.New("store: expired")
	// ErrRevoked: the refresh token was revoked (by family or by consent).
	ErrRevoked = errors.New("store: revoked")
	// ErrReplay: the (issuer, jti) pair was already used.
	ErrReplay = errors.New("store: jti replayed")
	// ErrConflict: a compare-and-set found another current value (a consent not in the
	// expected status).
	ErrConflict = errors.New("store: conflicting state")
	// ErrInvalidInput: a field is missing, too large, or not valid (see the Max* limits). The
	// wrapped message names the field; nothing was written.
	ErrInvalidInput = errors.New("store: invalid input")
	// ErrUnavailable: the database could not be reached, or dropped the connection, or said it
	// is shutting down or starting up (PostgreSQL SQLSTATE class 08, 57P01-57P03): "could not
	// answer", never "answered no". The call may be retried once the database is back; a write
	// whose commit failed this way may or may not have been made (a single-use item then
	// answers ErrConsumed on the retry, never twice). The wrapped error is the driver's.
	ErrUnavailable = errors.New("store: database unavailable")
)
