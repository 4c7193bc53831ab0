package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// CRL and CRL entry extensions (RFC 5280 §5.2, §5.3).
var (
	oidAuthorityKeyID         = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLNumber              = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidDeltaCRLIndicator      = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistribution    = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidFreshestCRL            = asn1.ObjectIdentifier{2, 5, 29, 46}
	oidAuthorityInfoAccess    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidEntryReasonCode        = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidEntryInvalidityDate    = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidEntryCertificateIssuer = asn1.ObjectIdentifier{2, 5, 29, 29}
)

// crlEntry is a verified CRL, reduced to what lookups need.
type crlEntry struct {
	url        string
	thisUpdate time.Time
	nextUpdate time.Time
	number     *big.Int // nil when the CRL has none
	revoked    map[string]revokedEntry
	// Scope from an issuing distribution point: the CRL covers only end-entity
	// (onlyUser) or only CA (onlyCA) certificates.
	onlyUser, onlyCA bool

	stored     time.Time
	refreshing atomic.Bool
}

type revokedEntry struct {
	at     time.Time
	reason int
}

// crlKey identifies a CRL by its issuer and URL.
func crlKey(issuer *x509.Certificate, url string) string {
	h := issuerHash(issuer)
	return string(h[:]) + url
}

// checkCRL consults the CRLs at urls, in order, until one answers for cert.
// Otherwise it returns every URL's error, joined.
func (c *Checker) checkCRL(ctx context.Context, cert, issuer *x509.Certificate, urls []string) (answer, error) {
	var errs []error
	for _, u := range urls {
		e, err := c.loadCRL(ctx, u, issuer)
		if err == nil {
			var a answer
			if a, err = e.lookup(cert); err == nil {
				return a, nil
			}
		}
		errs = append(errs, fmt.Errorf("CRL %s: %w", u, err))
	}
	return answer{}, joinErrs(errs)
}

// lookup answers for cert from the CRL (RFC 5280 §6.3.3).
func (e *crlEntry) lookup(cert *x509.Certificate) (answer, error) {
	isCA := cert.BasicConstraintsValid && cert.IsCA
	if e.onlyUser && isCA {
		return answer{}, fmt.Errorf("%w: CRL covers only end-entity certificates", ErrUnsupportedCRL)
	}
	if e.onlyCA && !isCA {
		return answer{}, fmt.Errorf("%w: CRL covers only CA certificates", ErrUnsupportedCRL)
	}
	res := Result{
		Status: StatusGood, Source: SourceCRL, Origin: SourceCRL, URL: e.url,
		ThisUpdate: e.thisUpdate, NextUpdate: e.nextUpdate,
	}
	if r, ok := e.revoked[serialKey(cert.SerialNumber)]; ok {
		res.Status = StatusRevoked
		res.RevokedAt = r.at
		res.Reason = r.reason
	}
	return answer{res: res, expires: e.nextUpdate}, nil
}

// loadCRL returns the CRL at url for issuer: from the cache while before its
// nextUpdate and within Options.MaxGoodAge of its download, else downloaded (one download per issuer and URL at a time).
func (c *Checker) loadCRL(ctx context.Context, url string, issuer *x509.Certificate) (*crlEntry, error) {
	key := crlKey(issuer, url)
	now := c.clock.Now()
	e, ok := c.crls.get(key)
	// A CRL is the "good" answer of every certificate it does not list, so it is
	// re-downloaded after Options.MaxGoodAge like a cached "good" OCSP answer.
	if ok && (!now.Before(e.nextUpdate) || !now.Before(e.stored.Add(max(c.opts.MaxGoodAge, 0)))) {
		c.crls.removeValue(key, e)
		ok = false
	}
	if ok {
		c.metrics.cacheHits.WithLabelValues(cacheCRLs).Inc()
		if c.dueForRefresh(e.stored, e.nextUpdate, now) && e.refreshing.CompareAndSwap(false, true) {
			started := c.goBackground(func(ctx context.Context) {
				_, err, _ := c.crlFlight.Do(key, func() (any, error) {
					return c.fetchCRL(ctx, key, url, issuer)
				})
				c.refreshDone(err, "crl", slog.String("url", url))
			})
			if !started {
				e.refreshing.Store(false)
			}
		}
		return e, nil
	}
	c.metrics.cacheMisses.WithLabelValues(cacheCRLs).Inc()
	ch := c.crlFlight.DoChan(key, func() (any, error) {
		return c.fetchCRL(context.WithoutCancel(ctx), key, url, issuer)
	})
	c.crlWaiters.Add(1)
	defer c.crlWaiters.Add(-1)
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrResponderUnavailable, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*crlEntry), nil
	}
}

