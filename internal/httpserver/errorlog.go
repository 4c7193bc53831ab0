package httpserver

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// newErrorLog routes net/http's internal log lines to logger. TLS handshake failures
// (scanners, clients without the right certificate, health checks that close early)
// are routine and noisy, so they go at debug level; handler panics at error; anything
// else at warn.
func newErrorLog(logger *slog.Logger, server string) *log.Logger {
	return log.New(errorLogWriter{logger: logger, server: server}, "", 0)
}

type errorLogWriter struct {
	logger *slog.Logger
	server string
}

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := bytes.TrimSpace(p)
	level := slog.LevelWarn
	switch {
	case bytes.HasPrefix(msg, []byte("http: TLS handshake error")):
		level = slog.LevelDebug
	case bytes.HasPrefix(msg, []byte("http: panic serving")):
		level = slog.LevelError
	}
	w.logger.Log(context.Background(), level, "http server", "server", w.server, "error", string(msg))
	return len(p), nil
}
