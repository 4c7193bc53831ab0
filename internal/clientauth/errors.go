package clientauth

import (
	"errors"
	"fmt"
)

// Reasons a client failed to authenticate. Every error [Authenticator.Authenticate] returns
// for a client that did not prove who it is is an [*Error] whose Reason is exactly one of
// these (errors.Is works on the *Error directly). They all go on the wire as HTTP 401
// invalid_client with the one description [FailureDescription] (oauth.FromError, fapi.md
// §1): the reasons are told apart only in the audit trail and the log.
var (
	// ErrInvalidRequest: the authentication parameters themselves are unusable: a
	// client_secret or an Authorization header was sent (client secrets do not exist here,
	// FAPI1-AS-02), a parameter appears more than once, client_assertion_type is not the
	// RFC 7523 JWT bearer type, or a parameter is over its size limit.
	ErrInvalidRequest = errors.New("clientauth: unusable client authentication parameters")
	// ErrNoCredentials: the request carries no client authentication at all (no client
	// assertion and no client_id).
	ErrNoCredentials = errors.New("clientauth: no client authentication")
	// ErrUnknownClient: no client is registered under the presented identifier.
	ErrUnknownClient = errors.New("clientauth: unknown client")
	// ErrMethodMismatch: the client authenticated (or tried to) by a method other than its
	// registered token_endpoint_auth_method, e.g. a client assertion from a tls_client_auth
	// client, or none from a private_key_jwt client.
	ErrMethodMismatch = errors.New("clientauth: authentication method is not the registered one")
	// ErrClientIDMismatch: the client identifier presented in more than one way (form
	// client_id, assertion iss, assertion sub) disagrees (FAPI1-AS-04).
	ErrClientIDMismatch = errors.New("clientauth: client identifiers disagree")
	// ErrAssertionInvalid: the client assertion is malformed, too large, or misses or
	// misuses a required claim (iss, sub, exp, jti), or its lifetime is too long.
	ErrAssertionInvalid = errors.New("clientauth: invalid client assertion")
	// ErrAlgNotAllowed: the assertion is signed with an algorithm outside the client's
	// profile's allow-list or other than its registered token_endpoint_auth_signing_alg
	// (none, HS*, RS256 ...; FAPI1-AS-07).
	ErrAlgNotAllowed = errors.New("clientauth: client assertion algorithm not allowed")
	// ErrUnknownKey: none of the client's keys matches the assertion's kid / alg, even after
	// refetching the client's jwks_uri once.
	ErrUnknownKey = errors.New("clientauth: no key of the client matches the client assertion")
	// ErrBadSignature: the assertion's signature does not verify with the client's key.
	ErrBadSignature = errors.New("clientauth: client assertion signature invalid")
	// ErrKeysUnavailable: the client's jwks_uri could not be fetched or did not hold a valid
	// key set ("could not check" — the client's keys, not ours; still invalid_client).
	ErrKeysUnavailable = errors.New("clientauth: client keys unavailable")
	// ErrAudience: the assertion's aud does not identify this authorization server as the
	// client's profile requires (FAPI1-AS-03, FAPI2-AS-07).
	ErrAudience = errors.New("clientauth: client assertion audience invalid")
	// ErrExpired: the assertion's exp has passed.
	ErrExpired = errors.New("clientauth: client assertion expired")
	// ErrIssuedInFuture: the assertion's iat or nbf lies further in the future than the
	// allowed clock skew (FAPI2-AS-11).
	ErrIssuedInFuture = errors.New("clientauth: client assertion issued in the future")
	// ErrReplay: the assertion's jti was already used by this client, on any node.
	ErrReplay = errors.New("clientauth: client assertion replayed")
	// ErrNoCertificate: the method needs a client certificate and none was presented.
	ErrNoCertificate = errors.New("clientauth: no client certificate")
	// ErrCertificateInvalid: a client certificate was presented but failed validation
	// (chain, validity, profile, revocation — decided by package pki), or the
	// self-signed certificate is outside its validity period.
	ErrCertificateInvalid = errors.New("clientauth: client certificate invalid")
	// ErrSubjectMismatch: the validated certificate does not match the client's registered
	// tls_client_auth_subject_dn / tls_client_auth_san_* (FAPI1-AS-05), or, for
	// self_signed_tls_client_auth, none of the client's registered keys.
	ErrSubjectMismatch = errors.New("clientauth: client certificate does not match the client")
	// ErrNotAuthorised: the client authenticated, but the TPP's NCA register (Options.
	// Register) says its authorisation was withdrawn, does not cover one of its roles, or
	// does not exist — even though its certificate is valid.
	ErrNotAuthorised = errors.New("clientauth: TPP not authorised by its NCA")
)

