package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// Dialect names returned by [Store.Dialect].
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// DefaultSQLitePath is the database file used when neither the URL nor [Options.SQLitePath]
// names one.
const DefaultSQLitePath = "./data/portcullis.db"

// pingTimeout bounds [Store.Ping] when the caller's context has no deadline, so a readiness
// probe against an unreachable server fails fast instead of hanging.
const pingTimeout = 3 * time.Second

// Options configure [Open]. The zero value is valid.
type Options struct {
	// SQLitePath is the SQLite database file used when the URL is empty. Zero means
	// [DefaultSQLitePath]. Its parent directory is created (mode 0700) and the file itself is
	// created with mode 0600.
	SQLitePath string
	// MaxOpenConns bounds the connection pool. Zero means 16 for PostgreSQL; for SQLite it
	// bounds the read-only connections (zero means 4) and writes always go through one
	// dedicated connection.
	MaxOpenConns int
	// Clock is the source of "now" for every expiry decision and timestamp. Nil means
	// [clock.Real].
	Clock clock.Clock
	// Logger receives migration and sweeper events (never keys or secrets). Nil discards.
	Logger *slog.Logger
}

// Store is the SQL store behind every domain Store interface. It is safe for concurrent use.
// Obtain one with [Open]; call [Store.Migrate] before use and [Store.Close] when done.
type Store struct {
	dialect string
	// w runs every statement that writes; r runs reads. For PostgreSQL both are the same pool.
	// For SQLite w is a single connection (SQLite allows one writer at a time, and queueing in
	// Go is cheaper than SQLite's sleeping busy handler) and r a pool of read-only connections
	// that WAL mode lets read while the writer writes.
	w, r *sql.DB
	// prepW and prepR cache prepared hot statements on w and r; nil for PostgreSQL, whose
	// driver caches them itself (see preparedStatements).
	prepW, prepR *preparedStatements
	// jtis group-commits UseJTI; its goroutine runs from Open to Close.
	jtis    jtiBatcher
	clk     clock.Clock
	log     *slog.Logger
	closeMu sync.Once
	closeEr error
}

// Open connects to the database named by url:
//
//   - "postgres://…" or "postgresql://…": PostgreSQL through pgx (any pgx connection URL;
//     a connect_timeout of 5 s applies unless the URL sets one);
//   - "sqlite:PATH": the SQLite file PATH;
//   - "": the SQLite file opts.SQLitePath, or [DefaultSQLitePath].
//
// SQLite runs in WAL mode with a 5 s busy timeout and foreign keys on. Open checks that the
// database answers before returning; it does not migrate (see [Store.Migrate]). Errors never
// include the URL's password.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	s := &Store{clk: opts.Clock, log: opts.Logger}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxOpenConns < 0 {
		return nil, errors.New("store: MaxOpenConns must not be negative")
	}
	var err error
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s.dialect = DialectPostgres
		s.w, err = openPostgres(url, opts.MaxOpenConns)
		s.r = s.w
	case url == "" || strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if url == "" {
			path = opts.SQLitePath
			if path == "" {
				path = DefaultSQLitePath
			}
		}
		s.dialect = DialectSQLite
		s.w, s.r, err = openSQLite(path, opts.MaxOpenConns)
		if err == nil {
			s.prepW, s.prepR = &preparedStatements{db: s.w}, &preparedStatements{db: s.r}
		}
	default:
		scheme, _, _ := strings.Cut(url, ":")
		if len(scheme) > 32 || strings.ContainsAny(scheme, "/@") {
			scheme = "?"
		}
		return nil, fmt.Errorf("store: unsupported database URL scheme %q (want postgres://, postgresql:// or sqlite:PATH)", scheme)
	}
	if err != nil {
		return nil, err
	}
	s.jtis.start(s)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Dialect reports the backend: [DialectSQLite] or [DialectPostgres].
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the database answers, for readiness probes. It returns an error promptly
// when the database is unreachable (within 3 s when ctx has no deadline) and succeeds again,
// without a restart, once the database is back: the pool discards broken connections and dials
// anew.
func (s *Store) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pingTimeout)
		defer cancel()
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.dialect, err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping %s reader: %w", s.dialect, err)
		}
	}
	return nil
}

// Close closes every connection. It first stops the group commit of [Store.UseJTI]: calls
// made from then on fail, the batch being written is finished, and calls still queued fail.
// It is safe to call more than once.
func (s *Store) Close() error {
	s.closeMu.Do(func() {
		s.jtis.close()
		if s.prepW != nil {
			s.closeEr = errors.Join(s.prepW.close(), s.prepR.close())
		}
		s.closeEr = errors.Join(s.closeEr, s.w.Close())
		if s.r != s.w {
			s.closeEr = errors.Join(s.closeEr, s.r.Close())
		}
	})
	return s.closeEr
}

// now is the store clock's current time, at the millisecond precision the store keeps.
func (s *Store) now() time.Time { return s.clk.Now().Truncate(time.Millisecond) }

// dbErr wraps an unexpected database error with the operation's name, turning a unique-key
// violation that slipped past ON CONFLICT into [ErrDuplicate] so no driver error escapes for
// that case.
func (s *Store) dbErr(op string, err error) error {
	if isUniqueViolation(err) {
		return fmt.Errorf("store: %s: %w", op, ErrDuplicate)
	}
	if isUnavailable(err) {
		return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// isUnavailable reports whether err says the database could not be reached or dropped the
// connection ([ErrUnavailable]): a network error (refused, reset, timed out), a connection
// that ended mid-answer, a failed PostgreSQL connection attempt, or PostgreSQL reporting a
// connection exception or that it is shutting down or starting up. A context that ended is
// not: that is the caller's deadline.
func isUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	return isPostgresUnavailable(err)
}

// isUniqueViolation reports whether err is a unique or primary-key violation of either driver.
func isUniqueViolation(err error) bool {
	return isSQLiteUniqueViolation(err) || isPostgresUniqueViolation(err)
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// rowsAffected returns res.RowsAffected, wrapping its error.
func (s *Store) rowsAffected(op string, res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.dbErr(op, err)
	}
	return n, nil
}
