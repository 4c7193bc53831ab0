-- x-idempotency-key (dcr-consent.md §2.4, fapi.md OB-10): one row per (client, key), claimed
-- by the first request before its handler runs (INSERT … ON CONFLICT), completed with the
-- answer that every repeat within 24 h receives. Portable SQL, shared by SQLite and
-- PostgreSQL. request_hash is the SHA-256 of the request (method, path, body); owner is the
-- random claim token of the request running the handler; status 0 means "still running";
-- response_headers is a JSON object of header lists, response_body the body in base64.

-- +goose Up
CREATE TABLE idempotency_keys (
    client_id        TEXT   NOT NULL,
    idem_key         TEXT   NOT NULL,
    request_hash     TEXT   NOT NULL,
    owner            TEXT   NOT NULL,
    status           BIGINT NOT NULL DEFAULT 0,
    response_headers TEXT   NOT NULL DEFAULT '',
    response_body    TEXT   NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    PRIMARY KEY (client_id, idem_key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
