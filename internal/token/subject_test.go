package token

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// A user token, readable by the TPP, must not carry the bank's customer id anywhere: not in
// sub, not in any other claim, not in the header, whatever the subject type.
func TestUserTokenHidesCustomerID(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, sector := range []string{"", "tpp.example"} {
		c := userClaims()
		c.Sector = sector
		raw, at := f.issue(t, c)
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("not a compact JWS: %d parts", len(parts))
		}
		for i, p := range parts[:2] {
			b, err := base64.RawURLEncoding.DecodeString(p)
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			if bytes.Contains(b, []byte(customerID)) {
				t.Fatalf("sector %q: JWT part %d contains the customer id: %s", sector, i, b)
			}
		}
		if strings.Contains(raw, customerID) || at.Subject == customerID || at.UserID == customerID {
			t.Fatalf("sector %q: the token names the customer id", sector)
		}
		got, err := f.verifier.Verify(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != at.Subject || got.UserID != at.Subject || len(got.Subject) != 43 {
			t.Fatalf("verified subject %q user %q, want the issued opaque subject %q", got.Subject, got.UserID, at.Subject)
		}
	}
}

func TestSubjects(t *testing.T) {
	s := testSubjects(t)
	other, err := NewSubjects([]byte("another secret of at least 32 bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{
		"public u1":           s.Public("u1"),
		"public u2":           s.Public("u2"),
		"pairwise a u1":       s.Pairwise("a.example", "u1"),
		"pairwise b u1":       s.Pairwise("b.example", "u1"),
		"pairwise a u2":       s.Pairwise("a.example", "u2"),
		"pairwise empty u1":   s.Pairwise("", "u1"),
		"ambiguous split":     s.Pairwise("a.exampleu", "1"),
		"other secret public": other.Public("u1"),
	}
	seen := map[string]string{}
	for name, v := range subs {
		if prev, ok := seen[v]; ok {
			t.Errorf("%s and %s share the subject %q", name, prev, v)
		}
		seen[v] = name
		if len(v) != 43 || strings.Contains(v, "u1") {
			t.Errorf("%s = %q", name, v)
		}
	}
	if s.Public("u1") != subs["public u1"] || s.Pairwise("a.example", "u1") != subs["pairwise a u1"] {
		t.Error("subjects are not deterministic")
	}
	if _, err := NewSubjects(make([]byte, MinSubjectSecretBytes-1)); !errors.Is(err, ErrInvalidClaims) {
		t.Errorf("NewSubjects(short) = %v, want ErrInvalidClaims", err)
	}
}

// The subject secret is generated on first start, persisted, and read back on the next: the
// sub of a customer is the same across Issuer restarts, and across nodes sharing the dir.
func TestSubjectStableAcrossRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	keys, err := jose.NewKeyStore(jose.KeyStoreOptions{}, key(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	start := func() string {
		t.Helper()
		subjects, err := LoadSubjects(dir)
		if err != nil {
			t.Fatal(err)
		}
		is, err := NewIssuer(IssuerOptions{Keys: keys, Issuer: issuer, Clock: clock.NewFake(t0), Subjects: subjects})
		if err != nil {
			t.Fatal(err)
		}
		_, at, err := is.Issue(context.Background(), userClaims())
		if err != nil {
			t.Fatal(err)
		}
		return at.Subject
	}
	first := start()
	fi, err := os.Stat(filepath.Join(dir, SubjectSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	if again := start(); again != first {
		t.Fatalf("sub after restart %q, want %q", again, first)
	}
	// A fresh dir is a different secret: different subjects.
	other, err := LoadSubjects(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other.Public(customerID) == first {
		t.Fatal("two generated secrets gave the same subject")
	}
	// Without a persisted secret the Issuer still never writes the customer id.
	is, err := NewIssuer(IssuerOptions{Keys: keys, Issuer: issuer, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	_, at, err := is.Issue(context.Background(), userClaims())
	if err != nil || at.Subject == customerID || len(at.Subject) != 43 {
		t.Fatalf("Issuer without Subjects: sub %q, %v", at.Subject, err)
	}
}

// Nodes starting together on an empty dir agree on one secret.
func TestLoadSubjectsConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	subs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := LoadSubjects(dir)
			if err != nil {
				t.Error(err)
				return
			}
			subs[i] = s.Public("u")
		})
	}
	wg.Wait()
	for i := range subs {
		if subs[i] != subs[0] {
			t.Fatalf("node %d got another secret", i)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".subject-*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestLoadSubjectsRejects(t *testing.T) {
	for name, content := range map[string]string{
		"short":     base64.RawURLEncoding.EncodeToString(make([]byte, 16)),
		"not b64":   "not base64url!",
		"padded":    base64.URLEncoding.EncodeToString(make([]byte, 32)),
		"too large": strings.Repeat("A", 2000),
		"empty":     "",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, SubjectSecretFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadSubjects(dir); err == nil {
				t.Fatal("LoadSubjects accepted a bad secret file")
			}
		})
	}
}

// Revoking a grant family (store.RevokeFamily) revokes every access token carrying its
// grant_id, on every node once its deny-list has refreshed, and no other token.
func TestFamilyRevocation(t *testing.T) {
	clk := clock.NewFake(t0)
	s := storetest.OpenSQLiteClock(t, clk)
	f := newFixture(t, fixtureOpts{cacheSize: 16})
	deny, err := NewDenyList(DenyListOptions{Source: s, Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierOptions{Keys: f.keys, Issuer: issuer, Clock: f.clk, DenyList: deny, CacheSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := deny.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	fam1a, _ := f.issue(t, userClaims())
	fam1b, _ := f.issue(t, userClaims())
	c := userClaims()
	c.FamilyID = "fam-2"
	fam2, _ := f.issue(t, c)
	app, _ := f.issue(t, appClaims())
	for _, raw := range []string{fam1a, fam1b, fam2, app} {
		if _, err := v.Verify(ctx, raw); err != nil { // and now cached
			t.Fatal(err)
		}
	}
	if _, err := s.RevokeFamily(ctx, store.Revocation{FamilyID: "fam-1", ExpiresAt: t0.Add(MaxAccessTokenLifetime)}); err != nil {
		t.Fatal(err)
	}
	if err := deny.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		raw  string
		want error
	}{"family 1, first": {fam1a, ErrRevoked}, "family 1, second": {fam1b, ErrRevoked}, "family 2": {fam2, nil}, "application": {app, nil}} {
		if _, err := v.Verify(ctx, tc.raw); !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: Verify = %v, want %v", name, err, tc.want)
		}
	}
	// A local revocation takes effect at once; the entry goes when its tokens are dead.
	f.deny.AddFamily("fam-2", t0.Add(time.Hour))
	if _, err := f.verifier.Verify(ctx, fam2); !errors.Is(err, ErrRevoked) {
		t.Errorf("after AddFamily: Verify = %v, want ErrRevoked", err)
	}
	if !f.deny.IsFamilyRevoked("fam-2") || f.deny.IsFamilyRevoked("") || f.deny.IsFamilyRevoked("fam-3") {
		t.Error("IsFamilyRevoked")
	}
}
