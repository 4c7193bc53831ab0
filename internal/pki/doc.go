// Package pki decides whether a presented certificate chain is good for a purpose,
// and says who it belongs to: [Validator.Validate] turns a chain into a typed
// [Identity] or a [*ValidationError] naming exactly one reason.
//
// It owns the trust anchors and their profiles ([Anchor], [Profile]: eidas / ob /
// plain, pki.md §1.6 "Trust model"), chain building against them, validity periods,
// key usage for the purpose ([PurposeTransport]: clientAuth; [PurposeSigning]:
// digitalSignature or nonRepudiation, pki.md §1.5), the eIDAS / PSD2 profile rules
// (QcCompliance, QcType web or eseal, the PSD2 statement, organizationIdentifier and
// its agreement with nCAId; pki.md §1.2–1.6) and the order in which they run, ending
// with revocation of every certificate below the anchor through a [RevocationChecker]
// under the anchor's hard- or soft-fail policy (pki.md §2.4).
//
// It refuses to: accept any chain when it has no revocation checker
// ([ErrNoRevocationChecker]); treat a certificate without explicit clientAuth as a
// TLS client certificate; treat a plain certificate as PSD2 under an eidas or ob
// anchor; decode ASN.1 itself (package eidas parses qcStatements and
// organizationIdentifier, package dn renders the subject); fetch anything (the
// revocation checker does, package revocation); log (it returns errors; the caller
// logs and audits).
//
// Validation runs per request (a resumed TLS session must not skip it), so the
// [Validator] caches successes: keyed by SHA-256 over the purpose and the exact DER
// of every presented certificate, for at most Options.CacheTTL (default
// [DefaultCacheTTL], at most [MaxCacheTTL]) and never past the earliest notAfter of
// the chain, in a bounded LRU (Options.CacheSize). A cache hit does not ask the
// revocation checker; an entry ends no later than the revocation answers it rests on
// when the checker reports them ([RevocationCheckerUntil]), so a certificate revoked at
// its CA is refused within the checker's own caching window (package revocation's
// MaxGoodAge); [Validator.Invalidate] drops every entry. Failures are never cached: a refused chain is checked in full every
// time it is presented, so a transient "could not check" never sticks.
//
// Errors: every refusal is a *ValidationError whose Reason is one sentinel of this
// package (errors.Is(err, pki.ErrExpired)); its Err carries the cause, so
// errors.Is(err, eidas.ErrRoleNameMismatch) and errors.As(err, &revocation's typed
// error) also work. [ErrRevocationUnavailable] ("could not check": no responder answered)
// and [ErrNoRevocationChecker] (a wiring error) are the only reasons that do not mean
// "checked and bad"; [ErrRevoked] means the checker obtained a status and it is bad.
// Callers tell the two revocation verdicts apart with these sentinels alone, without
// importing package revocation.
package pki
