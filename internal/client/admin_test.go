package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const adminToken = "0123456789abcdef0123456789abcdef-admin"

type adminCall struct {
	method, path string
	token        string // "" sends no Authorization header
	ctype        string
	body         string
}

func (c adminCall) do(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// oauthError decodes an RFC 6749-style error body.
func oauthError(t *testing.T, rec *httptest.ResponseRecorder) (code, desc string) {
	t.Helper()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	return body.Error, body.Description
}

func clientJSON(t *testing.T, c *Client) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// adminHandler is the client operations on a mux of their own, as the admin API mounts them
// (the guard in front of them is package admin's, tested there).
func adminHandler(reg *Registry, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	RegisterAdmin(mux, reg, logger)
	return mux
}

func TestAdminCRUD(t *testing.T) {
	s := newFakeStore()
	reg, audit := newTestRegistry(s)
	h := adminHandler(reg, nil)

	c := &Client{ID: "tpp-1", TokenEndpointAuthMethod: AuthPrivateKeyJWT, JWKS: testJWKS(t),
		GrantTypes: []string{GrantClientCredentials}, Scope: ScopeList{"accounts"}}
	rec := adminCall{"POST", "/admin/clients", adminToken, "application/json", clientJSON(t, c)}.do(t, h)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST = %d %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/admin/clients/tpp-1" {
		t.Errorf("Location = %q", loc)
	}
	created, err := DecodeMetadata(bytes.TrimSpace(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("POST body: %v", err)
	}
	want := *c
	want.ApplyDefaults()
	want.CreatedAt = created.CreatedAt
	if diff := cmp.Diff(&want, created); diff != "" {
		t.Errorf("POST body (-want +got):\n%s", diff)
	}

	rec = adminCall{"GET", "/admin/clients/tpp-1", adminToken, "", ""}.do(t, h)
	got, err := DecodeMetadata(bytes.TrimSpace(rec.Body.Bytes()))
	if rec.Code != 200 || err != nil {
		t.Fatalf("GET = %d %s %v", rec.Code, rec.Body, err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("GET (-want +got):\n%s", diff)
	}

	rec = adminCall{"GET", "/admin/clients", adminToken, "", ""}.do(t, h)
	var list struct{ Clients []json.RawMessage }
	if err := json.Unmarshal(rec.Body.Bytes(), &list); rec.Code != 200 || err != nil || len(list.Clients) != 1 {
		t.Fatalf("GET list = %d %s %v", rec.Code, rec.Body, err)
	}

	upd := *created
	upd.Scope = ScopeList{"accounts", "payments"}
	upd.ID = "" // taken from the URL
	rec = adminCall{"PUT", "/admin/clients/tpp-1", adminToken, "application/json", clientJSON(t, &upd)}.do(t, h)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"scope":"accounts payments"`) {
		t.Fatalf("PUT = %d %s", rec.Code, rec.Body)
	}

	rec = adminCall{"DELETE", "/admin/clients/tpp-1", adminToken, "", ""}.do(t, h)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", rec.Code, rec.Body)
	}
	rec = adminCall{"GET", "/admin/clients/tpp-1", adminToken, "", ""}.do(t, h)
	if code, _ := oauthError(t, rec); rec.Code != 404 || code != "invalid_request" {
		t.Errorf("GET after DELETE = %d %s", rec.Code, rec.Body)
	}

	wantEvents := []Event{
		{EventClientRegistered, "tpp-1", ActorAdminAPI},
		{EventClientUpdated, "tpp-1", ActorAdminAPI},
		{EventClientRemoved, "tpp-1", ActorAdminAPI},
	}
	if diff := cmp.Diff(wantEvents, audit.all()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestAdminErrors(t *testing.T) {
	s := newFakeStore()
	reg, _ := newTestRegistry(s)
	h := adminHandler(reg, nil)
	ok := &Client{ID: "tpp-1", TokenEndpointAuthMethod: AuthTLSClientAuth, TLSClientAuthSANDNS: "tpp.example",
		GrantTypes: []string{GrantClientCredentials}}
	if _, err := reg.Add(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	const js = "application/json"
	tests := []struct {
		name       string
		call       adminCall
		wantStatus int
		wantError  string
	}{
		{"public client", adminCall{"POST", "/admin/clients", adminToken, js,
			`{"client_id":"p","token_endpoint_auth_method":"none","grant_types":["client_credentials"]}`}, 400, CodeInvalidClientMetadata},
		{"http redirect", adminCall{"POST", "/admin/clients", adminToken, js,
			`{"client_id":"r","token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_dns":"r.example","redirect_uris":["http://r.example/cb"]}`}, 400, CodeInvalidRedirectURI},
		{"unknown member", adminCall{"POST", "/admin/clients", adminToken, js,
			`{"client_id":"u","token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_DN":"CN=x"}`}, 400, CodeInvalidClientMetadata},
		{"member in another case", adminCall{"POST", "/admin/clients", adminToken, js,
			`{"client_id":"u","TOKEN_ENDPOINT_AUTH_METHOD":"tls_client_auth"}`}, 400, CodeInvalidClientMetadata},
		{"duplicate member", adminCall{"POST", "/admin/clients", adminToken, js,
			`{"client_id":"u","client_id":"v"}`}, 400, CodeInvalidClientMetadata},
		{"trailing data", adminCall{"POST", "/admin/clients", adminToken, js, `{"client_id":"u"} {}`}, 400, CodeInvalidClientMetadata},
		{"not JSON", adminCall{"POST", "/admin/clients", adminToken, js, `client_id=u`}, 400, CodeInvalidClientMetadata},
		{"form content type", adminCall{"POST", "/admin/clients", adminToken, "application/x-www-form-urlencoded", `{}`}, 415, "invalid_request"},
		{"too large", adminCall{"POST", "/admin/clients", adminToken, js,
			`{"client_name":"` + strings.Repeat("a", MaxMetadataSize) + `"}`}, 413, "invalid_request"},
		{"duplicate", adminCall{"POST", "/admin/clients", adminToken, js, clientJSON(t, ok)}, 409, "invalid_request"},
		{"PUT with other id", adminCall{"PUT", "/admin/clients/other", adminToken, js, clientJSON(t, ok)}, 400, CodeInvalidClientMetadata},
		{"PUT unknown", adminCall{"PUT", "/admin/clients/ghost", adminToken, js,
			`{"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_dns":"g.example","grant_types":["client_credentials"]}`}, 404, "invalid_request"},
		{"GET unknown", adminCall{"GET", "/admin/clients/ghost", adminToken, "", ""}, 404, "invalid_request"},
		{"DELETE unknown", adminCall{"DELETE", "/admin/clients/ghost", adminToken, "", ""}, 404, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.call.do(t, h)
			code, desc := oauthError(t, rec)
			if rec.Code != tt.wantStatus || code != tt.wantError {
				t.Errorf("= %d %s, want %d %s", rec.Code, rec.Body, tt.wantStatus, tt.wantError)
			}
			if strings.ContainsAny(desc, "\"\\") {
				t.Errorf("description %q outside the RFC 6749 charset", desc)
			}
		})
	}
}

func TestAdminStoreFailureHidesCause(t *testing.T) {
	s := newFakeStore()
	s.fail = errDatabaseDown
	reg, _ := newTestRegistry(s)
	var logBuf bytes.Buffer
	h := adminHandler(reg, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	rec := adminCall{"GET", "/admin/clients", adminToken, "", ""}.do(t, h)
	code, desc := oauthError(t, rec)
	if rec.Code != 500 || code != "server_error" || strings.Contains(desc, "database") {
		t.Errorf("= %d %s, want 500 server_error without detail", rec.Code, rec.Body)
	}
	if !strings.Contains(logBuf.String(), errDatabaseDown.Error()) {
		t.Errorf("cause not logged: %s", logBuf.String())
	}
	if strings.Contains(logBuf.String(), adminToken) {
		t.Errorf("admin token logged")
	}
	_, _ = io.Copy(io.Discard, rec.Body)
}
