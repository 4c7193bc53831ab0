package obsig

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/pki"
)

// Header is the message signature header (canonical form).
const Header = "X-Jws-Signature"

// ClientKeys resolves a client's registered verification keys: *clientauth.KeyResolver.
type ClientKeys interface {
	Keys(ctx context.Context, c *client.Client) (*clientauth.ClientKeys, error)
}

// CertificateValidator validates a certificate chain for a purpose: *pki.Validator.
type CertificateValidator interface {
	Validate(ctx context.Context, chain []*x509.Certificate, purpose pki.Purpose) (*pki.Identity, error)
}

// VerifierOptions configure a [Verifier].
type VerifierOptions struct {
	// Keys resolves the client's keys. Required.
	Keys ClientKeys
	// Certificates validates the "x5c" chain of a client JWK (QSealC / OBSeal). Nil means
	// a signature by a key that carries certificates is refused (InvalidClaim, kid).
	Certificates CertificateValidator
	// TrustAnchors are the accepted tan values (e.g. "openbanking.org.uk"). Empty refuses
	// every signature.
	TrustAnchors []string
	// Algorithms are the accepted algorithms; nil means PS256 only (ES256 may be added).
	Algorithms []jose.Alg
	// Clock is read for iat; nil means clock.Real.
	Clock clock.Clock
	// MaxSkew bounds how far in the future iat may be; zero means jose.DefaultDetachedSkew.
	MaxSkew time.Duration
}

// Verifier verifies the x-jws-signature of requests. Safe for concurrent use.
type Verifier struct {
	opts VerifierOptions
}

// NewVerifier checks opts and returns a Verifier.
func NewVerifier(opts VerifierOptions) (*Verifier, error) {
	if opts.Keys == nil {
		return nil, errors.New("obsig: VerifierOptions.Keys is required")
	}
	if len(opts.TrustAnchors) == 0 {
		return nil, errors.New("obsig: at least one trust anchor (tan) is required")
	}
	for _, a := range opts.Algorithms {
		if a != jose.PS256 && a != jose.ES256 {
			return nil, fmt.Errorf("obsig: algorithm %q not allowed for message signatures (PS256, ES256)", a)
		}
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	return &Verifier{opts: opts}, nil
}

// The refusals this package adds to jose's and pki's.
var (
	// ErrMissing: the request has no x-jws-signature.
	ErrMissing = errors.New("obsig: x-jws-signature missing")
	// ErrMultiple: the request has more than one x-jws-signature.
	ErrMultiple = errors.New("obsig: more than one x-jws-signature")
	// ErrIssuer: http://openbanking.org.uk/iss does not name the client.
	ErrIssuer = errors.New("obsig: iss does not name the client")
	// ErrCertificate: the signing key's certificate was refused (pki), is not a PSD2
	// sealing certificate, or belongs to another organisation than the client. The
	// concrete error wraps pki's *ValidationError when pki refused it.
	ErrCertificate = errors.New("obsig: signing certificate refused")
	// ErrNoClientKeys: the client registered no usable keys.
	ErrNoClientKeys = errors.New("obsig: client has no usable keys")
)

// Verify verifies sig, the x-jws-signature of a request of client c, over body, and
// returns the verified signature. Errors: jose's (*jose.HeaderError, jose.ErrUnknownKey,
// jose.ErrBadSignature, jose.ErrJWKSFetch), [ErrNoClientKeys], [ErrCertificate] (wrapping
// pki's refusal; pki.ErrRevocationUnavailable means "could not check"), [ErrIssuer]. Use
// [WireError] for the OBIE answer.
//
// Spec: dcr-consent.md §2.5, fapi.md OB-10.
func (v *Verifier) Verify(ctx context.Context, c *client.Client, sig string, body []byte) (*jose.DetachedSignature, error) {
	if sig == "" {
		return nil, ErrMissing
	}
	if _, _, err := jose.ParseDetachedHeader(sig, v.opts.Algorithms); err != nil {
		return nil, err // structure first: no key lookup for a malformed header
	}
	keys, err := v.opts.Keys.Keys(ctx, c)
	if err != nil {
		if errors.Is(err, jose.ErrJWKSFetch) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrNoClientKeys, err)
	}
	ds, err := jose.VerifyDetached(ctx, sig, body, keys, jose.DetachedOptions{
		Algorithms: v.opts.Algorithms, TrustAnchors: v.opts.TrustAnchors, Clock: v.opts.Clock, MaxSkew: v.opts.MaxSkew,
	})
	if err != nil {
		return nil, err
	}
	var id *pki.Identity
	if certs := ds.Key.Certificates(); len(certs) > 0 {
		if id, err = v.checkCertificate(ctx, c, certs); err != nil {
			return nil, err
		}
	}
	if !issuerMatches(ds.Issuer, c, id) {
		return nil, ErrIssuer
	}
	return ds, nil
}

