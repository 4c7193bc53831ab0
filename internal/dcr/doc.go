// Package dcr verifies OBIE dynamic client registration requests (dcr-consent.md §1, RFC 7591,
// OBIE DCR v3.2/v3.3): a registration JWT signed by the TPP that carries a software statement
// (SSA) signed by a directory this bank trusts, presented over mTLS with a QWAC or OBWAC that
// package pki has already validated. [Verifier.Verify] turns such a request into the
// [client.Client] to register, or refuses it with an [*Error] that carries the RFC 7591 §3.2.2
// code and the offending claim.
//
// The checks follow the validation order of dcr-consent.md §1.5: the registration JWT's shape,
// algorithm (PS256 or ES256 only; OB-DCR-01) and claims iss, iat, exp, aud and jti
// (OB-DCR-02); the SSA's signature against a configured [Directory] (key by kid from the
// directory's JWK Set; OB-DCR-03), its freshness and org_status Active (OB-DCR-04); the
// registration JWT's signature with the key named by its kid in the SSA's
// software_jwks_endpoint, refusing keys listed at software_jwks_revoked_endpoint
// (OB-DCR-01, OB-DCR-12); then the cross-checks: software_id (OB-DCR-05), redirect URIs
// (OB-DCR-06), scopes against the SSA roles (OB-DCR-07), the SSA roles against the
// certificate's PSD2 roles, the certificate's organisation against the SSA's, the
// authentication method, algorithms and subject DN (OB-DCR-08), grant and response types
// (OB-DCR-09). The jti is consumed last, so a refused request never burns one.
//
// It never takes a key from a JWS header (x5c, x5u, jwk, jku): the SSA's key comes from the
// directory's JWK Set, the request's from the software JWKS, both selected by kid through
// package jose. It does not store clients, issue registration access tokens or render wire
// errors: package authz does, through oauth.FromError. It does no logging.
package dcr
