package authz

import "net/http"

// jwksMaxAge is the Cache-Control max-age of the JWK Set. Key rotation publishes a new key
// (jose.KeyStore.Publish) well before it signs, so relying parties that cache for this long
// always know the signing key.
const jwksMaxAge = "300"

// handleJWKS serves the server's public signing keys (RFC 7517 §5; FAPI1-AS-08: over TLS,
// every key with a kid): next, active and not yet expired retired keys, as package jose
// renders them. It needs no client certificate.
func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age="+jwksMaxAge)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.keys.JWKS())
	return nil
}
