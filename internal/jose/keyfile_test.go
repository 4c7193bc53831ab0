package jose

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mode(t testing.TB, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLoadOrGenerate(t *testing.T) {
	clk := fakeClock()
	dir := filepath.Join(t.TempDir(), "keys")
	s1, err := LoadOrGenerate(dir, ES256, KeyStoreOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	keys := s1.Keys()
	if len(keys) != 1 || keys[0].State != StateActive || keys[0].Alg != ES256 {
		t.Fatalf("generated %+v", keys)
	}
	kid := keys[0].KeyID
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("dir mode %v", m)
	}
	for _, f := range []string{ManifestName, kid + ".pem"} {
		if m := mode(t, filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s mode %v", f, m)
		}
	}
	// The key file holds exactly the key with that kid.
	data, _ := os.ReadFile(filepath.Join(dir, kid+".pem"))
	k, err := ParseSigningKeyPEM(data)
	if err != nil || k.KeyID() != kid {
		t.Fatalf("key file: %v", err)
	}

	// Second start: same key, nothing generated.
	s2, err := LoadOrGenerate(dir, ES256, KeyStoreOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s1.Keys(), s2.Keys()); diff != "" {
		t.Errorf("reloaded keys (-first +second):\n%s", diff)
	}
	tok := sign(t, s1, claims)
	if _, err := s2.Verify(tok, atOpts); err != nil {
		t.Errorf("token of first instance on second: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d files, want 2", len(entries))
	}
}

func TestKeyDirPersistsRotation(t *testing.T) {
	clk := fakeClock()
	dir := t.TempDir()
	s, err := LoadOrGenerate(dir, ES256, KeyStoreOptions{Clock: clk, RetireAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	oldKid := s.Keys()[0].KeyID
	before := sign(t, s, claims)
	next := freshES256(t, 3)
	if err := s.Publish(next); err != nil {
		t.Fatal(err)
	}
	if err := s.Rotate(next); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, filepath.Join(dir, next.KeyID()+".pem")); m != 0o600 {
		t.Errorf("new key file mode %v", m)
	}

	// A restart sees the same states and retirement time.
	re, err := LoadKeyDir(dir, KeyStoreOptions{Clock: clk, RetireAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyInfo{
		{KeyID: next.KeyID(), Alg: ES256, State: StateActive, Created: t0},
		{KeyID: oldKid, Alg: ES256, State: StateRetired, Created: t0, RetireAt: t0.Add(time.Hour)},
	}
	if diff := cmp.Diff(want, re.Keys(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Fatalf("reloaded (-want +got):\n%s", diff)
	}
	if _, err := re.Verify(before, atOpts); err != nil {
		t.Fatalf("pre-rotation token after restart: %v", err)
	}

	// Past retirement: a restart skips the key and deletes its file on its first save.
	clk.Advance(time.Hour)
	after, err := LoadKeyDir(dir, KeyStoreOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Keys()) != 1 {
		t.Fatalf("restart loaded %d keys", len(after.Keys()))
	}
	if _, err := after.Prune(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, oldKid+".pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("retired key file kept after restart and save: %v", err)
	}
	if m, err := readManifest(dir); err != nil || len(m.Keys) != 1 || m.Keys[0].KeyID != next.KeyID() {
		t.Fatalf("manifest after pruning: %+v, %v", m, err)
	}
}

func TestKeyDirPruneDeletesFile(t *testing.T) {
	clk := fakeClock()
	dir := t.TempDir()
	s, err := LoadOrGenerate(dir, ES256, KeyStoreOptions{Clock: clk, RetireAfter: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	oldKid := s.Keys()[0].KeyID
	if err := s.Rotate(freshES256(t, 2)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if dropped, err := s.Prune(); err != nil || len(dropped) != 1 || dropped[0] != oldKid {
		t.Fatalf("Prune = %v, %v", dropped, err)
	}
	if _, err := os.Stat(filepath.Join(dir, oldKid+".pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pruned key file still present: %v", err)
	}
}

func TestLoadKeyDir(t *testing.T) {
	pemOf := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	es := testKey(t, "es256.pem")
	jwkFile, _ := json.Marshal(privateJWK(t, rawPrivate(t, "ps256.pem")))
	manifestOf := func(keys ...manifestKey) []byte { b, _ := json.Marshal(manifest{Keys: keys}); return b }

	tests := []struct {
		name    string
		files   map[string][]byte
		wantN   int
		wantErr []error // each must match
	}{
		{"single PEM, no manifest", map[string][]byte{"server.pem": pemOf("es256.pem")}, 1, nil},
		{"single JWK, no manifest", map[string][]byte{"server.jwk": jwkFile}, 1, nil},
		{"manifest with two algs", map[string][]byte{
			"a.pem": pemOf("es256.pem"), "b.jwk": jwkFile,
			ManifestName: manifestOf(manifestKey{File: "a.pem", State: StateActive, KeyID: es.KeyID(), Alg: ES256}, manifestKey{File: "b.jwk", State: StateActive}),
		}, 2, nil},
		{"empty dir", map[string][]byte{}, 0, []error{ErrKeyConfig, fs.ErrNotExist}},
		{"two files, no manifest", map[string][]byte{"a.pem": pemOf("es256.pem"), "b.pem": pemOf("es256-next.pem")}, 0, []error{ErrKeyConfig}},
		{"weak key", map[string][]byte{"a.pem": pemOf("rsa1024.pem")}, 0, []error{ErrKeyConfig, ErrWeakKey}},
		{"P-384 key", map[string][]byte{"a.pem": pemOf("p384.pem")}, 0, []error{ErrKeyConfig, ErrAlgNotAllowed}},
		{"public key only", map[string][]byte{"a.jwk": mustJSON(t, publicJWKMap(t, es.Public().Public(), nil))}, 0, []error{ErrKeyConfig, ErrMalformed}},
		{"kid mismatch", map[string][]byte{"a.pem": pemOf("es256.pem"), ManifestName: manifestOf(manifestKey{File: "a.pem", State: StateActive, KeyID: "other"})}, 0, []error{ErrKeyConfig}},
		{"alg mismatch", map[string][]byte{"a.pem": pemOf("es256.pem"), ManifestName: manifestOf(manifestKey{File: "a.pem", State: StateActive, Alg: PS256})}, 0, []error{ErrKeyConfig}},
		{"path outside dir", map[string][]byte{ManifestName: manifestOf(manifestKey{File: "../a.pem", State: StateActive})}, 0, []error{ErrKeyConfig}},
		{"no active key", map[string][]byte{"a.pem": pemOf("es256.pem"), ManifestName: manifestOf(manifestKey{File: "a.pem", State: StateNext})}, 0, []error{ErrKeyConfig}},
		{"retired without time", map[string][]byte{"a.pem": pemOf("es256.pem"), "b.pem": pemOf("es256-next.pem"), ManifestName: manifestOf(manifestKey{File: "a.pem", State: StateActive}, manifestKey{File: "b.pem", State: StateRetired})}, 0, []error{ErrKeyConfig}},
		{"unknown manifest field", map[string][]byte{"a.pem": pemOf("es256.pem"), ManifestName: []byte(`{"keys":[{"file":"a.pem","state":"active","secret":1}]}`)}, 0, []error{ErrKeyConfig}},
		{"SEC1 PEM", map[string][]byte{"a.pem": []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")}, 0, []error{ErrKeyConfig, ErrMalformed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := LoadKeyDir(dir, KeyStoreOptions{Clock: fakeClock()})
			if tc.wantErr != nil {
				for _, want := range tc.wantErr {
					if !errors.Is(err, want) {
						t.Fatalf("err = %v, want %v", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Keys()) != tc.wantN {
				t.Fatalf("%d keys", len(s.Keys()))
			}
		})
	}
}
