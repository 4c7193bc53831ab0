-- SQLite half of a dialect-specific pair: used_jtis becomes a WITHOUT ROWID table, clustered
-- on its (issuer, jti) key. As a rowid table every insert wrote three B-trees (the rows, the
-- key's automatic index, the expiry index); now it writes two, so a client assertion's jti
-- commit writes one WAL page fewer (BENCHMARKS.md, "Token endpoint per core"). PostgreSQL
-- has no such choice: 00011_used_jtis_without_rowid.postgres.sql changes nothing there.

-- +goose Up
CREATE TABLE used_jtis_clustered (
    issuer     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
) WITHOUT ROWID;
INSERT INTO used_jtis_clustered (issuer, jti, expires_at) SELECT issuer, jti, expires_at FROM used_jtis;
DROP TABLE used_jtis;
ALTER TABLE used_jtis_clustered RENAME TO used_jtis;
CREATE INDEX used_jtis_expires_idx ON used_jtis (expires_at);

-- +goose Down
CREATE TABLE used_jtis_rowid (
    issuer     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
INSERT INTO used_jtis_rowid (issuer, jti, expires_at) SELECT issuer, jti, expires_at FROM used_jtis;
DROP TABLE used_jtis;
ALTER TABLE used_jtis_rowid RENAME TO used_jtis;
CREATE INDEX used_jtis_expires_idx ON used_jtis (expires_at);
