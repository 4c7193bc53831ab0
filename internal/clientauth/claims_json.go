package clientauth

import (
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/jose"
)

// parseClaims decodes a JWT claims set: one JSON object, member names unique (also under
// case folding, as jose checks every JOSE object), at most maxClaimMembers members; iss, sub
// and jti strings; exp, iat and nbf NumericDates (RFC 7519 §2) between 0 and year 9999; aud a
// string or an array (kept raw). Other members are ignored.
//
// It runs on every private_key_jwt request before the signature is checked, so it is one
// pass without reflection: [jose.WalkObject] checks the whole payload with json.Valid and
// splits its top-level members, unescaping names as encoding/json does so that a duplicate
// cannot hide behind an escape.
func parseClaims(data []byte) (*claims, error) {
	var cl claims
	err := jose.WalkObject(data, maxClaimMembers, func(name string, v []byte) error {
		switch name {
		case "iss":
			return stringValue(v, &cl.iss)
		case "sub":
			return stringValue(v, &cl.sub)
		case "jti":
			return stringValue(v, &cl.jti)
		case "exp":
			return numericDate(v, &cl.exp)
		case "iat":
			return numericDate(v, &cl.iat)
		case "nbf":
			return numericDate(v, &cl.nbf)
		case "aud":
			if v[0] != '"' && v[0] != '[' {
				return fmt.Errorf("%w: aud must be a string or an array", errClaims)
			}
			cl.aud = v
		}
		return nil
	})
	switch {
	case err == nil:
		return &cl, nil
	case errors.Is(err, errClaims):
		return nil, err
	}
	return nil, fmt.Errorf("%w: %w", errClaims, err)
}
