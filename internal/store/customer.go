package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Customer is an embedded customer (PSU) of package identity. The store keeps the
// credentials as package identity shapes them and never interprets them.
type Customer struct {
	ID          string
	DisplayName string
	// PasswordHash is the argon2id PHC string of the password. Required.
	PasswordHash string
	// TOTPSecret is the customer's TOTP key, sealed by package identity (opaque here). Empty
	// means the customer has no second factor.
	TOTPSecret string
	// TOTPLastStep is the last RFC 6238 time step accepted for this customer (0: none). It
	// is ignored by CreateCustomer (a new customer starts at 0) and moved only by
	// [Store.UseTOTPStep].
	TOTPLastStep int64
	// CreatedAt and UpdatedAt are set from the store clock when zero.
	CreatedAt, UpdatedAt time.Time
}

const customerColumns = `id, display_name, password_hash, totp_secret, totp_last_step, created_at, updated_at`

func scanCustomer(row rowScanner) (Customer, error) {
	var c Customer
	var created, updated int64
	if err := row.Scan(&c.ID, &c.DisplayName, &c.PasswordHash, &c.TOTPSecret, &c.TOTPLastStep, &created, &updated); err != nil {
		return Customer{}, err
	}
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return c, nil
}

func checkCustomer(c Customer) error {
	if err := checkKey("customer id", c.ID); err != nil {
		return err
	}
	if err := checkOptional("customer display_name", c.DisplayName); err != nil {
		return err
	}
	if err := checkKey("customer password_hash", c.PasswordHash); err != nil {
		return err
	}
	if err := checkOptional("customer totp_secret", c.TOTPSecret); err != nil {
		return err
	}
	if err := checkTime("customer created_at", c.CreatedAt, false); err != nil {
		return err
	}
	return checkTime("customer updated_at", c.UpdatedAt, false)
}

// CreateCustomer stores a new customer with TOTPLastStep 0. It returns [ErrDuplicate] if a
// customer with that ID exists (the existing one is left unchanged) and [ErrInvalidInput] for
// an empty or oversize ID, an empty password hash or an oversize field.
func (s *Store) CreateCustomer(ctx context.Context, c Customer) error {
	if err := checkCustomer(c); err != nil {
		return err
	}
	created := orNow(c.CreatedAt, s.now())
	res, err := s.w.ExecContext(ctx,
		`INSERT INTO customers (`+customerColumns+`) VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (id) DO NOTHING`,
		c.ID, c.DisplayName, c.PasswordHash, c.TOTPSecret, ms(created), ms(orNow(c.UpdatedAt, created)))
	if err != nil {
		return s.dbErr("create customer", err)
	}
	n, err := s.rowsAffected("create customer", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrDuplicate
	}
	return nil
}

