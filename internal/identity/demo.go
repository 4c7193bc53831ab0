package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/portcullis/portcullis/internal/secretfile"
)

// Dev mode's demo customer.
const (
	// DemoCustomerID is the id (username) of the demo customer a dev-mode server seeds: the
	// sandbox bank's PSU "demo", whose accounts the approval page offers.
	DemoCustomerID = "demo"
	// DemoCredentialsFile is the file, under the data directory, that keeps the demo
	// customer's generated password and TOTP key (mode 0600), so that every restart prints
	// the same credentials.
	DemoCredentialsFile = "demo-customer.json"
)

// ErrDemoChanged is returned by [SeedDemo] when a customer "demo" exists whose password or
// TOTP key is not the one in the credentials file (it was replaced with `portcullis user`):
// it is left alone, and its credentials are unknown.
var ErrDemoChanged = errors.New("identity: the demo customer was changed; its credentials are not the ones in " + DemoCredentialsFile)

// DemoCredentials are what the dev banner prints for the demo customer.
type DemoCredentials struct {
	ID         string `json:"id"`
	Password   string `json:"password"`
	TOTPSecret string `json:"totp_secret"` // base32, no padding
	TOTPURI    string `json:"-"`
}

// SeedDemo makes sure the demo customer exists and returns its credentials. On first use it
// generates a password and a TOTP key and writes them to path (created exclusively, mode
// 0600); afterwards it reads them from there. The customer is registered when missing (also
// after the database was reset); an existing one with these credentials is left as it is, so
// seeding is idempotent across restarts. An existing one with other credentials yields
// [ErrDemoChanged].
func SeedDemo(ctx context.Context, cs *Customers, path string) (DemoCredentials, error) {
	creds, err := loadOrCreateDemo(cs, path)
	if err != nil {
		return DemoCredentials{}, err
	}
	secret, err := ParseTOTPSecret(creds.TOTPSecret)
	if err != nil {
		return DemoCredentials{}, fmt.Errorf("identity: %s: %w", path, err)
	}
	if creds.TOTPURI, err = TOTPURI(creds.ID, secret); err != nil {
		return DemoCredentials{}, err
	}
	// Two rounds: another process may register the customer between our look and our Add.
	for range 2 {
		same, err := cs.matches(ctx, creds.ID, creds.Password, secret)
		switch {
		case errors.Is(err, ErrCustomerNotFound):
			_, err = cs.Add(ctx, NewCustomer{ID: creds.ID, DisplayName: "Mr Demo Customer", Password: creds.Password, TOTPSecret: secret})
			if errors.Is(err, ErrCustomerExists) {
				continue
			}
			if err != nil {
				return DemoCredentials{}, err
			}
			return creds, nil
		case err != nil:
			return DemoCredentials{}, fmt.Errorf("identity: demo customer: %w", err)
		case !same:
			return DemoCredentials{}, ErrDemoChanged
		}
		return creds, nil
	}
	return DemoCredentials{}, errors.New("identity: the demo customer changed twice while seeding")
}

// loadOrCreateDemo reads the demo credentials file, or creates it with fresh credentials
// (secretfile.CreateOnce: concurrent first starts agree on one file, never a partial one).
func loadOrCreateDemo(cs *Customers, path string) (DemoCredentials, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		password, err := GeneratePassword(cs.random)
		if err != nil {
			return DemoCredentials{}, err
		}
		secret, err := NewTOTPSecret(cs.random)
		if err != nil {
			return DemoCredentials{}, err
		}
		out, _ := json.MarshalIndent(DemoCredentials{ID: DemoCustomerID, Password: password, TOTPSecret: EncodeTOTPSecret(secret)}, "", "  ")
		data, err = secretfile.CreateOnce(path, append(out, '\n'))
		if err != nil {
			return DemoCredentials{}, fmt.Errorf("identity: demo credentials: %w", err)
		}
	} else if err != nil {
		return DemoCredentials{}, fmt.Errorf("identity: demo credentials: %w", err)
	}
	var creds DemoCredentials
	if len(data) > 4096 || json.Unmarshal(data, &creds) != nil || creds.ID != DemoCustomerID || creds.Password == "" {
		return DemoCredentials{}, fmt.Errorf("identity: %s is not a demo credentials file (remove it to start over)", path)
	}
	return creds, nil
}