// checkCertificate validates the JWK's certificate chain like a QWAC, for signing: pki's
// chain, validity, QcType eseal, PSD2 statement and revocation, then the organisation.
func (v *Verifier) checkCertificate(ctx context.Context, c *client.Client, certs []*x509.Certificate) (*pki.Identity, error) {
	if v.opts.Certificates == nil {
		return nil, fmt.Errorf("%w: no certificate validator configured", ErrCertificate)
	}
	id, err := v.opts.Certificates.Validate(ctx, certs, pki.PurposeSigning)
	if err != nil {
		if errors.Is(err, pki.ErrRevocationUnavailable) || errors.Is(err, pki.ErrNoRevocationChecker) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	if id.Kind != pki.KindQSealC && id.Kind != pki.KindOBSeal {
		return nil, fmt.Errorf("%w: a %s certificate, want a QSealC or OBSeal", ErrCertificate, id.Kind)
	}
	if c.OrgID == "" || !equal(id.OrgID, c.OrgID) {
		return nil, fmt.Errorf("%w: certificate organisation is not the client's org_id", ErrCertificate)
	}
	return id, nil
}

// issuerMatches reports whether iss names client c: "{org_id}/{software_id}" (or the
// client_id when either is not registered) or, with an eIDAS certificate, its
// organizationIdentifier or RFC 4514 subject.
func issuerMatches(iss string, c *client.Client, id *pki.Identity) bool {
	want := c.ID
	if c.OrgID != "" && c.SoftwareID != "" {
		want = c.OrgID + "/" + c.SoftwareID
	}
	if equal(iss, want) {
		return true
	}
	if id != nil && id.Profile == pki.ProfileEIDAS {
		return equal(iss, id.OrgID) || equal(iss, id.Subject)
	}
	return false
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Error is the wire form of a refusal: status, OBIE ErrorCode, the header parameter at
// fault (Path) and a client-facing message. Err is the cause, for logs only.
type Error struct {
	Status    int
	ErrorCode string
	Path      string
	Message   string
	Err       error
}

func (e *Error) Error() string { return e.ErrorCode + ": " + e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// WireError maps an error of [Verifier.Verify] (or of the Client hook, or of reading the
// body) to its OBIE answer. It is the one domain → wire mapping of this package; an error
// it does not know is 500 UK.OBIE.UnexpectedError with no detail.
func WireError(err error) *Error {
	e := &Error{Status: http.StatusBadRequest, Err: err}
	var he *jose.HeaderError
	switch {
	case errors.Is(err, ErrMissing):
		e.ErrorCode, e.Path, e.Message = obie.CodeSignatureMissing, "x-jws-signature", "x-jws-signature is required"
	case errors.Is(err, ErrMultiple):
		e.ErrorCode, e.Path, e.Message = obie.CodeSignatureMalformed, "x-jws-signature", "more than one x-jws-signature"
	case errors.As(err, &he):
		path := he.Param
		if path == "" {
			path = "x-jws-signature"
		}
		switch {
		case errors.Is(err, jose.ErrMissingClaim):
			e.ErrorCode, e.Message = obie.CodeSignatureMissingClaim, "a required header parameter is missing from x-jws-signature"
		case errors.Is(err, jose.ErrInvalidClaim), errors.Is(err, jose.ErrAlgNotAllowed):
			e.ErrorCode, e.Message = obie.CodeSignatureInvalidClaim, "a header parameter of x-jws-signature is not acceptable"
		default:
			e.ErrorCode, e.Message = obie.CodeSignatureMalformed, "x-jws-signature is not a detached JWS"
		}
		e.Path = path
	case errors.Is(err, jose.ErrJWKSFetch), errors.Is(err, pki.ErrRevocationUnavailable), errors.Is(err, pki.ErrNoRevocationChecker):
		e.Status, e.ErrorCode, e.Message = http.StatusServiceUnavailable, obie.CodeUnexpectedError, "the signature could not be checked; try again later"
	case errors.Is(err, jose.ErrUnknownKey), errors.Is(err, ErrNoClientKeys):
		e.ErrorCode, e.Path, e.Message = obie.CodeSignatureInvalidClaim, "kid", "kid does not name a signing key of the client"
	case errors.Is(err, ErrCertificate):
		e.ErrorCode, e.Path, e.Message = obie.CodeSignatureInvalidClaim, "kid", "the signing key's certificate is not acceptable"
	case errors.Is(err, ErrIssuer):
		e.ErrorCode, e.Path, e.Message = obie.CodeSignatureInvalidClaim, jose.OBHeaderISS, "iss does not identify the client"
	case errors.Is(err, jose.ErrMalformed):
		e.ErrorCode, e.Path, e.Message = obie.CodeSignatureMalformed, "x-jws-signature", "x-jws-signature is not a detached JWS"
	case errors.Is(err, jose.ErrBadSignature):
		e.ErrorCode, e.Message = obie.CodeSignatureInvalid, "x-jws-signature does not verify"
	case errors.Is(err, errNoClient):
		e.Status, e.ErrorCode, e.Message = http.StatusUnauthorized, obie.CodeUnexpectedError, "the client could not be identified"
	case errors.Is(err, errBodyTooLarge):
		e.Status, e.ErrorCode, e.Message = http.StatusRequestEntityTooLarge, obie.CodeFieldInvalid, "request body too large"
	default:
		e.Status, e.ErrorCode, e.Message = http.StatusInternalServerError, obie.CodeUnexpectedError, "internal error"
	}
	return e
}
