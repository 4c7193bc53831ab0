package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name   string
		target string
		auth   []string
		want   string
		err    error
	}{
		{name: "Bearer", auth: []string{"Bearer abc.def-_~+/ghi=="}, want: "abc.def-_~+/ghi=="},
		{name: "bearer lower", auth: []string{"bearer abc"}, want: "abc"},
		{name: "BEARER upper", auth: []string{"BEARER abc"}, want: "abc"},
		{name: "several spaces", auth: []string{"Bearer   abc"}, want: "abc"},
		{name: "no header", err: ErrNoToken},
		{name: "Basic", auth: []string{"Basic dXNlcjpwYXNz"}, err: ErrNoToken},
		{name: "DPoP", auth: []string{"DPoP abc"}, err: ErrNoToken},
		{name: "scheme only", auth: []string{"Bearer"}, err: ErrInvalidToken},
		{name: "empty token", auth: []string{"Bearer "}, err: ErrInvalidToken},
		{name: "space inside", auth: []string{"Bearer abc def"}, err: ErrInvalidToken},
		{name: "trailing space", auth: []string{"Bearer abc "}, err: ErrInvalidToken},
		{name: "padding in the middle", auth: []string{"Bearer ab=c"}, err: ErrInvalidToken},
		{name: "only padding", auth: []string{"Bearer ==="}, err: ErrInvalidToken},
		{name: "quote", auth: []string{`Bearer "abc"`}, err: ErrInvalidToken},
		{name: "tab separator", auth: []string{"Bearer\tabc"}, err: ErrNoToken},
		{name: "two headers", auth: []string{"Bearer abc", "Bearer def"}, err: ErrInvalidRequest},
		{name: "query token", target: "/r?access_token=abc", auth: []string{"Bearer abc"}, err: ErrTokenInQuery},
		{name: "empty query token", target: "/r?access_token=", err: ErrTokenInQuery},
		{name: "other query", target: "/r?x=access_token", auth: []string{"Bearer abc"}, want: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = "/r"
			}
			r := httptest.NewRequest(http.MethodGet, target, nil)
			for _, a := range tt.auth {
				r.Header.Add("Authorization", a)
			}
			got, err := bearerToken(r)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || got != "" {
					t.Fatalf("bearerToken = %q, %v; want error %v", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("bearerToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// b64TokenRE is RFC 6750 §2.1's b64token, the reference for isB64Token.
var b64TokenRE = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// TestIsB64Token checks isB64Token against the grammar for every byte alone,
// before padding, after padding and inside padding.
func TestIsB64Token(t *testing.T) {
	for c := range 256 {
		b := string([]byte{byte(c)})
		for _, s := range []string{b, b + "=", "a" + b, "a" + b + "=", "a=" + b, b + "a=="} {
			if got, want := isB64Token(s), b64TokenRE.MatchString(s); got != want {
				t.Errorf("isB64Token(%q) = %v, want %v", s, got, want)
			}
		}
	}
	for _, s := range []string{"", "=", "==", "a==", "eyJhbGciOi.eyJzdWIi.c2ln"} {
		if got, want := isB64Token(s), b64TokenRE.MatchString(s); got != want {
			t.Errorf("isB64Token(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Basic x", "Bearer ", "Bearer a=b", "BEARER   x==", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		r := httptest.NewRequest(http.MethodGet, "/r", nil)
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		tok, err := bearerToken(r)
		if err != nil {
			if tok != "" {
				t.Fatal("token returned with an error")
			}
			if !errors.Is(err, ErrNoToken) && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !isB64Token(tok) || !strings.HasSuffix(auth, tok) || !strings.EqualFold(auth[:6], "bearer") {
			t.Fatalf("accepted %q from %q", tok, auth)
		}
	})
}
