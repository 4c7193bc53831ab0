package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/internal/secretfile"
)

// Subject secret bounds and file.
const (
	// SubjectSecretBytes is the size of a generated subject secret: 256 bits.
	SubjectSecretBytes = 32
	// MinSubjectSecretBytes is the least a subject secret may hold (HMAC-SHA256's block of
	// security: 256 bits).
	MinSubjectSecretBytes = 32
	// SubjectSecretFile is the subject secret's file in the key directory, next to the
	// signing keys (its name has none of the extensions package jose reads as a key).
	SubjectSecretFile    = "subject.secret"
	maxSubjectSecretFile = 1 << 10
)

// Subjects derives the subject identifiers ("sub") of customers (OpenID Connect Core 1.0 §8)
// from the bank's internal customer ids, so that no token, and nothing else a TPP can read,
// carries a customer id: a subject is base64url(HMAC-SHA256(secret, input)), 43 characters,
// from which the customer id cannot be recovered without the secret, and which is stable for
// as long as the secret is (the secret is persisted: [LoadSubjects]).
//
//   - [Subjects.Public] is the public subject type (§8): the same sub for every client.
//   - [Subjects.Pairwise] is the pairwise type (§8.1): a different sub per sector identifier,
//     so that clients of different sectors cannot correlate a customer.
//
// The two are domain-separated and their input is length-prefixed, so no public subject
// equals a pairwise one and no (sector, customer) pair collides with another. Safe for
// concurrent use.
type Subjects struct{ key []byte }

// NewSubjects returns the Subjects keyed by secret (at least [MinSubjectSecretBytes]). The
// caller keeps secret secret: anyone holding it can test a guessed customer id against a sub.
func NewSubjects(secret []byte) (*Subjects, error) {
	if len(secret) < MinSubjectSecretBytes {
		return nil, fmt.Errorf("%w: subject secret of %d bytes (minimum %d)", ErrInvalidClaims, len(secret), MinSubjectSecretBytes)
	}
	return &Subjects{key: append([]byte(nil), secret...)}, nil
}

// newRandomSubjects returns Subjects under a fresh secret read from r.
func newRandomSubjects(r io.Reader) (*Subjects, error) {
	b := make([]byte, SubjectSecretBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("token: reading randomness: %w", err)
	}
	return &Subjects{key: b}, nil
}

// Public returns the public subject identifier of customer userID (OIDC Core §8).
func (s *Subjects) Public(userID string) string { return s.derive("public", "", userID) }

// Pairwise returns the pairwise subject identifier of customer userID for sector, the host of
// the client's sector_identifier_uri or redirect_uri (OIDC Core §8.1).
func (s *Subjects) Pairwise(sector, userID string) string {
	return s.derive("pairwise", sector, userID)
}

func (s *Subjects) derive(kind, sector, userID string) string {
	m := hmac.New(sha256.New, s.key)
	for _, part := range []string{"portcullis-sub-v1", kind, sector, userID} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		m.Write(n[:])
		m.Write([]byte(part))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// LogValue implements slog.LogValuer: the secret never reaches a log.
func (s *Subjects) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// LoadSubjects returns the Subjects keyed by the secret in dir/[SubjectSecretFile] (base64url
// of at least [MinSubjectSecretBytes] bytes, one line), generating and persisting one (file
// mode 0600, dir created 0700) if the file does not exist yet — on first start, like the
// signing keys. Two processes starting at once on the same dir end up with the same secret.
// Every node of a deployment must see the same file (it lives with the signing keys, which
// must be shared anyway): a different secret gives every customer different subjects.
func LoadSubjects(dir string) (*Subjects, error) {
	path := filepath.Join(dir, SubjectSecretFile)
	s, err := readSubjects(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token: creating the subject secret's directory: %w", err)
	}
	b := make([]byte, SubjectSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("token: reading randomness: %w", err)
	}
	// The first writer's complete file wins: another process creating it at once reads
	// the same secret.
	if _, err := secretfile.CreateOnce(path, []byte(base64.RawURLEncoding.EncodeToString(b)+"\n")); err != nil {
		return nil, fmt.Errorf("token: writing the subject secret: %w", err)
	}
	return readSubjects(path)
}

func readSubjects(path string) (*Subjects, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSubjectSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("token: reading %s: %w", path, err)
	}
	if len(data) > maxSubjectSecretFile {
		return nil, fmt.Errorf("token: %s is larger than %d bytes", path, maxSubjectSecretFile)
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("token: %s is not one line of unpadded base64url", path)
	}
	s, err := NewSubjects(secret)
	if err != nil {
		return nil, fmt.Errorf("token: %s: %w", path, err)
	}
	return s, nil
}
