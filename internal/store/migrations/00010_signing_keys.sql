-- The authorization server's signing keys when they are shared by every node through the
-- database (package keys, keys.source: database). Portable SQL, shared by SQLite and PostgreSQL.
-- private_key is the private key sealed by package keys (AES-256-GCM under a key-encryption key
-- that is never stored here, or a reference to an object in a PKCS#11 token), opaque to the
-- store; kek_id names what sealed it. state is next, active or retired; the partial unique index
-- keeps at most one active key per algorithm however many nodes write at once. Times are
-- milliseconds since the Unix epoch; activate_at is when a next key may become active,
-- retire_at when a retired key stops verifying.

-- +goose Up
CREATE TABLE signing_keys (
    kid          TEXT   NOT NULL PRIMARY KEY,
    alg          TEXT   NOT NULL,
    state        TEXT   NOT NULL,
    kek_id       TEXT   NOT NULL,
    private_key  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    activate_at  BIGINT,
    activated_at BIGINT,
    retired_at   BIGINT,
    retire_at    BIGINT
);
CREATE UNIQUE INDEX signing_keys_active_idx ON signing_keys (alg) WHERE state = 'active';

-- +goose Down
DROP TABLE signing_keys;
