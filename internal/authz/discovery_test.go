package authz_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenIssuer replaces the test server's issuer in golden files.
const goldenIssuer = "https://as.example.com"

// checkGolden compares got (JSON) with testdata/name, indented; -update rewrites it.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(got), "", "  "); err != nil {
		t.Fatalf("%s: %v in %s", name, err, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("%s differs (-golden +got; go test -update rewrites it):\n%s", name, diff)
	}
}

// TestDiscovery: both metadata documents, served without a client certificate, identical,
// and as in the golden file (FAPI1-AS-60, FAPI2-AS-01, RFC 8414, RFC 8705 §3.3 and §5).
func TestDiscovery(t *testing.T) {
	f := newFixture(t, false)
	st := openStore(t, f)
	as := newServer(t, f, st, asOptions{scopesSupported: []string{"accounts", "payments", "fundsconfirmations"}})

	oidc := as.get(t, authz.PathOpenIDConfiguration)
	rfc8414 := as.get(t, authz.PathOAuthMetadata)
	for _, r := range []*response{oidc, rfc8414} {
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d, content type %q", r.status, r.header.Get("Content-Type"))
		}
	}
	if !bytes.Equal(oidc.body, rfc8414.body) {
		t.Error("the two metadata documents differ")
	}
	m := oidc.json(t)
	if m["issuer"] != as.issuer {
		t.Errorf("issuer = %v, want exactly %s", m["issuer"], as.issuer)
	}
	normalised := strings.ReplaceAll(string(oidc.body), as.issuer, goldenIssuer)
	checkGolden(t, "openid-configuration.golden.json", []byte(normalised))
	normalised = strings.ReplaceAll(string(rfc8414.body), as.issuer, goldenIssuer)
	checkGolden(t, "oauth-authorization-server.golden.json", []byte(normalised))

	// Every advertised endpoint exists on the server.
	for _, k := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint", "pushed_authorization_request_endpoint"} {
		u := m[k].(string)
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if r := do(t, as.httpClient(t, nil), req); r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s = %d, want 405 from an existing POST endpoint", k, r.status)
		}
	}
	if r := as.get(t, strings.TrimPrefix(m["jwks_uri"].(string), as.issuer)); r.status != http.StatusOK {
		t.Errorf("jwks_uri: %d", r.status)
	}
}

// TestDiscoveryOptions covers the configurable parts of the document and the routes of an
// issuer with a path (OIDC Discovery §4.1, RFC 8414 §3.1).
func TestDiscoveryOptions(t *testing.T) {
	f := newFixture(t, false)
	st := openStore(t, f)
	base := newServer(t, f, st, asOptions{})

	tests := []struct {
		name     string
		issuer   string
		mtls     string
		profiles []string
		paths    []string // where the document is served
		algs     []any
		aliases  string
	}{
		{name: "host issuer, both profiles", issuer: "https://as.example.com",
			paths: []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"},
			algs:  []any{"PS256", "ES256", "EdDSA"}, aliases: "https://as.example.com/token"},
		{name: "path issuer, FAPI 1 only, separate mTLS host", issuer: "https://bank.example.com/as/brand1", mtls: "https://mtls.bank.example.com/as/brand1",
			profiles: []string{client.ProfileFAPI1},
			paths:    []string{"/as/brand1/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/as/brand1"},
			algs:     []any{"PS256", "ES256"}, aliases: "https://mtls.bank.example.com/as/brand1/token"},
		{name: "FAPI 2 only", issuer: "https://as.example.com", profiles: []string{client.ProfileFAPI2},
			paths: []string{"/.well-known/openid-configuration"},
			algs:  []any{"PS256", "ES256", "EdDSA"}, aliases: "https://as.example.com/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := authz.New(authz.Options{
				Issuer: tt.issuer, MTLSBaseURL: tt.mtls, Profiles: tt.profiles,
				Keys: base.keys, Tokens: nopIssuer{}, Verifier: base.verifier, ClientAuth: nopAuth{},
				Revocations: st, DenyList: base.deny, Audit: base.audit,
			})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			s.Register(mux)
			for _, p := range tt.paths {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
				if rec.Code != http.StatusOK {
					t.Fatalf("GET %s: %d", p, rec.Code)
				}
				var m map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
					t.Fatal(err)
				}
				got := map[string]any{
					"issuer": m["issuer"], "token_endpoint": m["token_endpoint"],
					"algs":    m["token_endpoint_auth_signing_alg_values_supported"],
					"aliases": m["mtls_endpoint_aliases"].(map[string]any)["token_endpoint"],
				}
				want := map[string]any{"issuer": tt.issuer, "token_endpoint": tt.issuer + "/token", "algs": tt.algs, "aliases": tt.aliases}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("GET %s (-want +got):\n%s", p, diff)
				}
			}
		})
	}
}

