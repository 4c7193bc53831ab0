package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/portcullis/portcullis/internal/secretfile"
)

// KEKSize is the length of a key-encryption key: AES-256.
const KEKSize = 32

// DevKEKFile is the name, under the data directory, of the key-encryption key a dev-mode
// server generates when keys.kek is not set. Production configures keys.kek instead.
const DevKEKFile = "signing-keys.kek"

// sealedPrefix marks the version of the sealed form: "v1." + base64url(nonce ‖ ciphertext).
const sealedPrefix = "v1."

// KEK is a key-encryption key: it seals signing keys at rest with AES-256-GCM, bound (as
// additional data) to the key's kid and algorithm, so a sealed key moved to another row does
// not open. It is never written to the database; its [KEK.ID] is. Its LogValue is redacted.
type KEK struct {
	id   string
	aead cipher.AEAD
}

// NewKEK returns the KEK whose 32 bytes are key.
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != KEKSize {
		return nil, fmt.Errorf("%w: must be %d bytes, not %d", ErrKEK, KEKSize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("portcullis signing-key KEK id\x00"), key...))
	return &KEK{id: "kek-" + hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// ParseKEK decodes a KEK from base64 (standard or URL alphabet, padded or not) of 32 bytes,
// the form of keys.kek and PORTCULLIS_KEYS_KEK (`openssl rand -base64 32`).
func ParseKEK(s string) (*KEK, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	if len(s) > 64 {
		return nil, fmt.Errorf("%w: not base64 of %d bytes", ErrKEK, KEKSize)
	}
	key, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 of %d bytes", ErrKEK, KEKSize)
	}
	return NewKEK(key)
}

// ID names the KEK without revealing it: "kek-" and 16 hex digits of a hash of it.
func (k *KEK) ID() string { return k.id }

// LogValue implements slog.LogValuer: the id only.
func (k *KEK) LogValue() slog.Value { return slog.StringValue(k.id) }

func aad(kid, alg string) []byte { return []byte("portcullis signing key v1\x00" + kid + "\x00" + alg) }

// seal encrypts plaintext (a PKCS#8 private key) for the key kid of alg.
func (k *KEK) seal(kid, alg string, plaintext []byte) (string, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := k.aead.Seal(nonce, nonce, plaintext, aad(kid, alg))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// open reverses seal.
func (k *KEK) open(kid, alg, sealed string) ([]byte, error) {
	b64, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, errors.New("unknown sealed form")
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, errors.New("malformed sealed key")
	}
	n := k.aead.NonceSize()
	return k.aead.Open(nil, raw[:n], raw[n:], aad(kid, alg))
}

// LoadOrCreateDevKEK reads the KEK file at path (base64 of 32 bytes), creating it with a fresh
// random KEK (mode 0600, its directory 0700) when it does not exist. For dev mode only: a
// production KEK comes from keys.kek. Two processes creating it at once end up with the same
// KEK (secretfile.CreateOnce: the first writer's file wins, complete).
func LoadOrCreateDevKEK(path string) (*KEK, error) {
	k, err := loadKEKFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	key := make([]byte, KEKSize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	data, err := secretfile.CreateOnce(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"))
	if err != nil {
		return nil, fmt.Errorf("keys: dev KEK: %w", err)
	}
	k, err = ParseKEK(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func loadKEKFile(path string) (*KEK, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return nil, fmt.Errorf("keys: dev KEK: %w", err)
	}
	k, err := ParseKEK(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
