package config

import (
	"net/url"
	"strings"
	"time"
)

// Database selects the store (INTERFACE.md "Environment overrides").
type Database struct {
	// URL names the database: "" means SQLite at DATA_DIR/portcullis.db (see
	// [Config.DatabaseURL]); "sqlite:PATH" a SQLite file; "postgres://…" or
	// "postgresql://…" PostgreSQL. It may carry a password, so it is a [SecretURL].
	URL SecretURL `koanf:"url"`
	// MaxOpenConns bounds the connection pool. Default 20.
	MaxOpenConns int `koanf:"max_open_conns"`
	// SweepInterval is how often expired single-use artefacts (codes, request URIs,
	// assertion jtis) are deleted. Default 1m.
	SweepInterval time.Duration `koanf:"sweep_interval"`
}

func defaultDatabase() Database {
	return Database{MaxOpenConns: 20, SweepInterval: time.Minute}
}

func (d Database) validate() []error {
	var errs []error
	// Reasons never repeat the URL: it may hold a password.
	s := d.URL.Reveal()
	switch {
	case s == "":
	case strings.HasPrefix(s, "sqlite:"):
		if strings.TrimPrefix(s, "sqlite:") == "" {
			errs = append(errs, fieldErr("database.url", "sqlite: names no file (want sqlite:PATH)"))
		}
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			errs = append(errs, fieldErr("database.url", "is not a valid postgres:// URL"))
		}
	default:
		errs = append(errs, fieldErr("database.url", "must be empty, sqlite:PATH or postgres://…"))
	}
	if d.MaxOpenConns <= 0 {
		errs = append(errs, fieldErr("database.max_open_conns", "must be positive"))
	}
	if d.SweepInterval <= 0 {
		errs = append(errs, fieldErr("database.sweep_interval", "must be positive"))
	}
	return errs
}
