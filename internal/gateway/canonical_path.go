package gateway

import (
	"fmt"
	"net/url"
)

// checkCanonicalPath refuses a request path that an upstream could read as
// another path than the one the route table matched (ErrInvalidPath, 400). It
// looks at the path as received (url.URL.RawPath and EscapedPath, not only the
// decoded Path) and refuses:
//
//   - ";" anywhere in the path: Tomcat, Spring and Jetty treat it as the start of
//     path parameters and drop the rest of the segment, so "/payments/..;" is
//     "/payments/.." to them;
//   - a percent-encoded ".", "/", "\", ";" or "%" (in either case of hex digit),
//     and an encoded control character: "%2e%2e", "..%3b", "%2f" and the double
//     encoding "%252e" all become dot segments or separators in some upstream;
//   - a raw "\" (some upstreams read it as "/") and a malformed escape.
//
// Other escapes (e.g. "%20" in a parameter) pass, so the upstream only ever sees a
// canonical path that matched a route.
func checkCanonicalPath(u *url.URL) error {
	if err := scanPath(u.EscapedPath()); err != nil {
		return err
	}
	if u.RawPath != "" {
		return scanPath(u.RawPath)
	}
	return nil
}

func scanPath(p string) error {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case ';', '\\':
			return fmt.Errorf("%w: %q in the path", ErrInvalidPath, c)
		case '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return fmt.Errorf("%w: malformed escape in the path", ErrInvalidPath)
			}
			switch d := unhex(p[i+1])<<4 | unhex(p[i+2]); {
			case d == '.', d == '/', d == '\\', d == ';', d == '%', d < 0x20, d == 0x7f:
				return fmt.Errorf("%w: encoded %q in the path", ErrInvalidPath, d)
			}
			i += 2
		}
	}
	return nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
