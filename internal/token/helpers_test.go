package token

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/store"
)

const issuer = "https://as.bank.example"

var (
	t0        = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	certA     = pki.Thumbprint(&x509.Certificate{Raw: []byte("client certificate A")})
	certB     = pki.Thumbprint(&x509.Certificate{Raw: []byte("client certificate B")})
	keysOnce  sync.Once
	testKeys  []*jose.SigningKey
	testKeysE error
)

// key returns the i-th of a few ES256 keys generated once per test binary.
func key(t testing.TB, i int) *jose.SigningKey {
	t.Helper()
	keysOnce.Do(func() {
		for range 3 {
			k, err := jose.GenerateSigningKey(jose.ES256)
			if err != nil {
				testKeysE = err
				return
			}
			testKeys = append(testKeys, k)
		}
	})
	if testKeysE != nil {
		t.Fatal(testKeysE)
	}
	return testKeys[i]
}

// fakeSource is an in-memory RevocationSource with the store's contract.
type fakeSource struct {
	mu    sync.Mutex
	revs  []store.Revocation
	err   error
	calls atomic.Int32
}

func (f *fakeSource) RevocationsSince(_ context.Context, since time.Time, limit int) ([]store.Revocation, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []store.Revocation
	for _, r := range f.revs {
		if !r.RevokedAt.Before(since) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].RevokedAt.Equal(out[j].RevokedAt) {
			return out[i].RevokedAt.Before(out[j].RevokedAt)
		}
		return out[i].JTI < out[j].JTI
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeSource) revoke(r store.Revocation) {
	f.mu.Lock()
	f.revs = append(f.revs, r)
	f.mu.Unlock()
}

func (f *fakeSource) fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// fixture is an authorization server and a gateway sharing keys and a store.
type fixture struct {
	clk      *clock.Fake
	keys     *jose.KeyStore
	src      *fakeSource
	deny     *DenyList
	issuer   *Issuer
	verifier *Verifier
}

type fixtureOpts struct {
	cacheSize   int
	retireAfter time.Duration
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{clk: clock.NewFake(t0), src: &fakeSource{}}
	var err error
	f.keys, err = jose.NewKeyStore(jose.KeyStoreOptions{Clock: f.clk, RetireAfter: o.retireAfter}, key(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	f.deny, err = NewDenyList(DenyListOptions{Source: f.src, Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.deny.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.issuer, err = NewIssuer(IssuerOptions{Keys: f.keys, Issuer: issuer, Clock: f.clk, OpenBankingIntentID: true, Subjects: testSubjects(t)})
	if err != nil {
		t.Fatal(err)
	}
	f.verifier, err = NewVerifier(VerifierOptions{Keys: f.keys, Issuer: issuer, Clock: f.clk, DenyList: f.deny, CacheSize: o.cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// testSubjects is a Subjects under a fixed secret.
func testSubjects(t testing.TB) *Subjects {
	t.Helper()
	s, err := NewSubjects([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// customerID is the bank's internal customer id of userClaims.
const customerID = "psu-7f3a"

func appClaims() Claims {
	return Claims{ClientID: "tpp-1", Use: UseApplication, Scopes: []string{"accounts"}, CertThumbprint: certA}
}

func userClaims() Claims {
	return Claims{
		ClientID: "tpp-1", Use: UseUser, UserID: customerID, Scopes: []string{"openid", "accounts"},
		ConsentID: "aac-1234", FamilyID: "fam-1", CertThumbprint: certA, AuthTime: t0.Add(-time.Minute), ACR: "urn:openbanking:psd2:sca",
	}
}

func (f *fixture) issue(t testing.TB, c Claims) (string, *AccessToken) {
	t.Helper()
	raw, at, err := f.issuer.Issue(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return raw, at
}

// signClaims signs an arbitrary claims set with the fixture's active key.
func (f *fixture) signClaims(t testing.TB, claims map[string]any, typ string) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := f.keys.Sign(b, typ)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// validClaims is a well-formed claims map at the fixture's current time.
func (f *fixture) validClaims() map[string]any {
	now := f.clk.Now().Unix()
	return map[string]any{
		"iss": issuer, "sub": "tpp-1", "aud": issuer, "client_id": "tpp-1", "scope": "accounts",
		"jti": fmt.Sprintf("jti-%d", jtiSeq.Add(1)), "iat": now, "nbf": now, "exp": now + 300, "aut": "APPLICATION",
		"cnf": map[string]string{"x5t#S256": certA},
	}
}

var jtiSeq atomic.Int64

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
