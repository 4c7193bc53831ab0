package httpserver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// served reports whether the server answers a keep-alive request on c (true), or
// closed c without answering (false). The read deadline only bounds a broken test.
func served(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("neither answered nor closed")
		}
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestConnectionCaps(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name           string
		total, perAddr int
		exempt         []netip.Prefix
		from           []string // source addresses, one connection each, in order
		want           []bool   // served
	}{
		{"per address", 10, 2, nil, []string{"127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2"}, []bool{true, true, false, true}},
		{"total", 2, 2, nil, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1"}, []bool{true, true, false, false}},
		{"trusted proxy exempt from the per-address cap", 4, 1, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
			[]string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.1", "127.0.0.1", "127.0.0.2"}, []bool{true, true, true, true, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Addr: "127.0.0.1:0", Handler: ok, MaxConnections: tt.total, MaxConnectionsPerAddress: tt.perAddr, PerAddressExempt: tt.exempt})
			base, _, _ := start(t, s)
			addr := base[len("http://"):]
			for i, src := range tt.from {
				// Each connection is checked before the next is opened, so every
				// earlier one is accepted (and counted) by then.
				if got := served(t, dialFrom(t, src, addr)); got != tt.want[i] {
					t.Errorf("connection %d from %s: served = %v, want %v", i+1, src, got, tt.want[i])
				}
			}
		})
	}
}

// TestConnectionCapReleased: a closed connection gives its slot back.
func TestConnectionCapReleased(t *testing.T) {
	s := New(Options{Addr: "127.0.0.1:0", MaxConnectionsPerAddress: 1,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
	base, _, _ := start(t, s)
	addr := base[len("http://"):]
	first := dialFrom(t, "127.0.0.1", addr)
	if !served(t, first) {
		t.Fatal("first connection not served")
	}
	if served(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("second connection served while the first is open")
	}
	first.Close()
	// The server notices the close asynchronously: poll, bounded in attempts.
	for range 400 {
		if served(t, dialFrom(t, "127.0.0.1", addr)) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no connection served after the first was closed")
}
