package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for schema set-up

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
)

// Environment of the PostgreSQL tests.
const (
	// PostgresURLEnv names the variable holding the URL of the PostgreSQL server tests use.
	PostgresURLEnv = "PORTCULLIS_TEST_POSTGRES_URL"
	// PostgresSwitchEnv names the variable that, set to "skip", skips the PostgreSQL tests.
	// Without it an unreachable server fails them: CI must not pass on SQLite alone.
	PostgresSwitchEnv = "PORTCULLIS_TEST_POSTGRES"
	// DefaultPostgresURL is used when PostgresURLEnv is unset: a local server with trust auth.
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// testMaxOpenConns keeps each test store's PostgreSQL pool small: many test binaries share one
// server and its max_connections.
const testMaxOpenConns = 8

// setupTimeout bounds opening, migrating and schema set-up in tests.
const setupTimeout = 60 * time.Second

// OpenSQLite returns a migrated store on a fresh SQLite file in a temporary directory, with the
// real clock. It is closed when the test ends.
func OpenSQLite(t testing.TB) *store.Store {
	t.Helper()
	return OpenSQLiteClock(t, clock.Real{})
}

// OpenSQLiteClock is [OpenSQLite] with the given clock (usually a *clock.Fake).
func OpenSQLiteClock(t testing.TB, clk clock.Clock) *store.Store {
	t.Helper()
	return openMigrated(t, "sqlite:"+filepath.Join(t.TempDir(), "portcullis.db"), clk)
}

// OpenPostgres returns a migrated store in a fresh PostgreSQL schema (see [PostgresURL]), with
// the real clock. It is closed, and the schema dropped, when the test ends.
func OpenPostgres(t testing.TB) *store.Store {
	t.Helper()
	return OpenPostgresClock(t, clock.Real{})
}

// OpenPostgresClock is [OpenPostgres] with the given clock (usually a *clock.Fake).
func OpenPostgresClock(t testing.TB, clk clock.Clock) *store.Store {
	t.Helper()
	return openMigrated(t, PostgresURL(t), clk)
}

// OpenSQLitePair returns two stores on one fresh SQLite file (see [PairOpener]).
func OpenSQLitePair(t testing.TB, clk clock.Clock) (a, b *store.Store) {
	t.Helper()
	u := "sqlite:" + filepath.Join(t.TempDir(), "portcullis.db")
	return openMigrated(t, u, clk), openMigrated(t, u, clk)
}

// OpenPostgresPair returns two stores, each with its own pool, on one fresh PostgreSQL schema
// (see [PairOpener]).
func OpenPostgresPair(t testing.TB, clk clock.Clock) (a, b *store.Store) {
	t.Helper()
	u := PostgresURL(t)
	return openMigrated(t, u, clk), openMigrated(t, u, clk)
}

func openMigrated(t testing.TB, dbURL string, clk clock.Clock) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := store.Open(ctx, dbURL, store.Options{Clock: clk, MaxOpenConns: testMaxOpenConns})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("store.Migrate: %v", err)
	}
	return s
}

// PostgresURL creates a fresh, empty schema on the test PostgreSQL server and returns a URL whose
// connections use it (search_path), so that tests and test binaries running in parallel never
// see each other's rows. The schema is dropped when the test ends. The server is the one named
// by $PORTCULLIS_TEST_POSTGRES_URL, else [DefaultPostgresURL]; its database is created if
// missing.
//
// If the server cannot be reached the test fails, saying how to fix it, unless
// $PORTCULLIS_TEST_POSTGRES is "skip", in which case the test is skipped.
func PostgresURL(t testing.TB) string {
	t.Helper()
	if os.Getenv(PostgresSwitchEnv) == "skip" {
		t.Skipf("PostgreSQL tests skipped: %s=skip", PostgresSwitchEnv)
	}
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL", PostgresURLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	unreachable := func(err error) {
		t.Helper()
		t.Fatalf("PostgreSQL at %s is unreachable: %v\n"+
			"Start a server (CI does), point %s at one, or set %s=skip to skip the PostgreSQL tests explicitly.",
			u.Redacted(), err, PostgresURLEnv, PostgresSwitchEnv)
	}
	err = execOnce(ctx, base, "SELECT 1")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" { // invalid_catalog_name: no such database
		err = createDatabase(ctx, u)
	}
	if err != nil {
		unreachable(err)
	}

	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "storetest_" + hex.EncodeToString(b[:])
	if err := execOnce(ctx, base, "CREATE SCHEMA "+schema); err != nil {
		unreachable(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := execOnce(ctx, base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// execOnce runs one statement on a connection of its own, closed before returning, so that
// set-up holds no connection for the length of the test.
func execOnce(ctx context.Context, dbURL, stmt string) error {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// createDatabase creates the database named by u's path, through the server's maintenance
// database. Another test binary creating it at the same time is not an error.
func createDatabase(ctx context.Context, u *url.URL) error {
	name := u.Path
	if len(name) > 0 && name[0] == '/' {
		name = name[1:]
	}
	if name == "" {
		return errors.New("the URL names no database")
	}
	admin := *u
	admin.Path = "/postgres"
	err := execOnce(ctx, admin.String(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
		return nil
	}
	return err
}