// TestNewOptions: New refuses what it must.
func TestNewOptions(t *testing.T) {
	f := newFixture(t, false)
	st := openStore(t, f)
	base := newServer(t, f, st, asOptions{})
	valid := func() authz.Options {
		return authz.Options{Issuer: "https://as.example.com", Keys: base.keys, Tokens: nopIssuer{}, Verifier: base.verifier,
			ClientAuth: nopAuth{}, Revocations: st, DenyList: base.deny, Audit: base.audit}
	}
	if _, err := authz.New(valid()); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	tests := []struct {
		name string
		edit func(*authz.Options)
	}{
		{"no issuer", func(o *authz.Options) { o.Issuer = "" }},
		{"http issuer", func(o *authz.Options) { o.Issuer = "http://as.example.com" }},
		{"issuer with query", func(o *authz.Options) { o.Issuer = "https://as.example.com?x=1" }},
		{"issuer with fragment", func(o *authz.Options) { o.Issuer = "https://as.example.com#x" }},
		{"issuer with trailing slash", func(o *authz.Options) { o.Issuer = "https://as.example.com/" }},
		{"issuer with user info", func(o *authz.Options) { o.Issuer = "https://u@as.example.com" }},
		{"relative issuer", func(o *authz.Options) { o.Issuer = "/as" }},
		{"http mTLS base", func(o *authz.Options) { o.MTLSBaseURL = "http://mtls.example.com" }},
		{"no keys", func(o *authz.Options) { o.Keys = nil }},
		{"no token issuer", func(o *authz.Options) { o.Tokens = nil }},
		{"no verifier", func(o *authz.Options) { o.Verifier = nil }},
		{"no client authentication", func(o *authz.Options) { o.ClientAuth = nil }},
		{"no revocation store", func(o *authz.Options) { o.Revocations = nil }},
		{"no deny-list", func(o *authz.Options) { o.DenyList = nil }},
		{"no audit", func(o *authz.Options) { o.Audit = nil }},
		{"negative body limit", func(o *authz.Options) { o.MaxBodyBytes = -1 }},
		{"openid among the scopes", func(o *authz.Options) { o.ScopesSupported = []string{"openid", "accounts"} }},
		{"malformed scope", func(o *authz.Options) { o.ScopesSupported = []string{"acc ounts"} }},
		{"duplicate scope", func(o *authz.Options) { o.ScopesSupported = []string{"accounts", "accounts"} }},
		{"unknown profile", func(o *authz.Options) { o.Profiles = []string{"fapi3"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.edit(&o)
			if s, err := authz.New(o); err == nil || s != nil {
				t.Errorf("New = %v, %v; want an error", s, err)
			}
		})
	}
}

// TestJWKS: the served key set has every key with kid, use and alg and no private member,
// in the golden shape (kids and key material normalised).
func TestJWKS(t *testing.T) {
	as := newTestAS(t)
	r := as.get(t, authz.PathJWKS)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", r.status, r.header.Get("Content-Type"))
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) == 0 {
		t.Fatal("empty key set")
	}
	for _, k := range set.Keys {
		if k["kid"] == "" || k["kid"] == nil || k["use"] != "sig" || k["alg"] == nil {
			t.Errorf("key %v lacks kid, use or alg", k)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v publishes private member %s", k["kid"], private)
			}
		}
		for _, v := range []string{"kid", "x", "y", "n"} {
			if _, ok := k[v]; ok {
				k[v] = "(" + v + ")"
			}
		}
	}
	normalised, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "jwks.golden.json", normalised)
}
