package dcr

import (
	"errors"
	"fmt"
)

// The RFC 7591 §3.2.2 error codes an [*Error] carries (dcr-consent.md §1.6), plus
// invalid_request for a body that is not a registration JWT at all.
const (
	CodeInvalidRequest              = "invalid_request"
	CodeInvalidClientMetadata       = "invalid_client_metadata"
	CodeInvalidRedirectURI          = "invalid_redirect_uri"
	CodeInvalidSoftwareStatement    = "invalid_software_statement"
	CodeUnapprovedSoftwareStatement = "unapproved_software_statement"
)

// ErrUnavailable means the request could not be checked: a JWK Set (directory, software,
// revoked keys) could not be fetched, or the jti store did not answer. It is "could not
// check", never "checked and bad"; the caller answers 503 and the client may retry.
var ErrUnavailable = errors.New("dcr: a key set or the replay store is unavailable")

// Error is a refused registration request: Code is one of the Code constants, Claim the
// claim (of the request or of the SSA) at fault, Description short and client-facing (RFC
// 6749 error_description character set), Err the internal cause for logs.
type Error struct {
	Code        string
	Claim       string
	Description string
	Err         error
}

func (e *Error) Error() string {
	s := "dcr: " + e.Code + ": " + e.Claim + ": " + e.Description
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

func refuse(code, claim, desc string) *Error {
	return &Error{Code: code, Claim: claim, Description: desc}
}

func refuseWith(code, claim, desc string, err error) *Error {
	return &Error{Code: code, Claim: claim, Description: desc, Err: err}
}

func metadata(claim, desc string) *Error { return refuse(CodeInvalidClientMetadata, claim, desc) }

func badSSA(claim, desc string, err error) *Error {
	return refuseWith(CodeInvalidSoftwareStatement, claim, desc, err)
}

func unapproved(claim, desc string) *Error {
	return refuse(CodeUnapprovedSoftwareStatement, claim, desc)
}

func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}
