package config

import (
	"net"
	"strconv"
	"strings"
)

// Listen names the addresses the listeners bind (INTERFACE.md "Listeners").
type Listen struct {
	// HTTPS is the mTLS listener for the authorization server, consent APIs and gateway
	// routes, as host:port (host empty = every interface; port 0 = any free port).
	// Default 127.0.0.1:8443 in dev mode, :8443 otherwise. Required.
	HTTPS string `koanf:"https"`
	// Ops is the plain-HTTP listener for /healthz, /readyz and /metrics. Keep it off the
	// public network. Default 127.0.0.1:9090. Required.
	Ops string `koanf:"ops"`
	// Admin is the HTTPS listener of the bank's admin API (clients, revocation cache,
	// consents), served with the server certificate and no client certificate requested,
	// guarded by admin.token. Keep it off the TPP-facing network. Not started while
	// admin.token is empty. Default 127.0.0.1:9443. Required.
	Admin string `koanf:"admin"`
	// Public is the browser-facing HTTPS listener: the authorization endpoint, the
	// customer's pages, discovery and /jwks, with the server certificate and no client
	// certificate requested (a customer's browser must never see a certificate prompt).
	// Default 127.0.0.1:8444 in dev mode; empty otherwise, which serves no customer
	// journey (set it together with public_url).
	Public string `koanf:"public"`
}

func defaultListen(dev bool) Listen {
	l := Listen{HTTPS: ":8443", Ops: "127.0.0.1:9090", Admin: "127.0.0.1:9443"}
	if dev {
		l.HTTPS = "127.0.0.1:8443"
		l.Public = "127.0.0.1:8444"
	}
	return l
}

func (l Listen) validate() []error {
	var errs []error
	for _, a := range []struct{ field, addr string }{
		{"listen.https", l.HTTPS},
		{"listen.ops", l.Ops},
		{"listen.admin", l.Admin},
	} {
		if err := validateAddr(a.field, a.addr); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && l.HTTPS == l.Ops && !strings.HasSuffix(l.Ops, ":0") {
		errs = append(errs, fieldErr("listen.ops", "must differ from listen.https"))
	}
	if len(errs) == 0 && !strings.HasSuffix(l.Admin, ":0") && (l.Admin == l.HTTPS || l.Admin == l.Ops) {
		errs = append(errs, fieldErr("listen.admin", "must differ from listen.https and listen.ops"))
	}
	if l.Public != "" {
		if err := validateAddr("listen.public", l.Public); err != nil {
			errs = append(errs, err)
		} else if !strings.HasSuffix(l.Public, ":0") && (l.Public == l.HTTPS || l.Public == l.Ops || l.Public == l.Admin) {
			errs = append(errs, fieldErr("listen.public", "must differ from listen.https, listen.ops and listen.admin"))
		}
	}
	return errs
}

func validateAddr(field, addr string) error {
	if addr == "" {
		return fieldErr(field, "is required")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fieldErr(field, "must be host:port, e.g. 127.0.0.1:8443 or :8443")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		return fieldErr(field, "port must be a number between 0 and 65535")
	}
	return nil
}
