package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// redacted replaces a secret wherever it would otherwise be printed.
const redacted = "[REDACTED]"

// Secret is a configuration string that must never be printed: the admin token and
// anything else that grants access on its own. Every way of rendering it (fmt verbs
// including %#v and %d, [Secret.String], [Secret.MarshalText] and therefore JSON and YAML,
// and slog through [Secret.LogValue]) yields "[REDACTED]" when it is set and "" when it is
// empty. Use [Secret.Reveal] at the one place the value is needed, and compare it with
// crypto/subtle.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns "[REDACTED]", or "" if the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, so %#v does not print the value either.
func (s Secret) GoString() string { return s.String() }

// Format implements fmt.Formatter: every verb prints [Secret.String].
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalText implements encoding.TextMarshaler with the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer with the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// SecretURL is a URL that may carry credentials, such as database.url
// ("postgres://user:password@host/db"). It renders like [Secret] except that only the
// credentials are replaced: the password of the user information and the value of every
// query parameter whose name contains "password" (pgx accepts password=… and
// sslpassword=…) become "xxxxx", so operators still see which database is meant. A value
// that does not parse as a URL is redacted completely. Use [SecretURL.Reveal] where the
// real value is needed.
type SecretURL string

// Reveal returns the URL with its credentials.
func (u SecretURL) Reveal() string { return string(u) }

// String returns the URL with its credentials redacted.
func (u SecretURL) String() string {
	s := string(u)
	if s == "" {
		return ""
	}
	if strings.HasPrefix(s, "sqlite:") {
		// sqlite:PATH carries no credentials; PATH need not be a valid URL path.
		return s
	}
	p, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	const mask = "xxxxx"
	if p.User != nil {
		if _, has := p.User.Password(); has {
			p.User = url.UserPassword(p.User.Username(), mask)
		}
	}
	if p.RawQuery != "" {
		q, err := url.ParseQuery(p.RawQuery)
		if err != nil {
			return redacted
		}
		changed := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q[k] = []string{mask}
				changed = true
			}
		}
		if changed {
			p.RawQuery = q.Encode()
		}
	}
	if p.Fragment != "" {
		p.Fragment, p.RawFragment = mask, ""
	}
	return p.String()
}

// GoString is String, so %#v does not print the credentials either.
func (u SecretURL) GoString() string { return u.String() }

// Format implements fmt.Formatter: every verb prints [SecretURL.String].
func (u SecretURL) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(u.String())) }

// MarshalText implements encoding.TextMarshaler with the redacted form.
func (u SecretURL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// LogValue implements slog.LogValuer with the redacted form.
func (u SecretURL) LogValue() slog.Value { return slog.StringValue(u.String()) }
