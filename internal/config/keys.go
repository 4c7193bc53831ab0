package config

import (
	"encoding/base64"
	"strings"
	"time"
)

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
	// Source is where the signing keys live: "dir" (default) is Dir, for one node; "database"
	// is the database's signing_keys table, shared by every node on that database (package
	// keys): the same active key and /jwks everywhere, rotations by `portcullis keys rotate`.
	Source string `koanf:"source"`
	// KEK is the key-encryption key that seals the private keys in the database (source
	// database): base64 of 32 random bytes (`openssl rand -base64 32`), the same on every node,
	// never stored in the database. Required outside dev mode unless PKCS11.Module is set; in
	// dev mode empty means one generated into DATA_DIR/signing-keys.kek.
	KEK Secret `koanf:"kek"`
	// PreviousKEK is the key-encryption key before a KEK rotation: it only opens keys sealed
	// under it (new keys are sealed with KEK). Empty: none.
	PreviousKEK Secret `koanf:"previous_kek"`
	// PollInterval is how often each node reloads the key set from the database (source
	// database). Default 5s, between 1s and 1m.
	PollInterval time.Duration `koanf:"poll_interval"`
	// PublishDelay is how long a new key is published (in /jwks, verifying) before any node
	// signs with it. Default 30s; at least twice PollInterval, so every node has published
	// a key before a token signed with it exists.
	PublishDelay time.Duration `koanf:"publish_delay"`
	// PKCS11 keeps the private keys in a PKCS#11 token (an HSM) instead of sealing them with
	// KEK (source database; binaries built with -tags pkcs11). Empty Module: not used.
	PKCS11 PKCS11 `koanf:"pkcs11"`
}

// PKCS11 names a PKCS#11 token holding the signing keys.
type PKCS11 struct {
	// Module is the path of the PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so).
	Module string `koanf:"module"`
	// TokenLabel selects the token by its label. Required with Module.
	TokenLabel string `koanf:"token_label"`
	// PIN is the user PIN of the token. Required with Module.
	PIN Secret `koanf:"pin"`
}

func defaultKeys() Keys {
	return Keys{Alg: "ES256", RetireAfter: 65 * time.Minute, Source: "dir", PollInterval: 5 * time.Second, PublishDelay: 30 * time.Second}
}

// validKEK reports whether s is base64 (standard or URL alphabet, padding optional) of 32 bytes.
func validKEK(s string) bool {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

func (k Keys) validate(tokens Tokens, dev bool) []error {
	var errs []error
	switch k.Source {
	case "dir", "database":
	default:
		errs = append(errs, fieldErr("keys.source", "must be dir or database"))
	}
	if k.Source == "database" {
		if k.KEK == "" && k.PKCS11.Module == "" && !dev {
			errs = append(errs, fieldErr("keys.kek", "is required with keys.source database outside dev mode (base64 of 32 bytes; also PORTCULLIS_KEYS_KEK)"))
		}
		if k.PKCS11.Module != "" && (k.PKCS11.TokenLabel == "" || k.PKCS11.PIN == "") {
			errs = append(errs, fieldErr("keys.pkcs11", "needs token_label and pin with module"))
		}
	} else if k.PKCS11.Module != "" {
		errs = append(errs, fieldErr("keys.pkcs11.module", "needs keys.source database"))
	}
	if k.KEK != "" && !validKEK(k.KEK.Reveal()) {
		errs = append(errs, fieldErr("keys.kek", "must be base64 of 32 bytes"))
	}
	if k.PreviousKEK != "" && !validKEK(k.PreviousKEK.Reveal()) {
		errs = append(errs, fieldErr("keys.previous_kek", "must be base64 of 32 bytes"))
	}
	if k.PollInterval < time.Second || k.PollInterval > time.Minute {
		errs = append(errs, fieldErr("keys.poll_interval", "must be between 1s and 1m"))
	}
	if k.PublishDelay < 2*k.PollInterval {
		errs = append(errs, fieldErr("keys.publish_delay", "must be at least twice keys.poll_interval"))
	}
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
