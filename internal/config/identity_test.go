package config

import (
	"slices"
	"strings"
	"testing"
)

// TestIdentityFederation: identity.federation loads from the file (acr_map as a list) and
// the environment (the client secret), and each bad value is refused naming its key.
func TestIdentityFederation(t *testing.T) {
	const good = "dev: true\nidentity:\n  federation:\n    issuer: https://idp.bank.example\n    client_id: portcullis\n" +
		"    customer_claim: bank_customer_id\n    scopes: [profile]\n" +
		"    acr_map:\n      - {provider: \"urn:idp:loa:high\", acr: \"urn:openbanking:psd2:sca\"}\n" +
		"      - {provider: \"urn:idp:loa:low\", acr: \"urn:openbanking:psd2:ca\"}\n"
	cfg, err := Load(writeFile(t, good), []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Identity.Federation
	if f.Issuer != "https://idp.bank.example" || f.ClientSecret.Reveal() != "s3cret" || f.CustomerClaim != "bank_customer_id" ||
		len(f.ACRMap) != 2 || f.ACRMap[0] != (ACRMapping{Provider: "urn:idp:loa:high", ACR: "urn:openbanking:psd2:sca"}) ||
		!slices.Equal(f.Scopes, []string{"profile"}) {
		t.Fatalf("federation %+v", f)
	}
	if red, err := cfg.Redacted(); err != nil || strings.Contains(string(red), "s3cret") {
		t.Errorf("Redacted shows the client secret (%v):\n%s", err, red)
	}

	for _, tc := range []struct {
		name, file string
		env        []string
		want       []string
	}{
		{"no client authentication", good, nil, []string{"identity.federation.client_secret"}},
		{"secret and key", good + "    private_key_file: rp.pem\n", []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}, []string{"identity.federation.client_secret"}},
		{"issuer http", strings.Replace(good, "https://idp", "http://idp", 1), []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}, []string{"identity.federation.issuer"}},
		{"no client_id", strings.Replace(good, "client_id: portcullis", "client_id: \"\"", 1), []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}, []string{"identity.federation.client_id"}},
		{"acr_map to another level", strings.Replace(good, "psd2:ca", "psd2:none", 1), []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}, []string{"identity.federation.acr_map"}},
		{"redirect_uri elsewhere", good + "    redirect_uri: https://bank.example/cb\n", []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}, []string{"identity.federation.redirect_uri"}},
		{"redirect_uri http", good + "    redirect_uri: http://bank.example/customer/federated/callback\n", []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}, []string{"identity.federation.redirect_uri"}},
		{"redirect_uri relative without slash", good + "    redirect_uri: customer/federated/callback\n", []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}, []string{"identity.federation.redirect_uri"}},
		{"no public listener", good + "listen:\n  public: \"\"\n", []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}, []string{"identity.federation"}},
		{"unknown key", good + "    client_secrte: x\n", []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}, []string{"identity.federation.client_secrte"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tc.file), tc.env)
			if got := fields(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("fields %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
	for _, ok := range []string{"/customer/federated/callback", "https://bank.example/customer/federated/callback"} {
		if _, err := Load(writeFile(t, good+"    redirect_uri: "+ok+"\n"), []string{"PORTCULLIS_IDENTITY_FEDERATION_CLIENT_SECRET=s"}); err != nil {
			t.Errorf("redirect_uri %s: %v", ok, err)
		}
	}
}
