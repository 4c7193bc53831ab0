package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Authorization codes, pushed request objects and refresh tokens are single-use: Consume marks
// the item consumed in one conditional UPDATE … RETURNING, so among concurrent callers on any
// number of nodes exactly one gets the record without error. PostgreSQL re-checks the WHERE
// clause of a concurrent UPDATE after the first one commits; SQLite runs one writer at a time.
//
// When the UPDATE changes no row, a read tells the caller why, in this order of precedence:
// ErrConsumed (replay: the strongest signal, returned with the record so the caller can revoke
// the token family), ErrRevoked (refresh tokens), ErrExpired, ErrNotFound.

// singleUseState is what decides whether a single-use item may still be used.
type singleUseState struct {
	consumedAt, revokedAt, expiresAt time.Time
}

// check returns nil if the item is usable at now, else the sentinel that says why not. An item
// is expired from its ExpiresAt on: usable only while now < ExpiresAt.
func (st singleUseState) check(now time.Time) error {
	switch {
	case !st.consumedAt.IsZero():
		return ErrConsumed
	case !st.revokedAt.IsZero():
		return ErrRevoked
	case !now.Before(st.expiresAt):
		return ErrExpired
	}
	return nil
}

// consume runs update, an UPDATE … RETURNING that consumes the item whose key is $1 at time $2
// (milliseconds), and, when it changes no row, get, to say why. T is the record type.
func consume[T any](ctx context.Context, d db, op, update string, key string,
	scan func(rowScanner) (T, error),
	get func(ctx context.Context, key string, now time.Time) (T, error),
) (T, error) {
	var zero T
	if !validKey(key) {
		return zero, ErrNotFound
	}
	// Two rounds: the item may appear, or the clock step back, between the UPDATE and the read.
	s := d.s
	for range 2 {
		now := s.now()
		rec, err := scan(d.w.QueryRowContext(ctx, update, key, ms(now)))
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return zero, s.dbErr(op, err)
		}
		rec, err = get(ctx, key, now)
		if err != nil {
			return rec, err
		}
	}
	return zero, fmt.Errorf("store: %s: the item changed state twice during consumption", op)
}
