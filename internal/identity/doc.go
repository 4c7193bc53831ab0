// Package identity authenticates customers (PSUs, the bank's account holders) for the
// authorization server's pages: it owns the verdict "this browser is customer X, proven with
// these factors", as an [Authentication], and nothing about clients, consents or tokens.
//
// # The seam
//
// What a completed login yields is an [Authentication]: the customer id, the time of the
// login (OIDC auth_time), the methods used (RFC 8176 amr: "pwd", "otp") and the Open Banking
// acr — [ACRSCA] ("urn:openbanking:psd2:sca") only when both a knowledge factor (password)
// and a possession factor (TOTP) were checked in this login, [ACRCA] otherwise
// ([NewAuthentication] applies that rule). The pages declare the small interface they call;
// this package offers two implementations:
//
//   - [Embedded]: customers kept in the store, in two steps the pages drive, one form each
//     (INTERFACE.md "Customer pages"): [Embedded.CheckPassword] (username, password) → the
//     customer id, then [Embedded.CheckOTP] (a 6-digit RFC 6238 code). The pages keep the
//     customer id between the steps in their session and build the Authentication with
//     [NewAuthentication] once the factors the request needs are checked.
//
//   - [Federated]: the login at the bank's own OpenID Connect provider, as a relying party
//     (authorization code flow with PKCE S256, state and nonce). [Federated.Begin] returns
//     the provider URL to send the browser to and a pending value the pages keep in their
//     sealed session; [Federated.Finish], on the callback, checks the state, exchanges the
//     code (client_secret_basic or private_key_jwt), verifies the ID token — signature with
//     the provider's JWK Set fetched under the jwks_uri rules ([jose.RemoteJWKS]: https,
//     size and time bounds, no private address unless configured), iss, aud/azp, exp,
//     iat, nonce — and returns an Authentication whose customer id is a configured claim,
//     whose AMR is the token's amr, and whose ACR is [ACRSCA] when the configured map
//     sends the token's acr there or the amr shows two PSD2 factor categories
//     ([SCAFromAMR]), [ACRCA] otherwise. Nothing is kept between the two steps, so the
//     callback may land on any node. Its errors are [*FederationError]s:
//     [ErrFederationRejected] (checked and refused), [ErrFederationDenied] (access_denied
//     at the provider), [ErrFederationUnavailable] (could not check).
//
// The pages choose the authenticator per configuration; everything after login only reads
// the Authentication.
//
// # Embedded customers
//
// Passwords are stored as argon2id PHC strings (RFC 9106; [DefaultArgon2id] states the
// parameters and why) and compared in constant time. An unknown username costs the same
// argon2id computation as a wrong password (a dummy hash is verified), and both return
// [ErrInvalidCredentials], so neither the answer nor its timing tells whether a customer
// exists. The TOTP second factor is RFC 6238 with SHA-1, 30-second steps and 6 digits, one
// step of clock skew accepted either way; each code is accepted once: the store moves the
// customer's last accepted step forward atomically ([ErrOTPReplayed] for a code of a step
// already used, also when two nodes race). TOTP keys are sealed at rest with AES-256-GCM
// under a [SecretKey] kept in the data directory, bound to the customer id.
//
// # Brute force
//
// Every password and TOTP attempt is counted, before it is checked, against two counters in
// the store — one per client address (an IPv6 address counts by its /64) and one per
// customer (per username tried, known or not) — so limits hold across nodes and against
// parallel attempts. A counter allows [RateLimit] attempts per window; beyond that the
// attempt is refused unchecked with a [*RateLimitedError] (errors.Is [ErrRateLimited]) that
// says when to retry. A successful check takes its attempt back; a completed login clears the
// customer's counter. Counter names are hashed, so the store holds no typed usernames or
// addresses.
//
// Errors: the checks return [ErrInvalidCredentials], [ErrInvalidOTP], [ErrOTPReplayed] or a
// [*RateLimitedError]; any other error means the check could not be made (store unreachable,
// a sealed secret that does not open) and the caller must fail closed. Nothing here logs:
// passwords, codes and secrets never leave the package except as the caller's own input.
package identity
