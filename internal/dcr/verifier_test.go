package dcr_test

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/dcr"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

// TestVerify is one row per rule of OB-DCR-01…12 and dcr-consent.md §1.6: each refused
// request asserts the exact RFC 7591 code and claim; accepted ones the client built.
func TestVerify(t *testing.T) {
	w := newWorld(t)
	v := w.verifier(t, nil)
	set := func(k string, val any) func(map[string]any) { return func(m map[string]any) { m[k] = val } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }

	type row struct {
		name      string
		body      func(t *testing.T) []byte
		id        *pki.Identity // nil: the world's QWAC
		code      string        // "" = accepted
		claim     string
		check     func(t *testing.T, c *client.Client)
		verifier  *dcr.Verifier
		wantError error
	}
	req := func(editSSA, edit func(map[string]any)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return w.request(t, editSSA, edit) }
	}
	signed := func(alg string, key any, kid string, edit func(map[string]any), hdr map[string]any) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			c := w.requestClaims(t, w.ssa(t, nil))
			if edit != nil {
				edit(c)
			}
			return []byte(signJWT(t, alg, key, kid, c, hdr))
		}
	}
	withSSA := func(alg string, key any, kid string, edit func(map[string]any)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			c := w.ssaClaims()
			if edit != nil {
				edit(c)
			}
			return []byte(signJWT(t, "ES256", w.ecKey, "ec-1", w.requestClaims(t, signJWT(t, alg, key, kid, c, nil)), nil))
		}
	}
	otherOrg := pkitest.QWACOptions(eidas.RoleAISP, eidas.RolePISP)
	otherOrg.OrganizationIdentifier = "PSDGB-FCA-999999"
	otherOrg.Subject.CommonName = "0015800001ZZZZZZZZ"
	otherOrgID := w.identity(t, w.ca.Issue(t, otherOrg))
	aispOnly := w.identity(t, w.ca.QWAC(t, eidas.RoleAISP))
	lifetime30 := w.verifier(t, func(o *dcr.Options) { o.MaxRequestLifetime = 30 * time.Minute })
	maxAge := w.verifier(t, func(o *dcr.Options) { o.MaxSSAAge = 30 * time.Minute })
	x5c := base64.StdEncoding.EncodeToString(w.qwac.Cert.Raw)

	rows := []row{
		{name: "accepted tls_client_auth", body: req(nil, nil), check: func(t *testing.T, c *client.Client) {
			switch {
			case c.TokenEndpointAuthMethod != client.AuthTLSClientAuth, c.JWKSURI != jwksURL, c.SoftwareID != softwareID,
				c.OrgID != orgID, !slices.Equal(c.SoftwareRoles, []string{"AISP", "PISP"}), c.Name != "Example TPP app",
				c.LogoURI != "https://tpp.example.com/logo.png", c.Registration == nil || c.Registration.SSAIssuer != dirIssuer,
				c.Registration.OrgName != pkitest.DefaultOrgName, c.Registration.SoftwareJWKSRevokedEndpoint != revokedURL,
				c.Scope.String() != "openid accounts payments", !slices.Equal(c.RedirectURIs, []string{redirectOne}), c.ID != "":
				t.Errorf("client = %+v", c)
			}
		}},
		{name: "accepted private_key_jwt, PS256 request, defaults from the SSA", body: signed("PS256", w.rsaKey, "rsa-1", func(m map[string]any) {
			m["token_endpoint_auth_method"] = "private_key_jwt"
			m["token_endpoint_auth_signing_alg"] = "PS256"
			delete(m, "tls_client_auth_subject_dn")
			delete(m, "redirect_uris")
			delete(m, "scope")
		}, nil), check: func(t *testing.T, c *client.Client) {
			if c.TokenEndpointAuthSigningAlg != "PS256" || !slices.Equal(c.RedirectURIs, []string{redirectOne, redirectTwo}) ||
				c.Scope.String() != "openid accounts payments" {
				t.Errorf("client = %+v", c)
			}
		}},
		{name: "accepted: registration_id matches the certificate's authorisation number", body: req(set("org_id", "another-org-id"), nil)},
		{name: "accepted: registration_id is the certificate's organizationIdentifier", body: req(func(m map[string]any) {
			m["org_id"] = "another-org-id"
			m["organisation_competent_authority_claims"] = []any{map[string]any{"authority_id": "FCAGBR", "registration_id": pkitest.DefaultEIDASOrg}}
		}, nil)},
		{name: "registration_id of another organisation", body: req(func(m map[string]any) {
			m["org_id"] = "another-org-id"
			m["organisation_competent_authority_claims"] = map[string]any{"registration_id": "654321"}
		}, nil), code: dcr.CodeUnapprovedSoftwareStatement, claim: "org_id"},
		{name: "accepted: 30 minute request when the profile allows it", verifier: lifetime30, body: req(nil, set("exp", w.clk.Now().Add(30*time.Minute).Unix()))},

		// OB-DCR-01: body, algorithm, key by kid only.
		{name: "OB-DCR-01 body not a JWS", body: func(*testing.T) []byte { return []byte(`{"software_statement":"x"}`) }, code: dcr.CodeInvalidRequest, claim: "request"},
		{name: "OB-DCR-01 RS256 request", body: signed("RS256", w.rsaKey, "rsa-1", nil, nil), code: dcr.CodeInvalidClientMetadata, claim: "alg"},
		{name: "OB-DCR-01 alg none", body: signed("none", nil, "ec-1", nil, nil), code: dcr.CodeInvalidClientMetadata, claim: "alg"},
		{name: "OB-DCR-01 x5c-only key", body: signed("ES256", w.ecKey, "", nil, map[string]any{"x5c": []string{x5c}}), code: dcr.CodeInvalidClientMetadata, claim: "kid"},
		{name: "OB-DCR-01 kid not in the software JWKS (x5c header ignored)", body: signed("PS256", w.otherKey, "not-there", nil, map[string]any{"x5c": []string{x5c}}), code: dcr.CodeInvalidClientMetadata, claim: "kid"},
		{name: "OB-DCR-01 signed by another key under a software kid", body: signed("ES256", mustEC(t), "ec-1", nil, nil), code: dcr.CodeInvalidClientMetadata, claim: "request"},

		// OB-DCR-02: iss, iat, exp, aud, jti.
		{name: "OB-DCR-02 iss missing", body: req(nil, del("iss")), code: dcr.CodeInvalidClientMetadata, claim: "iss"},
		{name: "OB-DCR-02 iss not the software_id", body: req(nil, set("iss", "someone")), code: dcr.CodeInvalidClientMetadata, claim: "iss"},
		{name: "OB-DCR-02 iat missing", body: req(nil, del("iat")), code: dcr.CodeInvalidClientMetadata, claim: "iat"},
		{name: "OB-DCR-02 iat in the future", body: req(nil, set("iat", w.clk.Now().Add(time.Minute).Unix())), code: dcr.CodeInvalidClientMetadata, claim: "iat"},
		{name: "OB-DCR-02 exp missing", body: req(nil, del("exp")), code: dcr.CodeInvalidClientMetadata, claim: "exp"},
		{name: "OB-DCR-02 expired", body: req(nil, set("exp", w.clk.Now().Add(-time.Minute).Unix())), code: dcr.CodeInvalidClientMetadata, claim: "exp"},
		{name: "OB-DCR-02 exp beyond the 5 minute default", body: req(nil, set("exp", w.clk.Now().Add(30*time.Minute).Unix())), code: dcr.CodeInvalidClientMetadata, claim: "exp"},
		{name: "OB-DCR-02 exp not a number", body: req(nil, set("exp", "soon")), code: dcr.CodeInvalidClientMetadata, claim: "exp"},
		{name: "OB-DCR-02 aud missing", body: req(nil, del("aud")), code: dcr.CodeInvalidClientMetadata, claim: "aud"},
		{name: "OB-DCR-02 aud another bank", body: req(nil, set("aud", []string{"https://other.example"})), code: dcr.CodeInvalidClientMetadata, claim: "aud"},
		{name: "OB-DCR-02 jti missing", body: req(nil, del("jti")), code: dcr.CodeInvalidClientMetadata, claim: "jti"},

		// OB-DCR-03: the SSA's signature, issuer and freshness.
		{name: "OB-DCR-03 SSA missing", body: req(nil, del("software_statement")), code: dcr.CodeInvalidSoftwareStatement, claim: "software_statement"},
		{name: "OB-DCR-03 SSA malformed", body: req(nil, set("software_statement", "not.a.jws")), code: dcr.CodeInvalidSoftwareStatement, claim: "software_statement"},
		{name: "OB-DCR-03 SSA signed by an untrusted key", body: withSSA("PS256", w.otherKey, "dir-1", nil), code: dcr.CodeInvalidSoftwareStatement, claim: "software_statement"},
		{name: "OB-DCR-03 SSA of an untrusted issuer", body: req(set("iss", "Rogue Directory"), nil), code: dcr.CodeUnapprovedSoftwareStatement, claim: "iss"},
		{name: "OB-DCR-03 SSA alg none", body: withSSA("none", nil, "dir-1", nil), code: dcr.CodeInvalidSoftwareStatement, claim: "alg"},
		{name: "OB-DCR-03 SSA RS256", body: withSSA("RS256", w.dirKey, "dir-1", nil), code: dcr.CodeInvalidSoftwareStatement, claim: "alg"},
		{name: "OB-DCR-03 SSA without kid", body: withSSA("PS256", w.dirKey, "", nil), code: dcr.CodeInvalidSoftwareStatement, claim: "kid"},
		{name: "OB-DCR-03 SSA expired", body: req(set("exp", w.clk.Now().Add(-time.Minute).Unix()), nil), code: dcr.CodeInvalidSoftwareStatement, claim: "exp"},
		{name: "OB-DCR-03 SSA without iat", body: req(del("iat"), nil), code: dcr.CodeInvalidSoftwareStatement, claim: "iat"},
		{name: "OB-DCR-03 SSA older than the max age", verifier: maxAge, body: req(nil, nil), code: dcr.CodeInvalidSoftwareStatement, claim: "iat"},

		// OB-DCR-04: SSA claims.
		{name: "OB-DCR-04 org_status Inactive", body: req(set("org_status", "Inactive"), nil), code: dcr.CodeUnapprovedSoftwareStatement, claim: "org_status"},
		{name: "OB-DCR-04 unknown software role", body: req(set("software_roles", []string{"AISP", "BANK"}), nil), code: dcr.CodeInvalidSoftwareStatement, claim: "software_roles"},
		{name: "OB-DCR-04 software_roles not an array", body: req(set("software_roles", "AISP"), nil), code: dcr.CodeInvalidSoftwareStatement, claim: "software_roles"},
		{name: "OB-DCR-04 http software_jwks_endpoint", body: req(set("software_jwks_endpoint", "http://tpp.example.com/jwks"), nil), code: dcr.CodeInvalidSoftwareStatement, claim: "software_jwks_endpoint"},

		// OB-DCR-05.
		{name: "OB-DCR-05 software_id differs", body: req(nil, set("software_id", "other")), code: dcr.CodeInvalidClientMetadata, claim: "software_id"},

		// OB-DCR-06.
		{name: "OB-DCR-06 redirect URI not in the SSA", body: req(nil, set("redirect_uris", []string{"https://evil.example/cb"})), code: dcr.CodeInvalidRedirectURI, claim: "redirect_uris"},
		{name: "OB-DCR-06 http redirect URI", body: req(set("software_redirect_uris", []string{"http://tpp.example.com/cb"}), set("redirect_uris", []string{"http://tpp.example.com/cb"})), code: dcr.CodeInvalidRedirectURI, claim: "redirect_uris"},
		{name: "OB-DCR-06 localhost redirect URI", body: req(set("software_redirect_uris", []string{"https://localhost/cb"}), del("redirect_uris")), code: dcr.CodeInvalidRedirectURI, claim: "redirect_uris"},
		{name: "OB-DCR-06 redirect URI over 256 characters", body: req(nil, set("redirect_uris", []string{"https://tpp.example.com/" + strings.Repeat("a", 240)})), code: dcr.CodeInvalidRedirectURI, claim: "redirect_uris"},

		// OB-DCR-07 and the PSD2 role / organisation cross-checks.
		{name: "OB-DCR-07 scope beyond the roles", body: req(nil, set("scope", "openid accounts fundsconfirmations")), code: dcr.CodeInvalidClientMetadata, claim: "scope"},
		{name: "SSA role the QWAC lacks (PISP, AISP-only certificate)", id: aispOnly, body: req(nil, nil), code: dcr.CodeUnapprovedSoftwareStatement, claim: "software_roles"},
		{name: "certificate of another organisation", id: otherOrgID, body: req(nil, del("tls_client_auth_subject_dn")), code: dcr.CodeInvalidClientMetadata, claim: "tls_client_auth_subject_dn"},
		{name: "certificate of another organisation (private_key_jwt)", id: otherOrgID, body: req(nil, func(m map[string]any) {
			m["token_endpoint_auth_method"] = "private_key_jwt"
			m["token_endpoint_auth_signing_alg"] = "ES256"
			delete(m, "tls_client_auth_subject_dn")
		}), code: dcr.CodeUnapprovedSoftwareStatement, claim: "org_id"},

		// OB-DCR-08.
		{name: "OB-DCR-08 client_secret_basic", body: req(nil, set("token_endpoint_auth_method", "client_secret_basic")), code: dcr.CodeInvalidClientMetadata, claim: "token_endpoint_auth_method"},
		{name: "OB-DCR-08 client_secret_jwt", body: req(nil, set("token_endpoint_auth_method", "client_secret_jwt")), code: dcr.CodeInvalidClientMetadata, claim: "token_endpoint_auth_method"},
		{name: "OB-DCR-08 auth method missing", body: req(nil, del("token_endpoint_auth_method")), code: dcr.CodeInvalidClientMetadata, claim: "token_endpoint_auth_method"},
		{name: "OB-DCR-08 private_key_jwt without signing alg", body: req(nil, func(m map[string]any) {
			m["token_endpoint_auth_method"] = "private_key_jwt"
			delete(m, "tls_client_auth_subject_dn")
		}), code: dcr.CodeInvalidClientMetadata, claim: "token_endpoint_auth_signing_alg"},
		{name: "OB-DCR-08 RS256 signing alg", body: req(nil, func(m map[string]any) {
			m["token_endpoint_auth_method"] = "private_key_jwt"
			m["token_endpoint_auth_signing_alg"] = "RS256"
			delete(m, "tls_client_auth_subject_dn")
		}), code: dcr.CodeInvalidClientMetadata, claim: "token_endpoint_auth_signing_alg"},
		{name: "OB-DCR-08 tls_client_auth without DN", body: req(nil, del("tls_client_auth_subject_dn")), code: dcr.CodeInvalidClientMetadata, claim: "tls_client_auth_subject_dn"},
		{name: "OB-DCR-08 DN mismatch", body: req(nil, set("tls_client_auth_subject_dn", "CN=someone else,O=Example TPP Ltd,C=GB")), code: dcr.CodeInvalidClientMetadata, claim: "tls_client_auth_subject_dn"},

		// OB-DCR-09.
		{name: "OB-DCR-09 implicit grant", body: req(nil, set("grant_types", []string{"implicit"})), code: dcr.CodeInvalidClientMetadata, claim: "grant_types"},
		{name: "OB-DCR-09 response type token", body: req(nil, set("response_types", []string{"id_token", "token"})), code: dcr.CodeInvalidClientMetadata, claim: "response_types"},
		{name: "OB-DCR-09 application_type native", body: req(nil, set("application_type", "native")), code: dcr.CodeInvalidClientMetadata, claim: "application_type"},
		{name: "OB-DCR-09 id token alg RS256", body: req(nil, set("id_token_signed_response_alg", "RS256")), code: dcr.CodeInvalidClientMetadata, claim: "id_token_signed_response_alg"},
		{name: "OB-DCR-09 request object alg none", body: req(nil, set("request_object_signing_alg", "none")), code: dcr.CodeInvalidClientMetadata, claim: "request_object_signing_alg"},

		// OB-DCR-10/12: keys come from the SSA only.
		{name: "OB-DCR-12 jwks by value refused", body: req(nil, set("jwks", map[string]any{"keys": []any{}})), code: dcr.CodeInvalidClientMetadata, claim: "jwks"},
		{name: "OB-DCR-12 another jwks_uri refused", body: req(nil, set("jwks_uri", "https://evil.example/jwks")), code: dcr.CodeInvalidClientMetadata, claim: "jwks_uri"},
		{name: "OB-DCR-12 software JWKS unreachable", body: req(set("software_jwks_endpoint", "https://down.example/jwks"), nil), wantError: dcr.ErrUnavailable},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			id := r.id
			if id == nil {
				id = w.id
			}
			vv := r.verifier
			if vv == nil {
				vv = v
			}
			c, err := vv.Verify(context.Background(), r.body(t), id)
			if r.wantError != nil {
				if !errors.Is(err, r.wantError) {
					t.Fatalf("err = %v, want %v", err, r.wantError)
				}
				return
			}
			if r.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if r.check != nil {
					r.check(t, c)
				}
				return
			}
			var de *dcr.Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want a *dcr.Error %s", err, err, r.code)
			}
			if de.Code != r.code || de.Claim != r.claim {
				t.Fatalf("refused with %s on %q (%v), want %s on %q", de.Code, de.Claim, err, r.code, r.claim)
			}
		})
	}
}

