package store

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// AuditEvent is one entry of the audit trail: client registered, consent authorised or
// revoked, token issued or revoked, certificate rejected. The audit package owns its schema;
// the store appends and lists. Events are never updated or purged by the store.
type AuditEvent struct {
	ID            int64     // assigned by the store, increasing; AppendAudit ignores it
	Time          time.Time // set from the store clock when zero
	Type          string    // required
	ClientID      string
	Subject       string
	InteractionID string // x-fapi-interaction-id
	Data          json.RawMessage
}

// AuditFilter selects events for [Store.ListAudit]. Empty fields do not filter.
type AuditFilter struct {
	Type, ClientID string
	Since          time.Time // events at or after Since; zero means from the start
	// Limit bounds the result: zero means 100, at most 1000.
	Limit int
}

// AppendAudit appends an event. It returns [ErrInvalidInput] for an empty Type or an oversize
// field.
func (s *Store) AppendAudit(ctx context.Context, e AuditEvent) error {
	if err := checkKey("audit type", e.Type); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"audit client id", e.ClientID}, {"audit subject", e.Subject}, {"audit interaction id", e.InteractionID},
	} {
		if err := checkOptional(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkData("audit data", e.Data, false); err != nil {
		return err
	}
	if err := checkTime("audit time", e.Time, false); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO audit_events (occurred_at, event_type, client_id, subject, interaction_id, data)
		 VALUES ($1, $2, $3, $4, $5, $6)`,
		ms(orNow(e.Time, s.now())), e.Type, e.ClientID, e.Subject, e.InteractionID, nullData(e.Data))
	if err != nil {
		return s.dbErr("append audit", err)
	}
	return nil
}

// ListAudit returns the events matching f in the order they happened (by Time, then ID).
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	if err := checkOptional("audit filter type", f.Type); err != nil {
		return nil, err
	}
	if err := checkOptional("audit filter client id", f.ClientID); err != nil {
		return nil, err
	}
	if err := checkTime("audit filter since", f.Since, false); err != nil {
		return nil, err
	}
	// Assembled from constant fragments; every value is a parameter.
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+` $`+strconv.Itoa(len(args)))
	}
	if f.Type != "" {
		add("event_type =", f.Type)
	}
	if f.ClientID != "" {
		add("client_id =", f.ClientID)
	}
	if !f.Since.IsZero() {
		add("occurred_at >=", ms(f.Since))
	}
	q := `SELECT id, occurred_at, event_type, client_id, subject, interaction_id, data FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, limit(f.Limit, 100, 1000))
	q += ` ORDER BY occurred_at, id LIMIT $` + strconv.Itoa(len(args))

	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.dbErr("list audit", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var at int64
		var data []byte
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.ClientID, &e.Subject, &e.InteractionID, &data); err != nil {
			return nil, s.dbErr("list audit", err)
		}
		e.Time, e.Data = fromMS(at), rawJSON(data)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("list audit", err)
	}
	return out, nil
}
