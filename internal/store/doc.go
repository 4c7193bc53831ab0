// Package store keeps everything Portcullis must remember, in SQL: registered OAuth clients,
// Open Banking consents, authorization codes, pushed authorization requests (RFC 9126), refresh
// tokens, the access-token deny-list (RFC 7009 revocations, of single tokens and of whole grant
// families), used JWT ids (RFC 7523 §3 replay protection), the audit trail, embedded customers
// and their failed-login counters (package identity: [Store.UseTOTPStep] accepts each TOTP time
// step once, [Store.CountLoginFailure] counts failures across nodes).
//
// One concrete [Store] serves two backends: SQLite (modernc.org/sqlite, pure Go, the embedded
// default: one file under ./data) and PostgreSQL (pgx v5), for any number of stateless nodes
// sharing one database. Both run the same SQL text: portable column types only (TEXT, BIGINT
// milliseconds since the epoch for times, TEXT for JSON), $1…$n placeholders (modernc binds
// $N by position; the exceptions, the multi-row INSERTs of [Store.AppendAuditBatch] and of
// [Store.UseJTI]'s group commit, use anonymous ? on SQLite), INSERT … ON CONFLICT and
// UPDATE … RETURNING. On SQLite the statements of the token endpoint's path are prepared once
// per connection and reused. The schema is one set of goose migrations embedded in the binary
// ([Store.Migrate]); the single statement the dialects spell differently (the audit table's
// auto-assigned id) lives in a pair of files of one version.
//
// Domain packages do not import each other's storage: each declares the small Store interface
// it needs (clientauth needs UseJTI, the gateway's deny-list needs RevocationsSince, …) and
// main passes this Store, which satisfies them all. The store owns no protocol rules: it does
// not decide what a consent status means or how long a code lives. It does own atomicity:
//
//   - single use: [Store.ConsumeAuthorizationCode], [Store.ConsumePushedRequest],
//     [Store.ConsumeRefreshToken] and [Store.UseJTI] succeed for exactly one of any number of
//     concurrent callers, on every node, because each is one conditional statement in the
//     database; [Store.TransitionConsent] is a compare-and-set on the consent's status;
//   - transactions: [Store.InTx] runs a function's calls on a [Tx] in one database
//     transaction, rolled back if the function fails. The grant operations that change two
//     things at once are each one transaction: [Store.RotateRefreshToken] (consume the old
//     refresh token, store its successor), [Store.RevokeConsent] (the consent's status and
//     every refresh token of it) and [Store.RevokeFamily] (every refresh token of a grant
//     family, and the family on the access-token deny-list); on PostgreSQL they serialise per
//     family and consent, so no refresh token minted concurrently escapes a revocation;
//   - group commit: concurrent [Store.UseJTI] calls, the token endpoint's hottest write, are
//     queued to one goroutine per Store, which records all the calls waiting at that moment
//     (up to 128, without waiting for more) in one INSERT … ON CONFLICT DO NOTHING RETURNING,
//     so they share one commit (one fsync on PostgreSQL) instead of queueing for one each.
//     Durability and the single-use guarantee are unchanged: a call returns nil only after
//     its row is committed, and of calls for one (issuer, jti) exactly one gets nil;
//   - expiry: an item is usable while the store clock's now is before its ExpiresAt; a
//     background sweeper ([Store.RunSweeper]) deletes expired rows in small batches, so
//     readers are never blocked by one large delete.
//
// Secrets are never stored. Codes, request_uris and refresh tokens are keyed by their SHA-256
// ([HashSecret]); callers hash before every call, so a copy of the database redeems nothing.
// Client secrets are not kept here at all (client authentication is by key or certificate).
//
// Contracts: every method reports its outcome with the sentinel errors of this package
// ([ErrNotFound], [ErrDuplicate], [ErrConsumed], [ErrExpired], [ErrRevoked], [ErrReplay],
// [ErrConflict], [ErrInvalidInput]), never with a driver error; any other error means the
// database could not answer, and the caller must fail closed. Every field has a size bound
// ([MaxKeyLen], [MaxScopeLen], [MaxDataSize]); writes beyond it are refused with
// [ErrInvalidInput], and lookups of a key that could never have been stored answer
// [ErrNotFound]. Times are kept to the millisecond and returned in UTC.
//
// The contract test suite in package storetest runs against both backends.
package store
