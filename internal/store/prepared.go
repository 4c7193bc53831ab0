package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// preparedStatements caches the prepared form of the SQLite statements on the token endpoint's
// path ([Store.UseJTI], [Store.GetClient], [Store.AppendAudit], [Store.AppendAuditBatch]), so
// that SQLite parses and plans each of them once per connection instead of once per call.
// modernc.org/sqlite keeps the compiled statement of a prepared *sql.Stmt and only resets it
// between executions; database/sql prepares it lazily on every connection of the pool that
// runs it. PostgreSQL needs none of this: pgx already caches the prepared form of every
// statement per connection.
//
// Only SQL text of this package is cached, never text built from input: string constants, and
// the group-commit INSERT of [Store.UseJTI], one text per batch size actually used (at most
// maxJTIBatch). The cache is bounded by the number of such texts.
type preparedStatements struct {
	db *sql.DB
	m  sync.Map // SQL text → *sql.Stmt

	mu     sync.Mutex // guards closed against a Prepare racing Close
	closed bool
}

// errStoreClosed is returned by statements run after [Store.Close].
var errStoreClosed = errors.New("store: closed")

// stmt returns the prepared statement for query, preparing it on first use. A failed prepare
// is not cached: the next call tries again (the table may not exist before Migrate).
func (p *preparedStatements) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		st.Close()
		return nil, errStoreClosed
	}
	if prev, loaded := p.m.LoadOrStore(query, st); loaded {
		st.Close() // another caller prepared it first
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// close closes every cached statement; later calls of stmt fail.
func (p *preparedStatements) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	p.m.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		p.m.Delete(k)
		return true
	})
	return errors.Join(errs...)
}

// execW runs a constant writing statement on the writer: prepared on SQLite, as is on
// PostgreSQL.
func (s *Store) execW(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.prepW == nil {
		return s.w.ExecContext(ctx, query, args...)
	}
	st, err := s.prepW.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryW runs a writing query whose text is one of a bounded set (see preparedStatements) on
// the writer: prepared on SQLite, as is on PostgreSQL.
func (s *Store) queryW(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s.prepW == nil {
		return s.w.QueryContext(ctx, query, args...)
	}
	st, err := s.prepW.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRowR runs a constant single-row query on the readers: prepared on SQLite, as is on
// PostgreSQL.
func (s *Store) queryRowR(ctx context.Context, query string, args ...any) rowScanner {
	if s.prepR == nil {
		return s.r.QueryRowContext(ctx, query, args...)
	}
	st, err := s.prepR.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a row whose query could not be run: Scan returns the error.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
