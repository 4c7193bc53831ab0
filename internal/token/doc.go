// Package token issues and verifies Portcullis access tokens and keeps the
// deny-list of revoked ones. It owns token binding: which certificate a token
// belongs to and whether the presented one is it.
//
// Access tokens are self-contained JWTs in the RFC 9068 shape — JOSE typ "at+jwt";
// claims iss, sub, aud, client_id, scope, jti, iat, nbf, exp — plus cnf.x5t#S256
// (RFC 8705 §3), the "aut" claim telling application tokens ("APPLICATION") from
// customer tokens ("APPLICATION_USER", WSO2 naming), consent_id (mirrored as
// openbanking_intent_id for UK integrations when configured), grant_id (the grant
// family, so that revoking a grant revokes its tokens), acr and auth_time. See
// [AccessToken] for the field ↔ claim mapping.
//
// The TPP can read these tokens, so they never carry the bank's customer id: the
// sub of a customer token is an opaque subject derived by [Subjects] (HMAC-SHA256
// under a persisted server secret; public, or pairwise per sector, OIDC Core §8);
// the gateway recovers the customer from the consent the token names.
//
//   - [Issuer] signs them with the authorization server's active key
//     (package jose), with a 192-bit random jti and a short lifetime (5 min by
//     default, at most 1 h). It refuses to issue an unbound token ([ErrUnbound]).
//   - [Verifier] checks them at the gateway: typ, algorithm, signature by a
//     current or unexpired retired key, iss, aud, exp/nbf/iat with bounded skew,
//     required claims, size; a verified-token cache keyed by SHA-256 of the token
//     skips the signature on repeat calls; the deny-list is consulted on every
//     call, cached or not.
//   - [CheckBinding] compares the token's cnf.x5t#S256 with the request's
//     certificate in constant time.
//   - [DenyList] mirrors the store's revocation tables (revoked jtis and revoked
//     grant families, both looked up in O(1)), refreshed every 2 s (at
//     most 5 s) on every node; a list that has not refreshed for MaxStaleness
//     makes verification fail closed with [ErrRevocationStateUnavailable] (the
//     gateway's 503).
//   - [NewSecret] makes the other credentials (codes, request_uris, refresh
//     tokens): at least 128 bits from crypto/rand, base64url.
//
// It refuses to: issue or accept a token without a certificate binding; accept
// any typ other than at+jwt, any algorithm outside PS256/ES256/EdDSA, or a key
// that is not the authorization server's; trust a deny-list it cannot refresh;
// write a customer id into a token. It
// does not decide scopes or consent validity (the gateway and package consent
// do), nor refresh tokens and ID tokens (yet).
//
// Spec: RFC 9068, RFC 8705 §3, RFC 8725; fapi.md FAPI1-AS-50/54/55,
// FAPI1-RS-02/03, FAPI2-AS-04/42, FAPI2-RS-02/03, OB-04/05.
package token
