package store_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portcullis/portcullis/internal/store"
)

// TestErrUnavailable: the store's verdict "the database could not be reached" is given for
// network errors, dropped connections, failed PostgreSQL connection attempts and a server
// shutting down or starting up; not for a context that ended (the caller's deadline), for a
// constraint violation, or for other errors.
func TestErrUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"connection refused inside a connect error", &pgconn.ConnectError{}, true},
		{"connection ended mid-answer", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"bad connection", driver.ErrBadConn, true},
		{"connection closed under a statement", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"connection exception", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"deadline", context.DeadlineExceeded, false},
		{"canceled while dialling", fmt.Errorf("%w: %w", refused, context.Canceled), false},
		{"other", errors.New("disk on fire"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := store.DBErr("op", tt.err)
			if got := errors.Is(err, store.ErrUnavailable); got != tt.want {
				t.Fatalf("errors.Is(dbErr(%v), ErrUnavailable) = %v, want %v", tt.err, got, tt.want)
			}
			if !errors.Is(err, store.ErrDuplicate) && !errors.Is(err, tt.err) {
				t.Errorf("the driver's error %v is not kept", tt.err)
			}
		})
	}
}
