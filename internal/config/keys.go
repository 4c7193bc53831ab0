package config

import "time"

// Keys configures the authorization server's signing keys (access tokens, ID tokens).
type Keys struct {
	// Dir holds the signing keys (PKCS#8 PEM or JWK files) and their keys.json manifest of
	// states (next, active, retired). Empty means DATA_DIR/keys. Outside dev mode the
	// directory must already hold a key; in dev mode one is generated on first start.
	Dir string `koanf:"dir"`
	// Alg is the signing algorithm: ES256 (default), PS256 or EdDSA.
	Alg string `koanf:"alg"`
	// RetireAfter is how long a key that stopped signing still verifies and stays in
	// /jwks. It must exceed the access-token lifetime. Default 65m.
	RetireAfter time.Duration `koanf:"retire_after"`
	// SealCertFile (PEM chain, leaf first) and SealKeyFile (PKCS#8 PEM) are the bank's
	// message-signing certificate (QSealC / OBSeal) and key: x-jws-signature of responses,
	// published in /jwks with its x5c. Both or neither; in dev mode neither means a sandbox
	// QSealC.
	SealCertFile string `koanf:"seal_cert_file"`
	SealKeyFile  string `koanf:"seal_key_file"`
}

func defaultKeys() Keys { return Keys{Alg: "ES256", RetireAfter: 65 * time.Minute} }

func (k Keys) validate(tokens Tokens) []error {
	var errs []error
	switch k.Alg {
	case "ES256", "PS256", "EdDSA":
	default:
		errs = append(errs, fieldErr("keys.alg", "must be ES256, PS256 or EdDSA, not %q", k.Alg))
	}
	if (k.SealCertFile == "") != (k.SealKeyFile == "") {
		errs = append(errs, fieldErr("keys.seal_cert_file", "keys.seal_cert_file and keys.seal_key_file go together"))
	}
	if k.RetireAfter <= tokens.AccessTokenLifetime {
		errs = append(errs, fieldErr("keys.retire_after", "must exceed tokens.access_token_lifetime (%s)", tokens.AccessTokenLifetime))
	}
	return errs
}

// Tokens configures the access tokens the authorization server issues and the gateway
// accepts.
type Tokens struct {
	// AccessTokenLifetime is exp − iat of access tokens. Default 5m, at most 1h
	// (FAPI1-AS-55: keep them short even though they are certificate-bound).
	AccessTokenLifetime time.Duration `koanf:"access_token_lifetime"`
	// MaxClockSkew is the tolerance for exp, nbf and iat when a token is verified.
	// Default 30s, at most 5m.
	MaxClockSkew time.Duration `koanf:"max_clock_skew"`
	// DenyListRefresh is how often each node reloads revoked token ids from the
	// database. Default 2s, at most 5s (a revocation reaches every node within 5 s).
	DenyListRefresh time.Duration `koanf:"deny_list_refresh"`
}

func defaultTokens() Tokens {
	return Tokens{AccessTokenLifetime: 5 * time.Minute, MaxClockSkew: 30 * time.Second, DenyListRefresh: 2 * time.Second}
}

func (t Tokens) validate() []error {
	var errs []error
	if t.AccessTokenLifetime <= 0 || t.AccessTokenLifetime > time.Hour {
		errs = append(errs, fieldErr("tokens.access_token_lifetime", "must be between 1s and 1h"))
	}
	if t.MaxClockSkew < 0 || t.MaxClockSkew > 5*time.Minute {
		errs = append(errs, fieldErr("tokens.max_clock_skew", "must be between 0s and 5m"))
	}
	if t.DenyListRefresh <= 0 || t.DenyListRefresh > 5*time.Second {
		errs = append(errs, fieldErr("tokens.deny_list_refresh", "must be between 1ms and 5s"))
	}
	return errs
}
