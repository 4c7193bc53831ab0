package gateway

import (
	"fmt"
	"net/http"
	"strings"
)

// bearerToken returns the access token of r's Authorization header (RFC 6750 §2.1;
// fapi.md FAPI1-RS-01, FAPI2-RS-01):
//
//   - an access_token query parameter is ErrTokenInQuery, whatever the header says
//     (tokens in URLs leak into logs and Referer headers);
//   - no Authorization header, or one with another scheme (Basic, DPoP, …), is
//     ErrNoToken: the request carries no bearer credentials;
//   - more than one Authorization header is ErrInvalidRequest;
//   - the scheme name is matched case-insensitively ("bearer", "BEARER");
//   - the token must be an RFC 6750 b64token after one or more spaces, else
//     ErrInvalidToken.
//
// Size is bounded by the server's header limit and by the verifier's token limit.
func bearerToken(r *http.Request) (string, error) {
	if r.URL.RawQuery != "" && r.URL.Query().Has("access_token") {
		return "", ErrTokenInQuery
	}
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", ErrNoToken
	case 1:
	default:
		return "", fmt.Errorf("%w: %d Authorization headers", ErrInvalidRequest, len(vals))
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoToken
	}
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", fmt.Errorf("%w: not an RFC 6750 b64token", ErrInvalidToken)
	}
	return tok, nil
}

// b64TokenChars marks the characters of an RFC 6750 b64token before its "="
// padding (one table lookup per byte: tokens are about a kilobyte).
var b64TokenChars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// isB64Token reports whether s matches 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
// "+" / "/" ) *"=" (RFC 6750 §2.1).
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64TokenChars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}
