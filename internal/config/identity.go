package config

import (
	"net/url"
	"strings"
)

// Identity configures how customers log in on the pages. The zero value is the embedded
// login (customers in the store, password then TOTP).
type Identity struct {
	// Federation, when its issuer is set, sends the customer's login to the bank's own
	// OpenID Connect provider instead of the password and one-time-code pages.
	Federation Federation `koanf:"federation"`
}

// Federation is the bank's OpenID Connect provider Portcullis logs customers in at, as a
// relying party (authorization code + PKCE S256, state and nonce, the ID token verified
// with the provider's JWK Set). The zero value (no issuer) means no federation.
type Federation struct {
	// Issuer is the provider's issuer identifier, an https URL; its discovery document is
	// read from Issuer/.well-known/openid-configuration. Empty: no federation.
	Issuer string `koanf:"issuer"`
	// ClientID is Portcullis's client_id at the provider. Required with an issuer.
	ClientID string `koanf:"client_id"`
	// ClientSecret authenticates Portcullis at the token endpoint (client_secret_basic).
	// Exactly one of client_secret and private_key_file is required.
	ClientSecret Secret `koanf:"client_secret"`
	// PrivateKeyFile is a PKCS#8 PEM key (ES256, PS256 or EdDSA) for private_key_jwt
	// client authentication at the token endpoint.
	PrivateKeyFile string `koanf:"private_key_file"`
	// RedirectURI is the callback registered at the provider: an absolute https URL on the
	// public listener, or a path resolved against public_url. Its path must be
	// /customer/federated/callback. Empty means public_url + /customer/federated/callback.
	RedirectURI string `koanf:"redirect_uri"`
	// CustomerClaim names the ID token claim (a string) holding the bank's customer id.
	// Empty means "sub".
	CustomerClaim string `koanf:"customer_claim"`
	// ACRMap maps the provider's acr values to the Open Banking levels. A login whose acr
	// is not mapped to urn:openbanking:psd2:sca counts as SCA only when its amr lists
	// methods of two PSD2 categories (e.g. pwd and otp); otherwise as
	// urn:openbanking:psd2:ca. Only in the file.
	ACRMap []ACRMapping `koanf:"acr_map"`
	// Scopes are requested besides openid. Empty: openid only.
	Scopes []string `koanf:"scopes"`
	// CAFile is a PEM bundle of the roots that verify the provider's TLS certificate.
	// Empty means the system roots.
	CAFile string `koanf:"ca_file"`
	// PrivateNetwork allows the provider's endpoints (discovery, JWKS, token) at private
	// and loopback addresses, for a provider on the bank's internal network. False means
	// public addresses only, as for clients' jwks_uri (dev mode always allows them).
	PrivateNetwork bool `koanf:"private_network"`
}

// ACRMapping is one entry of [Federation.ACRMap].
type ACRMapping struct {
	// Provider is the acr value as the provider sends it.
	Provider string `koanf:"provider"`
	// ACR is urn:openbanking:psd2:sca or urn:openbanking:psd2:ca.
	ACR string `koanf:"acr"`
}

// FederationCallbackPath is the path of the federated login's callback on the public
// listener (package web serves it).
const FederationCallbackPath = "/customer/federated/callback"

func (i Identity) validate(publicListener string) []error {
	f := i.Federation
	if f.Issuer == "" {
		return nil
	}
	var errs []error
	if err := validateIssuer(f.Issuer); err != nil {
		errs = append(errs, fieldErr("identity.federation.issuer", "must be an https URL without query, fragment or trailing slash"))
	}
	if f.ClientID == "" {
		errs = append(errs, fieldErr("identity.federation.client_id", "is required with an issuer"))
	}
	if (f.ClientSecret == "") == (f.PrivateKeyFile == "") {
		errs = append(errs, fieldErr("identity.federation.client_secret", "exactly one of client_secret and private_key_file is required"))
	}
	if publicListener == "" {
		errs = append(errs, fieldErr("identity.federation", "needs listen.public (the login pages and the callback)"))
	}
	if f.RedirectURI != "" {
		u, err := url.Parse(f.RedirectURI)
		switch {
		case err != nil:
			errs = append(errs, fieldErr("identity.federation.redirect_uri", "is not a URL"))
		case u.Path != FederationCallbackPath || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fieldErr("identity.federation.redirect_uri", "path must be %s", FederationCallbackPath))
		case u.Host != "" && u.Scheme != "https", u.Host == "" && !strings.HasPrefix(f.RedirectURI, "/"):
			errs = append(errs, fieldErr("identity.federation.redirect_uri", "must be an https URL or a path"))
		}
	}
	for n, m := range f.ACRMap {
		if m.Provider == "" || (m.ACR != "urn:openbanking:psd2:sca" && m.ACR != "urn:openbanking:psd2:ca") {
			errs = append(errs, fieldErr("identity.federation.acr_map", "entry %d: want provider and acr urn:openbanking:psd2:sca or urn:openbanking:psd2:ca", n))
		}
	}
	return errs
}
