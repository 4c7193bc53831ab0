package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// freshness holds the time rules an answer must meet (pki.md §2.2, §2.4).
type freshness struct {
	skew            time.Duration // tolerated clock skew in either direction
	defaultValidity time.Duration // OCSP lifetime when nextUpdate is absent
	maxAge          time.Duration // OCSP answers are never used longer than this after thisUpdate
}

func (c *Checker) freshness() freshness {
	return freshness{skew: c.opts.MaxClockSkew, defaultValidity: c.opts.DefaultOCSPValidity, maxAge: c.opts.MaxOCSPAge}
}

// checkOCSP asks the responders in urls, in order, until one gives a verified answer
// (good, revoked or unknown). Otherwise it returns every responder's error, joined;
// each wraps one of the package's sentinel errors. The whole attempt is bounded by
// Options.OCSPTimeout.
func (c *Checker) checkOCSP(ctx context.Context, cert, issuer *x509.Certificate, urls []string) (answer, error) {
	// SHA-1 CertID, as most responders (OpenSSL's included) expect (pki.md §2.2).
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return answer{}, fmt.Errorf("revocation: building OCSP request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.OCSPTimeout)
	defer cancel()
	var errs []error
	for _, u := range urls {
		start := c.clock.Now()
		body, err := c.fetch(ctx, u, req, "application/ocsp-request", "application/ocsp-response",
			c.opts.MaxOCSPBytes, ErrOCSPResponseTooLarge)
		var a answer
		if err == nil {
			a, err = verifyOCSPResponse(body, cert, issuer, c.clock.Now(), c.freshness())
		}
		c.metrics.fetchDuration.WithLabelValues(string(SourceOCSP)).Observe(c.clock.Now().Sub(start).Seconds())
		if err != nil {
			errs = append(errs, fmt.Errorf("OCSP responder %s: %w", u, err))
			continue
		}
		a.res.URL = u
		return a, nil
	}
	return answer{}, joinErrs(errs)
}

// verifyOCSPResponse parses der, an OCSP response from the network, as the answer
// for cert issued by issuer, and checks what golang.org/x/crypto/ocsp leaves to the
// caller. It returns:
//   - ErrResponderUnavailable for a responseStatus other than successful;
//   - ErrMalformedResponse if der does not parse or answers for another
//     certificate (serial, or issuer name/key hash in the CertID);
//   - ErrBadSignature if the response is not signed by the issuer's key or by the
//     responder certificate it embeds;
//   - ErrOCSPResponderNotAuthorized if that embedded responder certificate is not
//     the issuer and was not issued by it, lacks id-kp-OCSPSigning (or the
//     digitalSignature key usage), or is outside its validity period at now;
//   - ErrStaleResponse if thisUpdate is after now+skew, or the end of the answer's
//     validity (nextUpdate, else thisUpdate+defaultValidity, capped at
//     thisUpdate+maxAge) is before now-skew.
//
// On success the answer expires at that end of validity.
func verifyOCSPResponse(der []byte, cert, issuer *x509.Certificate, now time.Time, f freshness) (answer, error) {
	// issuer is deliberately nil here: x/crypto would then verify an embedded
	// responder certificate against it with CheckSignature, which rejects a
	// response that embeds the (non-self-signed) issuer itself. Every signature
	// check against the issuer is done below instead.
	resp, err := ocsp.ParseResponseForCert(der, cert, nil)
	if err != nil {
		return answer{}, classifyOCSPParseError(err)
	}
	if err := checkCertID(resp.TBSResponseData, resp.IssuerHash, cert.SerialNumber, issuer); err != nil {
		return answer{}, err
	}
	if err := checkOCSPSigner(resp, issuer, now); err != nil {
		return answer{}, err
	}

	if resp.ThisUpdate.After(now.Add(f.skew)) {
		return answer{}, fmt.Errorf("%w: OCSP thisUpdate %s is in the future", ErrStaleResponse, stamp(resp.ThisUpdate))
	}
	if !resp.NextUpdate.IsZero() && resp.NextUpdate.Before(resp.ThisUpdate) {
		return answer{}, fmt.Errorf("%w: OCSP nextUpdate before thisUpdate", ErrMalformedResponse)
	}
	validUntil := resp.NextUpdate
	if validUntil.IsZero() {
		validUntil = resp.ThisUpdate.Add(f.defaultValidity)
	}
	if capAt := resp.ThisUpdate.Add(f.maxAge); capAt.Before(validUntil) {
		validUntil = capAt
	}
	if validUntil.Before(now.Add(-f.skew)) {
		return answer{}, fmt.Errorf("%w: OCSP answer (thisUpdate %s) valid until %s", ErrStaleResponse, stamp(resp.ThisUpdate), stamp(validUntil))
	}

	res := Result{Source: SourceOCSP, Origin: SourceOCSP, ThisUpdate: resp.ThisUpdate, NextUpdate: resp.NextUpdate}
	switch resp.Status {
	case ocsp.Good:
		res.Status = StatusGood
	case ocsp.Revoked:
		res.Status = StatusRevoked
		res.RevokedAt = resp.RevokedAt
		res.Reason = resp.RevocationReason
	case ocsp.Unknown:
		res.Status = StatusUnknown
	default:
		return answer{}, fmt.Errorf("%w: OCSP certificate status %d", ErrMalformedResponse, resp.Status)
	}
	return answer{res: res, expires: validUntil}, nil
}

// classifyOCSPParseError maps an error of ocsp.ParseResponseForCert to a sentinel.
func classifyOCSPParseError(err error) error {
	var re ocsp.ResponseError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: OCSP responseStatus %s", ErrResponderUnavailable, re.Status)
	}
	// x/crypto reports a response whose signature does not verify with the
	// certificate it embeds only through this message.
	var pe ocsp.ParseError
	if errors.As(err, &pe) && strings.HasPrefix(string(pe), "bad signature on embedded certificate") {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return fmt.Errorf("%w: %v", ErrMalformedResponse, err)
}

// checkOCSPSigner checks who signed resp (RFC 6960 §4.2.2.2): the issuer itself
// (no certificate embedded, or an embedded certificate carrying the issuer's key),
// or a delegated responder certificate issued by the issuer with id-kp-OCSPSigning,
// valid at now. golang.org/x/crypto/ocsp has already verified the response signature
// against an embedded certificate; it checks neither the EKU nor the validity.
func checkOCSPSigner(resp *ocsp.Response, issuer *x509.Certificate, now time.Time) error {
	rc := resp.Certificate
	if rc == nil {
		if err := resp.CheckSignatureFrom(issuer); err != nil {
			return fmt.Errorf("%w: OCSP response not signed by the issuer: %v", ErrBadSignature, err)
		}
		return nil
	}
	if bytes.Equal(rc.RawSubjectPublicKeyInfo, issuer.RawSubjectPublicKeyInfo) {
		return nil // signed with the issuer's own key
	}
	if !bytes.Equal(rc.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("%w: responder certificate %q not issued by the certificate's issuer", ErrOCSPResponderNotAuthorized, rc.Subject)
	}
	if err := rc.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("%w: responder certificate %q not signed by the certificate's issuer: %v", ErrOCSPResponderNotAuthorized, rc.Subject, err)
	}
	if !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return fmt.Errorf("%w: responder certificate %q lacks id-kp-OCSPSigning", ErrOCSPResponderNotAuthorized, rc.Subject)
	}
	if rc.KeyUsage != 0 && rc.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: responder certificate %q lacks the digitalSignature key usage", ErrOCSPResponderNotAuthorized, rc.Subject)
	}
	if now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
		return fmt.Errorf("%w: responder certificate %q valid %s to %s, not at %s", ErrOCSPResponderNotAuthorized,
			rc.Subject, stamp(rc.NotBefore), stamp(rc.NotAfter), stamp(now))
	}
	return nil
}

