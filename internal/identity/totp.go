package identity

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (RFC 6238): what authenticator apps assume when an otpauth:// URI does not
// say otherwise, and what INTERFACE.md promises the pages' `otp` field takes.
const (
	// TOTPPeriod is the time step X (RFC 6238 §4.1).
	TOTPPeriod = 30 * time.Second
	// TOTPDigits is the code length.
	TOTPDigits = 6
	// TOTPSkew is how many steps before and after the current one are accepted
	// (RFC 6238 §5.2 recommends at most one).
	TOTPSkew = 1
	// TOTPSecretSize is the length of a generated key: 160 bits, RFC 4226 §4 R6's
	// recommendation and the HMAC-SHA-1 output size.
	TOTPSecretSize = 20
	// minTOTPSecretSize is the shortest key accepted from an operator (RFC 4226 §4 R6: 128 bits).
	minTOTPSecretSize = 16
	// maxTOTPSecretSize bounds an operator-supplied key (SHA-1's block size).
	maxTOTPSecretSize = 64
)

// TOTPIssuer is the issuer named in the otpauth:// URIs of new customers.
const TOTPIssuer = "Portcullis"

// totpStep is the RFC 6238 time step T of t: floor((t − T0) / X) with T0 = 0.
func totpStep(t time.Time) int64 {
	s := t.Unix()
	step := s / int64(TOTPPeriod/time.Second)
	if s < 0 && s%int64(TOTPPeriod/time.Second) != 0 {
		step--
	}
	return step
}

// totpCode is the HOTP value (RFC 4226 §5.3) of secret for counter step with the given number
// of digits, HMAC-SHA-1: the TOTP of RFC 6238 for that step.
func totpCode(secret []byte, step int64, digits otp.Digits) (string, error) {
	if step < 0 {
		return "", errors.New("identity: negative TOTP step")
	}
	return hotp.GenerateCodeCustom(base32.StdEncoding.EncodeToString(secret), uint64(step),
		hotp.ValidateOpts{Digits: digits, Algorithm: otp.AlgorithmSHA1})
}

// TOTPCode returns the 6-digit RFC 6238 code of secret at time at, as an authenticator app
// shows it (for tests and tools that play the customer).
func TOTPCode(secret []byte, at time.Time) (string, error) {
	return totpCode(secret, totpStep(at), otp.DigitsSix)
}

// matchTOTP returns the step, among the current one at now and [TOTPSkew] either side, whose
// 6-digit code is code. Every candidate is computed and compared in constant time, so the
// time taken does not depend on which one (if any) matched. ok is false when none does.
func matchTOTP(secret []byte, code string, now time.Time) (step int64, ok bool, err error) {
	if !validOTPFormat(code) {
		return 0, false, nil
	}
	cur := totpStep(now)
	found := 0
	for s := cur - TOTPSkew; s <= cur+TOTPSkew; s++ {
		want, err := totpCode(secret, s, otp.DigitsSix)
		if err != nil {
			return 0, false, err
		}
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		// Keep the latest matching step (replay protection moves forward from it).
		step = int64(subtle.ConstantTimeSelect(eq, int(s), int(step)))
		found |= eq
	}
	return step, found == 1, nil
}

// validOTPFormat reports whether code is exactly [TOTPDigits] ASCII digits.
func validOTPFormat(code string) bool {
	if len(code) != TOTPDigits {
		return false
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// NewTOTPSecret returns a fresh [TOTPSecretSize]-byte TOTP key read from random.
func NewTOTPSecret(random io.Reader) ([]byte, error) {
	b := make([]byte, TOTPSecretSize)
	if _, err := io.ReadFull(random, b); err != nil {
		return nil, fmt.Errorf("identity: TOTP secret: %w", err)
	}
	return b, nil
}

// EncodeTOTPSecret returns secret in the base32 form authenticator apps take (RFC 4648,
// upper case, no padding).
func EncodeTOTPSecret(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}

// ParseTOTPSecret decodes an operator-supplied base32 TOTP key: case-insensitive, spaces and
// padding optional. It returns an [*InvalidCustomerError] for anything that is not base32 of
// 16 to 64 bytes.
func ParseTOTPSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimRight(strings.TrimSpace(s), "="), " ", ""))
	if len(s) > 2*maxTOTPSecretSize {
		return nil, &InvalidCustomerError{Field: "totp-secret", Reason: "is too long"}
	}
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, &InvalidCustomerError{Field: "totp-secret", Reason: "is not base32 (RFC 4648)"}
	}
	if len(b) < minTOTPSecretSize || len(b) > maxTOTPSecretSize {
		return nil, &InvalidCustomerError{Field: "totp-secret",
			Reason: fmt.Sprintf("must decode to %d to %d bytes, not %d", minTOTPSecretSize, maxTOTPSecretSize, len(b))}
	}
	return b, nil
}

// TOTPURI returns the otpauth:// URI (the Key URI Format of authenticator apps, shown as a QR
// code) of secret for the customer account, issued by [TOTPIssuer]: SHA1, 6 digits, 30 s.
func TOTPURI(account string, secret []byte) (string, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: TOTPIssuer, AccountName: account, Secret: secret,
		Period: uint(TOTPPeriod / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("identity: otpauth URI: %w", err)
	}
	return key.URL(), nil
}
