package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/internal/upstream"
)

var bankURL, _ = url.Parse("http://127.0.0.1:9999")

func validRoute() Route {
	return Route{Name: "r", Method: "GET", Pattern: "/a/{Id}/b", Scopes: []string{"accounts"},
		Roles: []eidas.Role{eidas.RoleAISP}, Upstream: bankURL}
}

func TestRouteValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Route)
		field string // "" means valid
	}{
		{name: "valid", edit: func(*Route) {}},
		{name: "valid any role", edit: func(r *Route) { r.Roles, r.AnyRole = nil, true }},
		{name: "valid consent", edit: func(r *Route) { r.Consent = ConsentCheck{Kind: "account-access", Required: true} }},
		{name: "bad name", edit: func(r *Route) { r.Name = "a b" }, field: "route name"},
		{name: "HEAD", edit: func(r *Route) { r.Method = "HEAD" }, field: "Method"},
		{name: "lower-case method", edit: func(r *Route) { r.Method = "get" }, field: "Method"},
		{name: "no leading slash", edit: func(r *Route) { r.Pattern = "a" }, field: "Pattern"},
		{name: "trailing slash", edit: func(r *Route) { r.Pattern = "/a/" }, field: "Pattern"},
		{name: "double slash", edit: func(r *Route) { r.Pattern = "/a//b" }, field: "Pattern"},
		{name: "dot segment", edit: func(r *Route) { r.Pattern = "/a/../b" }, field: "Pattern"},
		{name: "rest wildcard", edit: func(r *Route) { r.Pattern = "/a/{rest...}" }, field: "Pattern"},
		{name: "partial wildcard", edit: func(r *Route) { r.Pattern = "/a/x{Id}" }, field: "Pattern"},
		{name: "duplicate parameter", edit: func(r *Route) { r.Pattern = "/a/{Id}/{Id}" }, field: "Pattern"},
		{name: "host in pattern", edit: func(r *Route) { r.Pattern = "example.com/a" }, field: "Pattern"},
		{name: "method in pattern", edit: func(r *Route) { r.Pattern = "GET /a" }, field: "Pattern"},
		{name: "no scopes", edit: func(r *Route) { r.Scopes = nil }, field: "Scopes"},
		{name: "bad scope", edit: func(r *Route) { r.Scopes = []string{"a b"} }, field: "Scopes"},
		{name: "bad token use", edit: func(r *Route) { r.TokenUse = "both" }, field: "TokenUse"},
		{name: "no roles", edit: func(r *Route) { r.Roles = nil }, field: "Roles"},
		{name: "roles and any role", edit: func(r *Route) { r.AnyRole = true }, field: "Roles"},
		{name: "unknown role", edit: func(r *Route) { r.Roles = []eidas.Role{"PSP_XX"} }, field: "Roles"},
		{name: "unspecified role", edit: func(r *Route) { r.Roles = []eidas.Role{eidas.RoleUnspecified} }, field: "Roles"},
		{name: "required consent without kind", edit: func(r *Route) { r.Consent.Required = true }, field: "Consent"},
		{name: "no upstream", edit: func(r *Route) { r.Upstream = nil }, field: "Upstream"},
		{name: "relative upstream", edit: func(r *Route) { r.Upstream = &url.URL{Path: "/x"} }, field: "Upstream"},
		{name: "upstream with query", edit: func(r *Route) { r.Upstream = &url.URL{Scheme: "http", Host: "h", RawQuery: "a=b"} }, field: "Upstream"},
		{name: "upstream with user", edit: func(r *Route) { r.Upstream = &url.URL{Scheme: "https", Host: "h", User: url.User("u")} }, field: "Upstream"},
		{name: "ftp upstream", edit: func(r *Route) { r.Upstream = &url.URL{Scheme: "ftp", Host: "h"} }, field: "Upstream"},
		{name: "negative timeout", edit: func(r *Route) { r.Timeout = -1 }, field: "Timeout"},
		{name: "huge timeout", edit: func(r *Route) { r.Timeout = time.Hour }, field: "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRoute()
			tt.edit(&r)
			err := r.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestRouteConfig(t *testing.T) {
	v := consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) { return consent.Decision{}, nil })
	validators := map[string]consent.Validator{"bank": v}
	rc := config.GatewayRoute{Name: "accounts", Method: "get", Path: "/open-banking/v3.1/aisp/accounts", Scopes: []string{"accounts"},
		TokenUse: "user", Roles: []string{"AISP", "psp_ai", "PSP_PI"}, Consent: "account-access", ConsentRequired: true,
		ConsentValidator: "bank", Upstream: "http://bank.internal:8080/api", Timeout: 5 * time.Second}
	got, err := RouteFromConfig(rc, validators)
	if err != nil {
		t.Fatal(err)
	}
	want := Route{Name: "accounts", Method: "GET", Pattern: "/open-banking/v3.1/aisp/accounts", Scopes: []string{"accounts"},
		TokenUse: TokenUseUser, Roles: []eidas.Role{eidas.RoleAISP, eidas.RolePISP},
		Consent:  ConsentCheck{Kind: "account-access", Required: true, Validator: v},
		Upstream: &url.URL{Scheme: "http", Host: "bank.internal:8080", Path: "/api"}, Timeout: 5 * time.Second}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(ConsentCheck{}, "Validator")); diff != "" {
		t.Errorf("Route (-want +got):\n%s", diff)
	}
	if got.Consent.Validator == nil {
		t.Error("validator not resolved")
	}

	for name, edit := range map[string]func(*config.GatewayRoute){
		"unknown role":              func(c *config.GatewayRoute) { c.Roles = []string{"ROOT"} },
		"unknown validator":         func(c *config.GatewayRoute) { c.ConsentValidator = "other" },
		"validator without consent": func(c *config.GatewayRoute) { c.Consent, c.ConsentRequired = "", false },
		"bad upstream":              func(c *config.GatewayRoute) { c.Upstream = "http://[::1" },
		"invalid route":             func(c *config.GatewayRoute) { c.Scopes = nil },
		"optional and required":     func(c *config.GatewayRoute) { c.ConsentOptional = true },
	} {
		t.Run(name, func(t *testing.T) {
			c := rc
			edit(&c)
			if _, err := RouteFromConfig(c, validators); err == nil || !strings.Contains(err.Error(), `"accounts"`) {
				t.Fatalf("Route = %v, want an error naming the route", err)
			}
		})
	}
}