// ErrInternal is matched (errors.Is) by every error [Authenticator.Authenticate] returns that
// is not an [*Error]: the decision could not be made — the client registry or the jti store
// did not answer, the context ended, or the caller is miswired (no mtls Extractor, an invalid
// [Endpoint]). It is "could not check", never "checked and bad": it goes on the wire as 500
// server_error with no detail (oauth.FromError), whatever else the cause matches (a store or
// context error) — except the database being unreachable (store.ErrUnavailable), which is
// 503 temporarily_unavailable — and the request is refused.
var ErrInternal = errors.New("clientauth: client authentication could not be completed")

// ErrCertificateStatusUnavailable is matched by the error [Authenticator.Authenticate]
// returns when the method needs the presented certificate validated and package pki could
// not establish its revocation status (pki.ErrRevocationUnavailable: no OCSP or CRL answer
// under a hard-fail anchor). The client is not at fault and was not found bad: it is neither
// an [*Error] nor [ErrInternal], and goes on the wire as 503 temporarily_unavailable with
// Retry-After (oauth.FromError), as the gateway answers. The request is refused. The error
// also matches the pki verdict it wraps. The same error reports an NCA register
// (Options.Register) that could not be consulted: the TPP's authorisation, like the
// certificate's status, could not be established (it then matches nca.ErrUnavailable).
var ErrCertificateStatusUnavailable = errors.New("clientauth: client certificate revocation status could not be checked")

// certificateStatusUnavailable wraps a pki "could not check" verdict.
func certificateStatusUnavailable(err error) error {
	return fmt.Errorf("%w: %w", ErrCertificateStatusUnavailable, err)
}

// internalError marks a failure of Authenticate that is not the client's: it matches
// [ErrInternal] and unwraps to the cause, and reads as the cause alone.
type internalError struct{ err error }

func (e *internalError) Error() string        { return e.err.Error() }
func (e *internalError) Unwrap() error        { return e.err }
func (e *internalError) Is(target error) bool { return target == ErrInternal }

// FailureDescription is the client-facing description of every client authentication
// failure, whatever its reason: the caller learns that it is not authenticated, never
// whether the client id exists, how the client authenticates or which check failed (that
// would let any certificate holder enumerate clients and their methods). The reason and the
// detail go to the audit trail and the log instead.
const FailureDescription = "client authentication failed"

// Error is a failed client authentication. Reason is one of the sentinel errors of this
// package. Description is the client-facing text and is always [FailureDescription]. Detail
// says what exactly failed, in words that carry no secret (no assertion, no certificate), for
// the audit trail and the log; the internal cause, if any, is kept for logs (Error, Unwrap).
// Neither Detail nor the cause ever goes on the wire.
type Error struct {
	Reason      error
	Description string
	Detail      string
	// ClientID is the client identifier the request claimed (form client_id, or the client
	// assertion's iss) when it has the syntax of one ([client.ValidID]), else empty. It need
	// not name a registered client: the request failed to authenticate as it.
	ClientID string
	cause    error
}

func (e *Error) Error() string {
	s := e.Reason.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the reason and, when there is one, the internal cause, so errors.Is matches
// either (e.g. jose.ErrAlgNotAllowed as well as [ErrAlgNotAllowed]).
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Reason, e.cause}
	}
	return []error{e.Reason}
}

func fail(reason error, detail string) *Error {
	return &Error{Reason: reason, Description: FailureDescription, Detail: detail}
}

func failWith(reason error, detail string, cause error) *Error {
	return &Error{Reason: reason, Description: FailureDescription, Detail: detail, cause: cause}
}
