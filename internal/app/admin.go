package app

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/httpserver"
	"github.com/portcullis/portcullis/internal/obs"
)

// buildAdmin mounts the admin operations on AdminMux and, when admin.token is set, binds the
// admin listener (listen.admin): HTTPS with the server certificate, no client certificate
// requested, every request through package admin's guard (token, failure limits, one audit
// event per call). With admin.token empty the listener is not started and the operations
// are reachable nowhere: no other listener serves /admin/.
func (a *App) buildAdmin(serverCert tls.Certificate) error {
	client.RegisterAdmin(a.AdminMux, a.Clients, a.logger)
	a.AdminMux.Handle(PathAdminRevocationForget,
		NewRevocationForgetHandler(chainForgetter{checker: a.Revocation, validator: a.Validator}, a.logger))
	consent.RegisterAdmin(a.AdminMux, a.Consents, a.logger)
	token := a.cfg.Admin.Token.Reveal()
	if token == "" {
		a.logger.Info("admin API disabled: admin.token is empty")
		return nil
	}
	guard, err := admin.New(admin.Options{Token: token, Audit: a.Audit, Clock: a.clock, Logger: a.logger})
	if err != nil {
		return fmt.Errorf("admin.token: %w", err)
	}
	// The guard serves the operations mounted on AdminMux, including those mounted after
	// this point (before Run).
	guard.Mux().Handle("/", a.AdminMux)

	o := a.listenerOptions("admin", a.cfg.Listen.Admin, guard)
	o.Middleware = obs.Middleware(a.logger, a.Metrics)
	o.TLSConfig = serverTLSConfig(serverCert, tls.NoClientCert)
	a.admin = httpserver.New(o)
	if _, err := a.admin.Listen(); err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	a.servers = append(a.servers, a.admin)
	return nil
}

// AdminAddr is the bound address of the admin listener, or nil when the admin API is
// disabled (admin.token empty).
func (a *App) AdminAddr() net.Addr {
	if a.admin == nil {
		return nil
	}
	addr, _ := a.admin.Listen()
	return addr
}
