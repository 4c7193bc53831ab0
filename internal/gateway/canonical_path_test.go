package gateway

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestCheckCanonicalPath(t *testing.T) {
	tests := []struct {
		target string
		ok     bool
	}{
		{"/open-banking/v3.1/pisp/domestic-payments/p-1", true},
		{"/open-banking/v3.1/aisp/accounts/a%20b", true},
		{"/open-banking/v3.1/aisp/accounts?x=%2e%2e;", true}, // the query is not the path
		{"/open-banking/v3.1/pisp/domestic-payments/..;", false},
		{"/open-banking/v3.1/pisp/domestic-payments/%2e%2e;", false},
		{"/open-banking/v3.1/pisp/domestic-payments/..%3b", false},
		{"/open-banking/v3.1/pisp/domestic-payments/..%3B", false},
		{"/open-banking/v3.1/pisp/domestic-payments/%252e%252e", false},
		{"/open-banking/v3.1/pisp/domestic-payments/%2E", false},
		{"/open-banking/v3.1/aisp/accounts/1%2f2", false},
		{"/open-banking/v3.1/aisp/accounts/1%5c2", false},
		{"/open-banking/v3.1/aisp/accounts/1%00", false},
		{"/open-banking/v3.1/aisp/accounts/1%7F", false},
		{"/open-banking/v3.1/aisp/accounts;a=b/1", false},
		{`/open-banking/v3.1/aisp/accounts/1\2`, false},
	}
	for _, tt := range tests {
		u, err := url.ParseRequestURI(tt.target)
		if err != nil {
			t.Fatalf("%s: %v", tt.target, err)
		}
		err = checkCanonicalPath(u)
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrInvalidPath) {
			t.Errorf("checkCanonicalPath(%q) = %v, want ok %v", tt.target, err, tt.ok)
		}
	}
}

// FuzzCheckCanonicalPath: an accepted path has no ";" or "\" and no encoded
// separator, dot or percent, so decoding it segment by segment gives the same
// segments as the decoded path (nothing an upstream could re-split or re-decode).
func FuzzCheckCanonicalPath(f *testing.F) {
	for _, s := range []string{"/a/b", "/a/..;", "/a/%2e%2e", "/a/%252e", "/a/b%20c", "/a/%2F", `/a\b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || checkCanonicalPath(u) != nil {
			return
		}
		esc := u.EscapedPath()
		if strings.ContainsAny(esc, ";\\") || strings.ContainsAny(u.Path, ";\\%") {
			t.Fatalf("accepted %q (escaped %q)", u.Path, esc)
		}
		raw := strings.Split(esc, "/")
		dec := strings.Split(u.Path, "/")
		if len(raw) != len(dec) {
			t.Fatalf("accepted %q: %d raw segments, %d decoded", esc, len(raw), len(dec))
		}
		for i, seg := range raw {
			d, err := url.PathUnescape(seg)
			if err != nil || d != dec[i] || strings.Contains(d, "%") {
				t.Fatalf("accepted %q: segment %q decodes to %q (%v), path has %q", esc, seg, d, err, dec[i])
			}
		}
	})
}
