package config

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portcullis/portcullis/internal/pki"
)

// writeFile writes a config file into a fresh temporary directory and returns its path.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "portcullis.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fields returns the sorted Field of every *FieldError in err (joined or not), and
// fails the test if err holds anything else.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %v (%T) is not a *FieldError", e, e)
		}
		out = append(out, fe.Field)
	}
	if err != nil {
		walk(err)
	}
	slices.Sort(out)
	return out
}

// devCert is what every non-dev file needs to validate: the issuer and the TLS section.
const devCert = "issuer: https://as.bank.example\ntls:\n  cert_file: server.crt\n  key_file: server.key\n"

func TestDefaultsValidate(t *testing.T) {
	if err := Default(true).Validate(); err != nil {
		t.Errorf("Default(true).Validate() = %v, want nil", err)
	}
	// Outside dev mode what is missing is the issuer (no localhost default) and the server
	// certificate.
	if got, want := fields(t, Default(false).Validate()), []string{"issuer", "tls.cert_file"}; !slices.Equal(got, want) {
		t.Errorf("Default(false).Validate() fields = %v, want %v", got, want)
	}
	if err := new(Config).Validate(); err == nil {
		t.Error("zero Config validated; want errors")
	}
}

func TestLoadDefaults(t *testing.T) {
	tests := []struct {
		name    string
		file    string // "" = no file
		environ []string
		want    *Config
	}{
		{name: "no file means dev", want: Default(true)},
		{name: "file means production", file: devCert, want: func() *Config {
			c := Default(false)
			c.Issuer = "https://as.bank.example"
			c.TLS.CertFile, c.TLS.KeyFile = "server.crt", "server.key"
			return c
		}()},
		{name: "dev in file selects dev defaults", file: "dev: true\n", want: Default(true)},
		{name: "env turns dev off", environ: []string{"PORTCULLIS_DEV=false", "PORTCULLIS_ISSUER=https://as.bank.example", "PORTCULLIS_TLS_CERT_FILE=a.crt", "PORTCULLIS_TLS_KEY_FILE=a.key"},
			want: func() *Config {
				c := Default(false)
				c.Issuer = "https://as.bank.example"
				c.TLS.CertFile, c.TLS.KeyFile = "a.crt", "a.key"
				return c
			}()},
		{name: "explicit listen survives dev flip", file: "dev: true\nlisten:\n  https: 0.0.0.0:443\n", want: func() *Config {
			c := Default(true)
			c.Listen.HTTPS = "0.0.0.0:443"
			c.Issuer = "https://localhost:443" // follows the listener in dev mode
			return c
		}()},
		{name: "dev issuer and public_url follow their listeners", environ: []string{"PORTCULLIS_LISTEN_HTTPS=127.0.0.1:9443", "PORTCULLIS_LISTEN_PUBLIC=127.0.0.1:9444", "PORTCULLIS_LISTEN_ADMIN=127.0.0.1:9445"},
			want: func() *Config {
				c := Default(true)
				c.Listen.HTTPS, c.Listen.Public, c.Listen.Admin = "127.0.0.1:9443", "127.0.0.1:9444", "127.0.0.1:9445"
				c.Issuer, c.PublicURL = "https://localhost:9443", "https://localhost:9444"
				return c
			}()},
		{name: "dev issuer and public_url set explicitly stay", environ: []string{"PORTCULLIS_LISTEN_HTTPS=127.0.0.1:9443", "PORTCULLIS_LISTEN_PUBLIC=127.0.0.1:9444",
			"PORTCULLIS_LISTEN_ADMIN=127.0.0.1:9445", "PORTCULLIS_ISSUER=https://as.example", "PORTCULLIS_PUBLIC_URL=https://login.example"},
			want: func() *Config {
				c := Default(true)
				c.Listen.HTTPS, c.Listen.Public, c.Listen.Admin = "127.0.0.1:9443", "127.0.0.1:9444", "127.0.0.1:9445"
				c.Issuer, c.PublicURL = "https://as.example", "https://login.example"
				return c
			}()},
		{name: "dev listeners on any free port keep the default URLs", environ: []string{"PORTCULLIS_LISTEN_HTTPS=127.0.0.1:0", "PORTCULLIS_LISTEN_PUBLIC=127.0.0.1:0"},
			want: func() *Config {
				c := Default(true)
				c.Listen.HTTPS, c.Listen.Public = "127.0.0.1:0", "127.0.0.1:0"
				return c
			}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			got, err := Load(path, tt.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if got := Default(true).Listen.HTTPS; got != "127.0.0.1:8443" {
		t.Errorf("dev listen.https = %q", got)
	}
	if got := Default(false).Listen.HTTPS; got != ":8443" {
		t.Errorf("production listen.https = %q", got)
	}
}

func TestLoadFullFile(t *testing.T) {
	const file = `
dev: false
data_dir: /var/lib/portcullis
issuer: https://as.bank.example/fapi
listen:
  https: ":443"
  ops: 127.0.0.1:9100
  admin: 10.0.0.5:9443
http:
  read_header_timeout: 2s
  read_timeout: 10s
  write_timeout: 1m
  idle_timeout: 90s
  shutdown_timeout: 5s
  max_body_bytes: 2097152
  max_header_bytes: 32768
  max_connections: 2048
  max_connections_per_address: 32
  max_concurrent_streams: 50
database:
  url: postgres://portcullis:pw@db.internal:5432/portcullis?sslmode=verify-full
  max_open_conns: 50
  sweep_interval: 30s
log:
  level: debug
tls:
  cert_file: /etc/portcullis/server.crt
  key_file: /etc/portcullis/server.key
  client_auth: require
trust:
  anchors:
    - name: eu-qtsp
      file: /etc/portcullis/qtsp.pem
      profile: eidas
    - name: ob-sandbox
      file: /etc/portcullis/ob.pem
      profile: ob
      revocation: soft-fail
  intermediates_file: /etc/portcullis/intermediates.pem
mtls:
  header: X-SSL-Client-Cert
  header_format: pem-urlencoded
  trusted_proxies: [10.0.0.0/8, "2001:db8::/32"]
revocation:
  ocsp_timeout: 2s
  crl_timeout: 4s
  max_crl_bytes: 5242880
  cache_size: 500
  max_clock_skew: 1m
  max_good_age: 2m
admin:
  token: 0123456789abcdef0123456789abcdef
keys:
  dir: /etc/portcullis/keys
  alg: PS256
  retire_after: 2h
tokens:
  access_token_lifetime: 3m
  max_clock_skew: 10s
  deny_list_refresh: 1s
consent:
  webhook_url: https://consents.bank.internal/validate
  webhook_timeout: 1s
  webhook_secret: consent-webhook-secret-value
runtime:
  memory_limit: 268435456
registration:
  directories:
    - issuer: OpenBanking Ltd
      jwks_uri: https://keystore.openbanking.org.uk/keystore/openbanking.jwks
    - issuer: Sandbox
      jwks_file: /etc/portcullis/sandbox-directory.jwks
  ssa_max_age: 24h
  request_max_lifetime: 30m
client_auth:
  max_assertion_lifetime_fapi1: 30m
tpp_register:
  url: https://register.bank.internal/eba.json
  refresh_interval: 30m
  max_age: 6h
  on_stale: last_known
signatures:
  trust_anchors: [openbanking.org.uk, bank-directory]
  issuer: 0015800000jf7AeAAI
  allow_es256: true
  response_form: v3.1.3
`
	got, err := Load(writeFile(t, file), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		DataDir: "/var/lib/portcullis",
		Issuer:  "https://as.bank.example/fapi",
		Listen:  Listen{HTTPS: ":443", Ops: "127.0.0.1:9100", Admin: "10.0.0.5:9443"},
		HTTP: HTTP{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: time.Minute,
			IdleTimeout: 90 * time.Second, ShutdownTimeout: 5 * time.Second, MaxBodyBytes: 2 << 20, MaxHeaderBytes: 32 << 10,
			MaxConnections: 2048, MaxConnectionsPerAddress: 32, MaxConcurrentStreams: 50},
		Database: Database{URL: "postgres://portcullis:pw@db.internal:5432/portcullis?sslmode=verify-full",
			MaxOpenConns: 50, SweepInterval: 30 * time.Second},
		Log: Log{Level: "debug"},
		TLS: TLS{CertFile: "/etc/portcullis/server.crt", KeyFile: "/etc/portcullis/server.key", ClientAuth: ClientAuthRequire},
		Trust: Trust{
			Anchors: []Anchor{
				{Name: "eu-qtsp", File: "/etc/portcullis/qtsp.pem", Profile: pki.ProfileEIDAS},
				{Name: "ob-sandbox", File: "/etc/portcullis/ob.pem", Profile: pki.ProfileOB, Revocation: SoftFail},
			},
			IntermediatesFile: "/etc/portcullis/intermediates.pem",
		},
		MTLS: MTLS{Header: "X-SSL-Client-Cert", HeaderFormat: HeaderPEMURLEncoded,
			TrustedProxies: []string{"10.0.0.0/8", "2001:db8::/32"}},
		Revocation: Revocation{OCSPTimeout: 2 * time.Second, CRLTimeout: 4 * time.Second, MaxCRLBytes: 5 << 20,
			CacheSize: 500, MaxClockSkew: time.Minute, MaxGoodAge: 2 * time.Minute},
		Admin:  Admin{Token: "0123456789abcdef0123456789abcdef"},
		Keys:   Keys{Dir: "/etc/portcullis/keys", Alg: "PS256", RetireAfter: 2 * time.Hour, Source: "dir", PollInterval: 5 * time.Second, PublishDelay: 30 * time.Second},
		Tokens: Tokens{AccessTokenLifetime: 3 * time.Minute, MaxClockSkew: 10 * time.Second, DenyListRefresh: time.Second},
		Consent: Consent{WebhookURL: "https://consents.bank.internal/validate", WebhookTimeout: time.Second,
			WebhookSecret: "consent-webhook-secret-value"},
		Runtime: Runtime{MemoryLimit: 256 << 20},
		Registration: Registration{Directories: []Directory{
			{Issuer: "OpenBanking Ltd", JWKSURI: "https://keystore.openbanking.org.uk/keystore/openbanking.jwks"},
			{Issuer: "Sandbox", JWKSFile: "/etc/portcullis/sandbox-directory.jwks"},
		}, SSAMaxAge: 24 * time.Hour, RequestMaxLifetime: 30 * time.Minute},
		ClientAuth:  ClientAuthentication{MaxAssertionLifetimeFAPI1: 30 * time.Minute},
		TPPRegister: TPPRegister{URL: "https://register.bank.internal/eba.json", RefreshInterval: 30 * time.Minute, MaxAge: 6 * time.Hour, OnStale: "last_known"},
		Signatures: Signatures{TrustAnchors: []string{"openbanking.org.uk", "bank-directory"}, Issuer: "0015800000jf7AeAAI",
			AllowES256: true, ResponseForm: SignatureFormV313},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}
	if got.Trust.Anchors[0].Revocation.IsSoftFail() || !got.Trust.Anchors[1].Revocation.IsSoftFail() {
		t.Error("IsSoftFail: empty policy must fail hard, soft-fail must not")
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	if diff := cmp.Diff(wantProxies, got.MTLS.Proxies(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Proxies mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadBadFile(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // FieldError.Field of every error, sorted
	}{
		// Files are loaded in dev mode unless they start with a dev: line.
		{"unknown key", "http:\n  raed_timeout: 5s\n", []string{"http.raed_timeout"}},
		{"gateway identity mode", "gateway:\n  identity_mode: cookies\n", []string{"gateway.identity_mode"}},
		{"gateway public url with path", "gateway:\n  public_url: https://api.bank.example/v1\n", []string{"gateway.public_url"}},
		{"gateway consent optional and required", "gateway:\n  routes:\n    - {name: r, consent: account-access, consent_optional: true, consent_required: true}\n",
			[]string{"gateway.routes[0]"}},
		{"gateway route unknown key", "gateway:\n  routes:\n    - {name: r, method: GET, pth: /x}\n", []string{"gateway.routes[0].pth"}},
		{"consent webhook not a URL", "consent:\n  webhook_url: ftp://x\n", []string{"consent.webhook_url"}},
		{"signing alg not allowed", "keys:\n  alg: RS256\n", []string{"keys.alg"}},
		{"seal certificate without its key", "keys:\n  seal_cert_file: /etc/portcullis/seal.crt\n", []string{"keys.seal_cert_file"}},
		{"keys source", "keys:\n  source: vault\n", []string{"keys.source"}},
		{"keys database without KEK outside dev", "dev: false\nissuer: https://as.bank.example\ntls: {cert_file: c.pem, key_file: k.pem}\nkeys:\n  source: database\n", []string{"keys.kek"}},
		{"keys KEK not 32 bytes", "keys:\n  source: database\n  kek: c2hvcnQ=\n", []string{"keys.kek"}},
		{"keys previous KEK not base64", "keys:\n  source: database\n  previous_kek: \"not base64!\"\n", []string{"keys.previous_kek"}},
		{"keys publish delay under two polls", "keys:\n  poll_interval: 10s\n  publish_delay: 15s\n", []string{"keys.publish_delay"}},
		{"keys poll interval too fast", "keys:\n  poll_interval: 100ms\n", []string{"keys.poll_interval"}},
		{"keys pkcs11 without database", "keys:\n  pkcs11: {module: /x.so, token_label: t, pin: \"1\"}\n", []string{"keys.pkcs11.module"}},
		{"keys pkcs11 without pin", "keys:\n  source: database\n  pkcs11: {module: /x.so, token_label: t}\n", []string{"keys.pkcs11"}},
		{"token lifetime too long", "tokens:\n  access_token_lifetime: 2h\n", []string{"keys.retire_after", "tokens.access_token_lifetime"}},
		{"deny-list refresh too slow", "tokens:\n  deny_list_refresh: 10s\n", []string{"tokens.deny_list_refresh"}},
		{"unknown section", "htp:\n  read_timeout: 5s\n", []string{"htp"}},
		{"unknown anchor key", "trust:\n  anchors:\n    - name: a\n      file: a.pem\n      profile: plain\n      flie: b.pem\n",
			[]string{"trust.anchors[0].flie"}},
		{"upper-case key", "HTTP:\n  read_timeout: 5s\n", []string{"HTTP"}},
		{"bad duration", "http:\n  read_timeout: 5 seconds\n", []string{"http.read_timeout"}},
		{"duration without unit", "http:\n  read_timeout: 5\n", []string{"http.read_timeout"}},
		{"zero duration", "http:\n  write_timeout: 0s\n", []string{"http.write_timeout"}},
		{"negative duration", "database:\n  sweep_interval: -1m\n", []string{"database.sweep_interval"}},
		{"header timeout above read timeout", "http:\n  read_header_timeout: 20s\n", []string{"http.read_header_timeout"}},
		{"negative size", "http:\n  max_body_bytes: -1\n", []string{"http.max_body_bytes"}},
		{"zero connections", "http:\n  max_connections: 0\n", []string{"http.max_connections"}},
		{"per-address above total", "http:\n  max_connections: 4\n  max_connections_per_address: 5\n", []string{"http.max_connections_per_address"}},
		{"zero streams", "http:\n  max_concurrent_streams: 0\n", []string{"http.max_concurrent_streams"}},
		{"memory limit too small", "runtime:\n  memory_limit: 1048576\n", []string{"runtime.memory_limit"}},
		{"memory limit negative", "runtime:\n  memory_limit: -1\n", []string{"runtime.memory_limit"}},
		{"fractional size", "revocation:\n  max_crl_bytes: 1.5\n", []string{"revocation.max_crl_bytes"}},
		{"size as words", "http:\n  max_header_bytes: lots\n", []string{"http.max_header_bytes"}},
		{"zero cache", "revocation:\n  cache_size: 0\n", []string{"revocation.cache_size"}},
		{"huge clock skew", "revocation:\n  max_clock_skew: 2h\n", []string{"revocation.max_clock_skew"}},
		{"max good age above the limit", "revocation:\n  max_good_age: 61m\n", []string{"revocation.max_good_age"}},
		{"negative max good age", "revocation:\n  max_good_age: -1s\n", []string{"revocation.max_good_age"}},
		{"directory without keys", "registration:\n  directories:\n    - issuer: X\n", []string{"registration.directories[0]"}},
		{"directory with both key sources", "registration:\n  directories:\n    - issuer: X\n      jwks_file: /a\n      jwks_uri: https://x/j\n", []string{"registration.directories[0]"}},
		{"directory jwks_uri over http", "registration:\n  directories:\n    - issuer: X\n      jwks_uri: http://x/j\n", []string{"registration.directories[0].jwks_uri"}},
		{"directory listed twice", "registration:\n  directories:\n    - issuer: X\n      jwks_file: /a\n    - issuer: X\n      jwks_file: /b\n", []string{"registration.directories[1].issuer"}},
		{"registration lifetime over an hour", "registration:\n  request_max_lifetime: 2h\n", []string{"registration.request_max_lifetime"}},
		{"assertion lifetime over an hour", "client_auth:\n  max_assertion_lifetime_fapi2: 61m\n", []string{"client_auth.max_assertion_lifetime_fapi2"}},
		{"two register sources", "tpp_register:\n  file: /r.json\n  url: https://r/x.json\n", []string{"tpp_register"}},
		{"register url over http", "tpp_register:\n  url: http://r/x.json\n", []string{"tpp_register.url"}},
		{"register max_age not beyond refresh", "tpp_register:\n  refresh_interval: 1h\n  max_age: 1h\n", []string{"tpp_register.max_age"}},
		{"register unknown policy", "tpp_register:\n  on_stale: allow\n", []string{"tpp_register.on_stale"}},
		{"section not a mapping", "http: 5\n", []string{"http"}},
		{"bool not a bool", "dev: maybe\n", []string{"dev"}},
		{"string not a string", "data_dir: [a, b]\n", []string{"data_dir"}},
		{"empty data dir", "data_dir: \"\"\n", []string{"data_dir"}},
		{"issuer http", "issuer: http://as.example\n", []string{"issuer"}},
		{"issuer upper-case scheme", "issuer: HTTPS://as.example\n", []string{"issuer"}},
		{"issuer query", "issuer: https://as.example/?x=1\n", []string{"issuer"}},
		{"issuer empty query", "issuer: https://as.example?\n", []string{"issuer"}},
		{"issuer fragment", "issuer: https://as.example/#top\n", []string{"issuer"}},
		{"issuer trailing slash", "issuer: https://as.example/\n", []string{"issuer"}},
		{"issuer user info", "issuer: https://u@as.example\n", []string{"issuer"}},
		{"issuer no host", "issuer: https:///path\n", []string{"issuer"}},
		{"issuer missing", "issuer: \"\"\n", []string{"issuer"}},
		{"listen not host:port", "listen:\n  https: localhost\n", []string{"listen.https"}},
		{"listen bad port", "listen:\n  ops: 127.0.0.1:99999\n", []string{"listen.ops"}},
		{"listen same address", "listen:\n  https: 127.0.0.1:9090\n", []string{"listen.ops"}},
		{"admin on the TPP-facing listener", "listen:\n  admin: 127.0.0.1:8443\n", []string{"listen.admin"}},
		{"admin on the ops listener", "listen:\n  admin: 127.0.0.1:9090\n", []string{"listen.admin"}},
		{"admin without an address", "listen:\n  admin: \"\"\n", []string{"listen.admin"}},
		{"log level", "log:\n  level: verbose\n", []string{"log.level"}},
		{"database scheme", "database:\n  url: mysql://u:p@h/db\n", []string{"database.url"}},
		{"database sqlite no path", "database:\n  url: \"sqlite:\"\n", []string{"database.url"}},
		{"database postgres no host", "database:\n  url: postgres:///db\n", []string{"database.url"}},
		{"database pool", "database:\n  max_open_conns: 0\n", []string{"database.max_open_conns"}},
		{"tls key without cert", "tls:\n  key_file: k.pem\n", []string{"tls.cert_file"}},
		{"tls cert without key", "tls:\n  cert_file: c.pem\n", []string{"tls.key_file"}},
		{"tls production without cert", "dev: false\nissuer: https://as.bank.example\n", []string{"tls.cert_file"}},
		{"production without issuer", "dev: false\ntls: {cert_file: c.pem, key_file: k.pem}\n", []string{"issuer"}},
		{"tls client auth", "tls:\n  client_auth: verify\n", []string{"tls.client_auth"}},
		{"bad profile", "trust:\n  anchors:\n    - {name: a, file: a.pem, profile: eidass}\n", []string{"trust.anchors[0].profile"}},
		{"missing profile", "trust:\n  anchors:\n    - {name: a, file: a.pem}\n", []string{"trust.anchors[0].profile"}},
		{"missing name and file", "trust:\n  anchors:\n    - {profile: plain}\n", []string{"trust.anchors[0].file", "trust.anchors[0].name"}},
		{"bad anchor name", "trust:\n  anchors:\n    - {name: \"a b\", file: a.pem, profile: plain}\n", []string{"trust.anchors[0].name"}},
		{"duplicate anchor", "trust:\n  anchors:\n    - {name: a, file: a.pem, profile: plain}\n    - {name: a, file: b.pem, profile: ob}\n",
			[]string{"trust.anchors[1].name"}},
		{"bad revocation policy", "trust:\n  anchors:\n    - {name: a, file: a.pem, profile: plain, revocation: ignore}\n",
			[]string{"trust.anchors[0].revocation"}},
		{"anchors not a list", "trust:\n  anchors: a.pem\n", []string{"trust.anchors"}},
		{"bad CIDR", "mtls:\n  header: X-Cert\n  header_format: der-base64\n  trusted_proxies: [10.0.0.300/8]\n",
			[]string{"mtls.trusted_proxies[0]"}},
		{"bare IP", "mtls:\n  header: X-Cert\n  header_format: der-base64\n  trusted_proxies: [10.0.0.1, 10.1.0.0/16]\n",
			[]string{"mtls.trusted_proxies[0]"}},
		{"CIDR host bits", "mtls:\n  header: X-Cert\n  header_format: xfcc\n  trusted_proxies: [10.1.2.3/8]\n",
			[]string{"mtls.trusted_proxies[0]"}},
		{"CIDR everything", "mtls:\n  header: X-Cert\n  header_format: xfcc\n  trusted_proxies: [\"::/0\"]\n",
			[]string{"mtls.trusted_proxies[0]"}},
		{"header without format or proxies", "mtls:\n  header: X-Cert\n", []string{"mtls.header_format", "mtls.trusted_proxies"}},
		{"bad header format", "mtls:\n  header_format: pem\n", []string{"mtls.header_format"}},
		{"bad header name", "mtls:\n  header: \"X Cert\"\n  header_format: xfcc\n  trusted_proxies: [10.0.0.0/8]\n", []string{"mtls.header"}},
		{"short admin token", "admin:\n  token: hunter2\n", []string{"admin.token"}},
		{"several at once", "http:\n  read_timeout: x\n  idle_timeout: y\nlog:\n  lvl: info\n",
			[]string{"http.idle_timeout", "http.read_timeout", "log.lvl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if !strings.HasPrefix(file, "dev:") {
				// Dev mode, so that the production-only TLS requirement does not add an error.
				file = "dev: true\n" + file
			}
			cfg, err := Load(writeFile(t, file), nil)
			if err == nil {
				t.Fatalf("Load succeeded (%+v); want errors on %v", cfg, tt.want)
			}
			if cfg != nil {
				t.Error("Load returned a config together with an error")
			}
			if got := fields(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("fields = %v, want %v (error: %v)", got, tt.want, err)
			}
		})
	}
}

func TestErrorsDoNotEchoSecrets(t *testing.T) {
	const pw = "s3cr3t-pw"
	for _, file := range []string{
		"database:\n  url: mysql://u:" + pw + "@h/db\n",
		"database:\n  url: postgres://u:" + pw + "@/db\n",
		"admin:\n  token: " + pw + "\n",
		"admin:\n  token: [" + pw + "]\n",
	} {
		_, err := Load(writeFile(t, file), nil)
		if err == nil {
			t.Fatalf("Load(%q) succeeded", file)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error %q repeats the secret", err)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	_, err = Load(writeFile(t, "http: [unclosed\n"), nil)
	var fe *FieldError
	if err == nil || errors.As(err, &fe) {
		t.Errorf("YAML syntax error: err = %v, want a parse error", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		mutate  func(c *Config) // applied to Default(true) to get the expected config
	}{
		{name: "size", environ: []string{"PORTCULLIS_HTTP_MAX_BODY_BYTES=2048"},
			mutate: func(c *Config) { c.HTTP.MaxBodyBytes = 2048 }},
		{name: "duration", environ: []string{"PORTCULLIS_HTTP_READ_HEADER_TIMEOUT=3s"},
			mutate: func(c *Config) { c.HTTP.ReadHeaderTimeout = 3 * time.Second }},
		{name: "database url", environ: []string{"PORTCULLIS_DATABASE_URL=postgres://u:p@db/x"},
			mutate: func(c *Config) { c.Database.URL = "postgres://u:p@db/x" }},
		{name: "root key with underscore", environ: []string{"PORTCULLIS_DATA_DIR=/srv/data"},
			mutate: func(c *Config) { c.DataDir = "/srv/data" }},
		{name: "secret", environ: []string{"PORTCULLIS_ADMIN_TOKEN=abcdefghijklmnopqrstuvwxyz0123456789"},
			mutate: func(c *Config) { c.Admin.Token = "abcdefghijklmnopqrstuvwxyz0123456789" }},
		{name: "list", environ: []string{"PORTCULLIS_MTLS_HEADER=X-Client-Cert", "PORTCULLIS_MTLS_HEADER_FORMAT=xfcc",
			"PORTCULLIS_MTLS_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.0/16"},
			mutate: func(c *Config) {
				c.MTLS = MTLS{Header: "X-Client-Cert", HeaderFormat: HeaderXFCC, TrustedProxies: []string{"10.0.0.0/8", "192.168.0.0/16"}}
			}},
		{name: "env beats file", file: "dev: true\nlog:\n  level: warn\n", environ: []string{"PORTCULLIS_LOG_LEVEL=error"},
			mutate: func(c *Config) { c.Log.Level = "error" }},
		{name: "later entry wins", environ: []string{"PORTCULLIS_LOG_LEVEL=error", "PORTCULLIS_LOG_LEVEL=debug"},
			mutate: func(c *Config) { c.Log.Level = "debug" }},
		{name: "other variables ignored", environ: []string{"PATH=/bin", "PORTCULLISX=1", "HOME", "portcullis_log_level=debug"},
			mutate: func(c *Config) {}},
		{name: "test-suite variables ignored", environ: []string{"PORTCULLIS_TEST_NODE=skip", "PORTCULLIS_TEST_POSTGRES="},
			mutate: func(c *Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			got, err := Load(path, tt.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Default(true)
			tt.mutate(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"unknown variable", []string{"PORTCULLIS_HTTP_RAED_TIMEOUT=5s"}, []string{"PORTCULLIS_HTTP_RAED_TIMEOUT"}},
		{"section is not a key", []string{"PORTCULLIS_HTTP=5s"}, []string{"PORTCULLIS_HTTP"}},
		{"file-only key", []string{"PORTCULLIS_TRUST_ANCHORS=a.pem"}, []string{"PORTCULLIS_TRUST_ANCHORS"}},
		{"bad value names the key", []string{"PORTCULLIS_HTTP_READ_TIMEOUT=soon"}, []string{"http.read_timeout"}},
		{"bad bool", []string{"PORTCULLIS_DEV=yes please"}, []string{"dev"}},
		{"bad int", []string{"PORTCULLIS_DATABASE_MAX_OPEN_CONNS=ten"}, []string{"database.max_open_conns"}},
		{"bad CIDR", []string{"PORTCULLIS_MTLS_HEADER=X-C", "PORTCULLIS_MTLS_HEADER_FORMAT=xfcc", "PORTCULLIS_MTLS_TRUSTED_PROXIES=10.0.0.0/8,nope"},
			[]string{"mtls.trusted_proxies[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tt.environ)
			if got := fields(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("fields = %v, want %v (error: %v)", got, tt.want, err)
			}
		})
	}
}

func TestEnvNames(t *testing.T) {
	keys := leafKeys()
	names := envNames()
	if len(names) != len(keys) {
		t.Fatalf("%d keys map to %d environment names: two keys share a name", len(keys), len(names))
	}
	for name, k := range names {
		if envName(k.path) != name {
			t.Errorf("%s maps to %s", name, k.path)
		}
	}
	for name, want := range map[string]string{
		"PORTCULLIS_DEV":                   "dev",
		"PORTCULLIS_DATA_DIR":              "data_dir",
		"PORTCULLIS_HTTP_MAX_BODY_BYTES":   "http.max_body_bytes",
		"PORTCULLIS_DATABASE_URL":          "database.url",
		"PORTCULLIS_MTLS_TRUSTED_PROXIES":  "mtls.trusted_proxies",
		"PORTCULLIS_REVOCATION_CACHE_SIZE": "revocation.cache_size",
		"PORTCULLIS_TRUST_ANCHORS":         "trust.anchors",
	} {
		if got := names[name].path; got != want {
			t.Errorf("%s -> %q, want %q", name, got, want)
		}
	}
	if !names["PORTCULLIS_TRUST_ANCHORS"].fileOnly || names["PORTCULLIS_MTLS_TRUSTED_PROXIES"].fileOnly {
		t.Error("fileOnly must mark exactly the lists of mappings")
	}
}

func TestRedacted(t *testing.T) {
	const (
		token  = "tok-0123456789abcdef0123456789abcdef"
		dbPass = "hunter2-db-pass"
		qPass  = "query-pass-42"
	)
	cfg := Default(true)
	cfg.Admin.Token = token
	cfg.Database.URL = SecretURL("postgres://portcullis:" + dbPass + "@db.internal:5432/pc?sslmode=require&sslpassword=" + qPass)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	jsonOut, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf strings.Builder
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "token", cfg.Admin.Token, "db", cfg.Database.URL, "cfg", cfg)

	renderings := map[string]string{
		"Redacted": string(out),
		"json":     string(jsonOut),
		"slog":     logBuf.String(),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		renderings["fmt "+verb+" config"] = fmt.Sprintf(verb, *cfg)
		renderings["fmt "+verb+" token"] = fmt.Sprintf(verb, cfg.Admin.Token)
		renderings["fmt "+verb+" url"] = fmt.Sprintf(verb, cfg.Database.URL)
	}
	for name, s := range renderings {
		for _, secret := range []string{token, dbPass, qPass} {
			if strings.Contains(s, secret) {
				t.Errorf("%s contains secret %q:\n%s", name, secret, s)
			}
		}
	}
	for _, want := range []string{"token: '[REDACTED]'", "postgres://portcullis:xxxxx@db.internal:5432/pc?sslmode=require&sslpassword=xxxxx"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Redacted output lacks %q:\n%s", want, out)
		}
	}
	if got := cfg.Admin.Token.Reveal(); got != token {
		t.Errorf("Reveal() = %q", got)
	}
}

func TestSecretURLString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"sqlite:./data/portcullis.db", "sqlite:./data/portcullis.db"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://u:p@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://h/db?password=p&sslmode=disable", "postgres://h/db?password=xxxxx&sslmode=disable"},
		{"postgres://h/db?PassWord=p", "postgres://h/db?PassWord=xxxxx"},
		{"postgres://u:p@h/db#p", "postgres://u:xxxxx@h/db#xxxxx"},
		{"postgres://u:p@h:bad port/db", "[REDACTED]"},
	}
	for _, tt := range tests {
		if got := SecretURL(tt.in).String(); got != tt.want {
			t.Errorf("SecretURL(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("empty Secret renders %q", got)
	}
}

// TestRedactedRoundTrip loads the printed configuration back: the output is a valid
// config file describing the same configuration.
func TestRedactedRoundTrip(t *testing.T) {
	cfg := Default(false)
	cfg.Issuer = "https://as.bank.example"
	cfg.TLS = TLS{CertFile: "s.crt", KeyFile: "s.key", ClientAuth: ClientAuthRequest}
	cfg.Trust.Anchors = []Anchor{{Name: "a", File: "a.pem", Profile: pki.ProfilePlain, Revocation: HardFail}}
	cfg.MTLS = MTLS{Header: "X-Cert", HeaderFormat: HeaderDERBase64, TrustedProxies: []string{"192.0.2.7/32"}}
	cfg.HTTP.WriteTimeout = 90 * time.Second
	cfg.Database.URL = "sqlite:/tmp/x.db"
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(writeFile(t, string(out)), nil)
	if err != nil {
		t.Fatalf("Load(Redacted()): %v\n%s", err, out)
	}
	// An empty list prints as [] and loads back as an empty, not nil, slice: same meaning.
	if diff := cmp.Diff(cfg, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestDatabaseURL(t *testing.T) {
	cfg := Default(true)
	cfg.DataDir = "/srv/pc"
	if got, want := cfg.DatabaseURL().Reveal(), "sqlite:/srv/pc/portcullis.db"; got != want {
		t.Errorf("DatabaseURL() = %q, want %q", got, want)
	}
	cfg.Database.URL = "postgres://u:p@h/db"
	if got := cfg.DatabaseURL().Reveal(); got != "postgres://u:p@h/db" {
		t.Errorf("DatabaseURL() = %q", got)
	}
}

func TestClientAuthType(t *testing.T) {
	for in, want := range map[ClientAuth]tls.ClientAuthType{
		"":                tls.RequestClientCert,
		ClientAuthRequest: tls.RequestClientCert,
		ClientAuthRequire: tls.RequireAnyClientCert,
	} {
		if got := in.Type(); got != want {
			t.Errorf("ClientAuth(%q).Type() = %v, want %v", in, got, want)
		}
	}
}

// TestSignaturesValidate: the signatures section's defaults (sandbox tan and the sandbox
// bank's iss in dev mode) and its refusals.
func TestSignaturesValidate(t *testing.T) {
	if d := Default(true).Signatures; !slices.Equal(d.TrustAnchors, []string{SandboxTrustAnchor}) || d.Issuer != SandboxBankOrgID {
		t.Errorf("dev signatures defaults = %+v", d)
	}
	if d := Default(false).Signatures; !slices.Equal(d.TrustAnchors, []string{"openbanking.org.uk"}) || d.Issuer != "" {
		t.Errorf("production signatures defaults = %+v", d)
	}
	tests := []struct {
		name  string
		dev   bool
		seal  bool
		edit  func(*Signatures)
		field string
	}{
		{"no anchors", true, false, func(s *Signatures) { s.TrustAnchors = nil }, "signatures.trust_anchors"},
		{"blank anchor", true, false, func(s *Signatures) { s.TrustAnchors = []string{" x"} }, "signatures.trust_anchors"},
		{"bad form", true, false, func(s *Signatures) { s.ResponseForm = "v4" }, "signatures.response_form"},
		{"production seal key without issuer", false, true, func(s *Signatures) {}, "signatures.issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaultSignatures(tt.dev)
			tt.edit(&s)
			errs := s.validate(tt.dev, tt.seal)
			if len(errs) != 1 {
				t.Fatalf("errors = %v, want one for %s", errs, tt.field)
			}
			var fe *FieldError
			if !errors.As(errs[0], &fe) || fe.Field != tt.field {
				t.Errorf("error = %v, want field %s", errs[0], tt.field)
			}
		})
	}
	if errs := defaultSignatures(false).validate(false, false); len(errs) != 0 {
		t.Errorf("production default without seal key: %v", errs)
	}
}
