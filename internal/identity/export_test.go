package identity

import (
	"time"

	"github.com/pquerna/otp"
)

// Verifications reports how many argon2id verifications e has run.
func (e *Embedded) Verifications() int64 { return e.verifications.Load() }

// TOTPCodeDigits is the RFC 6238 code of secret at time t with the given number of digits.
func TOTPCodeDigits(secret []byte, t time.Time, digits int) (string, error) {
	return totpCode(secret, totpStep(t), otp.Digits(digits))
}

// ParsePHC exposes the PHC parser to the fuzz target.
func ParsePHC(s string) error { _, err := parsePHC(s); return err }

// VerifyPassword checks password against a PHC string.
func VerifyPassword(phc, password string) (bool, error) {
	h, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	return h.verify(password), nil
}

// Seal and Open expose the TOTP secret sealing.
func (k *SecretKey) Seal(id string, secret []byte) (string, error) { return k.seal(id, secret) }
func (k *SecretKey) Open(id, sealed string) ([]byte, error)        { return k.open(id, sealed) }

// AddressBucket exposes the rate-limit bucket of a client address.
var AddressBucket = addressBucket
