package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// wantSecurityHeaders asserts the headers every response of the pages carries, and that
// no CORS header is present.
func wantSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"X-Frame-Options":           "DENY",
		"Strict-Transport-Security": "max-age=31536000",
		"Referrer-Policy":           "no-referrer",
		"X-Content-Type-Options":    "nosniff",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
	if cc := h.Get("Cache-Control"); cc == "" {
		t.Errorf("%s: no Cache-Control", what)
	}
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: CSP %q lacks %s", what, csp, d)
		}
	}
	if !strings.Contains(csp, "default-src 'self'") && !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: CSP %q has no restrictive default-src", what, csp)
	}
	if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "*") {
		t.Errorf("%s: CSP %q allows unsafe sources", what, csp)
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s: CORS header %s", what, k)
		}
	}
}

// TestSecurityHeadersOnEveryResponse walks a whole journey and its failures, sending
// an Origin header as a cross-site script would, and checks every response.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	r := newRig(t)
	var responses []struct {
		what string
		w    *httptest.ResponseRecorder
	}
	add := func(what string, w *httptest.ResponseRecorder) {
		responses = append(responses, struct {
			what string
			w    *httptest.ResponseRecorder
		}{what, w})
	}
	add("start", r.start("j1"))
	login := r.get(LoginPath)
	add("login page", login)
	add("wrong password", r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"x"}}))
	add("CSRF refused", r.post(LoginPath, url.Values{"username": {"alice"}}))
	add("login", r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"correct horse battery staple"}}))
	otp := r.get(OTPPath)
	add("otp page", otp)
	add("wrong otp", r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {"999999"}}))
	add("otp", r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {"123456"}}))
	page := r.get(ApprovePath)
	add("approval page", page)
	add("approve", r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"approve"}, "account": {"acc-current-1"}}))
	add("expired", r.get(ApprovePath))
	add("stylesheet", r.get(StaticPath+"portcullis.css"))
	add("logo", r.get(StaticPath+"logo.svg"))
	add("missing static", r.get(StaticPath+"nope.css"))
	add("unknown page", r.get(PathPrefix+"admin"))
	for _, m := range []string{"OPTIONS", "PUT", "DELETE"} {
		req := httptest.NewRequest(m, "https://bank.example"+LoginPath, nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		w := httptest.NewRecorder()
		r.pages.ServeHTTP(w, req)
		add(m, w)
	}
	refused := httptest.NewRecorder()
	r.pages.Refuse(refused, httptest.NewRequest("GET", "/authorize", nil), "invalid_client")
	add("refuse", refused)

	for _, x := range responses {
		wantSecurityHeaders(t, x.what, x.w.Header())
	}
	// Pages are never stored; their CSP allows the journey's redirect origin in
	// form-action (browsers apply it to the 303 after the post) and nothing else.
	for _, x := range []*httptest.ResponseRecorder{login, otp, page} {
		if got := x.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("page Cache-Control %q", got)
		}
		want := "default-src 'self'; script-src 'none'; object-src 'none'; img-src 'self'; frame-ancestors 'none'; form-action 'self' https://tpp.example; base-uri 'none'"
		if got := x.Header().Get("Content-Security-Policy"); got != want {
			t.Errorf("page CSP\n got %s\nwant %s", got, want)
		}
	}
}

func TestLogoOriginInCSP(t *testing.T) {
	r := newRig(t)
	r.journey.req.LogoURI = "https://cdn.tpp.example/logo.png"
	r.start("j1")
	w := r.get(LoginPath)
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' https://cdn.tpp.example;") {
		t.Errorf("CSP %q", csp)
	}
	if !strings.Contains(w.Body.String(), `src="https://cdn.tpp.example/logo.png"`) {
		t.Error("logo not shown")
	}
	r.journey.req.LogoURI = "http://cdn.tpp.example/logo.png"
	w = r.get(LoginPath)
	if strings.Contains(w.Body.String(), "cdn.tpp.example") || strings.Contains(w.Header().Get("Content-Security-Policy"), "cdn.tpp.example") {
		t.Error("a plain-http logo is shown")
	}
}

func TestOrigin(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://tpp.example/cb?x=1", "https://tpp.example"},
		{"https://TPP.example:8443/cb", "https://tpp.example:8443"},
		{"https://[::1]:8443/cb", "https://[::1]:8443"},
		{"http://127.0.0.1:9000/cb", "http://127.0.0.1:9000"},
		{"http://localhost/cb", "http://localhost"},
		{"http://tpp.example/cb", ""},
		{"https://user@tpp.example/cb", ""},
		{"com.example.app:/cb", ""},
		{"javascript:alert(1)", ""},
		{"/relative", ""},
		{"https://tpp.example;script-src */", ""},
		{"https://tpp.example%20'unsafe-inline'/", ""},
		{"", ""},
	} {
		if got := origin(c.in); got != c.want {
			t.Errorf("origin(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
