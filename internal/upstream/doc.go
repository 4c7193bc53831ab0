// Package upstream forwards requests that passed the gateway's checks to the bank's
// APIs, and tells the bank who is calling. It owns the trust boundary between
// Portcullis and the upstream: what crosses it, and how.
//
//   - [Proxy] is an [httputil.ReverseProxy] driven by Rewrite (never Director,
//     which lets inbound X-Forwarded-* through: STYLE.md "Security traps"). Before
//     the identity is added, it removes from the outbound request the hop-by-hop
//     headers, Authorization and Proxy-Authorization (the bank receives the
//     identity, not the TPP's bearer token; [Options].PassAuthorization turns that
//     off for upstreams that insist on seeing it), and every header whose name is
//     reserved in any spelling ([ReservedHeader]: compared with "_" read as "-"
//     and case folded, as CGI/WSGI servers do, so X_Portcullis_Psu_Id counts):
//     Forwarded and X-Forwarded-*, every X-Portcullis-* header, every
//     forwarded-certificate header (X-Forwarded-Client-Cert, X-SSL-Client-Cert,
//     Client-Cert, …), common identity headers of other gateways (X-Client-Id,
//     X-Consumer-*, X-User-Id, X-Remote-User, …), the method overrides
//     (X-HTTP-Method-Override, X-Method-Override, X-HTTP-Method), plus any
//     configured ones. Protocol upgrades are refused.
//   - [Identifier] writes the [Identity] onto the request: X-Portcullis-* headers,
//     or one short-lived JWT signed by Portcullis in X-Portcullis-Identity
//     ([IdentityJWT]), and x-fapi-interaction-id. The external authorizer uses the
//     same Identifier for its allow answers, so both modes hand the same identity.
//   - X-Forwarded-For is the TCP peer of Portcullis (the TPP, or the load balancer
//     in front of Portcullis), set by [httputil.ProxyRequest.SetXForwarded];
//     X-Forwarded-Host and -Proto are the configured public URL ([Options].PublicURL)
//     and are not sent without one: the request's Host, absolute-form target or
//     HTTP/2 :authority is the caller's choice and never becomes them. Inbound
//     values are discarded, never appended to.
//   - [NewTransport] is the shared connection pool: kept-alive HTTP/1.1
//     connections (MaxIdleConnsPerHost; HTTP/2 to https upstreams on request),
//     dial, TLS-handshake and response-header timeouts, no proxy from the
//     environment, bodies passed through without re-compression.
//     Each forward is also bounded by its route's timeout ([Target].Timeout),
//     which covers the whole exchange, body streaming included.
//   - Failures are typed for the gateway's one error renderer: [ErrUnavailable]
//     (dial, TLS, reset, bad answer: 502), [ErrTimeout] (504), [ErrCanceled] (the
//     caller went away).
//
// Bodies are streamed both ways (the default flush behaviour of ReverseProxy).
// It refuses to: forward without an identity, forward protocol upgrades or 101
// answers, pass the caller's x-fapi-interaction-id unchecked (the gateway's value
// replaces it), or read proxy settings from the environment.
//
// Spec: fapi.md FAPI1-RS-04 (interaction id), DESIGN.md "gateway", STYLE.md
// "Security traps already known" (Rewrite, not Director).
package upstream
