package dcr

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/jose"
)

// maxMembers bounds the members of a decoded JSON object (header or claims set).
const maxMembers = 128

// maxNumericDate is 9999-12-31T23:59:59Z: later dates are refused as malformed.
const maxNumericDate = 253402300799

var errShape = errors.New("dcr: not a compact JWS")

// compact is a compact JWS split and decoded, not verified.
type compact struct {
	header  struct{ Alg, Kid, Typ string }
	payload []byte
}

// splitCompact decodes the header and payload of a compact JWS without verifying it, so
// that the claims can say which keys verify it. The header must be a JSON object with a
// string alg; the payload one JSON object with unique member names (jose.WalkObject).
func splitCompact(token string, max int) (*compact, error) {
	if len(token) > max {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", errShape, len(token), max)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, fmt.Errorf("%w: want three non-empty segments", errShape)
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header encoding", errShape)
	}
	pb, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload encoding", errShape)
	}
	c := &compact{payload: pb}
	err = jose.WalkObject(hb, maxMembers, func(name string, v []byte) error {
		var dst *string
		switch name {
		case "alg":
			dst = &c.header.Alg
		case "kid":
			dst = &c.header.Kid
		case "typ":
			dst = &c.header.Typ
		default:
			return nil
		}
		if len(v) == 0 || v[0] != '"' {
			return fmt.Errorf("%w: header %s is not a string", errShape, name)
		}
		s, err := jose.UnquoteString(v)
		*dst = s
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", errShape, err)
	}
	if c.header.Alg == "" {
		return nil, fmt.Errorf("%w: header without alg", errShape)
	}
	if err := jose.WalkObject(pb, maxMembers, nil); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", errShape, err)
	}
	return c, nil
}

// claims is a decoded claims set, member by member, so that a member of the wrong type is
// refused by name.
type claims map[string]json.RawMessage

func parseClaims(payload []byte) (claims, error) {
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil || c == nil {
		return nil, fmt.Errorf("%w: claims are not a JSON object", errShape)
	}
	return c, nil
}

// claimError says which claim has the wrong type or value.
type claimError struct{ claim, problem string }

func (e *claimError) Error() string { return e.claim + " " + e.problem }

// str reads an optional string claim of at most max bytes ("" when absent or null).
func (c claims) str(name string, max int) (string, error) {
	v, ok := c[name]
	if !ok || string(v) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", &claimError{name, "must be a string"}
	}
	if len(s) > max {
		return "", &claimError{name, fmt.Sprintf("is longer than %d bytes", max)}
	}
	return s, nil
}

// text reads an optional claim sent as a string or a number (software_version).
func (c claims) text(name string, max int) (string, error) {
	v, ok := c[name]
	if ok && len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil || len(n) > max {
			return "", &claimError{name, "must be a string or a number"}
		}
		return n.String(), nil
	}
	return c.str(name, max)
}

// strs reads an optional array of strings: at most maxN entries of at most max bytes each.
func (c claims) strs(name string, maxN, max int) ([]string, bool, error) {
	v, ok := c[name]
	if !ok || string(v) == "null" {
		return nil, false, nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, true, &claimError{name, "must be an array of strings"}
	}
	if len(list) > maxN {
		return nil, true, &claimError{name, fmt.Sprintf("has more than %d entries", maxN)}
	}
	for _, s := range list {
		if len(s) > max {
			return nil, true, &claimError{name, fmt.Sprintf("has an entry longer than %d bytes", max)}
		}
	}
	return list, true, nil
}

// date reads an optional NumericDate (RFC 7519 §2): a JSON number of seconds, fractions
// truncated, between 0 and year 9999. ok reports presence.
func (c claims) date(name string) (t time.Time, ok bool, err error) {
	v, present := c[name]
	if !present {
		return time.Time{}, false, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, true, &claimError{name, "must be a NumericDate"}
	}
	return time.Unix(int64(f), 0).UTC(), true, nil
}

// audience reads aud: one string or an array of at most 16 strings (RFC 7519 §4.1.3).
func (c claims) audience() ([]string, error) {
	v, ok := c["aud"]
	if !ok {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil || len(list) > 16 {
		return nil, &claimError{"aud", "must be a string or an array of at most 16 strings"}
	}
	return list, nil
}

// object returns a member that must be a JSON object (or absent).
func (c claims) object(name string) (claims, error) {
	v, ok := c[name]
	if !ok || string(v) == "null" {
		return nil, nil
	}
	var o claims
	if len(v) == 0 || v[0] != '{' || json.Unmarshal(v, &o) != nil {
		return nil, &claimError{name, "must be a JSON object"}
	}
	return o, nil
}
