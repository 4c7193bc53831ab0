// Package obsig owns Open Banking message signing on the HTTP edge: the x-jws-signature
// header a TPP must send on payment consent and payment requests, and the one the bank
// sends back on every response of those APIs (dcr-consent.md §2.5, fapi.md OB-10).
//
// [Verifier.Verify] decides whether a request's signature is the client's: the detached
// JWS itself in both OBIE forms (package jose: [jose.VerifyDetached] — structure, "crit",
// "b64", algorithm, iat, tan), the key by "kid" from the client's registered keys (through
// clientauth.KeyResolver, the one place client keys are resolved), and then what only a
// caller that knows the client can check:
//
//   - when the JWK carries an "x5c" certificate (a QSealC or OBSeal), the chain is
//     validated by package pki for [pki.PurposeSigning] — chain to a trust anchor,
//     validity, revocation, QcType eseal, PSD2 statement — and the certificate's
//     organisation must be the client's org_id;
//   - http://openbanking.org.uk/iss must name the client: "{org_id}/{software_id}" of its
//     registration (a client registered without both: its client_id), or, with an eIDAS
//     certificate, that certificate's organizationIdentifier or RFC 4514 subject.
//
// [Middleware.Require] wraps a handler: it reads the (bounded) body, requires and verifies
// the signature of the client the Client hook names, hands the body on, and signs the
// handler's response. [Middleware.Sign] only signs responses; [Middleware.OnRoutes] applies
// both by route pattern ([PaymentRoutes]: the payment consent and payment submission POSTs),
// for a handler serving many routes (the gateway). Every response of a wrapped
// handler — the handler's, and this package's own refusals — carries an x-jws-signature
// made with the bank's message-signing key ([jose.KeyStore.SignDetached]: the QSealC or
// OBSeal key published in /jwks with its x5c), in the v3.1.4+ form unless configured
// otherwise.
//
// Refusals are OBIE error bodies (package obie) with status 400 and these ErrorCodes:
// UK.OBIE.Signature.Missing (no header), .Malformed (not a detached compact JWS, bad
// encoding or JSON), .MissingClaim (kid, crit or an OB parameter absent; Path names it),
// .InvalidClaim (anything else about the header: algorithm, crit, b64, typ, cty, unknown
// parameter, iat, tan, iss; an unknown kid or a refused certificate with Path "kid" — the
// brief's "KeyNotFound" is not an OBIE code, and OBIE files "a kid that does not resolve to
// a valid certificate" under InvalidClaim), .Invalid (the signature does not verify). What
// could not be checked — the client's jwks_uri unreachable, no revocation checker — is 503
// UK.OBIE.UnexpectedError, never a pass; a client the Client hook cannot name is 401.
// UK.OBIE.Signature.Unexpected is never sent: a signature on a route that does not need one
// is ignored, as OBIE participants commonly send one everywhere.
//
// It refuses to: take a key from the header (jku, jwk, x5u, x5c are refused there), accept
// a signature by a key with a certificate when no certificate validator is configured, or
// let a response leave a wrapped handler unsigned (a response it cannot sign becomes a
// signed 500). It does not authenticate the client (the Client hook says who it is).
//
// Spec: dcr-consent.md §2.5; fapi.md OB-10; RFC 7515 Appendix F; RFC 7797.
package obsig
