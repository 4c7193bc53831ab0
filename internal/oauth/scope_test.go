package oauth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/oauth"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "", want: nil},
		{in: "accounts", want: []string{"accounts"}},
		{in: "payments accounts", want: []string{"payments", "accounts"}},
		{in: "accounts payments accounts", want: []string{"accounts", "payments"}},
		{in: "urn:example:scope!#$%&'()*+,-./:;<=>?@[]^_`{|}~", want: []string{"urn:example:scope!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}},
		{in: " accounts", bad: true},
		{in: "accounts ", bad: true},
		{in: "accounts  payments", bad: true},
		{in: "accounts\tpayments", bad: true},
		{in: `acc"ounts`, bad: true},
		{in: `acc\ounts`, bad: true},
		{in: "accounts\x00", bad: true},
		{in: "comptes-bancaires-é", bad: true},
		{in: strings.Repeat("a", oauth.MaxScopeTokenLen), want: []string{strings.Repeat("a", oauth.MaxScopeTokenLen)}},
		{in: strings.Repeat("a", oauth.MaxScopeTokenLen+1), bad: true},
		{in: strings.TrimSpace(strings.Repeat("a ", oauth.MaxScopeTokens+1)), bad: true},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			got, err := oauth.ParseScope(tt.in)
			if tt.bad {
				var e *oauth.Error
				if !errors.As(err, &e) || e.Code != oauth.CodeInvalidScope || e.Status != 400 {
					t.Fatalf("ParseScope(%q) = %v, %v; want 400 invalid_scope", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if tt.want != nil && oauth.FormatScope(got) != strings.Join(tt.want, " ") {
				t.Errorf("FormatScope = %q", oauth.FormatScope(got))
			}
		})
	}
}

// FuzzParseScope: ParseScope never panics; what it accepts are distinct RFC 6749 scope
// tokens that format back to a value it accepts again, unchanged.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"", "accounts payments", "a a", " x", "x  y", `"`, "openid accounts fundsconfirmations", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, err := oauth.ParseScope(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, tok := range toks {
			if tok == "" || seen[tok] || strings.ContainsAny(tok, " \"\\") {
				t.Fatalf("ParseScope(%q) returned token %q", s, tok)
			}
			for i := 0; i < len(tok); i++ {
				if tok[i] < 0x21 || tok[i] > 0x7e {
					t.Fatalf("ParseScope(%q) returned token %q", s, tok)
				}
			}
			seen[tok] = true
		}
		again, err := oauth.ParseScope(oauth.FormatScope(toks))
		if err != nil || !cmp.Equal(again, toks, cmpNilEmpty) {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
	})
}

var cmpNilEmpty = cmp.Comparer(func(a, b []string) bool { return strings.Join(a, " ") == strings.Join(b, " ") && len(a) == len(b) })
