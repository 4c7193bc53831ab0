package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Consent is an Open Banking consent resource. The store keeps its lifecycle fields in columns
// (so a status change is one atomic compare-and-set) and everything else as an opaque JSON
// document; the consent package owns the state machine and the meaning of Kind and Status.
type Consent struct {
	ID       string
	Kind     string // e.g. "account-access", "domestic-payment"
	ClientID string
	Status   string // e.g. "AwaitingAuthorisation", "Authorised"
	UserID   string // the customer who authorised it; empty until then
	Data     json.RawMessage
	// CreatedAt and UpdatedAt are set from the store clock when zero.
	CreatedAt, UpdatedAt time.Time
	// ExpiresAt is when the consent lapses; zero means it does not. The store records it and
	// never acts on it: the consent package decides what an expired consent means.
	ExpiresAt time.Time
}

// ConsentFilter selects consents for [Store.ListConsents]. Empty fields do not filter.
type ConsentFilter struct {
	ClientID, UserID, Status string
	// Limit bounds the result: zero means 100, at most 1000.
	Limit int
}

const consentColumns = `id, kind, client_id, status, user_id, data, created_at, updated_at, expires_at`

func scanConsent(row rowScanner) (Consent, error) {
	var c Consent
	var data []byte
	var created, updated int64
	var expires sql.NullInt64
	if err := row.Scan(&c.ID, &c.Kind, &c.ClientID, &c.Status, &c.UserID, &data,
		&created, &updated, &expires); err != nil {
		return Consent{}, err
	}
	c.Data = rawJSON(data)
	c.CreatedAt, c.UpdatedAt, c.ExpiresAt = fromMS(created), fromMS(updated), fromNullMS(expires)
	return c, nil
}

// CreateConsent stores a new consent. It returns [ErrDuplicate] if one with that ID exists and
// [ErrInvalidInput] when ID, Kind, ClientID or Status is empty or a field is oversize.
func (s *Store) CreateConsent(ctx context.Context, c Consent) error {
	for _, f := range []struct{ name, v string }{
		{"consent id", c.ID}, {"consent kind", c.Kind}, {"consent client id", c.ClientID}, {"consent status", c.Status},
	} {
		if err := checkKey(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkOptional("consent user id", c.UserID); err != nil {
		return err
	}
	if err := checkData("consent data", c.Data, false); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    time.Time
	}{{"consent created_at", c.CreatedAt}, {"consent updated_at", c.UpdatedAt}, {"consent expires_at", c.ExpiresAt}} {
		if err := checkTime(f.name, f.v, false); err != nil {
			return err
		}
	}
	created := orNow(c.CreatedAt, s.now())
	res, err := s.w.ExecContext(ctx,
		`INSERT INTO consents (`+consentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		 ON CONFLICT (id) DO NOTHING`,
		c.ID, c.Kind, c.ClientID, c.Status, c.UserID, nullData(c.Data),
		ms(created), ms(orNow(c.UpdatedAt, created)), nullMS(c.ExpiresAt))
	if err != nil {
		return s.dbErr("create consent", err)
	}
	n, err := s.rowsAffected("create consent", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrDuplicate
	}
	return nil
}

// GetConsent returns the consent with that ID, or [ErrNotFound].
func (s *Store) GetConsent(ctx context.Context, id string) (Consent, error) {
	return s.pools().getConsent(ctx, id)
}

func (d db) getConsent(ctx context.Context, id string) (Consent, error) {
	if !validKey(id) {
		return Consent{}, ErrNotFound
	}
	c, err := scanConsent(d.r.QueryRowContext(ctx,
		`SELECT `+consentColumns+` FROM consents WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Consent{}, ErrNotFound
	}
	if err != nil {
		return Consent{}, d.s.dbErr("get consent", err)
	}
	return c, nil
}

// ConsentUserID returns the UserID of consent id — the customer who authorised it, "" until
// someone has — without reading the rest of the consent, or [ErrNotFound]. It is the
// gateways' per-request lookup of the customer behind a customer token.
func (s *Store) ConsentUserID(ctx context.Context, id string) (string, error) {
	if !validKey(id) {
		return "", ErrNotFound
	}
	var user string
	err := s.queryRowR(ctx, `SELECT user_id FROM consents WHERE id = $1`, id).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", s.dbErr("consent user id", err)
	}
	return user, nil
}

