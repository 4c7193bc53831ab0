-- PostgreSQL half of a dialect-specific pair: nothing to change. On SQLite this version makes
-- used_jtis a WITHOUT ROWID table (see 00011_used_jtis_without_rowid.sqlite.sql); PostgreSQL
-- tables are heaps with separate indexes either way. The version exists on both dialects so
-- that both report the same schema version.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
