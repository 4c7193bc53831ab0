package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
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

// MaxAuditBatch bounds the number of events of one [Store.AppendAuditBatch] call.
const MaxAuditBatch = 1024

// auditRowsPerInsert is how many events one multi-row INSERT of [Store.AppendAuditBatch]
// carries (6 parameters each, well under both backends' limits).
const auditRowsPerInsert = 64

// auditColumns are the columns an append writes, in the order of auditArgs.
const auditColumns = `occurred_at, event_type, client_id, subject, interaction_id, data`

// appendAudit inserts one event; appendAuditChunk* a full chunk of auditRowsPerInsert.
var (
	appendAudit            = auditInsert(1, false)
	appendAuditChunk       = auditInsert(auditRowsPerInsert, false)
	appendAuditChunkSQLite = auditInsert(auditRowsPerInsert, true)
)

// auditInsert returns the INSERT of n events, with parameters $1…$(6n) in auditArgs order,
// or, when anonymous, as many "?" (SQLite binds those in order too). Multi-row INSERTs use
// "?" on SQLite: it resolves each named parameter ($N) by a linear search of the
// statement's parameter names, which makes binding a statement with hundreds of them
// quadratic.
func auditInsert(n int, anonymous bool) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_events (` + auditColumns + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range 6 {
			if j > 0 {
				b.WriteString(", ")
			}
			if anonymous {
				b.WriteByte('?')
				continue
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i*6 + j + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// auditArgs appends the parameters of e to args, stamping a zero Time with now.
func auditArgs(args []any, e AuditEvent, now time.Time) []any {
	return append(args, ms(orNow(e.Time, now)), e.Type, e.ClientID, e.Subject, e.InteractionID, nullData(e.Data))
}

// checkAudit validates an event before it is written.
func checkAudit(e AuditEvent) error {
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
	return checkTime("audit time", e.Time, false)
}

// AppendAudit appends an event. It returns [ErrInvalidInput] for an empty Type or an oversize
// field.
func (s *Store) AppendAudit(ctx context.Context, e AuditEvent) error {
	if err := checkAudit(e); err != nil {
		return err
	}
	if _, err := s.execW(ctx, appendAudit, auditArgs(nil, e, s.now())...); err != nil {
		return s.dbErr("append audit", err)
	}
	return nil
}

// AppendAuditBatch appends events in one transaction, in their order (their IDs increase in
// that order): either every event is appended or, on any error, none is. Events with a zero
// Time get the store clock's time. It returns [ErrInvalidInput] — before writing anything — if
// the batch holds more than [MaxAuditBatch] events or any event is invalid as for
// [Store.AppendAudit] (the error names the event's index). An empty batch is a no-op.
//
// It exists for group commit: one transaction (a few multi-row INSERTs) for many events costs
// about as much as one [Store.AppendAudit], so a queue in front of it (package audit) can keep
// the audit trail's writes off the request path.
func (s *Store) AppendAuditBatch(ctx context.Context, events []AuditEvent) error {
	switch {
	case len(events) == 0:
		return nil
	case len(events) > MaxAuditBatch:
		return invalid("audit batch", "holds more than %d events", MaxAuditBatch)
	}
	for i, e := range events {
		if err := checkAudit(e); err != nil {
			return fmt.Errorf("audit batch event %d: %w", i, err)
		}
	}
	// SQLite: the full-chunk INSERT is prepared before the transaction takes the writer's only
	// connection (preparing inside it would wait for that connection).
	sqlite := s.dialect == DialectSQLite
	var chunkStmt *sql.Stmt
	if s.prepW != nil && len(events) >= auditRowsPerInsert {
		st, err := s.prepW.stmt(ctx, appendAuditChunkSQLite)
		if err != nil {
			return s.dbErr("append audit batch", err)
		}
		chunkStmt = st
	}
	now := s.now()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.dbErr("append audit batch", err)
	}
	defer tx.Rollback() // a no-op after Commit
	args := make([]any, 0, 6*min(len(events), auditRowsPerInsert))
	for chunk := range slices.Chunk(events, auditRowsPerInsert) {
		args = args[:0]
		for _, e := range chunk {
			args = auditArgs(args, e, now)
		}
		switch {
		case len(chunk) != auditRowsPerInsert:
			_, err = tx.ExecContext(ctx, auditInsert(len(chunk), sqlite), args...)
		case chunkStmt != nil:
			_, err = tx.StmtContext(ctx, chunkStmt).ExecContext(ctx, args...)
		default:
			_, err = tx.ExecContext(ctx, appendAuditChunk, args...)
		}
		if err != nil {
			return s.dbErr("append audit batch", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.dbErr("append audit batch", err)
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