// fetchCRL downloads, verifies and caches the CRL at url.
func (c *Checker) fetchCRL(ctx context.Context, key, url string, issuer *x509.Certificate) (*crlEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CRLTimeout)
	defer cancel()
	start := c.clock.Now()
	body, err := c.fetch(ctx, url, nil, "", "application/pkix-crl", c.opts.MaxCRLBytes, ErrCRLTooLarge)
	var e *crlEntry
	if err == nil {
		e, err = parseCRL(body, issuer, url, c.clock.Now(), c.opts.MaxClockSkew)
	}
	c.metrics.fetchDuration.WithLabelValues(string(SourceCRL)).Observe(c.clock.Now().Sub(start).Seconds())
	if err != nil {
		return nil, err
	}
	if err := c.acceptCRL(key, e); err != nil {
		return nil, err
	}
	return e, nil
}

// acceptCRL enforces that CRL numbers never decrease for one issuer and URL, then
// caches e.
func (c *Checker) acceptCRL(key string, e *crlEntry) error {
	c.crlMu.Lock()
	defer c.crlMu.Unlock()
	if last, ok := c.crlNumbers.get(key); ok {
		if e.number == nil {
			return fmt.Errorf("%w: CRL has no number; CRL %s was accepted before", ErrCRLNumberDecreased, last)
		}
		if e.number.Cmp(last) < 0 {
			return fmt.Errorf("%w: CRL number %s after %s", ErrCRLNumberDecreased, e.number, last)
		}
	}
	if e.number != nil {
		c.crlNumbers.add(key, e.number)
	}
	e.stored = c.clock.Now()
	c.crls.add(key, e)
	return nil
}

// parseCRL parses der, a CRL downloaded from url, as a complete CRL of issuer and
// checks it (RFC 5280 §6.3.3) at now. It returns:
//   - ErrMalformedResponse if der does not parse or lacks a sound nextUpdate;
//   - ErrUnsupportedCRL if the CRL's issuer name is not issuer's subject, it is a
//     delta or indirect CRL, it has an unknown critical extension (on the CRL or an
//     entry), or its issuing distribution point is partitioned by reasons or names
//     a distribution point other than url;
//   - ErrBadSignature if issuer's key did not sign it;
//   - ErrStaleResponse if thisUpdate is after now+skew or nextUpdate before
//     now-skew.
//
// The CRL number check needs state and is done by the caller.
func parseCRL(der []byte, issuer *x509.Certificate, url string, now time.Time, skew time.Duration) (*crlEntry, error) {
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
	}
	if !bytes.Equal(rl.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("%w: CRL issuer %q is not the certificate's issuer", ErrUnsupportedCRL, rl.Issuer)
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%w: CRL: %v", ErrBadSignature, err)
	}
	if rl.NextUpdate.IsZero() || rl.NextUpdate.Before(rl.ThisUpdate) {
		return nil, fmt.Errorf("%w: CRL nextUpdate missing or before thisUpdate", ErrMalformedResponse)
	}
	if rl.ThisUpdate.After(now.Add(skew)) {
		return nil, fmt.Errorf("%w: CRL thisUpdate %s is in the future", ErrStaleResponse, stamp(rl.ThisUpdate))
	}
	if rl.NextUpdate.Before(now.Add(-skew)) {
		return nil, fmt.Errorf("%w: CRL nextUpdate %s has passed", ErrStaleResponse, stamp(rl.NextUpdate))
	}

	e := &crlEntry{url: url, thisUpdate: rl.ThisUpdate, nextUpdate: rl.NextUpdate, number: rl.Number}
	for _, ext := range rl.Extensions {
		switch {
		case ext.Id.Equal(oidCRLNumber), ext.Id.Equal(oidAuthorityKeyID),
			ext.Id.Equal(oidFreshestCRL), ext.Id.Equal(oidAuthorityInfoAccess):
			// Parsed by crypto/x509 or informational.
		case ext.Id.Equal(oidDeltaCRLIndicator):
			return nil, fmt.Errorf("%w: delta CRL", ErrUnsupportedCRL)
		case ext.Id.Equal(oidIssuingDistribution):
			idp, err := parseIssuingDistributionPoint(ext.Value)
			if err != nil {
				return nil, fmt.Errorf("%w: issuing distribution point: %v", ErrMalformedResponse, err)
			}
			if err := idp.covers(url); err != nil {
				return nil, err
			}
			e.onlyUser, e.onlyCA = idp.onlyUser, idp.onlyCA
		default:
			if ext.Critical {
				return nil, fmt.Errorf("%w: unknown critical CRL extension %s", ErrUnsupportedCRL, ext.Id)
			}
		}
	}

	e.revoked = make(map[string]revokedEntry, len(rl.RevokedCertificateEntries))
	for _, r := range rl.RevokedCertificateEntries {
		for _, ext := range r.Extensions {
			known := ext.Id.Equal(oidEntryReasonCode) || ext.Id.Equal(oidEntryInvalidityDate)
			if ext.Id.Equal(oidEntryCertificateIssuer) || ext.Critical && !known {
				return nil, fmt.Errorf("%w: CRL entry extension %s", ErrUnsupportedCRL, ext.Id)
			}
		}
		k := serialKey(r.SerialNumber)
		if _, dup := e.revoked[k]; !dup {
			e.revoked[k] = revokedEntry{at: r.RevocationTime, reason: r.ReasonCode}
		}
	}
	return e, nil
}

