package jose

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Member-count limits for the JSON objects this package walks.
const (
	maxHeaderMembers = 32  // JOSE header
	maxClaimMembers  = 256 // JWT claims set, JWK Set document
	maxJWKMembers    = 64  // one JWK
)

// walkObject checks that data is exactly one JSON object with at most max members
// whose names are unique — also under Unicode simple case folding, because
// encoding/json matches struct fields case-insensitively and would otherwise let
// "ISS" silently override "iss" (RFC 7515 §5.2, RFC 7519 §4) — and calls fn, if
// not nil, with each member's name (unescaped) and raw value. Errors wrap
// [ErrMalformed] (or [ErrTooLarge] for too many members); fn's errors are returned
// as they are.
//
// The input is validated by json.Valid first; the scan below relies on that and
// only finds boundaries, so it is short and allocation-light.
//
// It is exported as [WalkObject] for the other parsers of JWT content that runs before
// a signature is checked (clientauth's client assertion claims).
func walkObject(data []byte, max int, fn func(name string, value []byte) error) error {
	if !json.Valid(data) {
		return fmt.Errorf("%w: not JSON", ErrMalformed)
	}
	i := skipWS(data, 0)
	if data[i] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	i = skipWS(data, i+1)
	if data[i] == '}' {
		return nil
	}
	var names [16]string
	seen := names[:0]
	for {
		if len(seen) == max {
			return fmt.Errorf("%w: more than %d JSON members", ErrTooLarge, max)
		}
		j := endOfString(data, i)
		name, err := unquote(data[i:j])
		if err != nil {
			return err
		}
		for _, s := range seen {
			if equalFold(s, name) {
				return fmt.Errorf("%w: duplicate member %q", ErrMalformed, truncate(name))
			}
		}
		seen = append(seen, name)
		i = skipWS(data, skipWS(data, j)+1) // past ':'
		k := endOfValue(data, i)
		if fn != nil {
			if err := fn(name, data[i:k]); err != nil {
				return err
			}
		}
		i = skipWS(data, k)
		if data[i] == '}' {
			return nil // json.Valid: only white space follows
		}
		i = skipWS(data, i+1) // past ','
	}
}

func skipWS(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	if i == len(data) { // cannot happen for valid JSON where callers use it
		return len(data) - 1
	}
	return i
}

// endOfString returns the index after the string literal starting at data[i].
func endOfString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// endOfValue returns the index after the JSON value starting at data[i].
func endOfValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return endOfString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = endOfString(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(data)
	}
	j := i
	for ; j < len(data); j++ {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
	}
	return j
}

// unquote decodes a JSON string literal (already validated).
func unquote(lit []byte) (string, error) {
	if len(lit) < 2 || lit[0] != '"' {
		return "", fmt.Errorf("%w: expected a string", ErrMalformed)
	}
	if bytes.IndexByte(lit, '\\') < 0 && utf8.Valid(lit) {
		return string(lit[1 : len(lit)-1]), nil
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", fmt.Errorf("%w: bad string", ErrMalformed)
	}
	return s, nil
}

// equalFold is the name matching of encoding/json (bytes.EqualFold: Unicode simple
// case folding), with an ASCII fast path.
func equalFold(a, b string) bool {
	if len(a) != len(b) && isASCII(a) && isASCII(b) {
		return false
	}
	return strings.EqualFold(a, b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// jsonString decodes a raw JSON value that must be a string.
func jsonString(name string, v []byte) (string, error) {
	if len(v) == 0 || v[0] != '"' {
		return "", fmt.Errorf("%w: %q must be a string", ErrMalformed, name)
	}
	return unquote(v)
}

// truncate shortens attacker-supplied strings before they go into error text.
func truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- { // do not split a rune
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return "…"
}

// WalkObject is walkObject for other packages: data must be exactly one JSON object of at
// most max members with names unique under simple case folding; fn (if not nil) gets each
// member's unescaped name and raw value, in order. Errors wrap [ErrMalformed] or
// [ErrTooLarge], or are fn's own.
func WalkObject(data []byte, max int, fn func(name string, value []byte) error) error {
	return walkObject(data, max, fn)
}

// UnquoteString decodes the JSON string literal lit (quotes included) exactly as
// encoding/json does: escapes resolved, invalid UTF-8 replaced by U+FFFD; the common case,
// no escape and valid UTF-8, is a copy. Errors wrap [ErrMalformed].
func UnquoteString(lit []byte) (string, error) { return unquote(lit) }
