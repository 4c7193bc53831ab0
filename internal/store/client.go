package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// Client is a registered OAuth client. The store keeps its metadata as an opaque JSON document
// (RFC 7591 client metadata, as the client package shapes it).
type Client struct {
	ID       string
	Metadata json.RawMessage
	// CreatedAt and UpdatedAt are set from the store clock when zero.
	CreatedAt, UpdatedAt time.Time
}

const clientColumns = `id, metadata, created_at, updated_at`

func scanClient(row rowScanner) (Client, error) {
	var c Client
	var metadata []byte
	var created, updated int64
	if err := row.Scan(&c.ID, &metadata, &created, &updated); err != nil {
		return Client{}, err
	}
	c.Metadata = rawJSON(metadata)
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return c, nil
}

func checkClient(c Client) error {
	if err := checkKey("client id", c.ID); err != nil {
		return err
	}
	if err := checkData("client metadata", c.Metadata, true); err != nil {
		return err
	}
	if err := checkTime("client created_at", c.CreatedAt, false); err != nil {
		return err
	}
	return checkTime("client updated_at", c.UpdatedAt, false)
}

// CreateClient stores a new client. It returns [ErrDuplicate] if a client with that ID exists
// and [ErrInvalidInput] for an empty or oversize ID or metadata that is not JSON.
func (s *Store) CreateClient(ctx context.Context, c Client) error {
	if err := checkClient(c); err != nil {
		return err
	}
	now := s.now()
	created := orNow(c.CreatedAt, now)
	res, err := s.w.ExecContext(ctx,
		`INSERT INTO clients (`+clientColumns+`) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
		c.ID, string(c.Metadata), ms(created), ms(orNow(c.UpdatedAt, created)))
	if err != nil {
		return s.dbErr("create client", err)
	}
	n, err := s.rowsAffected("create client", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrDuplicate
	}
	return nil
}

const getClient = `SELECT ` + clientColumns + ` FROM clients WHERE id = $1`

// GetClient returns the client with that ID, or [ErrNotFound].
func (s *Store) GetClient(ctx context.Context, id string) (Client, error) {
	if !validKey(id) {
		return Client{}, ErrNotFound
	}
	c, err := scanClient(s.queryRowR(ctx, getClient, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Client{}, ErrNotFound
	}
	if err != nil {
		return Client{}, s.dbErr("get client", err)
	}
	return c, nil
}

// UpdateClient replaces the metadata of the client c.ID and sets its UpdatedAt (to c.UpdatedAt,
// or now when zero); CreatedAt is kept. It returns [ErrNotFound] if there is no such client.
func (s *Store) UpdateClient(ctx context.Context, c Client) error {
	if !validKey(c.ID) {
		return ErrNotFound
	}
	if err := checkClient(c); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx,
		`UPDATE clients SET metadata = $2, updated_at = $3 WHERE id = $1`,
		c.ID, string(c.Metadata), ms(orNow(c.UpdatedAt, s.now())))
	if err != nil {
		return s.dbErr("update client", err)
	}
	n, err := s.rowsAffected("update client", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteClient removes the client with that ID, or returns [ErrNotFound]. Its codes, requests
// and refresh tokens stay until they expire; they are useless without the client, because
// every grant authenticates the client first.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if !validKey(id) {
		return ErrNotFound
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return s.dbErr("delete client", err)
	}
	n, err := s.rowsAffected("delete client", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ListClients returns every client, ordered by ID.
func (s *Store) ListClients(ctx context.Context) ([]Client, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, s.dbErr("list clients", err)
	}
	defer rows.Close()
	var out []Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, s.dbErr("list clients", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("list clients", err)
	}
	return out, nil
}
