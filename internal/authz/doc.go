// Package authz is the authorization server's HTTP surface: one file per endpoint, named
// after the spec noun it implements.
//
//   - discovery.go: /.well-known/openid-configuration (OpenID Connect Discovery 1.0 §4)
//     and /.well-known/oauth-authorization-server (RFC 8414 §3), one document listing
//     only what is implemented today (FAPI1-AS-60, FAPI2-AS-01, FAPI2-AS-43);
//   - jwks.go: the server's public signing keys (RFC 7517, FAPI1-AS-08);
//   - token.go: the token endpoint (RFC 6749 §3.2): form parsing, client authentication
//     through package clientauth, the mandatory client certificate every access token is
//     bound to (RFC 8705 §3, FAPI1-AS-50, FAPI2-AS-04), and the dispatch on grant_type to
//     one grant_*.go file per grant; grant_client_credentials.go is RFC 6749 §4.4
//     (FAPI1-AS-57, OB-01);
//   - introspect.go: RFC 7662 token introspection for authenticated clients, each seeing
//     only its own tokens;
//   - revoke.go: RFC 7009 token revocation, feeding the deny-list the gateway reads.
//
// Handlers return an error; one renderer ([Server] internals) maps it through
// [oauth.FromError] and writes the RFC 6749 §5.2 body, with the cause logged and never
// sent. Every error is 400 except invalid_client (401), 405 for a wrong method, and
// 500/503 when something below could not answer (fapi.md §1).
//
// The package refuses: the password grant and every grant it does not implement
// (unsupported_grant_type, FAPI2-AS-02); issuing a token without a client certificate to
// bind it to (401 invalid_client); the openid scope for client_credentials (invalid_scope);
// parameters in the query string or sent twice; telling a client anything about a token
// that is not its own (introspection answers {"active":false}, revocation 200 without
// effect, RFC 7009 §2.1).
//
// It does not authenticate clients (clientauth), validate certificates (pki via mtls), mint
// or verify tokens (token), or set x-fapi-interaction-id (obs.Middleware does, on every
// response, errors included: FAPI1-RS-04).
package authz
