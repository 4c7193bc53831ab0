// Package mtls answers one question for every request on the https listener: which
// certificate chain did the caller present, and is it good?
//
// It owns three things:
//
//   - the [tls.Config] of the mTLS listener ([ServerTLSConfig]): TLS 1.2 and 1.3 only, the
//     FAPI / BCP 195 TLS 1.2 cipher suites only (FAPI1-AS-70, FAPI2-AS-40), a client
//     certificate requested in every full handshake;
//   - where the caller's chain comes from ([Extractor]): either the TLS handshake with
//     Portcullis itself, or a header set by a load balancer that terminated mTLS in front of
//     it ([ParseForwardedCert]: URL-encoded PEM, base64 DER, Envoy X-Forwarded-Client-Cert).
//     The header is honoured only from configured proxy addresses; on every other request
//     it is deleted before any handler sees it, and the attempt is logged and counted;
//   - handing the validated result to handlers ([ClientIdentity], [From], [Require]).
//
// It refuses to decide whether a certificate is good: that is package pki's job
// (chain building against the configured trust anchors, validity, eIDAS/PSD2 profile,
// revocation; pki.md §1, §2). This package calls a [Validator] for
// [pki.PurposeTransport] and passes its [pki.Identity] or its typed error through
// unchanged. In header mode the load balancer's own verification is not relied upon:
// Portcullis validates the forwarded chain itself, exactly as it validates a handshake
// chain.
//
// Validation is per request, not per connection. The listener uses
// [tls.RequestClientCert], so the handshake never fails because of the client certificate;
// the chain is validated when a handler first asks for it (memoised for the rest of the
// request). This has two consequences that are deliberate (pki.md §2.4, STYLE.md
// "Security traps already known"):
//
//   - a bad, expired or revoked certificate gets a protocol error body (RFC 6749
//     invalid_client, or the OBIE error shape) from the route that needed it, instead of a
//     bare TLS alert, and endpoints that need no certificate (discovery, JWKS, health) work
//     for every caller;
//   - resumed TLS sessions are safe: [tls.Config.VerifyPeerCertificate] is not called on
//     resumption, but the certificate restored from the session ticket is validated again
//     on every request, so a certificate revoked after the first handshake is refused on
//     the next request over a resumed (or kept-alive) connection.
//
// Handlers that need a certificate must ask: the absence of an error from [ClientIdentity]
// is the only proof of a good certificate. [Extractor.Middleware] must be the outermost
// handler of the listener, so that a forged forwarded-certificate header is gone before
// any other middleware (logging included) reads it, and r.RemoteAddr must be the TCP peer
// (no "real IP" rewriting before it).
package mtls