// GetCustomer returns the customer with that ID, or [ErrNotFound].
func (s *Store) GetCustomer(ctx context.Context, id string) (Customer, error) {
	if !validKey(id) {
		return Customer{}, ErrNotFound
	}
	c, err := scanCustomer(s.r.QueryRowContext(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Customer{}, ErrNotFound
	}
	if err != nil {
		return Customer{}, s.dbErr("get customer", err)
	}
	return c, nil
}

// DeleteCustomer removes the customer with that ID, or returns [ErrNotFound]. Consents and
// tokens granted by the customer are not touched here.
func (s *Store) DeleteCustomer(ctx context.Context, id string) error {
	if !validKey(id) {
		return ErrNotFound
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM customers WHERE id = $1`, id)
	if err != nil {
		return s.dbErr("delete customer", err)
	}
	n, err := s.rowsAffected("delete customer", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ListCustomers returns every customer, ordered by ID.
func (s *Store) ListCustomers(ctx context.Context) ([]Customer, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+customerColumns+` FROM customers ORDER BY id`)
	if err != nil {
		return nil, s.dbErr("list customers", err)
	}
	defer rows.Close()
	var out []Customer
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, s.dbErr("list customers", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("list customers", err)
	}
	return out, nil
}

// UseTOTPStep records that the customer's TOTP code of RFC 6238 time step `step` was accepted.
// It succeeds only if step is greater than every step accepted before, in one conditional
// UPDATE, so among concurrent callers with the same (or an earlier) step on any number of nodes
// exactly one gets nil. It returns [ErrReplay] when a step at or after this one was already
// accepted, [ErrNotFound] when there is no such customer, and [ErrInvalidInput] for a step
// that is not positive.
func (s *Store) UseTOTPStep(ctx context.Context, id string, step int64) error {
	if step <= 0 {
		return invalid("totp step", "is not positive")
	}
	if !validKey(id) {
		return ErrNotFound
	}
	res, err := s.w.ExecContext(ctx,
		`UPDATE customers SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2`, id, step)
	if err != nil {
		return s.dbErr("use totp step", err)
	}
	n, err := s.rowsAffected("use totp step", res)
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	if _, err := s.GetCustomer(ctx, id); err != nil {
		return err
	}
	return ErrReplay
}

// LoginFailures is the state of one failed-login counter after [Store.CountLoginFailure].
type LoginFailures struct {
	// Count is the number of failures counted in the current window, this one included.
	Count int64
	// WindowStart is when the current window began; the counter restarts at ExpiresAt.
	WindowStart, ExpiresAt time.Time
}

// CountLoginFailure adds one to the counter named key (callers pass an opaque name, e.g. a
// [HashSecret] of the customer or client address) and returns its new state, in one
// INSERT … ON CONFLICT DO UPDATE, so concurrent calls on any number of nodes are all counted.
// A counter whose window has ended (ExpiresAt not after the store clock's now) restarts at 1
// with a new window [now, now+window). It returns [ErrInvalidInput] for an empty or oversize
// key or a window that is not positive. Expired counters are deleted by [Store.Sweep].
func (s *Store) CountLoginFailure(ctx context.Context, key string, window time.Duration) (LoginFailures, error) {
	if err := checkKey("login failure key", key); err != nil {
		return LoginFailures{}, err
	}
	if window < time.Millisecond {
		return LoginFailures{}, invalid("login failure window", "is shorter than a millisecond")
	}
	now := s.now()
	var lf LoginFailures
	var start, exp int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO login_failures (key_hash, failures, window_start, expires_at)
VALUES ($1, 1, $2, $3)
ON CONFLICT (key_hash) DO UPDATE SET
    failures     = CASE WHEN login_failures.expires_at <= $2 THEN 1  ELSE login_failures.failures + 1 END,
    window_start = CASE WHEN login_failures.expires_at <= $2 THEN $2 ELSE login_failures.window_start END,
    expires_at   = CASE WHEN login_failures.expires_at <= $2 THEN $3 ELSE login_failures.expires_at END
RETURNING failures, window_start, expires_at`,
		key, ms(now), ms(now.Add(window))).Scan(&lf.Count, &start, &exp)
	if err != nil {
		return LoginFailures{}, s.dbErr("count login failure", err)
	}
	lf.WindowStart, lf.ExpiresAt = fromMS(start), fromMS(exp)
	return lf, nil
}

// ForgiveLoginFailure takes one back from the live counter named key (an attempt counted
// before it was checked turned out to succeed). A counter at zero, expired or absent is left
// as it is; none of these is an error.
func (s *Store) ForgiveLoginFailure(ctx context.Context, key string) error {
	if !validKey(key) {
		return nil
	}
	_, err := s.w.ExecContext(ctx,
		`UPDATE login_failures SET failures = failures - 1 WHERE key_hash = $1 AND failures > 0 AND expires_at > $2`,
		key, ms(s.now()))
	if err != nil {
		return s.dbErr("forgive login failure", err)
	}
	return nil
}

// ClearLoginFailures deletes the counter named key (a customer completed a login). An absent
// counter is not an error.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	if !validKey(key) {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM login_failures WHERE key_hash = $1`, key); err != nil {
		return s.dbErr("clear login failures", err)
	}
	return nil
}
