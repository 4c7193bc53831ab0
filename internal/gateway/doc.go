// Package gateway is the resource-server side of Portcullis: it decides, for every
// request to the bank's Open Banking APIs, whether it may pass, and forwards the
// ones that may (DESIGN.md "gateway"). It owns the route table, the validation
// chain, the wire shape of the resource server's errors, and the external-authorizer
// endpoint.
//
// # Route table
//
// A [Route] names a method and a path pattern with named parameters
// (/open-banking/v3.1/aisp/accounts/{AccountId}), the scopes the token must hold,
// the kind of token (customer, application, either), the PSD2 roles the client
// certificate must carry (any of), the consent kind and its validator, the
// upstream and a timeout. [New] compiles the table into a ServeMux; a request that
// matches no route is 404 and is never forwarded. A request path must be canonical
// before it is matched: ";" anywhere, a percent-encoded ".", "/", "\", ";", "%"
// or control character, a raw "\" or a malformed escape is 400 invalid_path
// (UK.OBIE.Field.Invalid), so the upstream only ever sees a path that matched a
// route as written. The configuration file's form is config.Gateway /
// config.GatewayRoute (plain values), converted by [ApplyConfig] and
// [RouteFromConfig]; the sandbox bank's table is bank.Routes, in that form.
//
// A route's consent stage fails closed ([ConsentCheck]): a customer token without
// a consent is refused unless the route sets Optional (consent_optional).
//
// # Validation chain
//
// Each stage is a small type with one job; they run in this order, and the first
// failure stops the request (nothing that failed a stage is ever forwarded):
//
//  1. certificate: a client certificate was presented and package pki accepts it
//     (through mtls.ClientIdentity: chain, validity, eIDAS/PSD2 profile,
//     revocation);
//  2. token: a bearer token in the Authorization header only (FAPI1-RS-01: not in
//     the query; scheme case-insensitive), verified by token.Verifier: signature by
//     the authorization server's current or previous keys, typ at+jwt, iss, aud,
//     exp/nbf with bounded skew — with its verified-token cache, so repeated calls
//     skip the signature — and
//  3. revocation: in the same Verify call, the token's jti is not on the deny-list
//     (fed from the store, refreshed within 5 s on every node); a stale list is
//     503, never a pass;
//  4. token use: customer token or application token, as the route says;
//  5. scopes: every scope the route needs was granted;
//  6. binding: the token's cnf.x5t#S256 is the thumbprint of the certificate of
//     this request (RFC 8705 §3, FAPI1-RS-02);
//  7. PSD2 role: the certificate carries one of the route's roles (pki.md §1.5);
//     — then, for a route with [Route.Around] (app: x-jws-signature and
//     x-idempotency-key on the payment POSTs), the wrapper, around what follows, so
//     that it knows the client and can answer a repeat before the consent is asked;
//  8. consent: the route's consent.Validator allows the request (FAPI1-RS-03,
//     OB-05); it sees the consent id, client, PSU, token claims, method, path,
//     template, parameters, filtered headers and the (bounded) body. An error or
//     an unusable answer from it is 503, never an allow;
//  9. customer: a customer token names the customer only by an opaque subject, so
//     the bank's customer id (the upstream's PSU id) is looked up from the consent
//     the token names ([CustomerLookup], cached ≤ 5 s); a consent no customer
//     authorised is 403, a lookup that fails 503 ([ErrCustomerUnavailable]);
//
// and then the request is forwarded by package upstream with the caller's identity
// (X-Portcullis-* headers, or a short-lived JWT signed by Portcullis). Inbound
// headers whose names are reserved in any spelling (upstream.ReservedHeader: "_"
// read as "-", case folded) never reach the upstream; X-Forwarded-Host and -Proto
// come from Options.PublicURL, never from the request.
//
// # Errors
//
// Stages return this package's domain errors ([ErrInvalidToken],
// [ErrInsufficientScope], …); one function maps them to the wire, and one renders
// them (with package obie's error body), for both modes:
//
//   - 401 with WWW-Authenticate: Bearer error="invalid_token" and no body (OB-09)
//     for a bad, expired, revoked or unbound token and a binding mismatch; the same
//     401 and challenge, plus the OBIE error body (Code client_certificate_required /
//     client_certificate_invalid), for a missing or refused client certificate, so the
//     TPP can tell its certificate from its token; a missing token gets a bare "Bearer"
//     challenge (RFC 6750 §3.1); a token in the query string or several
//     Authorization headers is 400 invalid_request;
//   - 403 with the OBIE error body {Code, Id, Message, Errors:[{ErrorCode, Message,
//     Path}]} for token use, scope (also WWW-Authenticate insufficient_scope), PSD2
//     role and consent refusals (a consent refusal carries the validator's error
//     code, and its 4xx status if it gave one); Id is the x-fapi-interaction-id;
//     Code is one of the Code* constants, ErrorCode a UK.OBIE.* code;
//   - 404 for unknown routes, 400 for a non-canonical path, 413 for a body over
//     Options.MaxBodyBytes (read whole before the consent check and before
//     forwarding: no upstream request is made for it), 503 when the
//     certificate status, the deny-list or the consent validator is unavailable,
//     502/504 when the upstream fails or times out, 500 for anything else (no
//     detail; the cause is logged with the interaction id).
//
// Every response carries x-fapi-interaction-id (FAPI1-RS-04).
//
// Binding mismatch is 401 invalid_token, not 403. The issue text groups binding
// with the 403 failures, but RFC 8705 §3 says a resource server "MUST" reject a
// certificate-bound token presented with another certificate "per RFC 6750, using
// an HTTP 401 status code and the invalid_token error code", FAPI 1.0 Advanced
// §6.2.1-2 points to it and the OpenID conformance suite checks it (fapi.md
// FAPI1-RS-02): the token is unusable over this connection, which is what
// invalid_token says. The spec wins; TestBindingMismatchIs401 pins it.
//
// # External authorizer
//
// [Gateway.ExtAuthz] serves /ext-authz/check for nginx auth_request, Traefik
// ForwardAuth and Envoy's HTTP ext_authz: the same route table and chain, without
// forwarding, answering 200 with the identity headers or the same refusal as proxy
// mode.
//
// It refuses to: forward a request that failed any stage or matched no route,
// accept tokens from anywhere but the Authorization header, let an unavailable
// dependency (revocation state, certificate status, consent validator) count as a
// pass, or send a validator or an upstream the caller's credentials.
//
// Spec: fapi.md §1 (RS rows), FAPI1-RS-01..06, FAPI2-RS-01..02, OB-05, OB-09;
// pki.md §1.5; RFC 6750 §2.1, §3; RFC 8705 §3; INTERFACE.md (OBIE error shape,
// consent webhook, ext-authz).
package gateway
