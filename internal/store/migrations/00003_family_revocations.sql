-- The deny-list entries of whole grants: a replayed authorization code (or a reused
-- refresh token) revokes every access token of its family, whose jtis nobody kept.
-- Access tokens carry their family id in the grant_id claim; the gateways' deny-list
-- caches poll this table together with token_revocations.

-- +goose Up
CREATE TABLE family_revocations (
    family_id  TEXT   NOT NULL PRIMARY KEY,
    client_id  TEXT   NOT NULL DEFAULT '',
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX family_revocations_revoked_idx ON family_revocations (revoked_at, family_id);
CREATE INDEX family_revocations_expires_idx ON family_revocations (expires_at);

-- +goose Down
DROP TABLE family_revocations;
