package pki

import (
	"crypto/x509"
	"testing"
)

// TestCacheKeyInjective: inputs that a naive concatenation would confuse get
// different keys; the same bytes in other certificate values get the same key.
func TestCacheKeyInjective(t *testing.T) {
	certs := func(raws ...string) []*x509.Certificate {
		out := make([]*x509.Certificate, len(raws))
		for i, r := range raws {
			out[i] = &x509.Certificate{Raw: []byte(r)}
		}
		return out
	}
	base := newCacheKey(PurposeTransport, certs("ab", "c"))
	if got := newCacheKey(PurposeTransport, certs("ab", "c")); got != base {
		t.Error("the same purpose and bytes in new certificate values give another key")
	}
	tests := []struct {
		name    string
		purpose Purpose
		chain   []*x509.Certificate
	}{
		{"other purpose", PurposeSigning, certs("ab", "c")},
		{"certificate boundary moved", PurposeTransport, certs("a", "bc")},
		{"concatenated", PurposeTransport, certs("abc")},
		{"empty certificate appended", PurposeTransport, certs("ab", "c", "")},
		{"order swapped", PurposeTransport, certs("c", "ab")},
		{"length prefix spelled out in the data", PurposeTransport, certs("ab\x00\x00\x00\x00\x00\x00\x00\x01c")},
		{"one byte changed", PurposeTransport, certs("ab", "d")},
	}
	seen := map[cacheKey]string{base: "base"}
	for _, tt := range tests {
		k := newCacheKey(tt.purpose, tt.chain)
		if other, dup := seen[k]; dup {
			t.Errorf("%s: same key as %s", tt.name, other)
		}
		seen[k] = tt.name
	}
}
