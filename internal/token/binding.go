package token

import (
	"crypto/subtle"
	"fmt"
)

// CheckBinding checks that the client certificate of the request is the one the
// token is bound to (RFC 8705 §3: cnf.x5t#S256 equals base64url SHA-256 of the
// certificate's DER; fapi.md FAPI1-RS-02, FAPI2-RS-03). presented is that value for
// the request's certificate (pki.Identity.Thumbprint, or pki.Thumbprint of the leaf).
//
// It returns ErrUnbound if the token has no binding and ErrCertificateMismatch if
// no certificate was presented or it is another one. The comparison is constant
// time.
func CheckBinding(at *AccessToken, presented string) error {
	if at == nil || at.CertThumbprint == "" {
		return ErrUnbound
	}
	if presented == "" {
		return fmt.Errorf("%w: no client certificate", ErrCertificateMismatch)
	}
	if subtle.ConstantTimeCompare([]byte(at.CertThumbprint), []byte(presented)) != 1 {
		return ErrCertificateMismatch
	}
	return nil
}
