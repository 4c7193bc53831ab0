//go:build pkcs11

package keys_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// softHSMModuleEnv names the PKCS#11 library the tests load; default Debian's SoftHSM2.
const softHSMModuleEnv = "PORTCULLIS_TEST_PKCS11_MODULE"

const (
	tokenLabel = "portcullis-test"
	tokenPIN   = "1234"
)

var (
	softHSMOnce sync.Once
	softHSMErr  error
	softHSMDir  string
)

// softHSM initialises one SoftHSM2 token for the test binary, in a temporary token directory
// (SOFTHSM2_CONF points there before the library is first loaded), and returns the module path.
// It skips when the module is not installed, except under CI=true.
func softHSM(t *testing.T) string {
	t.Helper()
	module := os.Getenv(softHSMModuleEnv)
	if module == "" {
		module = "/usr/lib/softhsm/libsofthsm2.so"
	}
	if _, err := os.Stat(module); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PKCS#11 module %s missing (scripts/deps.sh installs softhsm2): %v", module, err)
		}
		t.Skipf("PKCS#11 module %s missing: %v", module, err)
	}
	softHSMOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portcullis-softhsm-")
		if err != nil {
			softHSMErr = err
			return
		}
		softHSMDir = dir
		conf := filepath.Join(dir, "softhsm2.conf")
		tokens := filepath.Join(dir, "tokens")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			softHSMErr = err
			return
		}
		if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
			softHSMErr = err
			return
		}
		os.Setenv("SOFTHSM2_CONF", conf)
		out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", tokenLabel, "--pin", tokenPIN, "--so-pin", "5678").CombinedOutput()
		if err != nil {
			softHSMErr = errors.New("softhsm2-util --init-token: " + err.Error() + ": " + string(out))
		}
	})
	if softHSMErr != nil {
		t.Fatal(softHSMErr)
	}
	return module
}

func TestMain(m *testing.M) {
	code := m.Run()
	if softHSMDir != "" {
		os.RemoveAll(softHSMDir)
	}
	os.Exit(code)
}

// TestPKCS11TwoNodes: two nodes on one PostgreSQL database with their signing keys in one
// SoftHSM2 token. Node A generates the key inside the token; the database holds only a
// reference; a token node A signs verifies against node B's published JWK Set; a rotation
// generates the next key in the token too and node B picks it up.
func TestPKCS11TwoNodes(t *testing.T) {
	module := softHSM(t)
	cfg := keys.PKCS11Config{Module: module, TokenLabel: tokenLabel, PIN: tokenPIN}
	va, err := keys.NewPKCS11Vault(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := keys.NewPKCS11Vault(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(epoch)
	stA, stB := storetest.OpenPostgresPair(t, clk)
	a := load(t, stA, va, clk)
	b := load(t, stB, vb, clk)

	rows, err := stA.ListSigningKeys(t.Context())
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %v, %v", rows, err)
	}
	if rows[0].KEKID != "pkcs11:"+tokenLabel || !strings.HasPrefix(rows[0].PrivateKey, "pkcs11:id=") {
		t.Fatalf("stored key: kek_id %q, private_key %q; want a token reference", rows[0].KEKID, rows[0].PrivateKey)
	}

	tok := sign(t, a, clk)
	set, err := jose.ParseJWKS(b.KeyStore().JWKS())
	if err != nil {
		t.Fatal(err)
	}
	v, err := jose.VerifyJWT(context.Background(), tok, set, jose.VerifyOptions{Types: []string{"at+jwt"}})
	if err != nil {
		t.Fatalf("token signed in the HSM does not verify against the JWKS: %v", err)
	}
	if v.Header.KeyID != rows[0].KeyID {
		t.Fatalf("kid %s, want %s", v.Header.KeyID, rows[0].KeyID)
	}

	rot, err := a.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(pollInterval)
	if err := b.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Set(rot.ActivateAt)
	if err := b.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if activeKID(t, b) != rot.Key.KeyID() {
		t.Fatal("node B did not promote the key generated in the token")
	}
	verifyAt(t, a, sign(t, b, clk))
	verifyAt(t, b, tok)
	if _, err := rot.Key.MarshalPKCS8PEM(); err == nil {
		t.Fatal("a token key was exported")
	}
}

// TestPKCS11PS256: RSA-PSS keys generated and used in the token.
func TestPKCS11PS256(t *testing.T) {
	module := softHSM(t)
	v, err := keys.NewPKCS11Vault(keys.PKCS11Config{Module: module, TokenLabel: tokenLabel, PIN: tokenPIN})
	if err != nil {
		t.Fatal(err)
	}
	k, err := v.Generate(jose.PS256)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := jose.NewKeyStore(jose.KeyStoreOptions{}, k)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ks.Sign([]byte(`{"iss":"x"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	set, err := jose.ParseJWKS(ks.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jose.VerifyJWT(context.Background(), tok, set, jose.VerifyOptions{}); err != nil {
		t.Fatalf("PS256 token signed in the HSM: %v", err)
	}
	if _, err := v.Generate(jose.EdDSA); !errors.Is(err, keys.ErrPKCS11) {
		t.Fatalf("Generate(EdDSA) = %v, want ErrPKCS11", err)
	}
}

// TestPKCS11Refused: a wrong PIN or token label, or a stored reference to another token,
// fails with ErrPKCS11.
func TestPKCS11Refused(t *testing.T) {
	module := softHSM(t)
	if _, err := keys.NewPKCS11Vault(keys.PKCS11Config{Module: module, TokenLabel: "no-such-token", PIN: tokenPIN}); !errors.Is(err, keys.ErrPKCS11) {
		t.Fatalf("unknown token = %v, want ErrPKCS11", err)
	}
	if _, err := keys.NewPKCS11Vault(keys.PKCS11Config{Module: "/nonexistent/libpkcs11.so", TokenLabel: tokenLabel, PIN: tokenPIN}); !errors.Is(err, keys.ErrPKCS11) {
		t.Fatalf("missing module = %v, want ErrPKCS11", err)
	}
	v, err := keys.NewPKCS11Vault(keys.PKCS11Config{Module: module, TokenLabel: tokenLabel, PIN: tokenPIN})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := jose.GenerateSigningKey(jose.ES256)
	if _, err := v.Seal(k); !errors.Is(err, keys.ErrPKCS11) {
		t.Fatalf("Seal of a key outside the token = %v, want ErrPKCS11", err)
	}
	st := storetest.OpenSQLiteClock(t, clock.NewFake(epoch))
	if err := st.ChangeSigningKeys(t.Context(), nil, []store.SigningKey{{KeyID: k.KeyID(), Alg: "ES256", State: store.SigningKeyActive,
		KEKID: "pkcs11:other-token", PrivateKey: "pkcs11:id=00"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Load(t.Context(), keys.Options{Store: st, Vault: v}); !errors.Is(err, keys.ErrPKCS11) {
		t.Fatalf("Load of another token's key = %v, want ErrPKCS11", err)
	}
}
