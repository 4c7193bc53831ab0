// Package config owns Portcullis's one typed configuration: plain structs loaded once
// from an optional YAML file plus PORTCULLIS_* environment overrides (INTERFACE.md
// "Listeners", "Environment overrides"), validated, and passed down by main.
//
// Every field documents what its zero value means. [Default] returns a configuration
// that runs out of the box; [Load] starts from it, applies the file and then the
// environment, and returns the result only if [Config.Validate] accepts it. Loading is
// strict: an unknown key in the file, an environment variable with the PORTCULLIS_
// prefix that names no key, a value of the wrong type, or a value that fails validation
// is refused with a [*FieldError] naming the key, so a typo never silently leaves a
// default (or a weaker setting) in place.
//
// Values that grant access are typed [Secret] or [SecretURL]: they redact themselves in
// every printed form, and [Config.Redacted] renders the effective configuration for
// "portcullis config print" without them.
//
// The package has no protocol logic and refuses to guess: there is no setting that
// disables a security check, and nothing here opens files or sockets; it only says
// which ones the rest of the program should use.
//
// Adding a section: declare its struct (with koanf tags, snake_case) in a file named
// after it, give it a default and a validate method returning [*FieldError]s, and add
// one line for each to [Default] and [Config.Validate]. Keys and environment names are
// derived from the struct tags.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix starts every environment variable that overrides a configuration key.
const EnvPrefix = "PORTCULLIS_"

// EnvTestPrefix starts the variables that steer the test suite (PORTCULLIS_TEST_POSTGRES,
// PORTCULLIS_TEST_NODE, …): they are not configuration and are ignored here, never refused.
const EnvTestPrefix = EnvPrefix + "TEST_"

// Config is the whole configuration. Obtain it from [Load] or [Default]; the zero value
// fails [Config.Validate] (there is no issuer), it never means "no limits".
type Config struct {
	// Dev selects the development defaults: loopback listeners, SQLite and a sandbox
	// PKI under DataDir, and a server certificate minted there when TLS names none.
	// Load defaults it to true when no config file is given (INTERFACE.md "--dev").
	Dev bool `koanf:"dev"`
	// DataDir holds the SQLite database and, in dev mode, the sandbox PKI. Required.
	DataDir string `koanf:"data_dir"`
	// Issuer is the authorization server's issuer identifier (RFC 8414 §2, FAPI1-AS-60):
	// an https URL without query, fragment, user information or trailing slash; every
	// endpoint lives under it. Required.
	Issuer string `koanf:"issuer"`
	// PublicURL is the base URL of the browser-facing listener (listen.public) as
	// customers' browsers reach it: the authorization endpoint is PublicURL/authorize.
	// An https URL like the issuer. Default https://localhost:8444 in dev mode; required
	// when listen.public is set.
	PublicURL string `koanf:"public_url"`

	Listen     Listen     `koanf:"listen"`
	HTTP       HTTP       `koanf:"http"`
	Database   Database   `koanf:"database"`
	Log        Log        `koanf:"log"`
	TLS        TLS        `koanf:"tls"`
	Trust      Trust      `koanf:"trust"`
	MTLS       MTLS       `koanf:"mtls"`
	Revocation Revocation `koanf:"revocation"`
	Admin      Admin      `koanf:"admin"`
	Keys       Keys       `koanf:"keys"`
	Tokens     Tokens     `koanf:"tokens"`
	Consent    Consent    `koanf:"consent"`
	Runtime    Runtime    `koanf:"runtime"`
	Web        Web        `koanf:"web"`
	// Identity is how customers log in: embedded (the zero value) or federated.
	Identity Identity `koanf:"identity"`
	// Gateway is the resource-server side: the route table and how upstreams are
	// called (plain values; package gateway documents every key). No routes: in dev mode the sandbox
	// bank's default routes; otherwise every API path is 404.
	Gateway Gateway `koanf:"gateway"`

	// Registration, ClientAuth and TPPRegister: see registration.go.
	Registration Registration         `koanf:"registration"`
	ClientAuth   ClientAuthentication `koanf:"client_auth"`
	TPPRegister  TPPRegister          `koanf:"tpp_register"`

	// Signatures: x-jws-signature on the payment APIs (signatures.go).
	Signatures Signatures `koanf:"signatures"`
}

