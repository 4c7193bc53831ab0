-- Portcullis schema, shared by SQLite and PostgreSQL: portable types only.
-- Times are BIGINT milliseconds since the Unix epoch; NULL means "not set".
-- JSON documents are TEXT. Secrets are never stored: *.hash columns hold the
-- base64url SHA-256 of the code, request_uri or refresh token.

-- +goose Up
CREATE TABLE clients (
    id         TEXT   NOT NULL PRIMARY KEY,
    metadata   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE consents (
    id         TEXT   NOT NULL PRIMARY KEY,
    kind       TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    status     TEXT   NOT NULL,
    user_id    TEXT   NOT NULL DEFAULT '',
    data       TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX consents_client_idx ON consents (client_id, created_at);
CREATE INDEX consents_user_idx ON consents (user_id, created_at);

CREATE TABLE authorization_codes (
    hash        TEXT   NOT NULL PRIMARY KEY,
    client_id   TEXT   NOT NULL,
    family_id   TEXT   NOT NULL,
    data        TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);

CREATE TABLE pushed_requests (
    hash        TEXT   NOT NULL PRIMARY KEY,
    client_id   TEXT   NOT NULL,
    data        TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX pushed_requests_expires_idx ON pushed_requests (expires_at);

CREATE TABLE refresh_tokens (
    hash        TEXT   NOT NULL PRIMARY KEY,
    client_id   TEXT   NOT NULL,
    family_id   TEXT   NOT NULL,
    consent_id  TEXT   NOT NULL DEFAULT '',
    user_id     TEXT   NOT NULL DEFAULT '',
    scope       TEXT   NOT NULL DEFAULT '',
    data        TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_consent_idx ON refresh_tokens (consent_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE used_jtis (
    issuer     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_jtis_expires_idx ON used_jtis (expires_at);

CREATE TABLE token_revocations (
    jti        TEXT   NOT NULL PRIMARY KEY,
    client_id  TEXT   NOT NULL DEFAULT '',
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- The gateways' deny-list caches poll "revoked_at >= ? ORDER BY revoked_at, jti".
CREATE INDEX token_revocations_revoked_idx ON token_revocations (revoked_at, jti);
CREATE INDEX token_revocations_expires_idx ON token_revocations (expires_at);

-- +goose Down
DROP TABLE token_revocations;
DROP TABLE used_jtis;
DROP TABLE refresh_tokens;
DROP TABLE pushed_requests;
DROP TABLE authorization_codes;
DROP TABLE consents;
DROP TABLE clients;
