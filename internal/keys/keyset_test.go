package keys_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	pollInterval = 5 * time.Second
	publishDelay = 30 * time.Second
	retireAfter  = 65 * time.Minute
)

// recordingVault is a KEKVault that remembers the private keys it generated, so a test can
// look for them in the database.
type recordingVault struct {
	keys.KEKVault
	mu  sync.Mutex
	gen []*jose.SigningKey
}

func (v *recordingVault) Generate(alg jose.Alg) (*jose.SigningKey, error) {
	k, err := v.KEKVault.Generate(alg)
	if err == nil {
		v.mu.Lock()
		v.gen = append(v.gen, k)
		v.mu.Unlock()
	}
	return k, err
}

func newKEK(t *testing.T) *keys.KEK {
	t.Helper()
	b := make([]byte, keys.KEKSize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	k, err := keys.NewKEK(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func load(t *testing.T, st keys.Store, vault keys.Vault, clk clock.Clock) *keys.Set {
	t.Helper()
	s, err := keys.Load(t.Context(), keys.Options{
		Store: st, Vault: vault, Alg: jose.ES256, PollInterval: pollInterval, PublishDelay: publishDelay,
		KeyStore: jose.KeyStoreOptions{Clock: clk, RetireAfter: retireAfter},
	})
	if err != nil {
		t.Fatalf("keys.Load: %v", err)
	}
	return s
}

func sign(t *testing.T, s *keys.Set, clk clock.Clock) string {
	t.Helper()
	tok, err := s.KeyStore().Sign([]byte(`{"iss":"https://as.example","iat":`+strconv.FormatInt(clk.Now().Unix(), 10)+`}`), "at+jwt")
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// verifyAt verifies tok with node's KeyStore and with the JWK Set node publishes at /jwks, and
// returns the kid that signed it.
func verifyAt(t *testing.T, node *keys.Set, tok string) string {
	t.Helper()
	v, err := node.KeyStore().Verify(tok, jose.VerifyOptions{Types: []string{"at+jwt"}})
	if err != nil {
		t.Fatalf("KeyStore.Verify: %v", err)
	}
	set, err := jose.ParseJWKS(node.KeyStore().JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	if _, err := jose.VerifyJWT(context.Background(), tok, set, jose.VerifyOptions{Types: []string{"at+jwt"}}); err != nil {
		t.Fatalf("VerifyJWT against the published JWKS: %v", err)
	}
	return v.Header.KeyID
}

func activeKID(t *testing.T, s *keys.Set) string {
	t.Helper()
	for _, k := range s.KeyStore().Keys() {
		if k.State == jose.StateActive {
			return k.KeyID
		}
	}
	t.Fatal("no active key")
	return ""
}

// TestTwoNodesRotation: two nodes on one PostgreSQL database. A rotation on node A is
// published by node B on its next poll, before the key signs anywhere; node B verifies tokens
// node A signed with the old and the new key; the old key retires and is pruned everywhere.
func TestTwoNodesRotation(t *testing.T) {
	clk := clock.NewFake(epoch)
	stA, stB := storetest.OpenPostgresPair(t, clk)
	vault := &keys.KEKVault{Current: newKEK(t)}
	a := load(t, stA, vault, clk)
	b := load(t, stB, &keys.KEKVault{Current: vault.Current}, clk)

	oldKID := activeKID(t, a)
	if got := activeKID(t, b); got != oldKID {
		t.Fatalf("node B signs with %s, node A with %s", got, oldKID)
	}
	if !bytes.Equal(a.KeyStore().JWKS(), b.KeyStore().JWKS()) {
		t.Fatalf("JWKS differ:\nA %s\nB %s", a.KeyStore().JWKS(), b.KeyStore().JWKS())
	}
	tokOld := sign(t, a, clk)

	rotatedAt := clk.Now()
	rot, err := a.Rotate(t.Context())
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	newKID := rot.Key.KeyID()
	if d := rot.ActivateAt.Sub(rotatedAt); d < 2*pollInterval || d != publishDelay {
		t.Fatalf("ActivateAt = rotation + %s, want the publish delay %s (≥ 2 × poll interval)", d, publishDelay)
	}
	if _, err := a.Rotate(t.Context()); !errors.Is(err, keys.ErrRotationPending) {
		t.Fatalf("second Rotate = %v, want ErrRotationPending", err)
	}
	// Node A publishes the new key at once and keeps signing with the old one.
	if !a.KeyStore().HasKey(newKID) || activeKID(t, a) != oldKID {
		t.Fatal("node A: new key not published as next, or already signing")
	}
	// Node B's next poll, within one poll interval, publishes it too.
	clk.Advance(pollInterval)
	if err := b.Poll(t.Context()); err != nil {
		t.Fatalf("B.Poll: %v", err)
	}
	if !b.KeyStore().HasKey(newKID) {
		t.Fatal("node B does not publish the new key one poll interval after the rotation")
	}
	if !bytes.Equal(a.KeyStore().JWKS(), b.KeyStore().JWKS()) {
		t.Fatal("JWKS differ after node B's poll")
	}
	// Before the publish delay has passed, polling promotes nothing.
	if err := a.Poll(t.Context()); err != nil {
		t.Fatalf("A.Poll: %v", err)
	}
	if activeKID(t, a) != oldKID {
		t.Fatal("node A promoted the new key before its activation time")
	}

	// At the activation time node A's poll promotes the new key; node B has not polled since.
	clk.Set(rot.ActivateAt)
	if err := a.Poll(t.Context()); err != nil {
		t.Fatalf("A.Poll at activation: %v", err)
	}
	if activeKID(t, a) != newKID {
		t.Fatal("node A did not promote the new key at its activation time")
	}
	tokNew := sign(t, a, clk)
	if got := verifyAt(t, b, tokNew); got != newKID {
		t.Fatalf("token signed with %s, want %s", got, newKID)
	}
	if got := verifyAt(t, b, tokOld); got != oldKID {
		t.Fatalf("old token signed with %s, want %s", got, oldKID)
	}
	// Node B follows on its next poll; both old and new tokens still verify there.
	clk.Advance(pollInterval)
	if err := b.Poll(t.Context()); err != nil {
		t.Fatalf("B.Poll: %v", err)
	}
	if activeKID(t, b) != newKID {
		t.Fatal("node B does not sign with the new key after its poll")
	}
	verifyAt(t, b, tokOld)
	verifyAt(t, b, tokNew)
	verifyAt(t, a, sign(t, b, clk))
	if !bytes.Equal(a.KeyStore().JWKS(), b.KeyStore().JWKS()) {
		t.Fatal("JWKS differ after the promotion")
	}

	// After RetireAfter the old key stops verifying and is pruned from the database.
	clk.Advance(retireAfter)
	if err := b.Poll(t.Context()); err != nil {
		t.Fatalf("B.Poll after retirement: %v", err)
	}
	if err := a.Poll(t.Context()); err != nil {
		t.Fatalf("A.Poll after retirement: %v", err)
	}
	rows, err := stA.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].KeyID != newKID || rows[0].State != store.SigningKeyActive {
		t.Fatalf("database after prune: %+v, want only %s active", rows, newKID)
	}
	if a.KeyStore().HasKey(oldKID) || b.KeyStore().HasKey(oldKID) {
		t.Fatal("the pruned key still verifies")
	}
}

// TestConcurrentPromotion: every node polls after the activation time at once; exactly one
// promotion happens and every node ends on the same active key.
func TestConcurrentPromotion(t *testing.T) {
	clk := clock.NewFake(epoch)
	stA, stB := storetest.OpenPostgresPair(t, clk)
	kek := newKEK(t)
	a := load(t, stA, &keys.KEKVault{Current: kek}, clk)
	b := load(t, stB, &keys.KEKVault{Current: kek}, clk)
	rot, err := b.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(pollInterval)
	if err := a.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Set(rot.ActivateAt)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, n := range []*keys.Set{a, b} {
		wg.Go(func() { errs[i] = n.Poll(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d Poll: %v", i, err)
		}
	}
	if activeKID(t, a) != rot.Key.KeyID() || activeKID(t, b) != rot.Key.KeyID() {
		t.Fatalf("active keys %s, %s; want %s", activeKID(t, a), activeKID(t, b), rot.Key.KeyID())
	}
	rows, _ := stA.ListSigningKeys(t.Context())
	active := 0
	for _, r := range rows {
		if r.State == store.SigningKeyActive {
			active++
		}
	}
	if active != 1 || len(rows) != 2 {
		t.Fatalf("database: %+v", rows)
	}
}

// TestNoPrivateKeyInClear reads the stored rows and looks for the private keys in every form.
func TestNoPrivateKeyInClear(t *testing.T) {
	for name, open := range map[string]storetest.Opener{"SQLite": storetest.OpenSQLiteClock, "PostgreSQL": storetest.OpenPostgresClock} {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewFake(epoch)
			st := open(t, clk)
			vault := &recordingVault{KEKVault: keys.KEKVault{Current: newKEK(t)}}
			s := load(t, st, vault, clk)
			if _, err := s.Rotate(t.Context()); err != nil {
				t.Fatal(err)
			}
			rows, err := st.ListSigningKeys(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || len(vault.gen) != 2 {
				t.Fatalf("%d rows, %d generated keys; want 2 and 2", len(rows), len(vault.gen))
			}
			for _, row := range rows {
				if row.KEKID != vault.Current.ID() {
					t.Errorf("row %s: kek_id %q, want %q", row.KeyID, row.KEKID, vault.Current.ID())
				}
				stored := []byte(row.PrivateKey)
				raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(row.PrivateKey, "v1."))
				for _, blob := range [][]byte{stored, raw} {
					if _, err := x509.ParsePKCS8PrivateKey(blob); err == nil {
						t.Fatalf("row %s: private_key parses as PKCS#8", row.KeyID)
					}
					if _, err := jose.ParseSigningKeyPEM(blob); err == nil {
						t.Fatalf("row %s: private_key parses as a PEM key", row.KeyID)
					}
					if _, err := jose.ParseSigningKeyJWK(blob); err == nil {
						t.Fatalf("row %s: private_key parses as a JWK", row.KeyID)
					}
				}
				if strings.Contains(row.PrivateKey, "PRIVATE KEY") {
					t.Fatalf("row %s holds a PEM block", row.KeyID)
				}
				for _, k := range vault.gen {
					p, err := k.MarshalPKCS8PEM()
					if err != nil {
						t.Fatal(err)
					}
					block, _ := pem.Decode(p)
					der := block.Bytes
					for _, form := range [][]byte{der, []byte(base64.StdEncoding.EncodeToString(der)), []byte(base64.RawURLEncoding.EncodeToString(der)), p} {
						if bytes.Contains(stored, form) || bytes.Contains(raw, form) {
							t.Fatalf("row %s contains the private key of %s", row.KeyID, k.KeyID())
						}
					}
					priv, err := x509.ParsePKCS8PrivateKey(der)
					if err != nil {
						t.Fatal(err)
					}
					scalar, err := priv.(*ecdsa.PrivateKey).Bytes()
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Contains(raw, scalar) || strings.Contains(row.PrivateKey, base64.RawURLEncoding.EncodeToString(scalar)) {
						t.Fatalf("row %s contains the private scalar of %s", row.KeyID, k.KeyID())
					}
				}
			}
		})
	}
}

// TestWrongKEK: a node whose keys.kek is not the one that sealed the stored keys refuses to
// start, naming the key and the setting; keys.previous_kek opens keys sealed before a KEK
// rotation; a sealed key moved to another row does not open.
func TestWrongKEK(t *testing.T) {
	clk := clock.NewFake(epoch)
	stA, stB := storetest.OpenPostgresPair(t, clk)
	kek1, kek2 := newKEK(t), newKEK(t)
	load(t, stA, &keys.KEKVault{Current: kek1}, clk)

	_, err := keys.Load(t.Context(), keys.Options{Store: stB, Vault: &keys.KEKVault{Current: kek2}})
	if !errors.Is(err, keys.ErrKEK) {
		t.Fatalf("Load with the wrong KEK = %v, want ErrKEK", err)
	}
	for _, want := range []string{"keys.kek", kek1.ID(), kek2.ID()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}

	// KEK rotation: the new KEK current, the old one previous. New keys are sealed by the new.
	b := load(t, stB, &keys.KEKVault{Current: kek2, Previous: []*keys.KEK{kek1}}, clk)
	if _, err := b.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	rows, _ := stB.ListSigningKeys(t.Context())
	sealedBy := map[string]string{}
	for _, r := range rows {
		sealedBy[r.State] = r.KEKID
	}
	if len(rows) != 2 || sealedBy[store.SigningKeyActive] != kek1.ID() || sealedBy[store.SigningKeyNext] != kek2.ID() {
		t.Fatalf("kek ids: %+v", rows)
	}

	// A sealed key copied into another key's row (same KEK) does not open.
	kek3 := newKEK(t)
	st := storetest.OpenSQLiteClock(t, clk)
	v := &keys.KEKVault{Current: kek3}
	k1, _ := jose.GenerateSigningKey(jose.ES256)
	k2, _ := jose.GenerateSigningKey(jose.ES256)
	s1, _ := v.Seal(k1)
	if _, err := v.Open(k1.KeyID(), jose.ES256, s1); err != nil {
		t.Fatalf("Open own row: %v", err)
	}
	if _, err := v.Open(k2.KeyID(), jose.ES256, s1); !errors.Is(err, keys.ErrKEK) {
		t.Fatalf("Open moved row = %v, want ErrKEK", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.ChangeSigningKeys(t.Context(), nil, []store.SigningKey{{KeyID: k2.KeyID(), Alg: "ES256", State: store.SigningKeyActive, KEKID: s1.KEKID, PrivateKey: s1.PrivateKey}}))
	if _, err := keys.Load(t.Context(), keys.Options{Store: st, Vault: v}); !errors.Is(err, keys.ErrKEK) {
		t.Fatalf("Load with a moved sealed key = %v, want ErrKEK", err)
	}
}

func TestParseKEK(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	want, _ := keys.NewKEK(raw)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw), " " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		k, err := keys.ParseKEK(s)
		if err != nil || k.ID() != want.ID() {
			t.Errorf("ParseKEK(%q) = %v, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(raw[:16]), base64.StdEncoding.EncodeToString(append(raw, 1)), strings.Repeat("A", 1000)} {
		if _, err := keys.ParseKEK(s); !errors.Is(err, keys.ErrKEK) {
			t.Errorf("ParseKEK(%q) = %v, want ErrKEK", s, err)
		}
	}
}

func TestDevKEK(t *testing.T) {
	path := t.TempDir() + "/sub/" + keys.DevKEKFile
	k1, err := keys.LoadOrCreateDevKEK(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := keys.LoadOrCreateDevKEK(path)
	if err != nil || k2.ID() != k1.ID() {
		t.Fatalf("reload: %v, %v", k2, err)
	}
}

// TestImportKeyDir: a deployment switching from a key directory to the database keeps its
// keys: on an empty database the directory's keys are stored with their states, so tokens
// the directory's key signed keep verifying and the same key keeps signing.
func TestImportKeyDir(t *testing.T) {
	clk := clock.NewFake(epoch)
	dir := t.TempDir()
	old, err := jose.LoadOrGenerate(dir, jose.ES256, jose.KeyStoreOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	next, _ := jose.GenerateSigningKey(jose.ES256)
	if err := old.Publish(next); err != nil {
		t.Fatal(err)
	}
	tok, err := old.Sign([]byte(`{"iss":"x"}`), "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenSQLiteClock(t, clk)
	s, err := keys.Load(t.Context(), keys.Options{
		Store: st, Vault: &keys.KEKVault{Current: newKEK(t)}, KeyStore: jose.KeyStoreOptions{Clock: clk},
		Import: func() ([]jose.KeyRecord, error) { return jose.KeyDirRecords(dir, jose.KeyStoreOptions{Clock: clk}) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := activeKID(t, s), old.Keys()[0].KeyID; got != want {
		t.Fatalf("active key %s, want the directory's %s", got, want)
	}
	verifyAt(t, s, tok)
	rows, _ := st.ListSigningKeys(t.Context())
	if len(rows) != 2 {
		t.Fatalf("%d rows, want the directory's 2 keys", len(rows))
	}
	for _, r := range rows {
		if r.KeyID == next.KeyID() && (r.State != store.SigningKeyNext || !r.ActivateAt.Equal(epoch.Add(keys.DefaultPublishDelay))) {
			t.Fatalf("imported next key %+v, want next until now + the publish delay", r)
		}
	}
	// Import runs only on an empty database.
	called := false
	if _, err := keys.Load(t.Context(), keys.Options{
		Store: st, Vault: &keys.KEKVault{Current: newKEK(t)},
		Import: func() ([]jose.KeyRecord, error) { called = true; return nil, nil },
	}); !errors.Is(err, keys.ErrKEK) || called {
		t.Fatalf("second Load: %v, import called %v; want ErrKEK (other KEK) without import", err, called)
	}
}