// TransitionConsent atomically moves consent id to status to, provided its current status is
// one of from; it also sets UserID to userID (when not empty) and Data to data (when not
// empty; nil leaves it unchanged), and UpdatedAt to now. It returns the updated consent.
//
// It is a compare-and-set in one statement: of concurrent transitions from the same status
// exactly one succeeds. It returns [ErrConflict] together with the current consent when the
// status is not in from, [ErrNotFound] when there is no such consent, and [ErrInvalidInput]
// for an empty from (or more than [MaxTransitionFrom] entries), an empty to, or oversize values.
func (s *Store) TransitionConsent(ctx context.Context, id string, from []string, to string, userID string, data json.RawMessage) (Consent, error) {
	return s.pools().transitionConsent(ctx, id, from, to, userID, data)
}

func (d db) transitionConsent(ctx context.Context, id string, from []string, to string, userID string, data json.RawMessage) (Consent, error) {
	if !validKey(id) {
		return Consent{}, ErrNotFound
	}
	if len(from) == 0 || len(from) > MaxTransitionFrom {
		return Consent{}, invalid("consent transition", "needs 1 to %d source statuses", MaxTransitionFrom)
	}
	for _, f := range from {
		if err := checkKey("consent source status", f); err != nil {
			return Consent{}, err
		}
	}
	if err := checkKey("consent status", to); err != nil {
		return Consent{}, err
	}
	if err := checkOptional("consent user id", userID); err != nil {
		return Consent{}, err
	}
	if err := checkData("consent data", data, false); err != nil {
		return Consent{}, err
	}

	// The statement is assembled from constant fragments; every value is a parameter.
	args := []any{id, to, ms(d.s.now())}
	var q strings.Builder
	q.WriteString(`UPDATE consents SET status = $2, updated_at = $3`)
	if userID != "" {
		args = append(args, userID)
		q.WriteString(`, user_id = $` + strconv.Itoa(len(args)))
	}
	if len(data) > 0 {
		args = append(args, string(data))
		q.WriteString(`, data = $` + strconv.Itoa(len(args)))
	}
	q.WriteString(` WHERE id = $1 AND status IN (`)
	for i, f := range from {
		args = append(args, f)
		if i > 0 {
			q.WriteString(`, `)
		}
		q.WriteString(`$` + strconv.Itoa(len(args)))
	}
	q.WriteString(`) RETURNING ` + consentColumns)

	c, err := scanConsent(d.w.QueryRowContext(ctx, q.String(), args...))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Consent{}, d.s.dbErr("transition consent", err)
	}
	// No row changed: tell a missing consent from one in another status.
	cur, err := d.getConsent(ctx, id)
	if err != nil {
		return Consent{}, err
	}
	return cur, ErrConflict
}

// ListConsents returns the consents matching f, newest first (by CreatedAt, then ID).
func (s *Store) ListConsents(ctx context.Context, f ConsentFilter) ([]Consent, error) {
	for _, v := range []struct{ name, v string }{
		{"consent filter client id", f.ClientID}, {"consent filter user id", f.UserID}, {"consent filter status", f.Status},
	} {
		if err := checkOptional(v.name, v.v); err != nil {
			return nil, err
		}
	}
	var where []string
	var args []any
	add := func(column, v string) {
		if v != "" {
			args = append(args, v)
			where = append(where, column+` = $`+strconv.Itoa(len(args)))
		}
	}
	add("client_id", f.ClientID)
	add("user_id", f.UserID)
	add("status", f.Status)
	q := `SELECT ` + consentColumns + ` FROM consents`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, limit(f.Limit, 100, 1000))
	q += ` ORDER BY created_at DESC, id DESC LIMIT $` + strconv.Itoa(len(args))

	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.dbErr("list consents", err)
	}
	defer rows.Close()
	var out []Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, s.dbErr("list consents", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("list consents", err)
	}
	return out, nil
}
