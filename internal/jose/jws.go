package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Size limits for compact JWS parsing.
const (
	// DefaultMaxTokenSize is the token size limit when VerifyOptions.MaxSize is 0.
	DefaultMaxTokenSize = 16 << 10
	// MaxTokenSizeLimit is the largest VerifyOptions.MaxSize honoured.
	MaxTokenSizeLimit = 1 << 20

	maxHeaderSize = 4 << 10 // encoded protected header
	maxSigSize    = 1400    // encoded signature: RSA-8192 is 1366 characters
)

// Header is the protected header of a compact JWS, as far as this package
// interprets it. "jku", "x5u", "jwk" and "x5c" are never used to find a key
// (fapi.md FAPI1-AS-08); they are left in Raw.
type Header struct {
	Alg   Alg      // checked against the allow-list before anything else
	KeyID string   // "kid"; may be empty for client keys, never for ours
	Typ   string   // "typ" as sent; "" if absent
	Cty   string   // "cty" as sent; "" if absent
	Crit  []string // "crit": only names the caller declared in VerifyOptions.Critical
	// Raw is the decoded protected header JSON, for callers that read the extension
	// parameters they listed in VerifyOptions.Critical (e.g. OBIE's
	// http://openbanking.org.uk/iat). It has unique member names.
	Raw []byte
}

// registeredHeaders are JWS header parameter names that must not appear in
// "crit" (RFC 7515 §4.1.11).
var registeredHeaders = map[string]bool{
	"alg": true, "jku": true, "jwk": true, "kid": true, "x5u": true, "x5c": true,
	"x5t": true, "x5t#S256": true, "typ": true, "cty": true, "crit": true,
}

// compactJWS is a split, header-checked compact JWS whose signature has not been
// verified yet.
type compactJWS struct {
	header       Header
	signingInput string // BASE64URL(header) "." BASE64URL(payload)
	payload      string // encoded payload segment
	signature    string // encoded signature segment
}

