package store

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteReaders is the default number of read-only SQLite connections.
const sqliteReaders = 4

// sqlitePragmas apply to every SQLite connection. busy_timeout comes first (modernc applies it
// first anyway) so that nothing else fails with SQLITE_BUSY while another connection writes.
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"

// sqliteWriterParams: WAL lets readers read while the writer writes; synchronous(NORMAL) is
// WAL's documented durable-against-crash setting (a power cut may lose the last commits, never
// corrupt the file); BEGIN IMMEDIATE takes the write lock up front so a transaction never
// fails half-way on a lock upgrade. wal_autocheckpoint(10000) lets the WAL reach 10,000 pages
// (~40 MB) before it is copied back into the database, instead of SQLite's 1,000: a page that
// many commits change (the tails of the audit indexes, the leaves of used_jtis) is copied back
// once per checkpoint, and the writer stalls for a checkpoint a tenth as often. Measured
// (BENCHMARKS.md, "Token endpoint per core"): private_key_jwt p99 10.5–11.5 → 5.2–5.4 ms
// (keep-alive) and 18.6–19.4 → 11.8–12.8 ms (new connections); BenchmarkUseJTIRandom (-cpu 1)
// 25.7–27.9 against 30.8–33.9 CPU µs per jti. The WAL file keeps that size once reached.
const sqliteWriterParams = sqlitePragmas + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(10000)&_txlock=immediate"

// sqliteReaderParams: query_only makes a stray write on a reader fail instead of racing the
// writer connection.
const sqliteReaderParams = sqlitePragmas + "&_pragma=query_only(1)"

// openSQLite opens the SQLite file at path: one writer connection and up to maxReaders
// read-only connections. It creates the parent directory (0700) and the file (0600) if needed.
func openSQLite(path string, maxReaders int) (w, r *sql.DB, err error) {
	switch {
	case path == "":
		return nil, nil, errors.New("store: sqlite URL names no file (want sqlite:PATH)")
	case strings.IndexByte(path, 0) >= 0:
		return nil, nil, errors.New("store: sqlite path contains a NUL byte")
	case strings.HasPrefix(path, "file:"), strings.HasPrefix(path, "//"), strings.Contains(path, ":memory:"):
		// An in-memory database would be a different empty database on every connection.
		return nil, nil, fmt.Errorf("store: unsupported sqlite path %q (want sqlite:PATH naming a file)", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("store: sqlite path: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, nil, fmt.Errorf("store: create sqlite directory: %w", err)
	}
	// Create the file ourselves so it is private; SQLite gives its -wal and -shm files the
	// database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("store: create sqlite file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, nil, fmt.Errorf("store: create sqlite file: %w", err)
	}
	name := "file:" + (&url.URL{Path: abs}).EscapedPath()

	w, err = sql.Open("sqlite", name+"?"+sqliteWriterParams)
	if err != nil {
		return nil, nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	r, err = sql.Open("sqlite", name+"?"+sqliteReaderParams)
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	if maxReaders == 0 {
		maxReaders = sqliteReaders
	}
	r.SetMaxOpenConns(maxReaders)
	r.SetMaxIdleConns(maxReaders)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	return w, r, nil
}

// isSQLiteUniqueViolation reports whether err is SQLite's PRIMARY KEY or UNIQUE constraint
// failure.
func isSQLiteUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}
