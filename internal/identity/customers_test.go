package identity_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

func TestCustomersAddValidation(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
	ok := identity.NewCustomer{ID: "bob", Password: "bob-password"}
	tests := []struct {
		name  string
		mut   func(*identity.NewCustomer)
		field string
	}{
		{"empty id", func(c *identity.NewCustomer) { c.ID = "" }, "id"},
		{"long id", func(c *identity.NewCustomer) { c.ID = strings.Repeat("b", identity.MaxUsernameLen+1) }, "id"},
		{"space in id", func(c *identity.NewCustomer) { c.ID = "bob smith" }, "id"},
		{"non-ASCII id", func(c *identity.NewCustomer) { c.ID = "bøb" }, "id"},
		{"control character in name", func(c *identity.NewCustomer) { c.DisplayName = "Bob\nSmith" }, "name"},
		{"long name", func(c *identity.NewCustomer) { c.DisplayName = strings.Repeat("n", identity.MaxDisplayNameLen+1) }, "name"},
		{"short password", func(c *identity.NewCustomer) { c.Password = "1234567" }, "password"},
		{"long password", func(c *identity.NewCustomer) { c.Password = strings.Repeat("p", identity.MaxPasswordLen+1) }, "password"},
		{"short TOTP key", func(c *identity.NewCustomer) { c.TOTPSecret = make([]byte, 15) }, "totp-secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := ok
			tt.mut(&nc)
			_, err := v.cs.Add(t.Context(), nc)
			var ie *identity.InvalidCustomerError
			if !errors.As(err, &ie) || ie.Field != tt.field {
				t.Fatalf("Add = %v, want an invalid %s", err, tt.field)
			}
		})
	}
	all, err := v.cs.List(t.Context())
	if err != nil || len(all) != 1 {
		t.Fatalf("after refused adds List = %v, %v; want alice alone", all, err)
	}
}

func TestCustomersAddListRemove(t *testing.T) {
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
	enr, err := v.cs.Add(t.Context(), identity.NewCustomer{ID: "bob@example.com", DisplayName: "Bob Smith", Password: "bob-password"})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := identity.ParseTOTPSecret(enr.TOTPSecret)
	if err != nil || len(secret) != identity.TOTPSecretSize {
		t.Fatalf("generated TOTP key %q: %d bytes, %v", enr.TOTPSecret, len(secret), err)
	}
	if !strings.HasPrefix(enr.TOTPURI, "otpauth://totp/Portcullis:bob@example.com?") || !strings.Contains(enr.TOTPURI, "secret="+enr.TOTPSecret) {
		t.Fatalf("TOTP URI %q", enr.TOTPURI)
	}
	// The stored row holds neither the password nor the TOTP key in the clear.
	row, err := v.st.GetCustomer(t.Context(), "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row.PasswordHash, "bob-password") || !strings.HasPrefix(row.PasswordHash, "$argon2id$") ||
		strings.Contains(row.TOTPSecret, enr.TOTPSecret) || bytes.Contains([]byte(row.TOTPSecret), secret) {
		t.Fatalf("stored row leaks a credential: %+v", row)
	}
	// The new customer can log in with both factors.
	id, err := v.e.CheckPassword(t.Context(), "bob@example.com", "bob-password", addr)
	wantErr(t, "CheckPassword", err, nil)
	code, err := identity.TOTPCode(secret, v.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CheckOTP", v.e.CheckOTP(t.Context(), id, code, addr), nil)

	_, err = v.cs.Add(t.Context(), identity.NewCustomer{ID: "bob@example.com", Password: "other-password"})
	wantErr(t, "Add again", err, identity.ErrCustomerExists)

	all, err := v.cs.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []identity.CustomerInfo{
		{ID: "alice", HasTOTP: true, CreatedAt: epoch},
		{ID: "bob@example.com", DisplayName: "Bob Smith", HasTOTP: true, CreatedAt: epoch},
	}
	if d := cmp.Diff(want, all); d != "" {
		t.Fatalf("List (-want +got):\n%s", d)
	}
	wantErr(t, "Remove", v.cs.Remove(t.Context(), "bob@example.com"), nil)
	wantErr(t, "Remove again", v.cs.Remove(t.Context(), "bob@example.com"), identity.ErrCustomerNotFound)
	_, err = v.e.CheckPassword(t.Context(), "bob@example.com", "bob-password", addr)
	wantErr(t, "CheckPassword after Remove", err, identity.ErrInvalidCredentials)
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		p, err := identity.GeneratePassword(cryptoRand{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 24 || strings.Count(p, "-") != 4 || p != strings.ToLower(p) || seen[p] {
			t.Fatalf("GeneratePassword = %q", p)
		}
		seen[p] = true
	}
}

func TestSeedDemo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, identity.DemoCredentialsFile)
	v := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
	first, err := identity.SeedDemo(t.Context(), v.cs, path)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != identity.DemoCustomerID || first.Password == "" || first.TOTPSecret == "" || !strings.HasPrefix(first.TOTPURI, "otpauth://totp/") {
		t.Fatalf("demo credentials %+v", first)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, %v; want mode 0600", fi, err)
	}
	// A restart: the same credentials, one customer.
	again, err := identity.SeedDemo(t.Context(), v.cs, path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(first, again); d != "" {
		t.Fatalf("second seeding changed the credentials (-first +again):\n%s", d)
	}
	all, _ := v.cs.List(t.Context())
	if len(all) != 2 {
		t.Fatalf("customers after two seedings: %v", all)
	}
	// The printed credentials log in, with both factors.
	id, err := v.e.CheckPassword(t.Context(), first.ID, first.Password, addr)
	wantErr(t, "demo password", err, nil)
	secret, _ := identity.ParseTOTPSecret(first.TOTPSecret)
	code, _ := identity.TOTPCode(secret, v.clk.Now())
	wantErr(t, "demo TOTP", v.e.CheckOTP(t.Context(), id, code, addr), nil)

	// A fresh database with the same data dir gets the same demo customer back.
	v2 := newEnv(t, storetest.OpenSQLiteClock, identity.RateLimit{})
	third, err := identity.SeedDemo(t.Context(), v2.cs, path)
	if err != nil || third != first {
		t.Fatalf("seeding a fresh database = %+v, %v; want the same credentials", third, err)
	}
	_, err = v2.e.CheckPassword(t.Context(), first.ID, first.Password, addr)
	wantErr(t, "demo password on the fresh database", err, nil)

	// A demo customer replaced by hand is left alone and reported.
	wantErr(t, "Remove demo", v2.cs.Remove(t.Context(), "demo"), nil)
	if _, err := v2.cs.Add(t.Context(), identity.NewCustomer{ID: "demo", Password: "another-password"}); err != nil {
		t.Fatal(err)
	}
	_, err = identity.SeedDemo(t.Context(), v2.cs, path)
	wantErr(t, "SeedDemo over a changed demo customer", err, identity.ErrDemoChanged)
	_, err = v2.e.CheckPassword(t.Context(), "demo", "another-password", addr)
	wantErr(t, "the operator's demo password still works", err, nil)

	// A corrupt credentials file is an error, not silently replaced.
	if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.SeedDemo(t.Context(), v.cs, path); err == nil {
		t.Fatal("SeedDemo accepted a corrupt credentials file")
	}
}
