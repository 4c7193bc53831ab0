package store

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds the schema. Files named NNNNN_name.sql apply to both dialects; the rare
// statement the dialects spell differently lives in a pair NNNNN_name.sqlite.sql /
// NNNNN_name.postgres.sql with the same version, of which Migrate applies the store's own.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrationFiles returns the migration directory and the names of the files that belong to the
// other dialect.
func migrationFiles(dialect string) (fs.FS, []string, error) {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, err
	}
	names, err := fs.Glob(dir, "*.sql")
	if err != nil {
		return nil, nil, err
	}
	var exclude []string
	for _, name := range names {
		for _, d := range []string{DialectSQLite, DialectPostgres} {
			if d != dialect && strings.HasSuffix(name, "."+d+".sql") {
				exclude = append(exclude, name)
			}
		}
	}
	return dir, exclude, nil
}

// Migrate applies every pending migration embedded in the binary. It is idempotent and safe to
// run on every start. On PostgreSQL concurrent Migrate calls from several nodes against the same
// schema are serialised by an advisory lock scoped to that database and schema; the whole
// migration set of one call runs while holding it.
func (s *Store) Migrate(ctx context.Context) error {
	dir, exclude, err := migrationFiles(s.dialect)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	opts := []goose.ProviderOption{
		goose.WithExcludeNames(exclude),
		goose.WithDisableGlobalRegistry(true),
	}
	gooseDialect := goose.DialectSQLite3
	if s.dialect == DialectPostgres {
		gooseDialect = goose.DialectPostgres
		id, err := s.migrationLockID(ctx)
		if err != nil {
			return err
		}
		// Retry every second for up to five minutes while another node migrates.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// The provider is not closed: its Close would close our pool.
	p, err := goose.NewProvider(gooseDialect, s.w, dir, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error != nil {
			continue
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "store: migration applied",
			slog.String("dialect", s.dialect), slog.String("migration", r.Source.Path),
			slog.Int64("version", r.Source.Version), slog.Duration("duration", r.Duration))
	}
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", s.dialect, err)
	}
	return nil
}

// migrationLockID derives the advisory lock id from the current database and schema, so that
// migrations of different schemas on one server (tests, tenants) do not wait for each other.
func (s *Store) migrationLockID(ctx context.Context) (int64, error) {
	var where string
	err := s.w.QueryRowContext(ctx,
		`SELECT current_database() || '.' || COALESCE(current_schema(), '')`).Scan(&where)
	if err != nil {
		return 0, s.dbErr("migration lock id", err)
	}
	h := fnv.New64a()
	h.Write([]byte("portcullis migrations " + where))
	return int64(h.Sum64()), nil
}
