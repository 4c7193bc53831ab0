package scope_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/oauth/scope"
)

func TestIsToken(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"accounts", true},
		{"urn:example:scope!#$%&'()*+,-./:;<=>?@[]^_`{|}~", true},
		{"", false},
		{"a b", false},
		{`a"b`, false},
		{`a\b`, false},
		{"a\x7f", false},
		{"é", false},
		{"a\tb", false},
	} {
		if got := scope.IsToken(tt.in); got != tt.want {
			t.Errorf("IsToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseSyntaxError(t *testing.T) {
	for _, in := range []string{" a", "a ", "a  b", `a"`, strings.Repeat("a", scope.MaxTokenLen+1),
		strings.TrimSpace(strings.Repeat("a ", scope.MaxTokens+1))} {
		_, err := scope.Parse(in)
		var se *scope.SyntaxError
		if !errors.As(err, &se) || se.Reason == "" {
			t.Errorf("Parse(%.20q) = %v, want a *SyntaxError", in, err)
		}
	}
}
