package token

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
)

// Credential entropy (fapi.md FAPI1-AS-54, FAPI2-AS-42: ≥ 128 bits).
const (
	// MinSecretBytes is the least randomness NewSecret accepts: 128 bits.
	MinSecretBytes = 16
	// DefaultSecretBytes suits authorization codes, request_uris and refresh
	// tokens: 256 bits, 43 characters.
	DefaultSecretBytes = 32
	jtiBytes           = 24 // 192 bits, 32 characters
	// maxIDClaimLen bounds the identifiers Issue accepts (the store's key bound).
	maxIDClaimLen = 512
)

// NewSecret returns n bytes from crypto/rand as unpadded base64url: a
// non-guessable credential (authorization code, request_uri suffix, refresh
// token, jti). n below MinSecretBytes is refused with ErrInvalidClaims.
func NewSecret(n int) (string, error) { return NewSecretFrom(rand.Reader, n) }

// NewSecretFrom is NewSecret reading from r (tests inject a deterministic
// reader; production passes crypto/rand.Reader). A short read is an error.
func NewSecretFrom(r io.Reader, n int) (string, error) {
	if n < MinSecretBytes {
		return "", fmt.Errorf("%w: secret of %d bytes (minimum %d)", ErrInvalidClaims, n, MinSecretBytes)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("token: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