// checkCertID finds, in the raw ResponseData tbs, the first SingleResponse for
// serial (the one golang.org/x/crypto/ocsp returned) and checks that its CertID
// names issuer: issuerNameHash and issuerKeyHash computed with hash (RFC 6960
// §4.1.1). x/crypto matches on the serial alone.
func checkCertID(tbs []byte, hash crypto.Hash, serial *big.Int, issuer *x509.Certificate) error {
	malformed := func(what string) error {
		return fmt.Errorf("%w: OCSP ResponseData: %s", ErrMalformedResponse, what)
	}
	if !hash.Available() {
		return malformed("unsupported CertID hash")
	}
	input := cryptobyte.String(tbs)
	var rd, responderID, responses cryptobyte.String
	var responderIDTag cbasn1.Tag
	if !input.ReadASN1(&rd, cbasn1.SEQUENCE) ||
		!rd.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || // version
		!rd.ReadAnyASN1(&responderID, &responderIDTag) || // byName [1] or byKey [2]
		!rd.SkipASN1(cbasn1.GeneralizedTime) || // producedAt
		!rd.ReadASN1(&responses, cbasn1.SEQUENCE) {
		return malformed("cannot read")
	}
	for !responses.Empty() {
		var single, certID cryptobyte.String
		var nameHash, keyHash []byte
		n := new(big.Int)
		if !responses.ReadASN1(&single, cbasn1.SEQUENCE) ||
			!single.ReadASN1(&certID, cbasn1.SEQUENCE) ||
			!certID.SkipASN1(cbasn1.SEQUENCE) || // hashAlgorithm
			!certID.ReadASN1Bytes(&nameHash, cbasn1.OCTET_STRING) ||
			!certID.ReadASN1Bytes(&keyHash, cbasn1.OCTET_STRING) ||
			!certID.ReadASN1Integer(n) {
			return malformed("cannot read CertID")
		}
		if n.Cmp(serial) != 0 {
			continue
		}
		wantName, wantKey, err := issuerHashes(issuer, hash)
		if err != nil {
			return malformed(err.Error())
		}
		if !bytes.Equal(nameHash, wantName) || !bytes.Equal(keyHash, wantKey) {
			return fmt.Errorf("%w: OCSP answer is for serial %s of another issuer", ErrMalformedResponse, serialHex(serial))
		}
		return nil
	}
	return malformed("no answer for the serial")
}

// issuerHashes returns the CertID issuerNameHash and issuerKeyHash of issuer: hash
// over its DER subject and over the contents of its subjectPublicKey BIT STRING.
func issuerHashes(issuer *x509.Certificate, hash crypto.Hash) (name, key []byte, err error) {
	spki := cryptobyte.String(issuer.RawSubjectPublicKeyInfo)
	var inner cryptobyte.String
	var pub []byte
	if !spki.ReadASN1(&inner, cbasn1.SEQUENCE) ||
		!inner.SkipASN1(cbasn1.SEQUENCE) ||
		!inner.ReadASN1BitStringAsBytes(&pub) {
		return nil, nil, errors.New("issuer public key info unreadable")
	}
	h := hash.New()
	h.Write(issuer.RawSubject)
	name = h.Sum(nil)
	h.Reset()
	h.Write(pub)
	key = h.Sum(nil)
	return name, key, nil
}

// joinErrs joins per-URL errors; a single error is returned as is.
func joinErrs(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
