package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/store"
)

// MaxDisplayNameLen bounds a customer's display name, in bytes.
const MaxDisplayNameLen = 256

// AdminStore is what [Customers] needs of the store.
type AdminStore interface {
	CreateCustomer(ctx context.Context, c store.Customer) error
	GetCustomer(ctx context.Context, id string) (store.Customer, error)
	ListCustomers(ctx context.Context) ([]store.Customer, error)
	DeleteCustomer(ctx context.Context, id string) error
}

// Customers registers, lists and removes embedded customers (`portcullis user …`).
type Customers struct {
	st     AdminStore
	key    *SecretKey
	params Argon2idParams
	random io.Reader
}

// NewCustomers returns the customer administration over st, sealing TOTP keys with key and
// hashing passwords with [DefaultArgon2id].
func NewCustomers(st AdminStore, key *SecretKey) *Customers {
	return &Customers{st: st, key: key, params: DefaultArgon2id, random: rand.Reader}
}

// NewCustomer describes a customer to register.
type NewCustomer struct {
	// ID is the customer id, also the username typed at login: 1 to 128 bytes of letters,
	// digits and . _ ~ @ + - .
	ID string
	// DisplayName is optional, at most 256 bytes of printable UTF-8.
	DisplayName string
	// Password is at least 8 and at most 1024 bytes.
	Password string
	// TOTPSecret is the TOTP key; nil means a fresh random one of [TOTPSecretSize] bytes.
	TOTPSecret []byte
}

// Enrolment is what registering a customer hands back, to be shown once: the TOTP key, in
// base32 and as the otpauth:// URI an authenticator app scans.
type Enrolment struct {
	ID         string
	TOTPSecret string // base32, no padding
	TOTPURI    string
}

// CustomerInfo is a registered customer as listed: no credentials.
type CustomerInfo struct {
	ID          string
	DisplayName string
	HasTOTP     bool
	CreatedAt   time.Time
}

// ValidateCustomerID returns an [*InvalidCustomerError] unless id is 1 to [MaxUsernameLen]
// bytes of ASCII letters, digits and . _ ~ @ + - .
func ValidateCustomerID(id string) error {
	if id == "" || len(id) > MaxUsernameLen {
		return &InvalidCustomerError{Field: "id", Reason: fmt.Sprintf("must be 1 to %d characters", MaxUsernameLen)}
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._~@+-", r):
		default:
			return &InvalidCustomerError{Field: "id", Reason: "may contain only letters, digits and . _ ~ @ + -"}
		}
	}
	return nil
}

func validateNewCustomer(nc NewCustomer) error {
	if err := ValidateCustomerID(nc.ID); err != nil {
		return err
	}
	if len(nc.DisplayName) > MaxDisplayNameLen || !utf8.ValidString(nc.DisplayName) ||
		strings.ContainsFunc(nc.DisplayName, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return &InvalidCustomerError{Field: "name", Reason: fmt.Sprintf("must be at most %d bytes of printable UTF-8", MaxDisplayNameLen)}
	}
	if len(nc.Password) < MinPasswordLen || len(nc.Password) > MaxPasswordLen {
		return &InvalidCustomerError{Field: "password", Reason: fmt.Sprintf("must be %d to %d bytes long", MinPasswordLen, MaxPasswordLen)}
	}
	if nc.TOTPSecret != nil && (len(nc.TOTPSecret) < minTOTPSecretSize || len(nc.TOTPSecret) > maxTOTPSecretSize) {
		return &InvalidCustomerError{Field: "totp-secret", Reason: fmt.Sprintf("must be %d to %d bytes", minTOTPSecretSize, maxTOTPSecretSize)}
	}
	return nil
}

// Add registers a customer: it hashes the password (argon2id), seals the TOTP key and stores
// both. It returns an [*InvalidCustomerError] naming the refused field, [ErrCustomerExists]
// if the id is taken, or a store failure.
func (cs *Customers) Add(ctx context.Context, nc NewCustomer) (Enrolment, error) {
	if err := validateNewCustomer(nc); err != nil {
		return Enrolment{}, err
	}
	secret := nc.TOTPSecret
	if secret == nil {
		var err error
		if secret, err = NewTOTPSecret(cs.random); err != nil {
			return Enrolment{}, err
		}
	}
	uri, err := TOTPURI(nc.ID, secret)
	if err != nil {
		return Enrolment{}, err
	}
	hash, err := HashPassword(nc.Password, cs.params, cs.random)
	if err != nil {
		return Enrolment{}, err
	}
	sealed, err := cs.key.seal(nc.ID, secret)
	if err != nil {
		return Enrolment{}, err
	}
	err = cs.st.CreateCustomer(ctx, store.Customer{ID: nc.ID, DisplayName: nc.DisplayName, PasswordHash: hash, TOTPSecret: sealed})
	if errors.Is(err, store.ErrDuplicate) {
		return Enrolment{}, ErrCustomerExists
	}
	if err != nil {
		return Enrolment{}, fmt.Errorf("identity: add customer: %w", err)
	}
	return Enrolment{ID: nc.ID, TOTPSecret: EncodeTOTPSecret(secret), TOTPURI: uri}, nil
}

// List returns every customer, ordered by id, without credentials.
func (cs *Customers) List(ctx context.Context) ([]CustomerInfo, error) {
	all, err := cs.st.ListCustomers(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity: list customers: %w", err)
	}
	out := make([]CustomerInfo, len(all))
	for i, c := range all {
		out[i] = CustomerInfo{ID: c.ID, DisplayName: c.DisplayName, HasTOTP: c.TOTPSecret != "", CreatedAt: c.CreatedAt}
	}
	return out, nil
}

// Remove deletes the customer id, or returns [ErrCustomerNotFound].
func (cs *Customers) Remove(ctx context.Context, id string) error {
	err := cs.st.DeleteCustomer(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrCustomerNotFound
	}
	if err != nil {
		return fmt.Errorf("identity: remove customer: %w", err)
	}
	return nil
}

// matches reports whether customer id has exactly this password and TOTP key. It returns
// [ErrCustomerNotFound] when there is no such customer.
func (cs *Customers) matches(ctx context.Context, id, password string, secret []byte) (bool, error) {
	c, err := cs.st.GetCustomer(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, ErrCustomerNotFound
	}
	if err != nil {
		return false, err
	}
	h, err := parsePHC(c.PasswordHash)
	if err != nil || !h.verify(password) {
		return false, nil
	}
	got, err := cs.key.open(c.ID, c.TOTPSecret)
	if err != nil {
		return false, nil
	}
	return subtle.ConstantTimeCompare(got, secret) == 1, nil
}

// GeneratePassword returns a random password of 100 bits in five groups of four lower-case
// base32 characters ("abcd-efgh-…"), easy to read out and type.
func GeneratePassword(random io.Reader) (string, error) {
	b := make([]byte, 13)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", fmt.Errorf("identity: generate password: %w", err)
	}
	s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:20]
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20], nil
}
