package eidas_test

import (
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// FuzzParseQCStatements: ParseQCStatements never panics, and whatever it accepts
// Marshal encodes and ParseQCStatements reads back to the same value. Seeds: the two
// pki.md vectors here, mutations of them in testdata/fuzz/FuzzParseQCStatements.
func FuzzParseQCStatements(f *testing.F) {
	for _, h := range []string{qwacVectorHex, obsealVectorHex} {
		b, err := hex.DecodeString(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		q, err := eidas.ParseQCStatements(der)
		if err != nil {
			if q != nil {
				t.Fatalf("non-nil result with error %v", err)
			}
			return
		}
		again, err := q.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed value: %v (%+v)", err, q)
		}
		q2, err := eidas.ParseQCStatements(again)
		if err != nil {
			t.Fatalf("re-parse of %x: %v", again, err)
		}
		if diff := cmp.Diff(q, q2); diff != "" {
			t.Fatalf("round trip changed the value (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseOrganizationIdentifier: no panic; accepted values keep their parts.
func FuzzParseOrganizationIdentifier(f *testing.F) {
	for _, s := range []string{"PSDGB-FCA-123456", "VATBE-0123456789", "PSDGB-OB-Unknown0015800001HQQrZAAX", "LEIXG-1", "IT:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := eidas.ParseOrganizationIdentifier(s)
		if err != nil {
			return
		}
		rebuilt := o.Scheme + o.Country + "-" + o.Reference
		if o.Scheme == eidas.SchemePSD {
			rebuilt = o.Scheme + o.Country + "-" + o.NCA + "-" + o.Reference
		}
		if rebuilt != s || o.Raw != s {
			t.Fatalf("parts %+v do not rebuild %q", o, s)
		}
	})
}