// parseCompact splits token and checks it in this order: size and shape; header
// base64url and JSON structure ("alg" present and a string); the algorithm
// allow-list; then "b64", "crit", "typ"; only then the payload and signature
// segments. No key is touched.
func parseCompact(token string, opts *VerifyOptions) (*compactJWS, error) {
	max := opts.MaxSize
	if max <= 0 {
		max = DefaultMaxTokenSize
	}
	if max > MaxTokenSizeLimit {
		max = MaxTokenSizeLimit
	}
	if len(token) > max {
		return nil, fmt.Errorf("%w: token of %d bytes (limit %d)", ErrTooLarge, len(token), max)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: empty token", ErrMalformed)
	}
	if token[0] == '{' {
		return nil, fmt.Errorf("%w: JWS JSON serialisation not accepted", ErrMalformed)
	}
	switch strings.Count(token, ".") {
	case 2:
	case 4:
		return nil, fmt.Errorf("%w: JWE not accepted", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	h, rest, _ := strings.Cut(token, ".")
	p, s, _ := strings.Cut(rest, ".")
	if len(h) > maxHeaderSize {
		return nil, fmt.Errorf("%w: header too large", ErrTooLarge)
	}
	hb, err := b64decode(h)
	if err != nil || len(hb) == 0 {
		return nil, fmt.Errorf("%w: bad header encoding", ErrMalformed)
	}
	ph, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	if err := Allowed(string(ph.Alg), opts.Profile); err != nil {
		return nil, err
	}
	if ph.hasB64 {
		// RFC 7797 unencoded payloads are for detached message signatures, not JWTs.
		return nil, fmt.Errorf("%w: \"b64\" header not accepted", ErrMalformed)
	}
	if err := checkCritical(ph, opts.Critical); err != nil {
		return nil, err
	}
	if !typeAccepted(ph.Typ, opts.Types) {
		return nil, fmt.Errorf("%w: typ %q", ErrWrongType, truncate(ph.Typ))
	}
	if p == "" {
		return nil, fmt.Errorf("%w: detached payload not accepted", ErrMalformed)
	}
	if s == "" {
		return nil, fmt.Errorf("%w: missing signature", ErrMalformed)
	}
	if len(s) > maxSigSize {
		return nil, fmt.Errorf("%w: signature too large", ErrTooLarge)
	}
	ph.Raw = hb
	return &compactJWS{header: ph.Header, signingInput: token[:len(h)+1+len(p)], payload: p, signature: s}, nil
}

// parsedHeader is a Header plus what the policy checks after the algorithm need.
type parsedHeader struct {
	Header
	names   []string // every member name
	hasB64  bool
	critRaw []byte // the "crit" value, checked after the algorithm
}

// parseHeader decodes a protected header: one JSON object without duplicate
// names, with a string "alg"; "kid", "typ" and "cty", if present, strings. Other
// members are kept in Raw only.
func parseHeader(hb []byte) (*parsedHeader, error) {
	var ph parsedHeader
	hasAlg := false
	err := walkObject(hb, maxHeaderMembers, func(name string, v []byte) error {
		ph.names = append(ph.names, name)
		var err error
		switch name {
		case "alg":
			var a string
			a, err = jsonString(name, v)
			ph.Alg, hasAlg = Alg(a), true
		case "kid":
			ph.KeyID, err = jsonString(name, v)
		case "typ":
			ph.Typ, err = jsonString(name, v)
		case "cty":
			ph.Cty, err = jsonString(name, v)
		case "crit":
			ph.critRaw = v
		case "b64":
			ph.hasB64 = true
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !hasAlg {
		return nil, fmt.Errorf("%w: missing \"alg\"", ErrMalformed)
	}
	return &ph, nil
}

// checkCritical validates "crit" (RFC 7515 §4.1.11: a non-empty array of unique
// names of extension parameters present in the header, none of them registered)
// and refuses any entry the caller does not understand.
func checkCritical(ph *parsedHeader, understood []string) error {
	if ph.critRaw == nil {
		return nil
	}
	v := ph.critRaw
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &ph.Crit) != nil {
		return fmt.Errorf("%w: \"crit\" must be an array of strings", ErrMalformed)
	}
	if len(ph.Crit) == 0 {
		return fmt.Errorf("%w: empty \"crit\"", ErrMalformed)
	}
	for i, c := range ph.Crit {
		if registeredHeaders[c] || !contains(ph.names, c) || contains(ph.Crit[:i], c) {
			return fmt.Errorf("%w: bad \"crit\" entry %q", ErrMalformed, truncate(c))
		}
	}
	for _, c := range ph.Crit {
		if !contains(understood, c) {
			return fmt.Errorf("%w: %q", ErrUnsupportedCritical, truncate(c))
		}
	}
	return nil
}

// typeAccepted compares the "typ" header with the accepted list, ignoring case and
// an "application/" prefix (RFC 7515 §4.1.9). "" in the list means "no typ".
// A nil list accepts no typ and "JWT".
func typeAccepted(typ string, accepted []string) bool {
	if accepted == nil {
		accepted = []string{"", "JWT"}
	}
	t := normaliseType(typ)
	for _, a := range accepted {
		if normaliseType(a) == t {
			return true
		}
	}
	return false
}

func normaliseType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// b64decode is strict unpadded base64url (RFC 7515 §2): no padding, no
// whitespace, no non-zero trailing bits, so every byte string has one encoding.
func b64decode(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// verifySignature checks the JWS signature over signingInput with key under alg.
// The key must support alg (checked by the caller's key selection and again here).
func verifySignature(key *PublicKey, alg Alg, signingInput, encodedSig string) error {
	if !key.Supports(alg) {
		return fmt.Errorf("%w: key %q does not support %s", ErrUnknownKey, truncate(key.kid), alg)
	}
	sig, err := b64decode(encodedSig)
	if err != nil {
		return fmt.Errorf("%w: bad signature encoding", ErrMalformed)
	}
	want := 0
	switch k := key.key.(type) {
	case *ecdsa.PublicKey:
		want = 64
	case ed25519.PublicKey:
		want = ed25519.SignatureSize
	case *rsa.PublicKey:
		want = k.Size()
	}
	if len(sig) != want {
		return fmt.Errorf("%w: signature of %d bytes, want %d", ErrBadSignature, len(sig), want)
	}
	if !rawVerify(key.key, alg, []byte(signingInput), sig) {
		return ErrBadSignature
	}
	return nil
}

// signCompact produces a compact JWS of payload with a protected header holding
// exactly "alg", "kid" and, if not empty, "typ".
func signCompact(signer crypto.Signer, alg Alg, kid, typ string, payload []byte) (string, error) {
	hdr, err := json.Marshal(struct {
		Alg Alg    `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ,omitempty"`
	}{alg, kid, typ})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	hl, pl := enc.EncodedLen(len(hdr)), enc.EncodedLen(len(payload))
	buf := make([]byte, hl+1+pl, hl+1+pl+1+enc.EncodedLen(512))
	enc.Encode(buf, hdr)
	buf[hl] = '.'
	enc.Encode(buf[hl+1:], payload)
	sig, err := rawSign(signer, alg, buf)
	if err != nil {
		return "", fmt.Errorf("jose: signing with key %s: %w", kid, err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}
