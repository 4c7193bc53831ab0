package clientauth

import (
	"net"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
)

// tlsClientAuth is PKI mutual-TLS client authentication (RFC 8705 §2.1, FAPI1-AS-05). The
// request must carry a certificate that package pki validated — chain to a configured trust
// anchor, validity period, key usage and PSD2 profile, revocation by OCSP or CRL — and the
// certificate must match the client's one registered rule:
//
//   - tls_client_auth_subject_dn: the certificate's subject, rendered from its DER per
//     RFC 4514 by package dn, equals the registered DN attribute by attribute (dn.Equal:
//     order of RDNs significant, attribute type names and OIDs interchangeable, case and
//     insignificant spaces ignored as RFC 4518 prescribes), never as whole strings
//     (pki.md §1.7);
//   - tls_client_auth_san_dns (case-insensitive), _san_uri, _san_ip, _san_email (exact):
//     one of the certificate's SAN entries of that type equals the registered value.
//
// Errors: [ErrNoCertificate], [ErrCertificateInvalid] (revoked, expired, untrusted or status
// unknown: the cause is pki's error), [ErrSubjectMismatch].
func (a *Authenticator) tlsClientAuth(c *client.Client, req Request) (*Result, error) {
	id, err := certificateIdentity(req)
	if err != nil {
		return nil, err
	}
	if !a.subjects.matches(c, id) {
		return nil, fail(ErrSubjectMismatch, "client certificate does not match the registered client")
	}
	return &Result{Client: c, Method: client.AuthTLSClientAuth, Identity: id, Certificate: id.Leaf}, nil
}

// matchesCertificateRule reports whether the validated certificate id satisfies c's
// registered tls_client_auth rule. A client without a rule matches nothing.
func matchesCertificateRule(c *client.Client, id *pki.Identity) bool {
	switch {
	case c.TLSClientAuthSubjectDN != "":
		want, err := dn.Parse(c.TLSClientAuthSubjectDN)
		if err != nil {
			return false
		}
		got, err := subjectName(id)
		if err != nil {
			return false
		}
		return dn.Equal(want, got)
	case c.TLSClientAuthSANDNS != "":
		for _, n := range id.DNSNames {
			if strings.EqualFold(n, c.TLSClientAuthSANDNS) {
				return true
			}
		}
	case c.TLSClientAuthSANURI != "":
		for _, u := range id.URIs {
			if u == c.TLSClientAuthSANURI {
				return true
			}
		}
	case c.TLSClientAuthSANIP != "":
		want := net.ParseIP(c.TLSClientAuthSANIP)
		for _, ip := range id.IPAddresses {
			if want != nil && want.Equal(ip) {
				return true
			}
		}
	case c.TLSClientAuthSANEmail != "":
		for _, e := range id.EmailAddresses {
			if e == c.TLSClientAuthSANEmail {
				return true
			}
		}
	}
	return false
}

// subjectName is the validated certificate's subject as a dn.Name: decoded from the leaf's
// DER when the identity has it (no detour through a string), else parsed from the RFC 4514
// rendering pki made of that DER.
func subjectName(id *pki.Identity) (dn.Name, error) {
	if id.Leaf != nil {
		return dn.FromDER(id.Leaf.RawSubject)
	}
	return dn.Parse(id.Subject)
}

// maxSubjectMatches bounds the cache of subject DN comparisons; when full it is emptied.
const maxSubjectMatches = 4096

// subjectMatches caches the outcome of comparing a registered tls_client_auth_subject_dn with
// a certificate's DER subject: parsing both per request is most of tls_client_auth's cost.
// The key is the exact pair of inputs (the registered string and the raw subject bytes) and
// dn.Parse, dn.FromDER and dn.Equal are pure functions of them, so a cached answer is the
// answer a fresh comparison would give; every other rule is compared directly.
type subjectMatches struct {
	mu sync.Mutex
	m  map[subjectPair]bool
}

type subjectPair struct{ registered, rawSubject string }

// matches is matchesCertificateRule, with the subject DN comparison cached.
func (s *subjectMatches) matches(c *client.Client, id *pki.Identity) bool {
	if c.TLSClientAuthSubjectDN == "" || id.Leaf == nil {
		return matchesCertificateRule(c, id)
	}
	k := subjectPair{c.TLSClientAuthSubjectDN, string(id.Leaf.RawSubject)}
	s.mu.Lock()
	ok, found := s.m[k]
	s.mu.Unlock()
	if found {
		return ok
	}
	ok = matchesCertificateRule(c, id)
	s.mu.Lock()
	if s.m == nil || len(s.m) >= maxSubjectMatches {
		s.m = map[subjectPair]bool{}
	}
	s.m[k] = ok
	s.mu.Unlock()
	return ok
}