// TestVerifyReplayAndRevocation covers the stateful rows: a replayed jti (OB-DCR-02) and a
// key listed at software_jwks_revoked_endpoint (OB-DCR-12), and a TPP key rotation picked up
// from the software JWKS without any change here.
func TestVerifyReplayAndRevocation(t *testing.T) {
	w := newWorld(t)
	v := w.verifier(t, nil)
	ctx := context.Background()
	body := w.request(t, nil, nil)
	if _, err := v.Verify(ctx, body, w.id); err != nil {
		t.Fatal(err)
	}
	assertRefused(t, v, body, w.id, dcr.CodeInvalidClientMetadata, "jti")

	// A refused request does not burn its jti.
	refused := w.request(t, nil, func(m map[string]any) { m["jti"] = "once"; m["scope"] = "fundsconfirmations" })
	assertRefused(t, v, refused, w.id, dcr.CodeInvalidClientMetadata, "scope")
	if _, err := v.Verify(ctx, w.request(t, nil, func(m map[string]any) { m["jti"] = "once" }), w.id); err != nil {
		t.Fatalf("jti burnt by a refused request: %v", err)
	}

	// Revoked by kid.
	w.remote.put(revokedURL, jwks(t, jwk(t, &w.ecKey.PublicKey, "ec-1")))
	assertRefused(t, v, w.request(t, nil, nil), w.id, dcr.CodeInvalidClientMetadata, "kid")

	// Rotation: a new key published under a new kid verifies.
	k2 := mustEC(t)
	w.remote.put(jwksURL, jwks(t, jwk(t, &k2.PublicKey, "ec-2")))
	c := w.requestClaims(t, w.ssa(t, nil))
	if _, err := v.Verify(ctx, []byte(signJWT(t, "ES256", k2, "ec-2", c, nil)), w.id); err != nil {
		t.Fatalf("rotated key refused: %v", err)
	}

	// The jti store not answering is "could not check".
	w.jtis.err = errors.New("database down")
	c = w.requestClaims(t, w.ssa(t, nil))
	if _, err := v.Verify(ctx, []byte(signJWT(t, "ES256", k2, "ec-2", c, nil)), w.id); !errors.Is(err, dcr.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// TestVerifyOBCertificate: an OBWAC's organisation is its CN, the OB org_id.
func TestVerifyOBCertificate(t *testing.T) {
	w := newWorld(t)
	v, err := pki.NewValidator(pki.Options{Anchors: []pki.Anchor{{Name: "ob", Cert: w.ca.Root, Profile: pki.ProfileOB}}, Clock: w.clk, Revocation: w.checker})
	if err != nil {
		t.Fatal(err)
	}
	leaf := w.ca.OBWAC(t, eidas.RoleAISP, eidas.RolePISP)
	id, err := v.Validate(context.Background(), leaf.Chain, pki.PurposeTransport)
	if err != nil {
		t.Fatal(err)
	}
	body := w.request(t, func(m map[string]any) { delete(m, "organisation_competent_authority_claims") }, func(m map[string]any) {
		m["token_endpoint_auth_method"] = "private_key_jwt"
		m["token_endpoint_auth_signing_alg"] = "ES256"
		delete(m, "tls_client_auth_subject_dn")
	})
	if _, err := w.verifier(t, nil).Verify(context.Background(), body, id); err != nil {
		t.Fatalf("OBWAC refused: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	w := newWorld(t)
	for name, edit := range map[string]func(*dcr.Options){
		"no directory":      func(o *dcr.Options) { o.Directories = nil },
		"no software keys":  func(o *dcr.Options) { o.SoftwareKeys = nil },
		"no jti store":      func(o *dcr.Options) { o.JTIs = nil },
		"no audience":       func(o *dcr.Options) { o.Audiences = nil },
		"lifetime too long": func(o *dcr.Options) { o.MaxRequestLifetime = 2 * time.Hour },
		"duplicate issuer":  func(o *dcr.Options) { o.Directories = append(o.Directories, o.Directories[0]) },
		"unknown profile":   func(o *dcr.Options) { o.Profile = "fapi3" },
	} {
		t.Run(name, func(t *testing.T) {
			o := dcr.Options{Directories: []dcr.Directory{{Issuer: "d", Keys: w.remote.Resolver("x")}}, SoftwareKeys: w.remote, JTIs: w.jtis, Audiences: []string{"a"}}
			edit(&o)
			if _, err := dcr.New(o); err == nil {
				t.Fatal("New accepted invalid options")
			}
		})
	}
}

func assertRefused(t *testing.T, v *dcr.Verifier, body []byte, id *pki.Identity, code, claim string) {
	t.Helper()
	_, err := v.Verify(context.Background(), body, id)
	var de *dcr.Error
	if !errors.As(err, &de) || de.Code != code || de.Claim != claim {
		t.Fatalf("err = %v, want %s on %s", err, code, claim)
	}
}

// TestVerifyServerSigningAlgs: an ID token algorithm the server has no active key for is
// refused at registration, not at the client's first authorization request.
func TestVerifyServerSigningAlgs(t *testing.T) {
	w := newWorld(t)
	v := w.verifier(t, func(o *dcr.Options) { o.SigningAlgs = func() []string { return []string{"ES256"} } })
	ctx := context.Background()
	assertRefused(t, v, w.request(t, nil, func(m map[string]any) { m["id_token_signed_response_alg"] = "PS256" }),
		w.id, dcr.CodeInvalidClientMetadata, "id_token_signed_response_alg")
	if _, err := v.Verify(ctx, w.request(t, nil, func(m map[string]any) { m["id_token_signed_response_alg"] = "ES256" }), w.id); err != nil {
		t.Fatalf("ES256 ID tokens refused: %v", err)
	}
}
