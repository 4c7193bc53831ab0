package token

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"testing"
)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := NewSecret(DefaultSecretBytes)
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != DefaultSecretBytes || len(s) != 43 {
			t.Fatalf("secret %q: %v", s, err)
		}
		if seen[s] {
			t.Fatal("repeated secret")
		}
		seen[s] = true
	}
	if s, err := NewSecret(MinSecretBytes); err != nil || len(s) != 22 {
		t.Fatalf("128-bit secret %q: %v", s, err)
	}
	if _, err := NewSecret(MinSecretBytes - 1); !errors.Is(err, ErrInvalidClaims) {
		t.Fatalf("120-bit secret: err = %v, want ErrInvalidClaims", err)
	}
	// Deterministic reader: exactly its bytes.
	s, err := NewSecretFrom(bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)), 16)
	if err != nil || s != "_____________________w" {
		t.Fatalf("NewSecretFrom = %q, %v", s, err)
	}
	if _, err := NewSecretFrom(bytes.NewReader(make([]byte, 8)), 16); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short read: err = %v", err)
	}
}
