package jose

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// Open Banking message signing: the x-jws-signature header, a JWS with a detached payload
// (RFC 7515 Appendix F) whose payload is the HTTP body (dcr-consent.md §2.5, fapi.md OB-10).
//
// Two forms exist and both are verified, chosen by the header:
//
//   - [DetachedEncoded] (OBIE Read/Write v3.1.4 and later): no "b64" header; the signing
//     input is ASCII(BASE64URL(header) "." BASE64URL(body)), the payload segment is left
//     empty on the wire;
//   - [DetachedUnencoded] (up to v3.1.3): "b64": false, with "b64" listed in "crit"; the
//     signing input is ASCII(BASE64URL(header) ".") followed by the body bytes as they
//     are (RFC 7797 §3).

// The Open Banking private header parameters of a message signature.
const (
	OBHeaderIAT = "http://openbanking.org.uk/iat" // JSON number: seconds since the epoch
	OBHeaderISS = "http://openbanking.org.uk/iss" // the signer: "{org_id}/{software_id}" for a TPP
	OBHeaderTAN = "http://openbanking.org.uk/tan" // trust anchor DNS name, e.g. "openbanking.org.uk"
)

// DetachedForm is the form of a detached message signature.
type DetachedForm int

// The forms of [VerifyDetached] and [SigningKey.SignDetached].
const (
	// DetachedEncoded: no "b64" header; the payload is base64url-encoded in the signing
	// input (OBIE v3.1.4 and later). The zero value of a signing request means this form.
	DetachedEncoded DetachedForm = iota + 1
	// DetachedUnencoded: "b64": false and "b64" in "crit"; the raw body is the payload
	// (RFC 7797; OBIE up to v3.1.3).
	DetachedUnencoded
)

func (f DetachedForm) String() string {
	switch f {
	case DetachedEncoded:
		return "encoded"
	case DetachedUnencoded:
		return "b64=false"
	}
	return "DetachedForm(" + strconv.Itoa(int(f)) + ")"
}

// DefaultDetachedSkew is DetachedOptions.MaxSkew when zero: how far in the future an
// http://openbanking.org.uk/iat may lie, for the signer's clock being ahead of ours.
const DefaultDetachedSkew = 30 * time.Second

// maxDetachedSize bounds the whole header value: the header (maxHeaderSize), two dots,
// the signature (maxSigSize).
const maxDetachedSize = maxHeaderSize + 2 + maxSigSize

// DetachedOptions says what [VerifyDetached] accepts. The zero value accepts nothing: no
// trust anchor is configured, so every signature is refused with [ErrInvalidClaim].
type DetachedOptions struct {
	// Algorithms lists the accepted "alg" values. Nil means PS256 only (the OBIE v3.1
	// text); ES256 may be added. Anything outside PS256 and ES256 is never accepted.
	Algorithms []Alg
	// TrustAnchors lists the accepted http://openbanking.org.uk/tan values (DNS names,
	// compared case-insensitively), e.g. "openbanking.org.uk".
	TrustAnchors []string
	// Clock is read for the iat check. Nil means clock.Real.
	Clock clock.Clock
	// MaxSkew is how far in the future iat may be. Zero means DefaultDetachedSkew.
	MaxSkew time.Duration
	// MaxAge, if positive, is how far in the past iat may be. Zero means no bound
	// (OBIE sets none; replays are the idempotency key's and the consent's business).
	MaxAge time.Duration
}

// DetachedSignature is a verified message signature.
type DetachedSignature struct {
	Form        DetachedForm
	Alg         Alg
	KeyID       string
	Issuer      string    // http://openbanking.org.uk/iss, to be matched with the client by the caller
	TrustAnchor string    // http://openbanking.org.uk/tan, one of DetachedOptions.TrustAnchors
	IssuedAt    time.Time // http://openbanking.org.uk/iat
	Typ, Cty    string    // as sent, "" if absent
	// Key verified the signature. Its Certificates, if any, came from the JWK's "x5c"
	// and are not validated here: the caller validates them (pki) for the signing purpose.
	Key *PublicKey
}

// HeaderError is the error of [VerifyDetached] about one header parameter: Param names it
// ("alg", "kid", "crit", "b64", OBHeaderIAT, …; "" for the header as a whole) and Err is
// the sentinel: [ErrMissingClaim], [ErrInvalidClaim], [ErrAlgNotAllowed], [ErrMalformed],
// [ErrTooLarge]. errors.Is sees the sentinel.
type HeaderError struct {
	Param  string
	Err    error
	Detail string // for logs; no secrets, attacker strings truncated
}

