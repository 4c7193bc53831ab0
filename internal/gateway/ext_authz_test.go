package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOriginalRequest(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		headers    map[string]string
		wantMethod string
		wantURI    string
		bad        bool
	}{
		{name: "envoy", method: "POST", target: ExtAuthzPath + "/open-banking/v3.1/pisp/domestic-payments",
			wantMethod: "POST", wantURI: "/open-banking/v3.1/pisp/domestic-payments"},
		{name: "envoy with query", method: "GET", target: ExtAuthzPath + "/a/b?x=1&y=%20",
			wantMethod: "GET", wantURI: "/a/b?x=1&y=%20"},
		{name: "envoy keeps escapes", method: "GET", target: ExtAuthzPath + "/a/b%2Fc", wantMethod: "GET", wantURI: "/a/b%2Fc"},
		{name: "envoy ignores forwarded headers", method: "GET", target: ExtAuthzPath + "/real",
			headers: map[string]string{"X-Forwarded-Uri": "/other", "X-Forwarded-Method": "DELETE"}, wantMethod: "GET", wantURI: "/real"},
		{name: "envoy prefix without slash", method: "GET", target: ExtAuthzPath + "x/a", bad: true},
		{name: "nginx", method: "GET", target: ExtAuthzPath,
			headers: map[string]string{"X-Original-Method": "PUT", "X-Original-Uri": "/a?b=c"}, wantMethod: "PUT", wantURI: "/a?b=c"},
		{name: "traefik", method: "GET", target: ExtAuthzPath,
			headers: map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/a"}, wantMethod: "GET", wantURI: "/a"},
		{name: "both agree", method: "GET", target: ExtAuthzPath,
			headers:    map[string]string{"X-Forwarded-Method": "GET", "X-Original-Method": "GET", "X-Forwarded-Uri": "/a", "X-Original-Uri": "/a"},
			wantMethod: "GET", wantURI: "/a"},
		{name: "methods disagree", method: "GET", target: ExtAuthzPath,
			headers: map[string]string{"X-Forwarded-Method": "GET", "X-Original-Method": "POST", "X-Forwarded-Uri": "/a"}, bad: true},
		{name: "no method", method: "GET", target: ExtAuthzPath, headers: map[string]string{"X-Original-Uri": "/a"}, bad: true},
		{name: "no uri", method: "GET", target: ExtAuthzPath, headers: map[string]string{"X-Original-Method": "GET"}, bad: true},
		{name: "bad method", method: "GET", target: ExtAuthzPath, headers: map[string]string{"X-Original-Method": "G ET", "X-Original-Uri": "/a"}, bad: true},
		{name: "absolute uri", method: "GET", target: ExtAuthzPath, headers: map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "http://h/a"}, bad: true},
		{name: "network-path uri", method: "GET", target: ExtAuthzPath, headers: map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "//h/a"}, bad: true},
		{name: "fragment", method: "GET", target: ExtAuthzPath, headers: map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "/a#b"}, bad: true},
		{name: "space", method: "GET", target: ExtAuthzPath, headers: map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "/a b"}, bad: true},
		{name: "too long", method: "GET", target: ExtAuthzPath, headers: map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "/" + strings.Repeat("a", maxOriginalURI)}, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			m, u, err := originalRequest(r)
			if tt.bad {
				if !errors.Is(err, ErrBadExtAuthzRequest) {
					t.Fatalf("originalRequest = %q %v, %v; want ErrBadExtAuthzRequest", m, u, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m != tt.wantMethod || u.RequestURI() != tt.wantURI {
				t.Fatalf("originalRequest = %q %q, want %q %q", m, u.RequestURI(), tt.wantMethod, tt.wantURI)
			}
		})
	}
}

func TestOriginalRequestRepeatedHeader(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, ExtAuthzPath, nil)
	r.Header.Add("X-Original-Method", "GET")
	r.Header.Add("X-Original-Method", "POST")
	r.Header.Set("X-Original-Uri", "/a")
	if _, _, err := originalRequest(r); !errors.Is(err, ErrBadExtAuthzRequest) {
		t.Fatalf("repeated header: %v", err)
	}
}

func FuzzParseOriginURI(f *testing.F) {
	for _, s := range []string{"/a", "/a?b=c", "//x", "/a#f", "/%zz", "/a/../b", "/open-banking/v3.1/aisp/accounts/%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseOriginURI(s)
		if err != nil {
			if !errors.Is(err, ErrBadExtAuthzRequest) {
				t.Fatalf("error %v does not match ErrBadExtAuthzRequest", err)
			}
			return
		}
		if u.Scheme != "" || u.Host != "" || u.Fragment != "" || !strings.HasPrefix(u.Path, "/") {
			t.Fatalf("accepted %q as %#v", s, u)
		}
	})
}
