-- Embedded customers (package identity) and the counters of failed logins that rate-limit
-- password and TOTP guessing across every node. Portable SQL, shared by SQLite and PostgreSQL.
-- password_hash is an argon2id PHC string; totp_secret is the TOTP key sealed (AES-GCM) by
-- package identity, opaque to the store; totp_last_step is the last RFC 6238 time step
-- accepted (0: none yet), so each code is accepted once. login_failures.key_hash is the
-- SHA-256 of a counter name (customer or client address), never the name itself.

-- +goose Up
CREATE TABLE customers (
    id             TEXT   NOT NULL PRIMARY KEY,
    display_name   TEXT   NOT NULL DEFAULT '',
    password_hash  TEXT   NOT NULL,
    totp_secret    TEXT   NOT NULL DEFAULT '',
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE login_failures (
    key_hash     TEXT   NOT NULL PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX login_failures_expires_idx ON login_failures (expires_at);

-- +goose Down
DROP TABLE login_failures;
DROP TABLE customers;
