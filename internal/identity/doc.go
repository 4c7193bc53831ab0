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
// this package offers one implementation now:
//
//   - [Embedded]: customers kept in the store, in two steps the pages drive, one form each
//     (INTERFACE.md "Customer pages"): [Embedded.CheckPassword] (username, password) → the
//     customer id, then [Embedded.CheckOTP] (a 6-digit RFC 6238 code). The pages keep the
//     customer id between the steps in their session and build the Authentication with
//     [NewAuthentication] once the factors the request needs are checked.
//
// A federated login (OIDC to the bank's identity provider, a later issue) is redirect-based
// and fits beside it without changing the Authentication: its pages call a Begin step that
// returns the URL to send the browser to (carrying state and nonce kept in the page session),
// and a Finish step on the callback request that verifies the provider's ID token and returns
// an Authentication mapped from its sub, auth_time, amr and acr. The pages choose the
// authenticator per configuration; everything after login only reads the Authentication.
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
