package keys_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/keys"
)

// FuzzOpenSealed: whatever a database row holds, opening it never panics and fails with
// ErrKEK unless it is a key this KEK sealed for that very kid.
func FuzzOpenSealed(f *testing.F) {
	kek, err := keys.NewKEK(bytes.Repeat([]byte{7}, keys.KEKSize))
	if err != nil {
		f.Fatal(err)
	}
	v := &keys.KEKVault{Current: kek}
	k, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		f.Fatal(err)
	}
	s, err := v.Seal(k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.KeyID(), s.PrivateKey)
	f.Add(k.KeyID(), "v1.")
	f.Add("x", "v1.AAAA")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, kid, sealed string) {
		got, err := v.Open(kid, jose.ES256, keys.Sealed{KEKID: kek.ID(), PrivateKey: sealed})
		if err == nil {
			// (The fuzzing workers each generate their own k: only the binding to kid holds.)
			if got.KeyID() != kid {
				t.Fatalf("opened %s for kid %q", got, kid)
			}
			return
		}
		if !errors.Is(err, keys.ErrKEK) {
			t.Fatalf("Open = %v, want ErrKEK", err)
		}
	})
}
