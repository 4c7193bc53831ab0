package app

// ScopesSupported returns the scopes the authorization server offers: published as
// discovery's scopes_supported, the bound on what a token request may ask for, and what
// `portcullis client add --scope` accepts. A fresh slice on every call.
func ScopesSupported() []string {
	return []string{"openid", "accounts", "payments", "fundsconfirmations"}
}
