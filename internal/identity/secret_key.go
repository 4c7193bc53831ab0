package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/portcullis/portcullis/internal/secretfile"
)

// SecretKeyFile is the name, under the data directory, of the file holding the [SecretKey]
// that seals customers' TOTP keys. Every node sharing one database must hold the same file
// (like the signing keys); `portcullis user add` and a dev-mode server create it when missing.
const SecretKeyFile = "customer-secrets.key"

// sealedPrefix marks the version of the sealed form: "v1." + base64url(nonce ‖ ciphertext).
const sealedPrefix = "v1."

// errSealed is returned when a sealed secret does not open: wrong key, wrong customer,
// or corrupt. It is never a customer's mistake: the caller fails closed.
var errSealed = errors.New("identity: sealed TOTP secret does not open (wrong data-dir key or corrupt row)")

// SecretKey seals customers' TOTP keys at rest with AES-256-GCM, bound to the customer id
// (as additional data), so a copy of the database alone does not yield them and a sealed
// value moved to another customer's row does not open. Its LogValue is redacted.
type SecretKey struct {
	aead cipher.AEAD
}

// NewSecretKey returns a SecretKey using the 32-byte AES-256 key key.
func NewSecretKey(key []byte) (*SecretKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("identity: secret key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretKey{aead: aead}, nil
}

// LogValue implements slog.LogValuer: the key is never logged.
func (*SecretKey) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// LoadOrCreateSecretKey reads the key file at path (64 hex digits), creating it with a fresh
// random key (mode 0600, its directory 0700) when it does not exist. Two processes creating
// it at once end up with the same key: the file is created exclusively, and the loser reads
// the winner's.
func LoadOrCreateSecretKey(path string) (*SecretKey, error) {
	k, err := LoadSecretKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	// The first writer's complete file wins; concurrent first starts read the same key.
	if _, err := secretfile.CreateOnce(path, []byte(hex.EncodeToString(key)+"\n")); err != nil {
		return nil, fmt.Errorf("identity: secret key: %w", err)
	}
	return LoadSecretKey(path)
}

// LoadSecretKey reads the key file at path (64 hex digits, surrounding white space ignored).
// A missing file is an error wrapping fs.ErrNotExist.
func LoadSecretKey(path string) (*SecretKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: secret key: %w", err)
	}
	if len(data) > 256 {
		return nil, fmt.Errorf("identity: secret key file %s is not 64 hex digits", path)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("identity: secret key file %s is not 64 hex digits", path)
	}
	return NewSecretKey(key)
}

// additionalData binds a sealed secret to its customer.
func additionalData(customerID string) []byte {
	return []byte("portcullis customer totp secret\x00" + customerID)
}

// seal encrypts secret for customerID with a random nonce.
func (k *SecretKey) seal(customerID string, secret []byte) (string, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(secret)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := k.aead.Seal(nonce, nonce, secret, additionalData(customerID))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// open decrypts what seal returned for the same customerID, or returns errSealed.
func (k *SecretKey) open(customerID, sealed string) ([]byte, error) {
	b64, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, errSealed
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, errSealed
	}
	n := k.aead.NonceSize()
	secret, err := k.aead.Open(nil, raw[:n], raw[n:], additionalData(customerID))
	if err != nil {
		return nil, errSealed
	}
	return secret, nil
}
