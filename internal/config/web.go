package config

import "time"

// Web configures the customer's pages (package web): login, second factor, approval.
// The zero value is the default: the embedded theme, the session key in the data
// directory, sessions of at most 15 minutes.
type Web struct {
	// ThemeDir is a directory whose templates/ and static/ files replace the embedded
	// ones of the same name (package web documents the layout). Empty means the
	// embedded theme only.
	ThemeDir string `koanf:"theme_dir"`
	// SessionKeyFile holds the key that seals the pages' session cookie (created on
	// first start). Every node of a deployment must read the same key. Empty means
	// DATA_DIR/web-session.key.
	SessionKeyFile string `koanf:"session_key_file"`
	// SessionLifetime bounds a customer's session from the start of the journey (the
	// journey's own expiry ends it earlier). Zero means 15 minutes; at most 1 hour.
	SessionLifetime time.Duration `koanf:"session_lifetime"`
}

func (w Web) validate() []error {
	if w.SessionLifetime < 0 || w.SessionLifetime > time.Hour || (w.SessionLifetime > 0 && w.SessionLifetime < time.Minute) {
		return []error{fieldErr("web.session_lifetime", "must be between 1m and 1h (or unset for 15m)")}
	}
	return nil
}
