package identity

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the customer checks ([Embedded.CheckPassword], [Embedded.CheckOTP]). Callers test
// them with errors.Is; any other error means the check could not be made, and the login must
// fail closed.
var (
	// ErrInvalidCredentials: the username is unknown or the password is wrong — deliberately
	// one error, returned after the same argon2id work in both cases.
	ErrInvalidCredentials = errors.New("identity: invalid username or password")
	// ErrInvalidOTP: the code is not six digits, or not the customer's code for the current
	// time step or one step either side.
	ErrInvalidOTP = errors.New("identity: invalid one-time code")
	// ErrOTPReplayed: the code is right but its time step (or a later one) was already used
	// for this customer (RFC 6238 §5.2: a code is accepted once).
	ErrOTPReplayed = errors.New("identity: one-time code already used")
	// ErrRateLimited: too many failed attempts for this customer or client address in the
	// current window; the attempt was not checked. The error is a [*RateLimitedError].
	ErrRateLimited = errors.New("identity: too many failed attempts")
)

// RateLimitedError is returned when an attempt is refused unchecked because a failure
// counter is over its limit. errors.Is(err, ErrRateLimited) holds.
type RateLimitedError struct {
	// RetryAfter is how long until the counter's window ends (at least one second), suitable
	// for a Retry-After header.
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%v; retry after %v", ErrRateLimited, e.RetryAfter)
}

// Is reports whether target is [ErrRateLimited].
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// Errors of customer administration ([Customers]).
var (
	// ErrCustomerExists: a customer with that id is already registered.
	ErrCustomerExists = errors.New("identity: a customer with this id already exists")
	// ErrCustomerNotFound: no customer has that id.
	ErrCustomerNotFound = errors.New("identity: no such customer")
)

// InvalidCustomerError says which field of a new customer was refused, and why. Field is the
// name a command-line user knows: "id", "name", "password" or "totp-secret".
type InvalidCustomerError struct {
	Field, Reason string
}

func (e *InvalidCustomerError) Error() string {
	return "identity: invalid customer " + e.Field + ": " + e.Reason
}
