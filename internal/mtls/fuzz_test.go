package mtls

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets of the forwarded-certificate header parser (DESIGN.md: every parser of
// attacker bytes is fuzzed). Run one with, e.g.:
//
//	go test ./internal/mtls -run '^$' -fuzz '^FuzzParseForwardedCertXFCC$' -fuzztime 60s
//
// Each is seeded with the real-looking values in testdata/ and checks that the parser
// never panics, that every error is exactly one of its documented sentinels, and that a
// parsed chain is within the limits and survives re-encoding unchanged.

func FuzzParseForwardedCertPEM(f *testing.F) {
	fuzzParseForwardedCert(f, FormatPEMURLEncoded,
		"-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A",
		"%", "%0A", "-----BEGIN+CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n")
}

func FuzzParseForwardedCertDER(f *testing.F) {
	fuzzParseForwardedCert(f, FormatDERBase64, "MIIB", "::", ":MA==:", ",", "MAA=,MAA=", "-_")
}

func FuzzParseForwardedCertXFCC(f *testing.F) {
	fuzzParseForwardedCert(f, FormatXFCC,
		`By=spiffe://a;Hash=00;Subject="CN=\"x\",O=y";URI=;DNS=a`,
		`Cert="`, `Cert=a"b`, `=`, `a=b,c=d;e="f\"g"`, `Chain=%0A`)
}

func fuzzParseForwardedCert(f *testing.F, format HeaderFormat, extra ...string) {
	for _, s := range seeds {
		if s.format == format {
			f.Add(readSeed(f, s))
		}
	}
	for _, v := range extra {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value string) {
		chain, err := ParseForwardedCert(value, format)
		if err != nil {
			n := 0
			for _, s := range []error{ErrMalformedHeader, ErrTooLarge, ErrNoCertificateInHeader} {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 || errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("error %v matches %d sentinels", err, n)
			}
			if chain != nil {
				t.Fatalf("chain and error %v", err)
			}
			return
		}
		if len(chain) == 0 || len(chain) > MaxChainCertificates {
			t.Fatalf("%d certificates", len(chain))
		}
		for i, c := range chain {
			if c == nil || len(c.Raw) == 0 {
				t.Fatalf("certificate %d empty", i)
			}
		}
		// Round trip through the canonical encoding of the same format.
		var again string
		switch format {
		case FormatPEMURLEncoded:
			again = escapeURIComponent(pemOf(chain...))
		case FormatDERBase64:
			again = derList(base64.StdEncoding, chain...)
		case FormatXFCC:
			again = `Chain="` + escapeURIComponent(pemOf(chain...)) + `"`
		}
		if len(again) > MaxForwardedCertBytes {
			return // a compact input may expand past the limit when re-encoded
		}
		chain2, err := ParseForwardedCert(again, format)
		if err != nil {
			t.Fatalf("re-encoded chain does not parse: %v", err)
		}
		if diff := cmp.Diff(rawOf(chain), rawOf(chain2)); diff != "" {
			t.Fatalf("round trip changed the chain (-first +second):\n%s", diff)
		}
	})
}