func (e *HeaderError) Error() string {
	s := e.Err.Error()
	if e.Param != "" {
		s += ": " + strconv.Quote(truncate(e.Param))
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the sentinel.
func (e *HeaderError) Unwrap() error { return e.Err }

func headerErr(param string, err error, format string, args ...any) error {
	return &HeaderError{Param: param, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// detachedHeader is a parsed, structurally checked detached signature header.
type detachedHeader struct {
	hdr    Header
	form   DetachedForm
	iat    float64
	iss    string
	tan    string
	hasIAT bool
	encHdr string // BASE64URL(header) as sent
	sig    string // encoded signature as sent
}

// obCrit is the "crit" of the encoded form; the unencoded form adds "b64".
var obCrit = []string{OBHeaderIAT, OBHeaderISS, OBHeaderTAN}

// parseDetached splits and checks a detached signature, in this order: size and shape
// (header..signature); the header's base64url and JSON (one object, unique names); "alg"
// against algs, before anything else about the header; every member known and of its
// type; "kid" and the OB parameters present; "crit" exactly the OB names (and "b64" iff
// the unencoded form); the signature segment's size. No key is touched, no clock read.
func parseDetached(sig string, algs []Alg) (*detachedHeader, error) {
	if len(sig) > maxDetachedSize {
		return nil, headerErr("", ErrTooLarge, "signature of %d bytes", len(sig))
	}
	h, rest, ok := strings.Cut(sig, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.IndexByte(s, '.') >= 0 {
		return nil, headerErr("", ErrMalformed, "not a compact JWS")
	}
	if p != "" {
		return nil, headerErr("", ErrMalformed, "payload segment not empty (the payload must be detached)")
	}
	if h == "" || s == "" {
		return nil, headerErr("", ErrMalformed, "empty header or signature")
	}
	if len(h) > maxHeaderSize {
		return nil, headerErr("", ErrTooLarge, "header too large")
	}
	if len(s) > maxSigSize {
		return nil, headerErr("", ErrTooLarge, "signature too large")
	}
	hb, err := b64decode(h)
	if err != nil || len(hb) == 0 {
		return nil, headerErr("", ErrMalformed, "bad header encoding")
	}
	d := &detachedHeader{form: DetachedEncoded, encHdr: h, sig: s}
	var critRaw, b64Raw []byte
	var hasAlg, hasKid, hasISS, hasTAN bool
	err = walkObject(hb, maxHeaderMembers, func(name string, v []byte) error {
		var err error
		switch name {
		case "alg":
			var a string
			a, err = jsonString(name, v)
			d.hdr.Alg, hasAlg = Alg(a), true
		case "kid":
			d.hdr.KeyID, err = jsonString(name, v)
			hasKid = true
		case "typ":
			d.hdr.Typ, err = jsonString(name, v)
		case "cty":
			d.hdr.Cty, err = jsonString(name, v)
		case "crit":
			critRaw = v
		case "b64":
			b64Raw = v
		case OBHeaderIAT:
			d.hasIAT = true
			if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
				return headerErr(name, ErrInvalidClaim, "not a JSON number")
			}
			d.iat, err = strconv.ParseFloat(string(v), 64)
			if err != nil || math.IsInf(d.iat, 0) || d.iat < 0 {
				return headerErr(name, ErrInvalidClaim, "not a usable time")
			}
		case OBHeaderISS:
			d.iss, err = jsonString(name, v)
			hasISS = true
		case OBHeaderTAN:
			d.tan, err = jsonString(name, v)
			hasTAN = true
		default:
			// dcr-consent.md §2.5: headers with unknown claims are refused. This includes
			// "jku", "jwk", "x5u" and "x5c": the key comes from the client's registration.
			return headerErr(name, ErrInvalidClaim, "header parameter not allowed")
		}
		if err != nil {
			return headerErr(name, ErrInvalidClaim, "must be a string")
		}
		return nil
	})
	if err != nil {
		var he *HeaderError
		if errors.As(err, &he) {
			return nil, err
		}
		if errors.Is(err, ErrTooLarge) {
			return nil, &HeaderError{Err: ErrTooLarge, Detail: err.Error()}
		}
		return nil, &HeaderError{Err: ErrMalformed, Detail: err.Error()}
	}
	if !hasAlg {
		return nil, headerErr("alg", ErrMissingClaim, "missing")
	}
	if err := detachedAlg(d.hdr.Alg, algs); err != nil {
		return nil, err
	}
	d.hdr.Raw = hb
	if !hasKid {
		return nil, headerErr("kid", ErrMissingClaim, "missing")
	}
	if d.hdr.KeyID == "" {
		return nil, headerErr("kid", ErrInvalidClaim, "empty")
	}
	if d.hdr.Typ != "" && !strings.EqualFold(d.hdr.Typ, "JOSE") {
		return nil, headerErr("typ", ErrInvalidClaim, "%q, want JOSE", truncate(d.hdr.Typ))
	}
	if d.hdr.Cty != "" && !strings.EqualFold(d.hdr.Cty, "json") && !strings.EqualFold(d.hdr.Cty, "application/json") {
		return nil, headerErr("cty", ErrInvalidClaim, "%q, want json or application/json", truncate(d.hdr.Cty))
	}
	switch {
	case b64Raw == nil:
	case string(b64Raw) == "false":
		d.form = DetachedUnencoded
	default:
		// "b64": true is the default spelled out; OBIE v3.1.4 removed the header, and
		// accepting it would give one signature two readings.
		return nil, headerErr("b64", ErrInvalidClaim, "must be false when present")
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{{OBHeaderIAT, d.hasIAT}, {OBHeaderISS, hasISS}, {OBHeaderTAN, hasTAN}, {"crit", critRaw != nil}} {
		if !c.ok {
			return nil, headerErr(c.name, ErrMissingClaim, "missing")
		}
	}
	if d.iss == "" {
		return nil, headerErr(OBHeaderISS, ErrInvalidClaim, "empty")
	}
	if d.tan == "" {
		return nil, headerErr(OBHeaderTAN, ErrInvalidClaim, "empty")
	}
	if err := checkDetachedCrit(critRaw, d); err != nil {
		return nil, err
	}
	return d, nil
}

// detachedAlg checks alg against the configured list (nil: PS256), which itself may only
// name PS256 and ES256.
func detachedAlg(alg Alg, algs []Alg) error {
	if algs == nil {
		algs = []Alg{PS256}
	}
	for _, a := range algs {
		if a == alg && (a == PS256 || a == ES256) {
			return nil
		}
	}
	return &HeaderError{Param: "alg", Err: &AlgError{Alg: string(alg)}}
}

// checkDetachedCrit requires "crit" to be an array holding exactly the OB names, each
// once, plus "b64" exactly when the header has "b64" (RFC 7797 §6).
func checkDetachedCrit(raw []byte, d *detachedHeader) error {
	var crit []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &crit) != nil {
		return headerErr("crit", ErrInvalidClaim, "must be an array of strings")
	}
	want := obCrit
	if d.form == DetachedUnencoded {
		want = append([]string{"b64"}, obCrit...)
	}
	if len(crit) != len(want) {
		return headerErr("crit", ErrInvalidClaim, "%d entries, want exactly %d", len(crit), len(want))
	}
	for i, c := range crit {
		if !contains(want, c) || contains(crit[:i], c) {
			return headerErr("crit", ErrInvalidClaim, "unexpected entry %q", truncate(c))
		}
	}
	d.hdr.Crit = crit
	return nil
}

// ParseDetachedHeader checks the structure of a detached message signature without
// verifying it: everything [VerifyDetached] checks before it looks at a key or the clock.
// It returns the header and the form; errors are *[HeaderError].
func ParseDetachedHeader(sig string, algs []Alg) (Header, DetachedForm, error) {
	d, err := parseDetached(sig, algs)
	if err != nil {
		return Header{}, 0, err
	}
	return d.hdr, d.form, nil
}

// VerifyDetached verifies sig, the value of an x-jws-signature header, over body. In order:
//
//  1. shape and header (see [ParseDetachedHeader]): errors are *[HeaderError] wrapping
//     [ErrMalformed], [ErrTooLarge], [ErrAlgNotAllowed], [ErrMissingClaim] or
//     [ErrInvalidClaim] (unknown header parameter, "crit" other than exactly the OB
//     names — plus "b64" for the unencoded form —, "b64" other than false, "typ" other
//     than JOSE, "cty" other than json, an empty kid, iss or tan);
//  2. tan is one of opts.TrustAnchors and iat is not later than now + MaxSkew (nor, with
//     MaxAge, earlier than now - MaxAge): [ErrInvalidClaim];
//  3. the key, through keys, by "kid" and "alg" ([ErrUnknownKey], [ErrJWKSFetch]);
//  4. the signature over the form's signing input ([ErrBadSignature]).
//
// It does not match iss with the client, nor validate the key's certificates: the caller
// does both, with what it knows about the client (fapi.md OB-10).
//
// Spec: RFC 7515 Appendix F, RFC 7797, dcr-consent.md §2.5.
func VerifyDetached(ctx context.Context, sig string, body []byte, keys KeyResolver, opts DetachedOptions) (*DetachedSignature, error) {
	d, err := parseDetached(sig, opts.Algorithms)
	if err != nil {
		return nil, err
	}
	trusted := false
	for _, a := range opts.TrustAnchors {
		if a != "" && strings.EqualFold(a, d.tan) {
			trusted = true
		}
	}
	if !trusted {
		return nil, headerErr(OBHeaderTAN, ErrInvalidClaim, "%q is not a trusted anchor", truncate(d.tan))
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	skew := opts.MaxSkew
	if skew <= 0 {
		skew = DefaultDetachedSkew
	}
	now := clk.Now()
	sec, frac := math.Modf(d.iat)
	if d.iat > float64(math.MaxInt64/2) {
		return nil, headerErr(OBHeaderIAT, ErrInvalidClaim, "out of range")
	}
	iat := time.Unix(int64(sec), int64(frac*1e9)).UTC()
	if iat.After(now.Add(skew)) {
		return nil, headerErr(OBHeaderIAT, ErrInvalidClaim, "in the future")
	}
	if opts.MaxAge > 0 && iat.Before(now.Add(-opts.MaxAge)) {
		return nil, headerErr(OBHeaderIAT, ErrInvalidClaim, "too old")
	}
	if keys == nil {
		return nil, fmt.Errorf("%w: no key resolver", ErrUnknownKey)
	}
	key, err := keys.ResolveKey(ctx, d.hdr)
	if err != nil {
		if !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrJWKSFetch) {
			err = fmt.Errorf("%w: %w", ErrJWKSFetch, err)
		}
		return nil, err
	}
	if err := verifySignature(key, d.hdr.Alg, string(detachedInput(d.encHdr, d.form, body)), d.sig); err != nil {
		return nil, err
	}
	return &DetachedSignature{
		Form: d.form, Alg: d.hdr.Alg, KeyID: d.hdr.KeyID, Issuer: d.iss, TrustAnchor: d.tan,
		IssuedAt: iat, Typ: d.hdr.Typ, Cty: d.hdr.Cty, Key: key,
	}, nil
}

// detachedInput is the signing input of the form: BASE64URL(header) "." and then the body,
// base64url-encoded or as it is.
func detachedInput(encHdr string, form DetachedForm, body []byte) []byte {
	enc := base64.RawURLEncoding
	n := len(body)
	if form != DetachedUnencoded {
		n = enc.EncodedLen(len(body))
	}
	buf := make([]byte, 0, len(encHdr)+1+n)
	buf = append(buf, encHdr...)
	buf = append(buf, '.')
	if form == DetachedUnencoded {
		return append(buf, body...)
	}
	return enc.AppendEncode(buf, body)
}

// DetachedClaims are the Open Banking header values of a signature [SigningKey.SignDetached]
// produces.
type DetachedClaims struct {
	Issuer      string    // http://openbanking.org.uk/iss, e.g. the bank's org_id; required
	TrustAnchor string    // http://openbanking.org.uk/tan; required
	IssuedAt    time.Time // http://openbanking.org.uk/iat, whole seconds; required
	// ContentType, if not empty, is sent as "cty" ("application/json" for JSON bodies).
	ContentType string
}

// SignDetached signs body as an Open Banking message signature of the given form (zero
// means [DetachedEncoded]) and returns the x-jws-signature value
// BASE64URL(header) ".." BASE64URL(signature). The header holds "alg", "kid", "typ":"JOSE",
// "cty" if given, the three OB parameters, "crit" naming them and, for [DetachedUnencoded],
// "b64": false and "b64" in "crit". Only PS256 and ES256 keys sign message signatures.
//
// Spec: RFC 7515 Appendix F, RFC 7797, dcr-consent.md §2.5.
func (k *SigningKey) SignDetached(body []byte, form DetachedForm, c DetachedClaims) (string, error) {
	alg := k.Alg()
	if alg != PS256 && alg != ES256 {
		return "", &AlgError{Alg: string(alg)}
	}
	if form == 0 {
		form = DetachedEncoded
	}
	if form != DetachedEncoded && form != DetachedUnencoded {
		return "", fmt.Errorf("%w: unknown form %d", ErrMalformed, form)
	}
	if c.Issuer == "" || c.TrustAnchor == "" || c.IssuedAt.IsZero() {
		return "", fmt.Errorf("%w: iss, tan and iat are required", ErrMalformed)
	}
	if c.ContentType != "" && !validType(c.ContentType) {
		return "", fmt.Errorf("%w: bad cty", ErrMalformed)
	}
	var h bytes.Buffer
	h.WriteString(`{"alg":`)
	writeJSONString(&h, string(alg))
	h.WriteString(`,"kid":`)
	writeJSONString(&h, k.KeyID())
	h.WriteString(`,"typ":"JOSE"`)
	if c.ContentType != "" {
		h.WriteString(`,"cty":`)
		writeJSONString(&h, c.ContentType)
	}
	if form == DetachedUnencoded {
		h.WriteString(`,"b64":false`)
	}
	h.WriteString(`,"` + OBHeaderIAT + `":` + strconv.FormatInt(c.IssuedAt.Unix(), 10))
	h.WriteString(`,"` + OBHeaderISS + `":`)
	writeJSONString(&h, c.Issuer)
	h.WriteString(`,"` + OBHeaderTAN + `":`)
	writeJSONString(&h, c.TrustAnchor)
	h.WriteString(`,"crit":[`)
	if form == DetachedUnencoded {
		h.WriteString(`"b64",`)
	}
	h.WriteString(`"` + OBHeaderIAT + `","` + OBHeaderISS + `","` + OBHeaderTAN + `"]}`)
	encHdr := base64.RawURLEncoding.EncodeToString(h.Bytes())
	sig, err := rawSign(k.signer, alg, detachedInput(encHdr, form, body))
	if err != nil {
		return "", fmt.Errorf("jose: signing with key %s: %w", k.KeyID(), err)
	}
	return encHdr + ".." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// WithCertificates returns a copy of k whose public key carries chain (leaf first) as its
// "x5c" in the JWK Set, e.g. the bank's QSealC for message signing. The leaf's public key
// must be k's ([ErrKeyConfig] otherwise).
func (k *SigningKey) WithCertificates(chain []*x509.Certificate) (*SigningKey, error) {
	if len(chain) == 0 || chain[0] == nil || !k.pub.Equal(chain[0].PublicKey) {
		return nil, fmt.Errorf("%w: the certificate is not for key %s", ErrKeyConfig, k.KeyID())
	}
	if len(chain) > maxX5C {
		return nil, fmt.Errorf("%w: more than %d certificates", ErrKeyConfig, maxX5C)
	}
	pub := *k.pub
	pub.certs = append([]*x509.Certificate(nil), chain...)
	return &SigningKey{signer: k.signer, pub: &pub}, nil
}

// SetSealKey makes k the store's message-signing key (the bank's QSealC or OBSeal key): it
// is published in the JWK Set (with its "x5c" when it has certificates, see
// [SigningKey.WithCertificates]) and signs with [KeyStore.SignDetached], but never signs or
// verifies tokens. Its kid must differ from every token key's. Calling it again replaces
// the previous message-signing key.
func (s *KeyStore) SetSealKey(k *SigningKey) error {
	if k == nil {
		return fmt.Errorf("%w: nil signing key", ErrKeyConfig)
	}
	if k.Alg() != PS256 && k.Alg() != ES256 {
		return &AlgError{Alg: string(k.Alg())}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.snap.Load().byKID[k.KeyID()]; dup {
		return fmt.Errorf("%w: key %s is already a token key", ErrKeyConfig, k.KeyID())
	}
	j, err := publicJWK(k.pub)
	if err != nil {
		return fmt.Errorf("%w: rendering JWK of %s: %v", ErrMalformed, k.KeyID(), err)
	}
	s.seal.Store(&keyEntry{key: k, state: StateActive, created: s.clock.Now(), jwk: j})
	s.log.Info("message signing key set", "key", k)
	return nil
}

// SealKey returns the message-signing key set by [KeyStore.SetSealKey], or nil.
func (s *KeyStore) SealKey() *SigningKey {
	if e := s.seal.Load(); e != nil {
		return e.key
	}
	return nil
}

// SignDetached signs body with the store's message-signing key ([KeyStore.SetSealKey]); it
// returns [ErrUnknownKey] when none is set. See [SigningKey.SignDetached].
func (s *KeyStore) SignDetached(body []byte, form DetachedForm, c DetachedClaims) (string, error) {
	e := s.seal.Load()
	if e == nil {
		return "", fmt.Errorf("%w: no message signing key", ErrUnknownKey)
	}
	return e.key.SignDetached(body, form, c)
}
