package client

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestRegistrationRecord: a dynamically registered client's provenance and RFC 7591 URIs
// are validated (bounds, https) and survive the registry; bad values name their field.
func TestRegistrationRecord(t *testing.T) {
	good := func(t *testing.T) *Client {
		c := baseTLSClientAuth(t)
		c.LogoURI, c.ClientURI, c.PolicyURI, c.TOSURI = "https://tpp.example/logo.png", "https://tpp.example", "https://tpp.example/p", "https://tpp.example/t"
		c.Registration = &Registration{SSAIssuer: "OpenBanking Ltd", OrgName: "Example TPP Ltd",
			SoftwareJWKSRevokedEndpoint: "https://keystore.example/revoked.jwks", AccessTokenHash: strings.Repeat("A", 43)}
		return c
	}
	if err := good(t).Validate(); err != nil {
		t.Fatalf("valid registration refused: %v", err)
	}
	for name, tc := range map[string]struct {
		mod   func(*Client)
		field string
	}{
		"http logo_uri":         {func(c *Client) { c.LogoURI = "http://tpp.example/logo.png" }, "logo_uri"},
		"tos_uri with fragment": {func(c *Client) { c.TOSURI = "https://tpp.example/t#x" }, "tos_uri"},
		"no ssa_issuer":         {func(c *Client) { c.Registration.SSAIssuer = "" }, "registration"},
		"http revoked endpoint": {func(c *Client) { c.Registration.SoftwareJWKSRevokedEndpoint = "http://x.example/r" }, "registration"},
		"oversize token hash":   {func(c *Client) { c.Registration.AccessTokenHash = strings.Repeat("A", 65) }, "registration"},
		"control char org name": {func(c *Client) { c.Registration.OrgName = "Example\x00" }, "registration"},
	} {
		t.Run(name, func(t *testing.T) {
			c := good(t)
			tc.mod(c)
			var me *MetadataError
			if err := c.Validate(); !errors.As(err, &me) || me.Field != tc.field || me.Code != CodeInvalidClientMetadata {
				t.Fatalf("err = %v, want invalid_client_metadata on %s", err, tc.field)
			}
		})
	}
	reg := NewRegistry(newFakeStore(), RegistryOptions{})
	c := good(t)
	if _, err := reg.Add(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	got, err := reg.Get(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Registration == nil || *got.Registration != *c.Registration || got.LogoURI != c.LogoURI {
		t.Fatalf("round trip: %+v", got)
	}
	got.Registration.SSAIssuer = "changed"
	if again, _ := reg.Get(context.Background(), c.ID); again.Registration.SSAIssuer != "OpenBanking Ltd" {
		t.Fatal("Clone shares the registration record")
	}
}
