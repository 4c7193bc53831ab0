package config

import "time"

// HTTP bounds every HTTP listener: net/http timeouts and request size limits, so that a
// slow or oversized client cannot hold resources indefinitely. Zero is never "no
// limit": Validate refuses zero and negative values.
type HTTP struct {
	// ReadHeaderTimeout bounds reading the request headers (Slowloris). Default 5s.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	// ReadTimeout bounds reading the whole request, body included. Default 15s.
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// WriteTimeout bounds the time from the end of the request headers to the end of
	// the response. Default 30s.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// IdleTimeout bounds how long a keep-alive connection waits for the next request.
	// Default 120s.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// ShutdownTimeout bounds the graceful drain of in-flight requests on shutdown;
	// connections still open after it are closed. Default 20s.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// MaxBodyBytes is the largest request body accepted; larger requests get 413.
	// Default 1 MiB.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// MaxHeaderBytes is the largest request header block accepted. Default 64 KiB.
	MaxHeaderBytes int `koanf:"max_header_bytes"`
	// MaxConnections caps the connections open at once on each listener; more are
	// closed as soon as they are accepted. Default 1024.
	MaxConnections int `koanf:"max_connections"`
	// MaxConnectionsPerAddress caps the connections open at once from one client IP
	// address on each listener. The addresses of mtls.trusted_proxies are exempt (every
	// client behind the balancer shares them); only max_connections bounds them. Default 8:
	// an HTTP/2 client multiplexes, and an HTTP/1.1 client pool of more than 8
	// connections from one address needs it raised.
	MaxConnectionsPerAddress int `koanf:"max_connections_per_address"`
	// MaxConcurrentStreams is the HTTP/2 streams one connection may have open, and so
	// the requests it may have in progress at once. Default 100.
	MaxConcurrentStreams int `koanf:"max_concurrent_streams"`
}

func defaultHTTP() HTTP {
	return HTTP{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   20 * time.Second,
		MaxBodyBytes:      1 << 20,
		MaxHeaderBytes:    64 << 10,

		MaxConnections:           1024,
		MaxConnectionsPerAddress: 8,
		MaxConcurrentStreams:     100,
	}
}

func (h HTTP) validate() []error {
	var errs []error
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"http.read_header_timeout", h.ReadHeaderTimeout},
		{"http.read_timeout", h.ReadTimeout},
		{"http.write_timeout", h.WriteTimeout},
		{"http.idle_timeout", h.IdleTimeout},
		{"http.shutdown_timeout", h.ShutdownTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fieldErr(d.field, "must be positive"))
		}
	}
	if h.ReadHeaderTimeout > 0 && h.ReadTimeout > 0 && h.ReadHeaderTimeout > h.ReadTimeout {
		errs = append(errs, fieldErr("http.read_header_timeout", "must not exceed http.read_timeout"))
	}
	if h.MaxBodyBytes <= 0 {
		errs = append(errs, fieldErr("http.max_body_bytes", "must be a positive number of bytes"))
	}
	if h.MaxHeaderBytes <= 0 {
		errs = append(errs, fieldErr("http.max_header_bytes", "must be a positive number of bytes"))
	}
	for _, n := range []struct {
		field string
		v     int
	}{
		{"http.max_connections", h.MaxConnections},
		{"http.max_connections_per_address", h.MaxConnectionsPerAddress},
		{"http.max_concurrent_streams", h.MaxConcurrentStreams},
	} {
		if n.v <= 0 {
			errs = append(errs, fieldErr(n.field, "must be positive"))
		}
	}
	if h.MaxConnectionsPerAddress > h.MaxConnections && h.MaxConnections > 0 {
		errs = append(errs, fieldErr("http.max_connections_per_address", "must not exceed http.max_connections"))
	}
	return errs
}
