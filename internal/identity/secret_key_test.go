package identity_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/identity"
)

func TestSecretKeySealOpen(t *testing.T) {
	k, err := identity.NewSecretKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := identity.NewSecretKey(bytes.Repeat([]byte{2}, 32))
	secret := []byte("12345678901234567890")
	sealed, err := k.Seal("alice", secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "GEZDGNBV") || !strings.HasPrefix(sealed, "v1.") {
		t.Fatalf("sealed form %q", sealed)
	}
	got, err := k.Open("alice", sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := k.Seal("alice", secret)
	if again == sealed {
		t.Fatal("two seals of one secret are equal: nonce reused")
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-2] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other customer": func() ([]byte, error) { return k.Open("bob", sealed) },
		"other key":      func() ([]byte, error) { return other.Open("alice", sealed) },
		"tampered":       func() ([]byte, error) { return k.Open("alice", string(tampered)) },
		"no prefix":      func() ([]byte, error) { return k.Open("alice", sealed[3:]) },
		"short":          func() ([]byte, error) { return k.Open("alice", "v1.AAAA") },
		"empty":          func() ([]byte, error) { return k.Open("alice", "") },
	} {
		if got, err := open(); err == nil {
			t.Errorf("%s: Open = %q, want an error", name, got)
		}
	}
	if _, err := identity.NewSecretKey(make([]byte, 16)); err == nil {
		t.Error("NewSecretKey accepted a 16-byte key")
	}
}

func TestLoadOrCreateSecretKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", identity.SecretKeyFile)
	if _, err := identity.LoadSecretKey(path); err == nil {
		t.Fatal("LoadSecretKey of a missing file succeeded")
	}
	// Concurrent first starts agree on one key.
	keys := make([]*identity.SecretKey, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := identity.LoadOrCreateSecretKey(path)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	sealed, err := keys[0].Seal("alice", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if _, err := k.Open("alice", sealed); err != nil {
			t.Fatalf("key %d differs from key 0: %v", i, err)
		}
	}
	reloaded, err := identity.LoadSecretKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reloaded.Open("alice", sealed); err != nil {
		t.Fatalf("reloaded key differs: %v", err)
	}
	if err := os.WriteFile(path, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.LoadOrCreateSecretKey(path); err == nil {
		t.Fatal("LoadOrCreateSecretKey accepted a corrupt file (and must not replace it)")
	}
}

// cryptoRand reads from crypto/rand.
type cryptoRand struct{}

func (cryptoRand) Read(p []byte) (int, error) { return rand.Read(p) }
