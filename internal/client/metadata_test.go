package client

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/jose"
)

// base clients, one per method, that pass Validate after ApplyDefaults.
func basePrivateKeyJWT(t *testing.T) *Client {
	c := &Client{
		ID:                      "tpp-1",
		TokenEndpointAuthMethod: AuthPrivateKeyJWT,
		JWKS:                    testJWKS(t),
		GrantTypes:              []string{GrantClientCredentials},
		Scope:                   ScopeList{"accounts", "payments"},
	}
	c.ApplyDefaults()
	return c
}

func baseTLSClientAuth(t *testing.T) *Client {
	c := &Client{
		ID:                      "tpp-2",
		TokenEndpointAuthMethod: AuthTLSClientAuth,
		TLSClientAuthSubjectDN:  "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB",
		GrantTypes:              []string{GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken},
		RedirectURIs:            []string{"https://tpp.example/cb"},
	}
	c.ApplyDefaults()
	return c
}

func baseSelfSigned(t *testing.T) *Client {
	c := &Client{
		ID:                      "tpp-3",
		TokenEndpointAuthMethod: AuthSelfSignedTLSClientAuth,
		JWKSURI:                 "https://tpp.example/jwks.json",
		GrantTypes:              []string{GrantClientCredentials},
		Profile:                 ProfileFAPI2,
	}
	c.ApplyDefaults()
	return c
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		base func(*testing.T) *Client
		mod  func(*Client)
		opts ValidateOptions
	}{
		{"private_key_jwt with jwks", basePrivateKeyJWT, nil, ValidateOptions{}},
		{"private_key_jwt with jwks_uri", basePrivateKeyJWT, func(c *Client) {
			c.JWKS, c.JWKSURI = nil, "https://tpp.example/jwks"
		}, ValidateOptions{}},
		{"private_key_jwt with PS256 pinned", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthSigningAlg = AlgPS256 }, ValidateOptions{}},
		{"fapi2 allows EdDSA", basePrivateKeyJWT, func(c *Client) {
			c.Profile, c.TokenEndpointAuthSigningAlg, c.IDTokenSignedResponseAlg = ProfileFAPI2, AlgEdDSA, AlgEdDSA
		}, ValidateOptions{}},
		{"tls_client_auth by subject DN", baseTLSClientAuth, nil, ValidateOptions{}},
		{"tls_client_auth with jwks for request objects", baseTLSClientAuth, func(c *Client) { c.JWKS = testJWKS(t) }, ValidateOptions{}},
		{"tls_client_auth by SAN DNS", baseTLSClientAuth, func(c *Client) {
			c.TLSClientAuthSubjectDN, c.TLSClientAuthSANDNS = "", "tpp.example.com"
		}, ValidateOptions{}},
		{"tls_client_auth by SAN URI", baseTLSClientAuth, func(c *Client) {
			c.TLSClientAuthSubjectDN, c.TLSClientAuthSANURI = "", "spiffe://tpp.example/client"
		}, ValidateOptions{}},
		{"tls_client_auth by SAN IP", baseTLSClientAuth, func(c *Client) {
			c.TLSClientAuthSubjectDN, c.TLSClientAuthSANIP = "", "2001:db8::1"
		}, ValidateOptions{}},
		{"tls_client_auth by SAN email", baseTLSClientAuth, func(c *Client) {
			c.TLSClientAuthSubjectDN, c.TLSClientAuthSANEmail = "", "ops@tpp.example"
		}, ValidateOptions{}},
		{"self_signed_tls_client_auth with jwks_uri", baseSelfSigned, nil, ValidateOptions{}},
		{"fapi2 code flow without registered redirect URIs", baseSelfSigned, func(c *Client) {
			c.GrantTypes, c.ResponseTypes = []string{GrantAuthorizationCode}, []string{ResponseTypeCode}
		}, ValidateOptions{}},
		{"loopback http redirect when allowed", baseTLSClientAuth, func(c *Client) {
			c.RedirectURIs = []string{"http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://localhost:3000/cb"}
		}, ValidateOptions{AllowLoopbackHTTPRedirect: true}},
		{"pairwise with sector identifier", baseTLSClientAuth, func(c *Client) {
			c.SubjectType, c.SectorIdentifierURI = SubjectTypePairwise, "https://tpp.example/sector.json"
		}, ValidateOptions{}},
		{"OB software fields", basePrivateKeyJWT, func(c *Client) {
			c.SoftwareID, c.OrgID, c.SoftwareRoles = "ahjk3Jd8Lkdd0", "0015800001HQQrZAAX", []string{"AISP", "PISP"}
		}, ValidateOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.base(t)
			if tt.mod != nil {
				tt.mod(c)
			}
			if err := c.ValidateWith(tt.opts); err != nil {
				t.Fatalf("ValidateWith: %v", err)
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	priv := newECKey(t)
	d, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	withD := ecJWK(t, &priv.PublicKey, "k1", map[string]any{"d": b64.EncodeToString(d)})

	const meta, redirect = CodeInvalidClientMetadata, CodeInvalidRedirectURI
	tests := []struct {
		name      string
		base      func(*testing.T) *Client
		mod       func(*Client)
		wantCode  string
		wantField string
		wantCause error // also matched with errors.Is when set
	}{
		{"empty client_id", basePrivateKeyJWT, func(c *Client) { c.ID = "" }, meta, "client_id", nil},
		{"client_id with space", basePrivateKeyJWT, func(c *Client) { c.ID = "a b" }, meta, "client_id", nil},
		{"client_id with slash", basePrivateKeyJWT, func(c *Client) { c.ID = "a/b" }, meta, "client_id", nil},
		{"client_id too long", basePrivateKeyJWT, func(c *Client) { c.ID = strings.Repeat("a", 129) }, meta, "client_id", nil},
		{"client_name with newline", basePrivateKeyJWT, func(c *Client) { c.Name = "evil\nline" }, meta, "client_name", nil},
		{"unknown profile", basePrivateKeyJWT, func(c *Client) { c.Profile = "fapi3" }, meta, "fapi_profile", nil},
		{"no auth method", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthMethod = "" }, meta, "token_endpoint_auth_method", nil},
		{"public client (none)", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthMethod = "none" }, meta, "token_endpoint_auth_method", nil},
		{"client_secret_basic", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthMethod = "client_secret_basic" }, meta, "token_endpoint_auth_method", nil},
		{"client_secret_post", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthMethod = "client_secret_post" }, meta, "token_endpoint_auth_method", nil},
		{"client_secret_jwt", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthMethod = "client_secret_jwt" }, meta, "token_endpoint_auth_method", nil},
		{"unknown auth method", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthMethod = "PRIVATE_KEY_JWT" }, meta, "token_endpoint_auth_method", nil},
		{"RS256 assertion alg", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthSigningAlg = "RS256" }, meta, "token_endpoint_auth_signing_alg", nil},
		{"HS256 assertion alg", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthSigningAlg = "HS256" }, meta, "token_endpoint_auth_signing_alg", nil},
		{"EdDSA under fapi1", basePrivateKeyJWT, func(c *Client) { c.TokenEndpointAuthSigningAlg = AlgEdDSA }, meta, "token_endpoint_auth_signing_alg", nil},
		{"assertion alg for tls_client_auth", baseTLSClientAuth, func(c *Client) { c.TokenEndpointAuthSigningAlg = AlgPS256 }, meta, "token_endpoint_auth_signing_alg", nil},
		{"private_key_jwt without keys", basePrivateKeyJWT, func(c *Client) { c.JWKS = nil }, meta, "jwks", nil},
		{"self_signed without keys", baseSelfSigned, func(c *Client) { c.JWKSURI = "" }, meta, "jwks", nil},
		{"jwks and jwks_uri", basePrivateKeyJWT, func(c *Client) { c.JWKSURI = "https://tpp.example/jwks" }, meta, "jwks", nil},
		{"jwks_uri http", baseSelfSigned, func(c *Client) { c.JWKSURI = "http://tpp.example/jwks" }, meta, "jwks_uri", nil},
		{"jwks_uri relative", baseSelfSigned, func(c *Client) { c.JWKSURI = "/jwks" }, meta, "jwks_uri", nil},
		{"jwks_uri with fragment", baseSelfSigned, func(c *Client) { c.JWKSURI = "https://tpp.example/jwks#x" }, meta, "jwks_uri", nil},
		{"jwks_uri with user info", baseSelfSigned, func(c *Client) { c.JWKSURI = "https://u:p@tpp.example/jwks" }, meta, "jwks_uri", nil},
		{"jwks with RSA-1024 key", basePrivateKeyJWT, func(c *Client) { c.JWKS = jwks(t, rsaJWK(&weak.PublicKey, "weak")) }, meta, "jwks", jose.ErrWeakKey},
		{"jwks with private key", basePrivateKeyJWT, func(c *Client) { c.JWKS = jwks(t, withD) }, meta, "jwks", jose.ErrPrivateKeyInJWKS},
		{"jwks with symmetric key", basePrivateKeyJWT, func(c *Client) {
			c.JWKS = jwks(t, map[string]any{"kty": "oct", "k": "c2VjcmV0"})
		}, meta, "jwks", jose.ErrPrivateKeyInJWKS},
		{"jwks not a key set", basePrivateKeyJWT, func(c *Client) { c.JWKS = json.RawMessage(`[1,2]`) }, meta, "jwks", jose.ErrMalformed},
		{"jwks without usable key", basePrivateKeyJWT, func(c *Client) { c.JWKS = json.RawMessage(`{"keys":[]}`) }, meta, "jwks", nil},
		{"jwks too large", basePrivateKeyJWT, func(c *Client) {
			c.JWKS = json.RawMessage(`{"keys":[],"x":"` + strings.Repeat("a", MaxJWKSSize) + `"}`)
		}, meta, "jwks", nil},
		{"tls_client_auth without rule", baseTLSClientAuth, func(c *Client) { c.TLSClientAuthSubjectDN = "" }, meta, "tls_client_auth_subject_dn", nil},
		{"tls_client_auth with two rules", baseTLSClientAuth, func(c *Client) { c.TLSClientAuthSANDNS = "tpp.example" }, meta, "tls_client_auth_san_dns", nil},
		{"subject DN not RFC 4514", baseTLSClientAuth, func(c *Client) { c.TLSClientAuthSubjectDN = "CN=a,,O=b" }, meta, "tls_client_auth_subject_dn", nil},
		{"subject DN too long", baseTLSClientAuth, func(c *Client) { c.TLSClientAuthSubjectDN = "CN=" + strings.Repeat("a", MaxDNLen) }, meta, "tls_client_auth_subject_dn", nil},
		{"SAN DNS wildcard", baseTLSClientAuth, func(c *Client) { c.TLSClientAuthSubjectDN, c.TLSClientAuthSANDNS = "", "*.tpp.example" }, meta, "tls_client_auth_san_dns", nil},
		{"SAN IP invalid", baseTLSClientAuth, func(c *Client) { c.TLSClientAuthSubjectDN, c.TLSClientAuthSANIP = "", "10.0.0" }, meta, "tls_client_auth_san_ip", nil},
		{"SAN email invalid", baseTLSClientAuth, func(c *Client) { c.TLSClientAuthSubjectDN, c.TLSClientAuthSANEmail = "", "ops.tpp.example" }, meta, "tls_client_auth_san_email", nil},
		{"SAN URI relative", baseTLSClientAuth, func(c *Client) { c.TLSClientAuthSubjectDN, c.TLSClientAuthSANURI = "", "client" }, meta, "tls_client_auth_san_uri", nil},
		{"subject DN on private_key_jwt", basePrivateKeyJWT, func(c *Client) { c.TLSClientAuthSubjectDN = "CN=x" }, meta, "tls_client_auth_subject_dn", nil},
		{"password grant", basePrivateKeyJWT, func(c *Client) { c.GrantTypes = []string{"password"} }, meta, "grant_types", nil},
		{"implicit grant", basePrivateKeyJWT, func(c *Client) { c.GrantTypes = []string{"implicit"} }, meta, "grant_types", nil},
		{"duplicate grant", basePrivateKeyJWT, func(c *Client) { c.GrantTypes = []string{GrantClientCredentials, GrantClientCredentials} }, meta, "grant_types", nil},
		{"no grant (defaults not applied)", basePrivateKeyJWT, func(c *Client) { c.GrantTypes = nil }, meta, "grant_types", nil},
		{"refresh_token without authorization_code", basePrivateKeyJWT, func(c *Client) {
			c.GrantTypes = []string{GrantClientCredentials, GrantRefreshToken}
		}, meta, "grant_types", nil},
		{"response type token", baseTLSClientAuth, func(c *Client) { c.ResponseTypes = []string{"token"} }, meta, "response_types", nil},
		{"hybrid under fapi2", baseTLSClientAuth, func(c *Client) {
			c.Profile, c.ResponseTypes = ProfileFAPI2, []string{ResponseTypeCodeIDToken}
		}, meta, "response_types", nil},
		{"response types without code grant", basePrivateKeyJWT, func(c *Client) { c.ResponseTypes = []string{ResponseTypeCode} }, meta, "response_types", nil},
		{"code grant without response types", baseTLSClientAuth, func(c *Client) { c.ResponseTypes = nil }, meta, "response_types", nil},
		{"fapi1 code flow without redirect URI", baseTLSClientAuth, func(c *Client) { c.RedirectURIs = nil }, redirect, "redirect_uris", nil},
		{"http redirect", baseTLSClientAuth, func(c *Client) { c.RedirectURIs = []string{"http://tpp.example/cb"} }, redirect, "redirect_uris", nil},
		{"loopback http redirect not allowed by default", baseTLSClientAuth, func(c *Client) {
			c.RedirectURIs = []string{"http://127.0.0.1/cb"}
		}, redirect, "redirect_uris", nil},
		{"custom scheme redirect", baseTLSClientAuth, func(c *Client) { c.RedirectURIs = []string{"com.tpp:/cb"} }, redirect, "redirect_uris", nil},
		{"redirect with fragment", baseTLSClientAuth, func(c *Client) { c.RedirectURIs = []string{"https://tpp.example/cb#f"} }, redirect, "redirect_uris", nil},
		{"redirect with empty fragment", baseTLSClientAuth, func(c *Client) { c.RedirectURIs = []string{"https://tpp.example/cb#"} }, redirect, "redirect_uris", nil},
		{"relative redirect", baseTLSClientAuth, func(c *Client) { c.RedirectURIs = []string{"/cb"} }, redirect, "redirect_uris", nil},
		{"redirect with user info", baseTLSClientAuth, func(c *Client) { c.RedirectURIs = []string{"https://a@tpp.example/cb"} }, redirect, "redirect_uris", nil},
		{"redirect without host", baseTLSClientAuth, func(c *Client) { c.RedirectURIs = []string{"https:///cb"} }, redirect, "redirect_uris", nil},
		{"redirect with non-ASCII", baseTLSClientAuth, func(c *Client) { c.RedirectURIs = []string{"https://tpp.example/ü"} }, redirect, "redirect_uris", nil},
		{"duplicate redirect", baseTLSClientAuth, func(c *Client) {
			c.RedirectURIs = []string{"https://tpp.example/cb", "https://tpp.example/cb"}
		}, redirect, "redirect_uris", nil},
		{"too many redirects", baseTLSClientAuth, func(c *Client) {
			c.RedirectURIs = nil
			for i := 0; i <= MaxRedirectURIs; i++ {
				c.RedirectURIs = append(c.RedirectURIs, "https://tpp.example/cb"+strings.Repeat("x", i))
			}
		}, redirect, "redirect_uris", nil},
		{"scope with quote", basePrivateKeyJWT, func(c *Client) { c.Scope = ScopeList{`acc"ounts`} }, meta, "scope", nil},
		{"empty scope token", basePrivateKeyJWT, func(c *Client) { c.Scope = ScopeList{"accounts", "", "payments"} }, meta, "scope", nil},
		{"duplicate scope", basePrivateKeyJWT, func(c *Client) { c.Scope = ScopeList{"accounts", "accounts"} }, meta, "scope", nil},
		{"ID token RS256", basePrivateKeyJWT, func(c *Client) { c.IDTokenSignedResponseAlg = "RS256" }, meta, "id_token_signed_response_alg", nil},
		{"request object none", basePrivateKeyJWT, func(c *Client) { c.RequestObjectSigningAlg = "none" }, meta, "request_object_signing_alg", nil},
		{"unbound access tokens", basePrivateKeyJWT, func(c *Client) { c.TLSClientCertificateBoundAccessTokens = false }, meta, "tls_client_certificate_bound_access_tokens", nil},
		{"software_id with space", basePrivateKeyJWT, func(c *Client) { c.SoftwareID = "a b" }, meta, "software_id", nil},
		{"org_id too long", basePrivateKeyJWT, func(c *Client) { c.OrgID = strings.Repeat("a", MaxIdentifierLen+1) }, meta, "org_id", nil},
		{"duplicate software role", basePrivateKeyJWT, func(c *Client) { c.SoftwareRoles = []string{"AISP", "AISP"} }, meta, "software_roles", nil},
		{"unknown subject type", basePrivateKeyJWT, func(c *Client) { c.SubjectType = "random" }, meta, "subject_type", nil},
		{"sector identifier http", basePrivateKeyJWT, func(c *Client) { c.SectorIdentifierURI = "http://tpp.example/s" }, meta, "sector_identifier_uri", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.base(t)
			tt.mod(c)
			err := c.Validate()
			var me *MetadataError
			if !errors.As(err, &me) {
				t.Fatalf("Validate = %v, want a *MetadataError", err)
			}
			if me.Code != tt.wantCode || me.Field != tt.wantField {
				t.Errorf("Validate = %s/%s (%v), want %s/%s", me.Code, me.Field, err, tt.wantCode, tt.wantField)
			}
			sentinel := ErrInvalidClientMetadata
			if tt.wantCode == CodeInvalidRedirectURI {
				sentinel = ErrInvalidRedirectURI
			}
			if !errors.Is(err, sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, sentinel)
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantCause)
			}
			for i := 0; i < len(me.Description); i++ {
				if b := me.Description[i]; b < 0x20 || b > 0x7e || b == '"' || b == '\\' {
					t.Errorf("description %q leaves the RFC 6749 charset", me.Description)
				}
			}
		})
	}
}

func TestApplyDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Client
		want Client
	}{
		{"empty", Client{}, Client{
			Profile: ProfileFAPI1, GrantTypes: []string{GrantAuthorizationCode},
			ResponseTypes: []string{ResponseTypeCodeIDToken}, SubjectType: SubjectTypePublic,
			TLSClientCertificateBoundAccessTokens: true,
		}},
		{"fapi2 code", Client{Profile: ProfileFAPI2}, Client{
			Profile: ProfileFAPI2, GrantTypes: []string{GrantAuthorizationCode},
			ResponseTypes: []string{ResponseTypeCode}, SubjectType: SubjectTypePublic,
			TLSClientCertificateBoundAccessTokens: true,
		}},
		{"client credentials only: no response types", Client{GrantTypes: []string{GrantClientCredentials}}, Client{
			Profile: ProfileFAPI1, GrantTypes: []string{GrantClientCredentials}, SubjectType: SubjectTypePublic,
			TLSClientCertificateBoundAccessTokens: true,
		}},
		{"explicit values kept", Client{Profile: ProfileFAPI1, GrantTypes: []string{GrantAuthorizationCode},
			ResponseTypes: []string{ResponseTypeCode}, SubjectType: SubjectTypePairwise}, Client{
			Profile: ProfileFAPI1, GrantTypes: []string{GrantAuthorizationCode},
			ResponseTypes: []string{ResponseTypeCode}, SubjectType: SubjectTypePairwise,
			TLSClientCertificateBoundAccessTokens: true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			got.ApplyDefaults()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ApplyDefaults (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScopeListJSON(t *testing.T) {
	tests := []struct {
		json string
		want ScopeList
	}{
		{`"openid accounts payments"`, ScopeList{"openid", "accounts", "payments"}},
		{`""`, nil},
		{`"a  b"`, ScopeList{"a", "", "b"}}, // kept, so that Validate refuses it
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			var got ScopeList
			if err := json.Unmarshal([]byte(tt.json), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Unmarshal (-want +got):\n%s", diff)
			}
			out, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.json {
				t.Errorf("Marshal = %s, want %s", out, tt.json)
			}
		})
	}
	var s ScopeList
	if err := json.Unmarshal([]byte(`["a","b"]`), &s); err == nil {
		t.Errorf("Unmarshal of an array = nil error, want one (scope is a string)")
	}
}

func TestClientJSONRoundTrip(t *testing.T) {
	c := baseTLSClientAuth(t)
	c.Scope = ScopeList{"openid", "accounts"}
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["scope"] != "openid accounts" || m["tls_client_certificate_bound_access_tokens"] != true ||
		m["client_id"] != "tpp-2" || m["fapi_profile"] != "fapi1" {
		t.Errorf("JSON = %s", raw)
	}
	if _, ok := m["created_at"]; ok {
		t.Errorf("zero created_at was rendered: %s", raw)
	}
	back, err := DecodeMetadata(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
