package oauth

import (
	"errors"

	"github.com/portcullis/portcullis/internal/oauth/scope"
)

// Bounds of a requested scope (RFC 6749 §3.3): those of package scope.
const (
	// MaxScopeTokens is the largest number of scope tokens a request may carry.
	MaxScopeTokens = scope.MaxTokens
	// MaxScopeTokenLen is the longest scope token accepted, in bytes.
	MaxScopeTokenLen = scope.MaxTokenLen
)

// ParseScope parses the value of a scope parameter with [scope.Parse]: the tokens in the order
// given, each once; an empty value returns nil and no error. A malformed value is 400
// invalid_scope whose description says what is wrong.
func ParseScope(s string) ([]string, error) {
	toks, err := scope.Parse(s)
	if err != nil {
		var se *scope.SyntaxError
		if errors.As(err, &se) {
			return nil, InvalidScope(se.Reason)
		}
		return nil, InvalidScope("malformed scope")
	}
	return toks, nil
}

// FormatScope joins scope tokens into the space-separated wire form (RFC 6749 §3.3).
func FormatScope(scopes []string) string { return scope.Format(scopes) }
