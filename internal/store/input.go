package store

import (
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Size limits on every stored field. A write beyond a limit fails with [ErrInvalidInput]
// before any statement runs.
const (
	// MaxKeyLen bounds every identifier and key: client, consent, family and user ids, hashes,
	// issuers, jtis, statuses, kinds and audit types (bytes).
	MaxKeyLen = 512
	// MaxScopeLen bounds a refresh token's scope string (bytes).
	MaxScopeLen = 4096
	// MaxDataSize bounds every JSON document: client metadata, consent, code, request and
	// token data, audit data (bytes).
	MaxDataSize = 256 << 10
	// MaxTransitionFrom bounds the number of source statuses of one consent transition.
	MaxTransitionFrom = 16
)

// HashSecret returns the key under which a secret (an authorization code, a request_uri, a
// refresh token) is stored: the unpadded base64url SHA-256 of the secret. The store never sees
// the secret itself; callers hash it with this function before every Put, Get and Consume, so
// a copy of the database does not let anyone redeem what it holds.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// invalid returns an [ErrInvalidInput] naming field.
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s", ErrInvalidInput, field, fmt.Sprintf(format, args...))
}

// checkText validates a text field: at most max bytes of valid UTF-8 without NUL (which
// PostgreSQL cannot store in TEXT), and non-empty when required.
func checkText(field, v string, max int, required bool) error {
	switch {
	case v == "" && required:
		return invalid(field, "is empty")
	case len(v) > max:
		return invalid(field, "is longer than %d bytes", max)
	case !utf8.ValidString(v):
		return invalid(field, "is not valid UTF-8")
	case strings.IndexByte(v, 0) >= 0:
		return invalid(field, "contains a NUL byte")
	}
	return nil
}

// checkKey validates a required identifier or key.
func checkKey(field, v string) error { return checkText(field, v, MaxKeyLen, true) }

// checkOptional validates an optional identifier.
func checkOptional(field, v string) error { return checkText(field, v, MaxKeyLen, false) }

// validKey reports whether v could have been stored as a key. Lookups of a key that could not
// have been stored answer [ErrNotFound] without a query.
func validKey(v string) bool { return checkKey("", v) == nil }

// checkData validates a JSON document: at most [MaxDataSize] bytes of valid UTF-8 JSON; empty
// (nil) is allowed unless required.
func checkData(field string, d json.RawMessage, required bool) error {
	switch {
	case len(d) == 0:
		if required {
			return invalid(field, "is empty")
		}
		return nil
	case len(d) > MaxDataSize:
		return invalid(field, "is larger than %d bytes", MaxDataSize)
	case !utf8.Valid(d):
		// encoding/json accepts invalid UTF-8 inside strings; PostgreSQL's TEXT does not.
		return invalid(field, "is not valid UTF-8")
	case !json.Valid(d):
		return invalid(field, "is not valid JSON")
	}
	return nil
}

// checkTime validates a timestamp: within years 1970–9999 (so milliseconds since the epoch fit
// every backend), and non-zero when required.
func checkTime(field string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return invalid(field, "is zero")
		}
		return nil
	}
	if y := t.Year(); y < 1970 || y > 9999 {
		return invalid(field, "is outside the years 1970 to 9999")
	}
	return nil
}

// ms is t as milliseconds since the Unix epoch, the form every time column holds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// nullMS is t as milliseconds, or SQL NULL for the zero time.
func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMS turns stored milliseconds back into a UTC time.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// fromNullMS turns a nullable time column back into a time; NULL is the zero time.
func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// nullData is a JSON document as a TEXT argument, or NULL when empty. It is passed as a string:
// both drivers bind strings to TEXT.
func nullData(d json.RawMessage) any {
	if len(d) == 0 {
		return nil
	}
	return string(d)
}

// rawJSON turns a scanned TEXT column into a JSON document; NULL stays nil.
func rawJSON(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

// orNow returns t, or now when t is zero.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.Truncate(time.Millisecond)
}

// limit clamps a caller's page size: zero or negative means def, anything above max is max.
func limit(n, def, max int) int {
	if n <= 0 {
		return def
	}
	return min(n, max)
}
