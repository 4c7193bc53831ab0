package dn_test

import (
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/pki/dn"
)

// FuzzRender: Render never panics on any bytes, and what it renders parses back with
// Parse to an equal name that renders to the same string.
func FuzzRender(f *testing.F) {
	for _, s := range subjects {
		f.Add(s.der)
	}
	for _, s := range notOpenSSLNames {
		f.Add(s.der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		s, err := dn.Render(der)
		if err != nil {
			if !errors.Is(err, dn.ErrMalformed) && !errors.Is(err, dn.ErrTooLarge) {
				t.Fatalf("Render error %v wraps no sentinel", err)
			}
			return
		}
		fromDER, err := dn.FromDER(der)
		if err != nil {
			t.Fatalf("Render succeeded, FromDER failed: %v", err)
		}
		parsed, err := dn.Parse(s)
		if err != nil {
			t.Fatalf("Parse(Render) of %q: %v", s, err)
		}
		if !dn.Equal(fromDER, parsed) {
			t.Fatalf("Parse(Render) not Equal to FromDER for %q", s)
		}
		if again := parsed.String(); again != s {
			t.Fatalf("String(Parse(%q)) = %q", s, again)
		}
	})
}

// FuzzParse: Parse never panics, and what it accepts renders to a string that parses
// to an equal name (unless that rendering exceeds the size limit).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB",
		`CN=a\,b\+c\"d\\e\<f\>g\;h,O=\ x\ `,
		"CN=x+serialNumber=42,C=GB",
		"1.3.6.1.4.1.99999.7=#02020100,O=#0C03666F6F",
		`O=Soci\C3\A9t\C3\A9,L=東京`,
		"CN=a, O=b ,C = GB",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := dn.Parse(s)
		if err != nil {
			if !errors.Is(err, dn.ErrSyntax) && !errors.Is(err, dn.ErrUnknownType) && !errors.Is(err, dn.ErrTooLarge) {
				t.Fatalf("Parse error %v wraps no sentinel", err)
			}
			return
		}
		r := n.String()
		again, err := dn.Parse(r)
		if errors.Is(err, dn.ErrTooLarge) {
			return
		}
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its rendering %q: %v", s, r, err)
		}
		if !dn.Equal(n, again) {
			t.Fatalf("Parse(%q) and Parse(%q) not Equal", s, r)
		}
		if r2 := again.String(); r2 != r {
			t.Fatalf("rendering not stable: %q then %q", r, r2)
		}
	})
}