// issuingDistributionPoint is the part of RFC 5280 §5.2.5 this package acts on.
type issuingDistributionPoint struct {
	hasDP        bool     // distributionPoint present
	uris         []string // its fullName URIs
	relativeName bool     // nameRelativeToCRLIssuer used instead of fullName
	onlyUser     bool
	onlyCA       bool
	someReasons  bool
	indirect     bool
	onlyAttr     bool
}

// covers reports (as an error) whether a CRL with this IDP, fetched from url, is a
// complete CRL for the certificates the caller may look up in it.
func (p issuingDistributionPoint) covers(url string) error {
	switch {
	case p.indirect:
		return fmt.Errorf("%w: indirect CRL", ErrUnsupportedCRL)
	case p.someReasons:
		return fmt.Errorf("%w: CRL partitioned by reason", ErrUnsupportedCRL)
	case p.onlyAttr:
		return fmt.Errorf("%w: CRL of attribute certificates", ErrUnsupportedCRL)
	case p.onlyUser && p.onlyCA:
		return fmt.Errorf("%w: issuing distribution point with both onlyContainsUserCerts and onlyContainsCACerts", ErrMalformedResponse)
	case p.relativeName:
		return fmt.Errorf("%w: issuing distribution point names a relative name", ErrUnsupportedCRL)
	}
	if !p.hasDP {
		return nil
	}
	for _, u := range p.uris {
		if u == url {
			return nil
		}
		if n, err := parseHTTPURL(u); err == nil && n == url {
			return nil
		}
	}
	return fmt.Errorf("%w: CRL is the partition for %q, not for %s", ErrUnsupportedCRL, p.uris, url)
}

// parseIssuingDistributionPoint parses the DER value of the extension:
//
//	IssuingDistributionPoint ::= SEQUENCE {
//	    distributionPoint          [0] DistributionPointName OPTIONAL,
//	    onlyContainsUserCerts      [1] BOOLEAN DEFAULT FALSE,
//	    onlyContainsCACerts        [2] BOOLEAN DEFAULT FALSE,
//	    onlySomeReasons            [3] ReasonFlags OPTIONAL,
//	    indirectCRL                [4] BOOLEAN DEFAULT FALSE,
//	    onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE }
//	DistributionPointName ::= CHOICE {
//	    fullName                [0] GeneralNames,
//	    nameRelativeToCRLIssuer [1] RelativeDistinguishedName }
func parseIssuingDistributionPoint(der []byte) (issuingDistributionPoint, error) {
	var p issuingDistributionPoint
	input := cryptobyte.String(der)
	var seq cryptobyte.String
	if !input.ReadASN1(&seq, cbasn1.SEQUENCE) || !input.Empty() {
		return p, errors.New("not a SEQUENCE")
	}
	var dp cryptobyte.String
	if !seq.ReadOptionalASN1(&dp, &p.hasDP, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return p, errors.New("bad distributionPoint")
	}
	if p.hasDP {
		var names cryptobyte.String
		var full bool
		if !dp.ReadOptionalASN1(&names, &full, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return p, errors.New("bad fullName")
		}
		if !full {
			if !dp.SkipASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) {
				return p, errors.New("bad DistributionPointName")
			}
			p.relativeName = true
		}
		for !names.Empty() {
			var name cryptobyte.String
			var tag cbasn1.Tag
			if !names.ReadAnyASN1(&name, &tag) {
				return p, errors.New("bad GeneralName")
			}
			if tag == cbasn1.Tag(6).ContextSpecific() { // uniformResourceIdentifier
				p.uris = append(p.uris, string(name))
			}
		}
		if !dp.Empty() {
			return p, errors.New("trailing data in distributionPoint")
		}
	}
	readBool := func(tag int, out *bool) bool {
		var v cryptobyte.String
		var present bool
		if !seq.ReadOptionalASN1(&v, &present, cbasn1.Tag(tag).ContextSpecific()) {
			return false
		}
		if !present {
			return true
		}
		if len(v) != 1 || (v[0] != 0 && v[0] != 0xff) {
			return false
		}
		*out = v[0] == 0xff
		return true
	}
	var reasons cryptobyte.String
	if !readBool(1, &p.onlyUser) || !readBool(2, &p.onlyCA) ||
		!seq.ReadOptionalASN1(&reasons, &p.someReasons, cbasn1.Tag(3).ContextSpecific()) ||
		!readBool(4, &p.indirect) || !readBool(5, &p.onlyAttr) || !seq.Empty() {
		return p, errors.New("bad flags")
	}
	return p, nil
}
