package oauth

import (
	"strings"

	"github.com/portcullis/portcullis/internal/client"
)

// Bounds of a requested scope (RFC 6749 §3.3). They match the bounds of a registered client's
// scope, so anything longer could never be granted anyway.
const (
	// MaxScopeTokens is the largest number of scope tokens a request may carry.
	MaxScopeTokens = 64
	// MaxScopeTokenLen is the longest scope token accepted, in bytes.
	MaxScopeTokenLen = 128
)

// ParseScope parses the value of a scope parameter (RFC 6749 §3.3): scope tokens of the
// characters %x21 / %x23-5B / %x5D-7E, separated by single spaces. It returns the tokens in
// the order given, each once (a repeated token is dropped: the scope is a set and its order
// carries no meaning, FAPI1-AS-20). An empty value returns nil and no error.
//
// A malformed value — an empty token (leading, trailing or doubled space), a character
// outside the set, more than [MaxScopeTokens] tokens, a token longer than
// [MaxScopeTokenLen] — is 400 invalid_scope.
func ParseScope(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > MaxScopeTokens*(MaxScopeTokenLen+1) {
		return nil, InvalidScope("scope too long")
	}
	toks := strings.Split(s, " ")
	if len(toks) > MaxScopeTokens {
		return nil, InvalidScope("too many scope tokens")
	}
	out := make([]string, 0, len(toks))
	for _, tok := range toks {
		if tok == "" {
			return nil, InvalidScope("scope tokens must be separated by single spaces")
		}
		if len(tok) > MaxScopeTokenLen {
			return nil, InvalidScope("scope token too long")
		}
		if !client.IsScopeToken(tok) {
			return nil, InvalidScope("scope contains a character outside RFC 6749 scope tokens")
		}
		if !containsString(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

// FormatScope joins scope tokens into the space-separated wire form (RFC 6749 §3.3).
func FormatScope(scopes []string) string { return strings.Join(scopes, " ") }

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
