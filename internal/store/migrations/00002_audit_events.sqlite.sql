-- Audit events. The two dialects spell an auto-assigned id differently, and nothing else:
-- keep 00002_audit_events.sqlite.sql and 00002_audit_events.postgres.sql identical apart
-- from the id column. Store.Migrate applies the file of the store's dialect.
-- SQLite half of the one dialect-specific migration: an INTEGER PRIMARY KEY is the rowid,
-- and AUTOINCREMENT keeps ids of deleted rows from being reused.

-- +goose Up
CREATE TABLE audit_events (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    occurred_at    BIGINT  NOT NULL,
    event_type     TEXT    NOT NULL,
    client_id      TEXT    NOT NULL DEFAULT '',
    subject        TEXT    NOT NULL DEFAULT '',
    interaction_id TEXT    NOT NULL DEFAULT '',
    data           TEXT
);
CREATE INDEX audit_events_time_idx ON audit_events (occurred_at, id);
CREATE INDEX audit_events_type_idx ON audit_events (event_type, occurred_at, id);
CREATE INDEX audit_events_client_idx ON audit_events (client_id, occurred_at, id);

-- +goose Down
DROP TABLE audit_events;
