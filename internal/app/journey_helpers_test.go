package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// Helpers shared by the acceptance tests of the customer journey (the real-browser test and
// the openid-client interop test): TPP registration, request objects signed the stdlib way
// (the tests must not sign with the code under test's JOSE library), and TOTP codes of the
// demo customer.

// tppCert issues a QWAC for a TPP (organisation orgID) from the dev server's sandbox CA and returns it with its
// subject DN as tls_client_auth registers it.
func tppCert(t *testing.T, a *app.App, orgID string) (*sandbox.Issued, string) {
	t.Helper()
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: orgID, Roles: mustRoles(t, "AISP,PISP")})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := dn.Render(qwac.Certificate.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	return qwac, subject
}

// register adds c to the dev server's registry.
func register(t *testing.T, a *app.App, c *client.Client) {
	t.Helper()
	if _, err := a.Clients.Add(context.Background(), c); err != nil {
		t.Fatalf("registering %s: %v", c.ID, err)
	}
}

// signingKey is a TPP's ES256 request-object and client-assertion key.
type signingKey struct {
	key *ecdsa.PrivateKey
	kid string
}

func newSigningKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{key: k, kid: kid}
}

// publicJWK is the key as a JWK; private adds "d".
func (k signingKey) jwk(private bool) map[string]any {
	pub, _ := k.key.PublicKey.Bytes() // 0x04 || X || Y
	m := map[string]any{"kty": "EC", "crv": "P-256", "x": b64u(pub[1:33]), "y": b64u(pub[33:]), "kid": k.kid, "use": "sig", "alg": "ES256"}
	if private {
		d, _ := k.key.Bytes()
		m["d"] = b64u(d)
	}
	return m
}

// jwks is the public key set to register.
func (k signingKey) jwks(t *testing.T) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": []any{k.jwk(false)}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sign returns claims as a compact ES256 JWS with typ.
func (k signingKey) sign(t *testing.T, typ string, claims map[string]any) string {
	t.Helper()
	return negSignTyp(t, typ, "ES256", k.key, k.kid, claims)
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// halfHash is an OIDC c_hash / s_hash for a SHA-256 algorithm (ES256, PS256).
func halfHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return b64u(sum[:16])
}

// totpCodes hands out a customer's TOTP codes, each of a later time step than the one
// before (the server accepts each step once, and one step of skew either way), so that one
// test can pass SCA twice within a 30-second step.
type totpCodes struct {
	mu     sync.Mutex
	secret []byte
	last   int64 // the last step handed out
}

func demoTOTP(t *testing.T, a *app.App) *totpCodes {
	t.Helper()
	if a.DemoCustomer == nil {
		t.Fatal("dev mode did not seed the demo customer")
	}
	secret, err := identity.ParseTOTPSecret(a.DemoCustomer.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	return &totpCodes{secret: secret}
}

// newCustomer enrols a customer of the dev server with a fresh TOTP key and returns its
// password and its codes.
func newCustomer(t *testing.T, a *app.App, id string) (password string, codes *totpCodes) {
	t.Helper()
	password = "pw-" + randomString(t)
	e, err := a.Customers.Add(context.Background(), identity.NewCustomer{ID: id, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := identity.ParseTOTPSecret(e.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	return password, &totpCodes{secret: secret}
}

// next returns a code of the earliest step, not before the current one, after the last one
// handed out: the current step or the next (a code of the previous step could leave the
// accepted window while it is being typed). Two codes fit in one window; a test that needs
// more of one customer fails.
func (c *totpCodes) next(t *testing.T) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := time.Now().Unix() / 30
	step := max(cur, c.last+1)
	if step > cur+1 {
		t.Fatal("no unused TOTP step within the accepted window: the test passes SCA too often")
	}
	c.last = step
	code, err := identity.TOTPCode(c.secret, time.Unix(step*30+15, 0))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// code is the code of the step at.
func (c *totpCodes) code(at time.Time) (string, error) { return identity.TOTPCode(c.secret, at) }

// pkcePair is a fresh PKCE verifier and its S256 challenge.
func pkcePair(t *testing.T) (verifier, challenge string) {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	verifier = b64u(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, b64u(sum[:])
}

// randomString is a fresh state or nonce.
func randomString(t *testing.T) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	return n.Text(36)
}

// repoRoot finds the module root above the test's working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("go.mod not found above the working directory")
	return ""
}
