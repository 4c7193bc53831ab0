package jose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func newStore(t testing.TB, opts KeyStoreOptions, keys ...*SigningKey) *KeyStore {
	t.Helper()
	s, err := NewKeyStore(opts, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t testing.TB, s *KeyStore, claims string) string {
	t.Helper()
	tok, err := s.Sign([]byte(claims), "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var atOpts = VerifyOptions{Profile: FAPI2, Types: []string{"at+jwt"}}

func TestKeyStoreSignVerify(t *testing.T) {
	for _, name := range []string{"es256.pem", "ps256.pem", "eddsa.pem"} {
		t.Run(name, func(t *testing.T) {
			k := testKey(t, name)
			s := newStore(t, KeyStoreOptions{Clock: fakeClock()}, k)
			tok := sign(t, s, claims)
			v, err := s.Verify(tok, atOpts)
			if err != nil {
				t.Fatal(err)
			}
			if string(v.Payload) != claims {
				t.Errorf("payload %s", v.Payload)
			}
			want := Header{Alg: k.Alg(), KeyID: k.KeyID(), Typ: "at+jwt"}
			got := Header{Alg: v.Header.Alg, KeyID: v.Header.KeyID, Typ: v.Header.Typ}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			// The header carries exactly alg, kid, typ.
			var hdr map[string]any
			if err := json.Unmarshal(v.Header.Raw, &hdr); err != nil || len(hdr) != 3 {
				t.Errorf("header %s", v.Header.Raw)
			}
			// Also verifiable as a generic JWT with the store as resolver.
			if _, err := VerifyJWT(context.Background(), tok, s, atOpts); err != nil {
				t.Errorf("VerifyJWT: %v", err)
			}
		})
	}
}

func TestKeyStoreVerifyRejects(t *testing.T) {
	s := newStore(t, KeyStoreOptions{Clock: fakeClock()}, testKey(t, "es256.pem"))
	other := newStore(t, KeyStoreOptions{Clock: fakeClock()}, freshES256(t, 0))
	es := testKey(t, "es256.pem")
	kid := es.KeyID()
	priv := rawPrivate(t, "es256.pem")
	pubJWK, _ := publicJWK(es.Public())
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"another issuer's key", sign(t, other, claims), ErrUnknownKey},
		{"no kid", craft(`{"alg":"ES256","typ":"at+jwt"}`, claims, signWith(t, "ES256", priv)), ErrUnknownKey},
		{"alg none", craft(`{"alg":"none","kid":"`+kid+`","typ":"at+jwt"}`, claims, nil), ErrAlgNotAllowed},
		{"HS256 keyed with our public JWK", craft(`{"alg":"HS256","kid":"`+kid+`","typ":"at+jwt"}`, claims, signWith(t, "HS256", []byte(pubJWK))), ErrAlgNotAllowed},
		{"wrong typ", craft(`{"alg":"ES256","kid":"`+kid+`","typ":"JWT"}`, claims, signWith(t, "ES256", priv)), ErrWrongType},
		{"our kid, other alg", craft(`{"alg":"EdDSA","kid":"`+kid+`","typ":"at+jwt"}`, claims, signWith(t, "EdDSA", rawPrivate(t, "eddsa.pem"))), ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Verify(tc.token, atOpts); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestKeyStoreSignRejects(t *testing.T) {
	s := newStore(t, KeyStoreOptions{Clock: fakeClock()}, testKey(t, "es256.pem"))
	if _, err := s.Sign([]byte(`[1]`), "JWT"); !errors.Is(err, ErrMalformed) {
		t.Errorf("array payload: %v", err)
	}
	if _, err := s.Sign([]byte(`{"a":`), "JWT"); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad JSON: %v", err)
	}
	if _, err := s.Sign([]byte(`{}`), `a"b`); !errors.Is(err, ErrMalformed) {
		t.Errorf("typ with a quote: %v", err)
	}
	if _, err := s.SignWith(PS256, []byte(`{}`), "JWT"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("no PS256 key: %v", err)
	}
	if _, err := s.SignWith("HS256", []byte(`{}`), "JWT"); !errors.Is(err, ErrAlgNotAllowed) {
		t.Errorf("HS256: %v", err)
	}
}

func TestNewKeyStoreRejects(t *testing.T) {
	if _, err := NewKeyStore(KeyStoreOptions{}); !errors.Is(err, ErrKeyConfig) {
		t.Errorf("store without keys: %v", err)
	}
	if _, err := NewKeyStore(KeyStoreOptions{}, freshES256(t, 0), freshES256(t, 1)); !errors.Is(err, ErrKeyConfig) {
		t.Errorf("two active ES256 keys: %v", err)
	}
	if _, err := NewKeyStore(KeyStoreOptions{SigningAlg: PS256}, freshES256(t, 0)); !errors.Is(err, ErrKeyConfig) {
		t.Errorf("SigningAlg without a key: %v", err)
	}
	if _, err := NewSigningKey(rawPrivate(t, "rsa1024.pem")); !errors.Is(err, ErrWeakKey) {
		t.Errorf("RSA-1024: %v", err)
	}
	if _, err := NewSigningKey(rawPrivate(t, "p384.pem")); !errors.Is(err, ErrAlgNotAllowed) {
		t.Errorf("P-384: %v", err)
	}
}

// Acceptance 3: a token signed before rotation still verifies until the old key
// retires; after that the old key is gone from /jwks and its tokens fail.
func TestKeyStoreRotation(t *testing.T) {
	clk := fakeClock()
	oldKey, newKey := testKey(t, "es256.pem"), testKey(t, "es256-next.pem")
	s := newStore(t, KeyStoreOptions{Clock: clk, RetireAfter: time.Hour}, oldKey)
	before := sign(t, s, claims)

	if err := s.Publish(newKey); err != nil {
		t.Fatal(err)
	}
	if got := jwksKids(t, s); !cmp.Equal(got, sorted(oldKey.KeyID(), newKey.KeyID())) {
		t.Fatalf("after Publish JWKS kids %v", got)
	}
	if v, _ := s.Verify(sign(t, s, claims), atOpts); v.Header.KeyID != oldKey.KeyID() {
		t.Fatal("a published key signed before Rotate")
	}

	if err := s.Rotate(newKey); err != nil {
		t.Fatal(err)
	}
	after := sign(t, s, claims)
	if v, err := s.Verify(after, atOpts); err != nil || v.Header.KeyID != newKey.KeyID() {
		t.Fatalf("after Rotate: kid %s, err %v", v.Header.KeyID, err)
	}
	wantStates := []KeyInfo{
		{KeyID: newKey.KeyID(), Alg: ES256, State: StateActive, Created: t0},
		{KeyID: oldKey.KeyID(), Alg: ES256, State: StateRetired, Created: t0, RetireAt: t0.Add(time.Hour)},
	}
	if diff := cmp.Diff(wantStates, s.Keys()); diff != "" {
		t.Fatalf("states (-want +got):\n%s", diff)
	}

	clk.Advance(time.Hour - time.Second)
	if _, err := s.Verify(before, atOpts); err != nil {
		t.Fatalf("old token before retirement: %v", err)
	}
	if got := jwksKids(t, s); len(got) != 2 {
		t.Fatalf("old key left JWKS early: %v", got)
	}

	clk.Advance(time.Second)
	if _, err := s.Verify(before, atOpts); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old token after retirement: err = %v, want ErrUnknownKey", err)
	}
	if got := jwksKids(t, s); !cmp.Equal(got, []string{newKey.KeyID()}) {
		t.Fatalf("JWKS after retirement: %v", got)
	}
	dropped, err := s.Prune()
	if err != nil || !cmp.Equal(dropped, []string{oldKey.KeyID()}) {
		t.Fatalf("Prune = %v, %v", dropped, err)
	}
	if len(s.Keys()) != 1 || s.HasKey(oldKey.KeyID()) {
		t.Fatal("old key still held after Prune")
	}
	if _, err := s.Verify(after, atOpts); err != nil {
		t.Fatalf("new token after Prune: %v", err)
	}
}

func TestKeyStoreLifecycleRules(t *testing.T) {
	clk := fakeClock()
	a, b, c := freshES256(t, 0), freshES256(t, 1), freshES256(t, 2)
	s := newStore(t, KeyStoreOptions{Clock: clk}, a)
	if err := s.Publish(a); !errors.Is(err, ErrKeyConfig) {
		t.Errorf("Publish of the active key: %v", err)
	}
	if err := s.Rotate(a); err != nil {
		t.Errorf("Rotate to the active key: %v", err)
	}
	if err := s.Remove(a.KeyID()); !errors.Is(err, ErrKeyConfig) {
		t.Errorf("Remove of the active key: %v", err)
	}
	if err := s.Remove("nope"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Remove unknown: %v", err)
	}
	if err := s.Rotate(b); err != nil { // straight to active, a retires
		t.Fatal(err)
	}
	if err := s.Rotate(a); !errors.Is(err, ErrKeyConfig) {
		t.Errorf("a retired key made active again: %v", err)
	}
	if err := s.Publish(c); err != nil {
		t.Fatal(err)
	}
	tokA := craftWith(t, a)
	// Emergency removal of a retired key takes effect at once.
	if err := s.Remove(a.KeyID()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(tokA, atOpts); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("removed key still verifies: %v", err)
	}
	if got := jwksKids(t, s); !cmp.Equal(got, sorted(b.KeyID(), c.KeyID())) {
		t.Errorf("JWKS %v", got)
	}
	if got := s.Algorithms(); !cmp.Equal(got, []Alg{ES256}) {
		t.Errorf("Algorithms %v", got)
	}
}

// craftWith signs claims with k directly (as if by a store where k is active).
func craftWith(t testing.TB, k *SigningKey) string {
	t.Helper()
	tok, err := signCompact(k.signer, k.Alg(), k.KeyID(), "at+jwt", []byte(claims))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func jwksKids(t testing.TB, s *KeyStore) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string { sort.Strings(s); return s }

// The JWKS document has a fixed shape and never carries private parameters.
func TestJWKSGolden(t *testing.T) {
	s := newStore(t, KeyStoreOptions{Clock: fakeClock()}, testKey(t, "es256.pem"), testKey(t, "ps256.pem"), testKey(t, "eddsa.pem"))
	if err := s.Publish(testKey(t, "es256-next.pem")); err != nil {
		t.Fatal(err)
	}
	got := s.JWKS()

	// Only public members, per key type.
	allowed := map[string][]string{
		"EC":  {"alg", "crv", "kid", "kty", "use", "x", "y"},
		"RSA": {"alg", "e", "kid", "kty", "n", "use"},
		"OKP": {"alg", "crv", "kid", "kty", "use", "x"},
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 4 {
		t.Fatalf("%d keys", len(doc.Keys))
	}
	for _, k := range doc.Keys {
		var names []string
		for n := range k {
			names = append(names, n)
		}
		sort.Strings(names)
		if diff := cmp.Diff(allowed[k["kty"].(string)], names); diff != "" {
			t.Errorf("members of %v key (-want +got):\n%s", k["kty"], diff)
		}
		if k["use"] != "sig" {
			t.Errorf("use %v", k["use"])
		}
	}
	// And it parses as a public JWK Set with our own strict client-side parser.
	set, err := ParseJWKS(got)
	if err != nil || set.Len() != 4 {
		t.Fatalf("ParseJWKS of our JWKS: %v", err)
	}

	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "jwks.golden.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), pretty.String()); diff != "" {
		t.Errorf("JWKS (-golden +got):\n%s", diff)
	}
}

func TestKeyStoreConcurrentRotation(t *testing.T) {
	clk := fakeClock()
	s := newStore(t, KeyStoreOptions{Clock: clk}, freshES256(t, 0))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				tok, err := s.Sign([]byte(claims), "at+jwt")
				if err != nil {
					errs <- err
					return
				}
				if _, err := s.Verify(tok, atOpts); err != nil {
					errs <- err
					return
				}
				_ = s.JWKS()
			}
		}()
	}
	for i := 1; i < 4; i++ {
		if err := s.Rotate(freshES256(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
