package store

import (
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresConnectTimeout bounds dialling and the start-up handshake when the URL does not set
// connect_timeout, so an unreachable server is reported promptly.
const postgresConnectTimeout = 5 * time.Second

// postgresUniqueViolation is SQLSTATE unique_violation.
const postgresUniqueViolation = "23505"

// openPostgres returns a database/sql pool over pgx for url. pgx caches each statement's
// prepared form per connection, so hot statements are parsed once per connection.
func openPostgres(url string, maxOpen int) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message may echo the URL, password included: say only what is wrong.
		return nil, errors.New("store: cannot parse the PostgreSQL URL")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = postgresConnectTimeout
	}
	if maxOpen == 0 {
		maxOpen = 16
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxOpen)
	// Keep as many idle connections as may be open, or busy periods churn connections.
	db.SetMaxIdleConns(maxOpen)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	return db, nil
}

// isPostgresUnavailable reports whether err is a failed PostgreSQL connection attempt, a
// statement on a connection pgx has already closed (the socket went away), or a
// server error of SQLSTATE class 08 (connection exception) or 57P01 admin_shutdown, 57P02
// crash_shutdown, 57P03 cannot_connect_now (a server restarting).
func isPostgresUnavailable(err error) bool {
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
}

// isPostgresUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isPostgresUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == postgresUniqueViolation
}