// DevIssuer is the default issuer in dev mode. Outside dev mode there is none: a
// production node must be told the URL its TPPs reach it at, never fall back to localhost.
const DevIssuer = "https://localhost:8443"

func defaultIssuer(dev bool) string {
	if dev {
		return DevIssuer
	}
	return ""
}

// DevPublicURL is the default public_url in dev mode.
const DevPublicURL = "https://localhost:8444"

func defaultPublicURL(dev bool) string {
	if dev {
		return DevPublicURL
	}
	return ""
}

// Default returns the built-in configuration: dev selects the development variant
// (see [Config.Dev]). It always passes [Config.Validate] in dev mode; outside dev mode
// the TLS certificate still has to be configured.
func Default(dev bool) *Config {
	return &Config{
		Dev:        dev,
		DataDir:    "./data",
		Issuer:     defaultIssuer(dev),
		PublicURL:  defaultPublicURL(dev),
		Listen:     defaultListen(dev),
		HTTP:       defaultHTTP(),
		Database:   defaultDatabase(),
		Log:        defaultLog(),
		TLS:        defaultTLS(),
		Trust:      Trust{},
		MTLS:       MTLS{},
		Revocation: defaultRevocation(),
		Admin:      Admin{},
		Keys:       defaultKeys(),
		Tokens:     defaultTokens(),
		Consent:    defaultConsent(),

		TPPRegister: defaultTPPRegister(),
		Signatures:  defaultSignatures(dev),
	}
}

// Validate checks every field and reports all problems at once, joined with
// errors.Join; each is a [*FieldError] naming the key in the file's dotted form, e.g.
// "http.read_timeout". Error reasons never contain a secret's value. It returns nil if
// the configuration is usable.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, fieldErr("data_dir", "is required"))
	}
	if c.Issuer == "" && !c.Dev {
		errs = append(errs, fieldErr("issuer", "is required outside dev mode: the https URL TPPs reach this server at"))
	} else if err := validateIssuer(c.Issuer); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.Listen.Public != "" && c.PublicURL == "":
		errs = append(errs, fieldErr("public_url", "is required when listen.public is set"))
	case c.PublicURL != "":
		if err := validateIssuer(c.PublicURL); err != nil {
			errs = append(errs, fieldErr("public_url", "must be an https URL without query, fragment or trailing slash"))
		}
	}
	errs = append(errs, c.Listen.validate()...)
	errs = append(errs, c.HTTP.validate()...)
	errs = append(errs, c.Database.validate()...)
	errs = append(errs, c.Log.validate()...)
	errs = append(errs, c.TLS.validate(c.Dev)...)
	errs = append(errs, c.Trust.validate()...)
	errs = append(errs, c.MTLS.validate()...)
	errs = append(errs, c.Revocation.validate()...)
	errs = append(errs, c.Admin.validate()...)
	errs = append(errs, c.Keys.validate(c.Tokens, c.Dev)...)
	errs = append(errs, c.Tokens.validate()...)
	errs = append(errs, c.Consent.validate()...)
	errs = append(errs, c.Runtime.validate()...)
	errs = append(errs, c.Web.validate()...)
	errs = append(errs, c.Identity.validate(c.Listen.Public)...)
	errs = append(errs, c.validateGateway()...)
	errs = append(errs, c.Registration.validate()...)
	errs = append(errs, c.ClientAuth.validate()...)
	errs = append(errs, c.TPPRegister.validate()...)
	errs = append(errs, c.Signatures.validate(c.Dev, c.Keys.SealCertFile != "")...)
	return errors.Join(errs...)
}

