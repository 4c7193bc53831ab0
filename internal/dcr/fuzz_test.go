package dcr_test

import (
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/dcr"
)

// FuzzParseRegistrationRequest: any body either parses or is refused with a *dcr.Error,
// never a panic; a parsed request's SSA goes through ParseSSA under the same rule.
func FuzzParseRegistrationRequest(f *testing.F) {
	w := newWorld(f)
	f.Add(w.request(f, nil, nil))
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
	w := newWorld(f)
	f.Add(w.ssa(f, nil))
	f.Add(w.ssa(f, func(m map[string]any) {
		m["organisation_competent_authority_claims"] = []any{map[string]any{"registration_id": "1"}, 3}
	}))
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
