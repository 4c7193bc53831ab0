package dcr_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/dcr"
)

// FuzzParseRegistrationRequest: any body either parses or is refused with a *dcr.Error,
// never a panic; a parsed request's SSA goes through ParseSSA under the same rule.
func FuzzParseRegistrationRequest(f *testing.F) {
	f.Add(seed(f, "testdata/registration_request.jwt"))
	f.Add([]byte("e30.e30.AAAA"))
	f.Add([]byte(`eyJhbGciOiJQUzI1NiIsImtpZCI6IngifQ.eyJzb2Z0d2FyZV9zdGF0ZW1lbnQiOjF9.AAAA`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := dcr.ParseRegistrationRequest(body)
		var de *dcr.Error
		if err != nil {
			if !errors.As(err, &de) || de.Code == "" {
				t.Fatalf("error %v is not a *dcr.Error", err)
			}
			return
		}
		if r.SoftwareStatement != "" {
			if _, err := dcr.ParseSSA(r.SoftwareStatement); err != nil && !errors.As(err, &de) {
				t.Fatalf("SSA error %v is not a *dcr.Error", err)
			}
		}
	})
}

// FuzzParseSSA: any software statement either parses or is refused with
// invalid_software_statement, never a panic.
func FuzzParseSSA(f *testing.F) {
	f.Add(string(seed(f, "testdata/ssa.jwt")))
	// organisation_competent_authority_claims as an array with a non-object member
	f.Add("eyJhbGciOiJQUzI1NiIsImtpZCI6ImQifQ.eyJvcmdhbmlzYXRpb25fY29tcGV0ZW50X2F1dGhvcml0eV9jbGFpbXMiOlt7InJlZ2lzdHJhdGlvbl9pZCI6IjEifSwzXX0.AAAA")
	f.Add("e30.e30.AAAA")
	f.Add("eyJhbGciOiJQUzI1NiJ9.eyJzb2Z0d2FyZV92ZXJzaW9uIjoxZTk5OX0.AAAA")
	f.Fuzz(func(t *testing.T, token string) {
		_, err := dcr.ParseSSA(token)
		var de *dcr.Error
		if err != nil && (!errors.As(err, &de) || de.Code != dcr.CodeInvalidSoftwareStatement) {
			t.Fatalf("error %v is not invalid_software_statement", err)
		}
	})
}

// seed reads a fuzz seed from testdata (the seeds are shaped like real tokens; their
// signatures are not valid, which parsing does not check). Seeds are files, not generated,
// so that every fuzz worker starts at once.
func seed(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(strings.TrimSpace(string(b)))
}

// TestSeedsParse keeps the seeds meaningful: both parse.
func TestSeedsParse(t *testing.T) {
	r, err := dcr.ParseRegistrationRequest(seed(t, "testdata/registration_request.jwt"))
	if err != nil || r.SoftwareStatement == "" {
		t.Fatalf("request seed: %v", err)
	}
	if _, err := dcr.ParseSSA(r.SoftwareStatement); err != nil {
		t.Fatalf("SSA seed: %v", err)
	}
}
