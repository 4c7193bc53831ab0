package config

import "unicode/utf8"

// MinAdminTokenLen is the shortest admin.token accepted, in characters.
const MinAdminTokenLen = 32

// Admin configures the administrative HTTP API, served on its own listener (listen.admin).
type Admin struct {
	// Token is the bearer token that authorises admin API calls. Empty (the default)
	// disables the admin API: the admin listener is not started at all, and no other
	// listener serves /admin/. When set it must be at least [MinAdminTokenLen]
	// characters (e.g. the output of "openssl rand -hex 32"); compare it with
	// crypto/subtle.
	Token Secret `koanf:"token"`
}

func (a Admin) validate() []error {
	if a.Token != "" && utf8.RuneCountInString(a.Token.Reveal()) < MinAdminTokenLen {
		return []error{fieldErr("admin.token", "must be at least %d characters", MinAdminTokenLen)}
	}
	return nil
}
