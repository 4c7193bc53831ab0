// Package scope is the RFC 6749 §3.3 scope grammar: what a scope-token is, how a scope value
// splits into tokens, and the bounds Portcullis puts on both. It is the one definition of that
// syntax; the token endpoint (package oauth, which turns a [SyntaxError] into 400
// invalid_scope), the client registry, the token issuer and the gateway's route table all use it.
//
// It is a leaf of package oauth (it imports nothing of ours) because package oauth maps the
// errors of client, token and store to the wire and so imports them: the grammar those packages
// need cannot live in oauth itself without an import cycle.
//
// It says nothing about which scopes exist or may be granted.
package scope

import "strings"

// Bounds of a scope value. A registered client's scope has the same bounds, so a requested
// scope beyond them could never be granted anyway.
const (
	// MaxTokens is the largest number of scope tokens in one value.
	MaxTokens = 64
	// MaxTokenLen is the longest scope token accepted, in bytes.
	MaxTokenLen = 128
)

// SyntaxError says why a scope value is not well formed. Reason is a short English
// description safe to show the client.
type SyntaxError struct{ Reason string }

func (e *SyntaxError) Error() string { return "scope: " + e.Reason }

// IsToken reports whether s is one RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ).
// It does not check [MaxTokenLen].
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Parse parses a scope value (RFC 6749 §3.3): scope tokens separated by single spaces. It
// returns the tokens in the order given, each once (a repeated token is dropped: the scope is
// a set and its order carries no meaning, FAPI1-AS-20). An empty value returns nil and no
// error.
//
// A malformed value — an empty token (leading, trailing or doubled space), a character outside
// the scope-token set, more than [MaxTokens] tokens, a token longer than [MaxTokenLen] — is a
// *[SyntaxError].
func Parse(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > MaxTokens*(MaxTokenLen+1) {
		return nil, &SyntaxError{"scope too long"}
	}
	toks := strings.Split(s, " ")
	if len(toks) > MaxTokens {
		return nil, &SyntaxError{"too many scope tokens"}
	}
	out := make([]string, 0, len(toks))
	for _, tok := range toks {
		if tok == "" {
			return nil, &SyntaxError{"scope tokens must be separated by single spaces"}
		}
		if len(tok) > MaxTokenLen {
			return nil, &SyntaxError{"scope token too long"}
		}
		if !IsToken(tok) {
			return nil, &SyntaxError{"scope contains a character outside RFC 6749 scope tokens"}
		}
		if !contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

// Format joins scope tokens into the space-separated wire form (RFC 6749 §3.3).
func Format(toks []string) string { return strings.Join(toks, " ") }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
