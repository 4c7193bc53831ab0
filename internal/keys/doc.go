// Package keys shares the authorization server's signing keys across nodes through the
// database: every node loads the same key set from the store's signing_keys table, signs with
// the same active key and publishes the same JWK Set, and picks up a rotation made on any node
// (or by `portcullis keys rotate`) by polling.
//
// A [Set] owns the persistent copy and a [jose.KeyStore] built with [jose.NewSyncedKeyStore]:
// the KeyStore's Publish, Rotate, Remove and Prune keep their contract and write through to the
// database (compare-and-set, so two nodes never both win one change), and [Set.Poll] installs
// what other nodes wrote. Private keys never reach the database in clear: a [Vault] seals them,
// either under a key-encryption key ([KEK], AES-256-GCM, configured as keys.kek and never
// stored in the database; its id is stored with each key so the KEK can be rotated) or, in
// binaries built with the pkcs11 tag, as a reference to a key generated inside a PKCS#11 token
// (an HSM; SoftHSM2 is the reference).
//
// Propagation bound. A rotation writes the new key as "next" at time T with activate_at =
// T + PublishDelay. Every node polls every PollInterval, so by T + PollInterval (plus the
// duration of one poll) every reachable node publishes the new key and verifies with it. The
// first node to poll after activate_at promotes it (next → active, the previous active key →
// retired); the others follow within PollInterval, signing with the old key meanwhile, which
// keeps verifying everywhere for RetireAfter. Since PublishDelay ≥ 2 × PollInterval (enforced),
// no token signed with a new key is issued before every node that polled in the last
// PollInterval has published that key, so no node refuses another node's token (activation
// times are absolute: this holds while node clocks agree within PublishDelay − 2 × PollInterval,
// 20 s by default). A node that
// cannot reach the database keeps its last key set (and says so in its log) until a poll
// succeeds.
package keys