// FieldError is a configuration problem with one key. Field is the dotted key path as
// written in the file ("http.read_timeout", "trust.anchors[1].profile"), or the name of
// the environment variable when the variable itself is the problem.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Load returns the configuration built from [Default], then the YAML file at path (if
// path is not empty), then the PORTCULLIS_* entries of environ (os.Environ() in
// production; passed in so tests do not touch the process environment), validated.
//
// Without a file, dev defaults to true (INTERFACE.md: --dev is the default when no config
// file is given); a file or PORTCULLIS_DEV can set it either way, and the dev-dependent
// defaults follow the final value. Environment names are EnvPrefix plus the upper-cased
// key path with "_" for ".", e.g. PORTCULLIS_HTTP_MAX_BODY_BYTES for
// http.max_body_bytes; lists take comma-separated values; trust.anchors can only be set
// in the file. When a name appears twice in environ the later entry wins, so main may
// append flag overrides (e.g. "PORTCULLIS_DATA_DIR=…") after os.Environ().
//
// Every error Load returns is a configuration error: the file cannot be read or parsed,
// or one or more [*FieldError]s (unknown key, unknown PORTCULLIS_ variable, wrong type,
// invalid value), joined.
func Load(path string, environ []string) (*Config, error) {
	k := koanf.New(".")
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("config: load %s: %w", path, err)
		}
	}

	names := envNames()
	var errs []error
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || strings.HasPrefix(name, EnvTestPrefix) {
			continue
		}
		key, known := names[name]
		switch {
		case !known:
			errs = append(errs, fieldErr(name, "unknown environment variable: it matches no configuration key"))
		case key.fileOnly:
			errs = append(errs, fieldErr(name, "%s cannot be set from the environment; use the config file", key.path))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	envProvider := env.Provider(".", env.Opt{
		Prefix: EnvPrefix,
		EnvironFunc: func() []string {
			return slices.DeleteFunc(slices.Clone(environ), func(kv string) bool { return strings.HasPrefix(kv, EnvTestPrefix) })
		},
		TransformFunc: func(name, v string) (string, any) { return names[name].path, v },
	})
	if err := k.Load(envProvider, nil); err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}

	raw := k.Raw()
	cfg := Default(path == "")
	if errs := decode(raw, cfg); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Dev != (path == "") {
		// The file or environment flipped dev: start again from the matching defaults.
		cfg = Default(cfg.Dev)
		if errs := decode(raw, cfg); len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	if cfg.Dev {
		devURLsFollowListeners(cfg, k.Exists)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// devURLsFollowListeners: in dev mode an issuer or public_url that neither the file nor the
// environment sets follows the port its listener binds (https://localhost:PORT), so that
// discovery and the banner name the port the server answers on. Port 0 (any free port) keeps
// the default: the bound port is known only later. set reports whether a key was given.
func devURLsFollowListeners(cfg *Config, set func(key string) bool) {
	if p := fixedPort(cfg.Listen.HTTPS); p != "" && !set("issuer") {
		cfg.Issuer = "https://localhost:" + p
	}
	if p := fixedPort(cfg.Listen.Public); p != "" && !set("public_url") {
		cfg.PublicURL = "https://localhost:" + p
	}
}

// fixedPort is addr's port, or "" when addr has none or asks for any free port.
func fixedPort(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil || p == "" || p == "0" {
		return ""
	}
	return p
}

// DatabaseURL returns the effective database.url: the configured one, or
// "sqlite:DATA_DIR/portcullis.db" when it is empty.
func (c *Config) DatabaseURL() SecretURL {
	if c.Database.URL == "" {
		return SecretURL("sqlite:" + filepath.Join(c.DataDir, "portcullis.db"))
	}
	return c.Database.URL
}

// KeysDir returns the effective keys.dir: the configured one, or DATA_DIR/keys when it is
// empty.
func (c *Config) KeysDir() string {
	if c.Keys.Dir == "" {
		return filepath.Join(c.DataDir, "keys")
	}
	return c.Keys.Dir
}

// Redacted returns the effective configuration as YAML in the file's shape, with every
// [Secret] replaced by "[REDACTED]" and the credentials of every [SecretURL] masked.
// Loading the output again yields the same configuration apart from those secrets.
func (c *Config) Redacted() ([]byte, error) {
	m, err := encode(c)
	if err != nil {
		return nil, err
	}
	return yaml.Parser().Marshal(m)
}

func validateIssuer(s string) error {
	const field = "issuer"
	if s == "" {
		return fieldErr(field, "is required")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fieldErr(field, "is not a URL")
	case u.Scheme != "https" || !strings.HasPrefix(s, "https://"):
		return fieldErr(field, "must be an https URL")
	case u.Host == "" || u.Hostname() == "":
		return fieldErr(field, "has no host")
	case u.User != nil:
		return fieldErr(field, "must not contain user information")
	case u.RawQuery != "" || u.ForceQuery:
		return fieldErr(field, "must not contain a query")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fieldErr(field, "must not contain a fragment")
	case strings.HasSuffix(u.Path, "/"):
		return fieldErr(field, "must not end with /")
	}
	return nil
}
