// Package jose is Portcullis's only door to JOSE: it signs and verifies compact
// JWS/JWTs, holds the authorization server's signing keys, and parses clients'
// JWK Sets. No other package imports a JOSE library; everything goes through the
// small API here.
//
// It owns:
//
//   - The algorithm allow-list ([Allowed]): PS256 and ES256, plus EdDSA (Ed25519)
//     under the FAPI 2.0 profile. "none", HS*, RS*, ES384 and every other value are
//     refused with [ErrAlgNotAllowed] on every verification path, before any key is
//     looked at (fapi.md FAPI1-AS-07, FAPI2-AS-41).
//
//   - Key strength: RSA ≥ 2048 bits, EC on P-256 (P-224 and smaller are
//     [ErrWeakKey]), Ed25519 (FAPI1-AS-06, FAPI2-AS-42).
//
//   - The server's signing keys, [KeyStore]: states next → active → retired, kid =
//     RFC 7638 thumbprint, rotation with a retirement delay, the public JWK Set for
//     /jwks, loading from a key directory ([LoadKeyDir]) or generating one on first
//     start in development ([LoadOrGenerate]).
//
//   - Clients' keys: [ParseJWKS] for registered "jwks" and [RemoteJWKS] for
//     "jwks_uri", each refusing private, symmetric and weak keys.
//
//   - JWT signature verification, [VerifyJWT] (and [KeyStore.Verify] for our own
//     tokens): compact serialisation only, strict base64url, no duplicate JSON
//     member names, "crit" only when the caller declares it, "typ" checked, key
//     chosen by "kid" and algorithm compatibility (FAPI1-AS-08).
//
//   - Open Banking message signatures (x-jws-signature, detached.go): [VerifyDetached]
//     for both forms — "b64":false with "b64" in "crit" (RFC 7797, OBIE ≤ v3.1.3) and the
//     plain detached JWS of v3.1.4+ — with "crit" exactly the OB parameters, no unknown
//     header parameter, iat not in the future, tan a configured trust anchor;
//     [SigningKey.SignDetached] and the store's message-signing key
//     ([KeyStore.SetSealKey]), published in /jwks with its "x5c" chain. A client JWK's
//     "x5c" is parsed and tied to the key ([PublicKey.Certificates]); validating that
//     chain is package pki's job, matching iss with the client the caller's (obsig).
//
// It refuses to: honour "jku", "x5u", "jwk" or "x5c" header parameters when
// choosing a key; verify JWE, JSON-serialised or (outside [VerifyDetached]) detached
// JWS; accept "b64":false anywhere but in a message signature;
// fetch a jwks_uri over plain http or from a non-public address (unless a test
// option says so); publish private key material.
//
// It does not check JWT claims (iss, sub, aud, exp, nbf, jti): callers decode
// [Verified.Payload] into their own types and apply their rules (package token for
// access tokens, clientauth for client assertions, par for request objects).
//
// Signature arithmetic is the standard library's (sig.go); parsing, key selection and
// every policy decision are this package's, so that they are in one place. DESIGN.md names
// jwx as the JOSE library and it still is, for JWK import and export; its JWS signing and
// verification path (jwsbb) converted every ES256 signature through math/big, so sig.go calls
// crypto/ecdsa, crypto/rsa and crypto/ed25519 itself (same speed on a quiet machine, 7–8
// fewer allocations per signature or verification) and TestSignatureInteropJWX keeps the two
// in agreement.
package jose