func TestConfigApply(t *testing.T) {
	var o Options
	c := config.Gateway{
		Routes:       []config.GatewayRoute{{Name: "a", Method: "GET", Path: "/a", Scopes: []string{"s"}, AnyRole: true, Upstream: "http://u"}},
		IdentityMode: "jwt", IdentityAudience: "bank", ExtAuthzPeers: []string{"10.0.0.0/8"}, MaxBodyBytes: 4096,
		Upstream: config.GatewayUpstream{MaxIdleConnsPerHost: 8}, PublicURL: "https://api.bank.example",
	}
	if err := ApplyConfig(c, &o, nil); err != nil {
		t.Fatal(err)
	}
	if len(o.Routes) != 1 || o.Identity.Mode != upstream.IdentityJWT || o.Identity.Audience != "bank" || len(o.ExtAuthzPeers) != 1 ||
		o.MaxBodyBytes != 4096 || o.Transport == nil || o.PublicURL == nil || o.PublicURL.String() != "https://api.bank.example" {
		t.Errorf("Apply = %+v", o)
	}
	for _, h2 := range []bool{false, true} {
		var o Options
		if err := ApplyConfig(config.Gateway{Upstream: config.GatewayUpstream{MaxIdleConnsPerHost: 8, HTTP2: h2}}, &o, nil); err != nil {
			t.Fatal(err)
		}
		tr, ok := o.Transport.(*http.Transport)
		if !ok || tr.MaxIdleConnsPerHost != 8 || tr.Protocols == nil || !tr.Protocols.HTTP1() || tr.Protocols.HTTP2() != h2 {
			t.Errorf("upstream http2 %v: transport %+v", h2, o.Transport)
		}
	}
	if err := ApplyConfig(config.Gateway{}, &Options{}, nil); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	for name, c := range map[string]config.Gateway{
		"jwt without audience": {IdentityMode: "jwt"},
		"unknown mode":         {IdentityMode: "cookies"},
		"peer /0":              {ExtAuthzPeers: []string{"0.0.0.0/0"}},
		"peer with host bits":  {ExtAuthzPeers: []string{"10.0.0.1/8"}},
		"peer not CIDR":        {ExtAuthzPeers: []string{"10.0.0.1"}},
		"negative body":        {MaxBodyBytes: -1},
		"negative timeout":     {Upstream: config.GatewayUpstream{DialTimeout: -1}},
		"public URL with path": {PublicURL: "https://api.bank.example/x"},
		"public URL no scheme": {PublicURL: "api.bank.example"},
		"long identity":        {IdentityLifetime: time.Hour},
		"bad route":            {Routes: []config.GatewayRoute{{Name: "x"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := ApplyConfig(c, &Options{}, nil); err == nil {
				t.Fatal("ApplyConfig accepted it")
			}
			if err := CheckConfig(c); err == nil {
				t.Fatal("CheckConfig accepted it")
			}
		})
	}
}

// nopVerifier refuses every token; New only needs one.
type nopVerifier struct{}

func (nopVerifier) Verify(context.Context, string) (*token.AccessToken, error) {
	return nil, token.ErrMalformed
}

func TestNewRefuses(t *testing.T) {
	r := validRoute()
	withConsent := validRoute()
	withConsent.Consent = ConsentCheck{Kind: "account-access"}
	other := validRoute()
	other.Name, other.Pattern = "r2", "/a/{Other}/b" // same shape as /a/{Id}/b
	tests := map[string]Options{
		"no verifier":           {Routes: []Route{r}},
		"invalid route":         {Routes: []Route{{Name: "x"}}, Verifier: nopVerifier{}},
		"duplicate name":        {Routes: []Route{r, r}, Verifier: nopVerifier{}},
		"conflicting patterns":  {Routes: []Route{r, other}, Verifier: nopVerifier{}},
		"consent, no validator": {Routes: []Route{withConsent}, Verifier: nopVerifier{}},
		"negative body limit":   {Routes: []Route{r}, Verifier: nopVerifier{}, MaxBodyBytes: -1},
		"bad identity mode":     {Routes: []Route{r}, Verifier: nopVerifier{}, Identity: upstream.IdentityOptions{Mode: "x"}},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(o); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := New(Options{Verifier: nopVerifier{}}); err != nil {
		t.Errorf("New without routes: %v", err)
	}
	diffMethod := validRoute()
	diffMethod.Name, diffMethod.Method = "r3", http.MethodPost
	if _, err := New(Options{Routes: []Route{r, diffMethod}, Verifier: nopVerifier{}}); err != nil {
		t.Errorf("same path, other method: %v", err)
	}
}

func TestSandboxRoutesValid(t *testing.T) {
	routes := sandboxRoutes(t, bankURL)
	for _, r := range routes {
		if err := r.Validate(); err != nil {
			t.Error(err)
		}
		if r.TokenUse == TokenUseUser && (r.Consent.Kind == "" || r.Consent.Optional) {
			t.Errorf("%s: customer route without a required consent", r.Name)
		}
	}
	if _, err := New(Options{Routes: routes, Verifier: nopVerifier{}, ConsentValidator: consent.ValidatorFunc(
		func(context.Context, consent.Request) (consent.Decision, error) { return consent.Decision{}, nil })}); err != nil {
		t.Fatal(err)
	}
}
