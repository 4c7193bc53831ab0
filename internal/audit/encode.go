package audit

import (
	"encoding/json"
	"slices"
	"strconv"
)

// marshalData encodes an event's Data exactly as json.Marshal does (keys sorted, HTML-safe
// escaping), without reflection for the common case: every key and string value made of
// bytes that json.Marshal copies unchanged, and values that are strings, ints or booleans.
// Anything else (escapes, floats, nested values) goes to json.Marshal. A token issuance
// records one such map per request, so this is on the token endpoint's hot path.
func marshalData(m map[string]any) ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	var keysBuf [16]string
	keys := keysBuf[:0]
	size := 2
	for k, v := range m {
		if !plainJSON(k) {
			return json.Marshal(m)
		}
		switch v := v.(type) {
		case string:
			if !plainJSON(v) {
				return json.Marshal(m)
			}
			size += len(v) + 2
		case int, int64, bool:
			size += 20
		default:
			return json.Marshal(m)
		}
		keys = append(keys, k)
		size += len(k) + 4
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		switch v := m[k].(type) {
		case string:
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case bool:
			b = strconv.AppendBool(b, v)
		}
	}
	return append(b, '}'), nil
}

// plainJSON reports whether json.Marshal writes s between quotes unchanged: printable ASCII
// other than '"', '\\' and the HTML-escaped '<', '>', '&'.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
