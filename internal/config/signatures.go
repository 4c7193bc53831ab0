package config

import "strings"

// The dev-mode values of the signatures section: the sandbox's trust anchor name, which
// TPP signatures made with sandbox QSealCs carry as tan, and the sandbox bank's
// organisation identifier (the org of its sandbox QSealC), the iss of the bank's response
// signatures.
const (
	SandboxTrustAnchor = "portcullis-sandbox"
	SandboxBankOrgID   = "PSDGB-FCA-000001"
)

// Response signature forms (signatures.response_form).
const (
	SignatureFormV314 = "v3.1.4" // plain detached JWS (no b64 header): OBIE v3.1.4 and later
	SignatureFormV313 = "v3.1.3" // "b64": false (RFC 7797), for clients of v3.1.3 and earlier
)

// Signatures configures Open Banking message signing (x-jws-signature, dcr-consent.md
// §2.5, fapi.md OB-10) on the payment consent and payment APIs: requests must carry a
// TPP signature that verifies with a key of the client's registered JWKS (QSealC
// validated when the key carries one), and every response is signed with the bank's
// message-signing key (keys.seal_cert_file / keys.seal_key_file; in dev mode the
// sandbox QSealC).
type Signatures struct {
	// TrustAnchors are the accepted "http://openbanking.org.uk/tan" values. Default in dev
	// mode: [SandboxTrustAnchor]; otherwise "openbanking.org.uk" (the OB Directory).
	// At least one.
	TrustAnchors []string `koanf:"trust_anchors"`
	// Issuer is the "http://openbanking.org.uk/iss" of the bank's response signatures:
	// its organisation id. Default in dev mode: [SandboxBankOrgID]. Required outside dev
	// mode.
	Issuer string `koanf:"issuer"`
	// ResponseTrustAnchor is the tan of the bank's response signatures. Default: the first
	// of TrustAnchors.
	ResponseTrustAnchor string `koanf:"response_trust_anchor"`
	// AllowES256 accepts ES256 TPP signatures besides PS256 (off by default: the OBIE
	// v3.1 text names PS256 only).
	AllowES256 bool `koanf:"allow_es256"`
	// ResponseForm is the form of the bank's response signatures: [SignatureFormV314]
	// (default) or [SignatureFormV313]. Requests are accepted in both forms.
	ResponseForm string `koanf:"response_form"`
}

func defaultSignatures(dev bool) Signatures {
	if dev {
		return Signatures{TrustAnchors: []string{SandboxTrustAnchor}, Issuer: SandboxBankOrgID, ResponseForm: SignatureFormV314}
	}
	return Signatures{TrustAnchors: []string{"openbanking.org.uk"}, ResponseForm: SignatureFormV314}
}

// validate checks the section; the issuer is required outside dev mode only once a
// message-signing key is configured (without one the server does not start, see
// package app), so that the default configuration still only lacks the TLS certificate.
func (s Signatures) validate(dev bool, sealKey bool) []error {
	var errs []error
	if len(s.TrustAnchors) == 0 {
		errs = append(errs, fieldErr("signatures.trust_anchors", "at least one trust anchor is required"))
	}
	for i, a := range s.TrustAnchors {
		if a == "" || len(a) > 256 || strings.TrimSpace(a) != a {
			errs = append(errs, fieldErr("signatures.trust_anchors", "entry %d must be a non-empty name without surrounding space, at most 256 characters", i))
		}
	}
	if !dev && sealKey && s.Issuer == "" {
		errs = append(errs, fieldErr("signatures.issuer", "required: the bank's organisation id, the iss of its response signatures"))
	}
	if len(s.Issuer) > 256 || len(s.ResponseTrustAnchor) > 256 {
		errs = append(errs, fieldErr("signatures.issuer", "at most 256 characters"))
	}
	switch s.ResponseForm {
	case "", SignatureFormV314, SignatureFormV313:
	default:
		errs = append(errs, fieldErr("signatures.response_form", "must be %q or %q", SignatureFormV314, SignatureFormV313))
	}
	return errs
}
