package web

import (
	"context"
	"errors"
	"time"
)

// Authenticator checks a customer's two factors. It is declared here, where it is used;
// the embedded customer store (package identity) implements it, through an adapter that
// maps its errors onto the sentinels below.
//
// clientAddr is the browser's address as the listener saw it (see [Options.ClientAddr]);
// implementations rate-limit failures per customer and per clientAddr.
type Authenticator interface {
	// CheckPassword returns the customer id of username when password is right.
	// Errors: one wrapping [ErrWrongCredentials] for an unknown user or a wrong password
	// (indistinguishable to the browser), one wrapping [ErrTooManyAttempts] when the
	// customer or address is locked out (optionally implementing RetryAfter, see
	// [ErrTooManyAttempts]). Any other error means "could not check".
	CheckPassword(ctx context.Context, username, password, clientAddr string) (customerID string, err error)
	// CheckOTP checks a one-time code (RFC 6238 TOTP, six digits) of customerID.
	// Errors: [ErrWrongCredentials] for a wrong code, [ErrCodeUsed] for a code that
	// was right but already accepted once, [ErrTooManyAttempts] as for CheckPassword.
	// Any other error means "could not check".
	CheckOTP(ctx context.Context, customerID, code, clientAddr string) error
}

// The errors an [Authenticator] returns, tested with errors.Is. Each decides what the
// page shows; see pageError for the one mapping from errors to pages.
var (
	// ErrWrongCredentials: unknown customer, wrong password or wrong code. The page
	// says "not recognised" without telling which.
	ErrWrongCredentials = errors.New("web: wrong credentials")
	// ErrCodeUsed: a correct one-time code already accepted once; the page asks for
	// the next code.
	ErrCodeUsed = errors.New("web: one-time code already used")
	// ErrTooManyAttempts: further attempts are refused for a while. When an error in
	// the chain has a method RetryAfter() time.Duration, the page says how many seconds
	// to wait and the response carries Retry-After; otherwise it says "later". The
	// response status is 429.
	ErrTooManyAttempts = errors.New("web: too many attempts")
)

// TooManyAttemptsError is an [ErrTooManyAttempts] that knows when to retry. It is a
// convenience for adapters; any error wrapping ErrTooManyAttempts with a RetryAfter
// method is read the same way.
type TooManyAttemptsError struct {
	// Wait is how long the customer must wait before the next attempt.
	Wait time.Duration
}

func (e *TooManyAttemptsError) Error() string {
	return "web: too many attempts, retry after " + e.Wait.String()
}

// Is reports that e is an [ErrTooManyAttempts].
func (e *TooManyAttemptsError) Is(target error) bool { return target == ErrTooManyAttempts }

// RetryAfter returns e.Wait.
func (e *TooManyAttemptsError) RetryAfter() time.Duration { return e.Wait }

// retryAfter returns the wait an error in err's chain announces, or zero.
func retryAfter(err error) time.Duration {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		if d := ra.RetryAfter(); d > 0 {
			return d
		}
	}
	return 0
}
