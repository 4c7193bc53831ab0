package clientauth

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// parseClaims decodes a JWT claims set: one JSON object, member names exact (case-sensitive,
// RFC 7519 §4) and unique, at most maxClaimMembers members; iss, sub and jti strings; exp,
// iat and nbf NumericDates (RFC 7519 §2) between 0 and year 9999; aud a string or an array
// (kept raw). Other members are ignored.
//
// It runs on every private_key_jwt request before the signature is checked, so it is one
// pass without reflection: json.Valid first establishes that data is exactly one well-formed
// JSON value, and the walk below only splits that value's top-level members. Member names are
// unescaped exactly as encoding/json does ("i\u0073s" is "iss"), so that a duplicate cannot
// hide behind an escape.
func parseClaims(data []byte) (*claims, error) {
	if !json.Valid(data) {
		return nil, fmt.Errorf("%w: not valid JSON", errClaims)
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", errClaims)
	}
	var cl claims
	var names [maxClaimMembers]string
	n := 0
	i = skipSpace(data, i+1)
	for data[i] != '}' {
		if n == maxClaimMembers {
			return nil, fmt.Errorf("%w: too many members", errClaims)
		}
		end := stringEnd(data, i)
		name, ok := jsonString(data[i:end])
		if !ok {
			return nil, fmt.Errorf("%w: bad member name", errClaims)
		}
		for _, seen := range names[:n] {
			if seen == name {
				return nil, fmt.Errorf("%w: bad or duplicate member name", errClaims)
			}
		}
		names[n] = name
		n++
		i = skipSpace(data, skipSpace(data, end)+1) // past ':'
		end = valueEnd(data, i)
		raw := json.RawMessage(data[i:end])
		var err error
		switch name {
		case "iss":
			err = stringValue(raw, &cl.iss)
		case "sub":
			err = stringValue(raw, &cl.sub)
		case "jti":
			err = stringValue(raw, &cl.jti)
		case "exp":
			err = numericDate(raw, &cl.exp)
		case "iat":
			err = numericDate(raw, &cl.iat)
		case "nbf":
			err = numericDate(raw, &cl.nbf)
		case "aud":
			if raw[0] != '"' && raw[0] != '[' {
				err = fmt.Errorf("%w: aud must be a string or an array", errClaims)
			}
			cl.aud = raw
		}
		if err != nil {
			return nil, err
		}
		i = skipSpace(data, end)
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return &cl, nil
}

// The helpers below walk JSON that json.Valid has accepted: they never see a malformed
// value, so they only need to find where things end.

// skipSpace returns the index of the first non-whitespace byte at or after i (len(data) if
// none).
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the string literal that starts at data[i] == '"'.
func stringEnd(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++ // the escaped byte (a 'u' escape's hex digits need no care)
		case '"':
			return i + 1
		}
	}
	return i
}

// valueEnd returns the index just past the JSON value that starts at data[i].
func valueEnd(data []byte, i int) int {
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = stringEnd(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(data) { // number, true, false, null
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// jsonString returns the value of a valid JSON string literal (quotes included), decoded as
// encoding/json decodes it: escapes resolved, invalid UTF-8 replaced by U+FFFD. The common
// case — no escapes, valid UTF-8 — is a plain copy.
func jsonString(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", false
	}
	body := lit[1 : len(lit)-1]
	plain := utf8.Valid(body)
	for _, c := range body {
		if c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(body), true
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", false
	}
	return s, true
}
