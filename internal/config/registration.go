package config

import (
	"net/url"
	"strconv"
	"time"
)

// Registration configures dynamic client registration (POST /register, OB-DCR; package
// dcr). Registration is served when at least one directory is trusted; in dev mode the
// sandbox directory under data_dir is always trusted as well.
type Registration struct {
	// Directories are the software statement issuers the bank trusts (file only). Each
	// names its issuer (the SSA iss) and its signing keys: a JWK Set file, or an https URL
	// fetched and cached under the rules of client jwks_uris. Empty: no directory
	// (registration is not served outside dev mode).
	Directories []Directory `koanf:"directories"`
	// SSAMaxAge refuses a software statement issued (iat) longer ago. Zero means no bound
	// on its age (an expired exp is still refused).
	SSAMaxAge time.Duration `koanf:"ssa_max_age"`
	// RequestMaxLifetime bounds exp − now of a registration JWT. Zero means 5m; at most 1h
	// (some TPP tooling signs them for 30m).
	RequestMaxLifetime time.Duration `koanf:"request_max_lifetime"`
}

// Directory is one trusted software statement issuer.
type Directory struct {
	// Issuer is the SSA iss value, e.g. "OpenBanking Ltd". Required, unique.
	Issuer string `koanf:"issuer"`
	// JWKSFile is a file holding the directory's public JWK Set. Exactly one of
	// JWKSFile and JWKSURI.
	JWKSFile string `koanf:"jwks_file"`
	// JWKSURI is the directory's https JWK Set URL.
	JWKSURI string `koanf:"jwks_uri"`
}

// ClientAuthentication bounds client authentication (package clientauth).
type ClientAuthentication struct {
	// MaxAssertionLifetime bounds exp − now of a private_key_jwt client assertion. Zero
	// means 5m; at most 1h.
	MaxAssertionLifetime time.Duration `koanf:"max_assertion_lifetime"`
	// MaxAssertionLifetimeFAPI1 and MaxAssertionLifetimeFAPI2 override it for the clients
	// of one FAPI profile. Zero means MaxAssertionLifetime; at most 1h.
	MaxAssertionLifetimeFAPI1 time.Duration `koanf:"max_assertion_lifetime_fapi1"`
	MaxAssertionLifetimeFAPI2 time.Duration `koanf:"max_assertion_lifetime_fapi2"`
}

// TPPRegister configures the check of TPPs against their National Competent Authority's
// register (package nca) at registration, at the token endpoint and on gateway requests.
// At most one of File, URL and WebhookURL. None: outside dev mode no register is
// consulted; in dev mode the sandbox register file data_dir/register.json (EBA JSON shape,
// created empty) is read, and a TPP it does not list is treated as authorised — a TPP it
// lists as withdrawn, or without a role, is refused.
type TPPRegister struct {
	// File is a register in the EBA PSD2 register JSON shape (the EBA's download, or an
	// extract of it), reread every RefreshInterval.
	File string `koanf:"file"`
	// URL is an https URL of the same document, fetched every RefreshInterval under the
	// rules of client jwks_uris (public addresses only, no redirects beyond three).
	URL string `koanf:"url"`
	// WebhookURL is a bank service asked per TPP (package nca documents the exchange):
	// https, or http to a loopback address.
	WebhookURL string `koanf:"webhook_url"`
	// WebhookSecret, when set, is sent as "Authorization: Bearer <secret>".
	WebhookSecret Secret `koanf:"webhook_secret"`
	// RefreshInterval is the period of the file or URL refresh, or how long a webhook
	// answer is reused: the worst-case delay before a withdrawal is seen. Default 1h.
	RefreshInterval time.Duration `koanf:"refresh_interval"`
	// MaxAge is the freshness bound: data older than this (refreshes kept failing) is
	// stale. Default 26h; it must exceed RefreshInterval.
	MaxAge time.Duration `koanf:"max_age"`
	// OnStale is what stale data means: "fail_closed" (default: every TPP is refused with
	// 503 until a refresh succeeds) or "last_known" (the last data keeps deciding).
	OnStale string `koanf:"on_stale"`
}

func defaultTPPRegister() TPPRegister {
	return TPPRegister{RefreshInterval: time.Hour, MaxAge: 26 * time.Hour, OnStale: "fail_closed"}
}

func (r Registration) validate() []error {
	var errs []error
	seen := map[string]bool{}
	for i, d := range r.Directories {
		field := "registration.directories[" + strconv.Itoa(i) + "]"
		switch {
		case d.Issuer == "":
			errs = append(errs, fieldErr(field+".issuer", "is required"))
		case seen[d.Issuer]:
			errs = append(errs, fieldErr(field+".issuer", "is listed twice"))
		}
		seen[d.Issuer] = true
		switch {
		case (d.JWKSFile == "") == (d.JWKSURI == ""):
			errs = append(errs, fieldErr(field, "needs exactly one of jwks_file and jwks_uri"))
		case d.JWKSURI != "" && !httpsURL(d.JWKSURI):
			errs = append(errs, fieldErr(field+".jwks_uri", "must be an https URL without user information"))
		}
	}
	if r.SSAMaxAge < 0 {
		errs = append(errs, fieldErr("registration.ssa_max_age", "must not be negative"))
	}
	if r.RequestMaxLifetime < 0 || r.RequestMaxLifetime > time.Hour {
		errs = append(errs, fieldErr("registration.request_max_lifetime", "must be between 0 and 1h"))
	}
	return errs
}

func (c ClientAuthentication) validate() []error {
	var errs []error
	for _, f := range []struct {
		key string
		d   time.Duration
	}{{"max_assertion_lifetime", c.MaxAssertionLifetime}, {"max_assertion_lifetime_fapi1", c.MaxAssertionLifetimeFAPI1}, {"max_assertion_lifetime_fapi2", c.MaxAssertionLifetimeFAPI2}} {
		if f.d < 0 || f.d > time.Hour {
			errs = append(errs, fieldErr("client_auth."+f.key, "must be between 0 and 1h"))
		}
	}
	return errs
}

func (r TPPRegister) validate() []error {
	var errs []error
	n := 0
	for _, s := range []string{r.File, r.URL, r.WebhookURL} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, fieldErr("tpp_register", "at most one of file, url and webhook_url"))
	}
	if r.URL != "" && !httpsURL(r.URL) {
		errs = append(errs, fieldErr("tpp_register.url", "must be an https URL without user information"))
	}
	if r.WebhookURL != "" {
		u, err := url.Parse(r.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			errs = append(errs, fieldErr("tpp_register.webhook_url", "must be an https URL (http only to loopback) without user information"))
		}
	}
	if r.RefreshInterval < time.Second {
		errs = append(errs, fieldErr("tpp_register.refresh_interval", "must be at least 1s"))
	}
	if r.MaxAge <= r.RefreshInterval {
		errs = append(errs, fieldErr("tpp_register.max_age", "must be longer than refresh_interval"))
	}
	switch r.OnStale {
	case "fail_closed", "last_known":
	default:
		errs = append(errs, fieldErr("tpp_register.on_stale", "must be fail_closed or last_known"))
	}
	return errs
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}
